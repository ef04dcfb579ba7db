//! Metric label values for buckets, regions and topics, allocated once per
//! distinct value instead of once per operation.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use opentelemetry::Value;

/// How many distinct values are kept. The schema keeps these labels
/// low-cardinality; a process that sees more distinct values than this gets
/// a fresh copy for each of the rest instead of a table that grows without
/// bound.
const CAP: usize = 1024;

/// A B-tree, not a hash map: for the handful of buckets and regions a
/// process uses, a few string comparisons beat hashing the name.
static VALUES: RwLock<BTreeMap<Box<str>, Value>> = RwLock::new(BTreeMap::new());

/// The label value for `text`, shared by every operation that uses it
/// (cloning it bumps a reference count).
pub(crate) fn shared(text: &str) -> Value {
    if text.is_empty() {
        return Value::from("");
    }
    if let Ok(values) = VALUES.read() {
        if let Some(v) = values.get(text) {
            return v.clone();
        }
    }
    let value = Value::from(Arc::<str>::from(text));
    if let Ok(mut values) = VALUES.write() {
        if values.len() < CAP {
            return values.entry(text.into()).or_insert(value).clone();
        }
    }
    value
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
