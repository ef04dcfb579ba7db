//! The three metric instruments, created once per meter.
//!
//! Until [`set_meter`] is called (the telemetry builder does it), the
//! instruments come from `opentelemetry::global`'s meter provider at first
//! use; with no provider installed that is the no-op meter, which makes
//! recording free.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::InstrumentationScope;

use super::schema::{metric, DURATION_BOUNDARIES, SCOPE_NAME};

/// The instruments of one meter.
#[derive(Debug)]
pub(crate) struct Instruments {
    /// The meter, for instruments registered later (producer observers).
    pub(crate) meter: Meter,
    pub(crate) duration: Histogram<f64>,
    pub(crate) transferred: Counter<u64>,
    pub(crate) retries: Counter<u64>,
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        Instruments {
            meter: meter.clone(),
            duration: meter
                .f64_histogram(metric::OPERATION_DURATION)
                .with_unit("s")
                .with_description(
                    "Duration of COS and CLS operations, from the call to the end of the response body",
                )
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build(),
            transferred: meter
                .u64_counter(metric::TRANSFERRED)
                .with_unit("By")
                .with_description("Request body bytes sent and response body bytes read")
                .build(),
            retries: meter
                .u64_counter(metric::RETRIES)
                .with_unit("{retry}")
                .with_description("Attempts repeated after a transient failure")
                .build(),
        }
    }
}

static CURRENT: RwLock<Option<Arc<Instruments>>> = RwLock::new(None);

/// Counts [`set_meter`] calls, so that each thread sees when its copy of
/// `CURRENT` is stale. Only [`set_meter`] writes it; operations only read.
static GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's copy of `CURRENT`, with the generation it was taken at:
    /// an operation reads its instruments without taking the lock or
    /// changing the shared `Arc`'s count.
    static LOCAL: RefCell<Option<(u64, Arc<Instruments>)>> = const { RefCell::new(None) };
}

/// The instruments operations record into.
pub(crate) fn current() -> Arc<Instruments> {
    if let Some(i) = CURRENT.read().ok().and_then(|g| g.clone()) {
        return i;
    }
    let mut slot = match CURRENT.write() {
        Ok(slot) => slot,
        Err(poisoned) => poisoned.into_inner(),
    };
    slot.get_or_insert_with(|| {
        Arc::new(Instruments::new(&opentelemetry::global::meter_with_scope(
            scope(),
        )))
    })
    .clone()
}

/// Calls `f` with the current instruments, from this thread's copy.
///
/// The copy is taken out of its cell while `f` runs, so a recording that
/// reenters (an exporter's own telemetry, say) finds the cell empty and
/// goes to `CURRENT` instead of finding it borrowed. A thread whose locals
/// are being destroyed goes there too.
pub(crate) fn with<R>(f: impl FnOnce(&Instruments) -> R) -> R {
    let generation = GENERATION.load(Ordering::Acquire);
    let cached = LOCAL
        .try_with(|local| local.borrow_mut().take())
        .ok()
        .flatten()
        .filter(|(seen, _)| *seen == generation);
    let (seen, instruments) = match cached {
        Some(hit) => hit,
        // The generation is read before `CURRENT`: a `set_meter` in between
        // leaves a newer value under an older number, refreshed next time.
        None => (generation, current()),
    };
    let result = f(&instruments);
    let _ = LOCAL.try_with(|local| {
        if let Ok(mut slot) = local.try_borrow_mut() {
            *slot = Some((seen, instruments));
        }
    });
    result
}

/// Records coscls metrics with `meter` from now on.
///
/// The telemetry builder calls this for you. Call it yourself when your
/// application builds its own `SdkMeterProvider`:
///
/// ```
/// use opentelemetry::metrics::MeterProvider as _;
/// let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
/// coscls::telemetry::set_meter(&provider.meter("coscls"));
/// ```
///
/// Without it, coscls uses the meter provider installed in
/// `opentelemetry::global` at the time of the first operation.
pub fn set_meter(meter: &Meter) {
    let instruments = Arc::new(Instruments::new(meter));
    match CURRENT.write() {
        Ok(mut slot) => *slot = Some(instruments),
        Err(poisoned) => *poisoned.into_inner() = Some(instruments),
    }
    GENERATION.fetch_add(1, Ordering::Release);
}

/// The instrumentation scope (`coscls` and the crate version).
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::metrics::MeterProvider as _;

    fn address() -> *const Instruments {
        with(|i| i as *const Instruments)
    }

    #[test]
    fn set_meter_replaces_the_copy_a_thread_cached() {
        let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
        set_meter(&provider.meter("first"));
        let first = address();
        assert_eq!(first, address(), "the second call reads the cached copy");
        set_meter(&provider.meter("second"));
        let second = address();
        assert_ne!(first, second, "a stale copy is not used");
        assert_eq!(second, Arc::as_ptr(&current()));
        // Reentering finds the copy taken and reads the shared one.
        assert!(with(|outer| with(|inner| std::ptr::eq(outer, inner))));
    }
}
