//! Metric label values for buckets, regions and topics, allocated once per
//! distinct value and thread instead of once per operation.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use opentelemetry::Value;

/// How many distinct values each thread keeps. The schema keeps these
/// labels low-cardinality; a thread that sees more distinct values than
/// this gets a fresh copy for each of the rest instead of a table that
/// grows without bound.
const CAP: usize = 64;

thread_local! {
    /// One table per thread, not one behind a lock: every operation clones
    /// its bucket's and region's values, and operations on different
    /// threads never contend for a lock or write to the same memory.
    ///
    /// A B-tree, not a hash map: for the handful of buckets and regions a
    /// process uses, a few string comparisons beat hashing the name.
    static VALUES: RefCell<BTreeMap<Box<str>, Value>> = const { RefCell::new(BTreeMap::new()) };
}

/// The label value for `text`, shared by the operations of this thread that
/// use it (cloning it bumps a reference count).
pub(crate) fn shared(text: &str) -> Value {
    if text.is_empty() {
        return Value::from("");
    }
    let cached = VALUES.try_with(|values| {
        let mut values = values.try_borrow_mut().ok()?;
        if let Some(v) = values.get(text) {
            return Some(v.clone());
        }
        let value = Value::from(Arc::<str>::from(text));
        if values.len() < CAP {
            values.insert(text.into(), value.clone());
        }
        Some(value)
    });
    match cached {
        Ok(Some(value)) => value,
        // This thread's locals are being destroyed.
        _ => Value::from(Arc::<str>::from(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_gives_one_shared_value() {
        let a = shared("label-values-test-1250000000");
        let b = shared("label-values-test-1250000000");
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "label-values-test-1250000000");
        let (Value::String(a), Value::String(b)) = (a, b) else {
            panic!("string values expected");
        };
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr(), "one allocation");
        assert_eq!(shared("").as_str(), "");
    }
}
