//! The three metric instruments, created once per meter.
//!
//! Until [`set_meter`] is called (the telemetry builder does it), the
//! instruments come from `opentelemetry::global`'s meter provider at first
//! use; with no provider installed that is the no-op meter. coscls notices
//! that (see [`meter_of`]) so that an operation nobody observes can skip its
//! telemetry altogether ([`Instruments::noop`]).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider};
use opentelemetry::InstrumentationScope;
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{span, Event, Metadata};

use super::schema::{metric, DURATION_BOUNDARIES, SCOPE_NAME};

/// The instruments of one meter.
#[derive(Debug)]
pub(crate) struct Instruments {
    /// The meter, for instruments registered later (producer observers).
    pub(crate) meter: Meter,
    pub(crate) duration: Histogram<f64>,
    pub(crate) transferred: Counter<u64>,
    pub(crate) retries: Counter<u64>,
    /// Set when the meter is known to be OpenTelemetry's no-op meter: no
    /// sample recorded with it is ever seen.
    pub(crate) noop: bool,
}

impl Instruments {
    fn new(meter: &Meter, noop: bool) -> Self {
        Instruments {
            noop,
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
        let (meter, noop) = meter_of(&*opentelemetry::global::meter_provider());
        Arc::new(Instruments::new(&meter, noop))
    })
    .clone()
}

/// Whether the current meter is known to be the no-op one.
pub(crate) fn noop() -> bool {
    with(|i| i.noop)
}

/// The name of the debug event OpenTelemetry's no-op meter provider sends
/// each time it hands out a meter.
const NOOP_METER_EVENT: &str = "NoopMeterProvider.MeterCreation";

/// coscls's meter from `provider`, and whether it is the no-op meter.
///
/// The OpenTelemetry API has no way to ask. The no-op provider says it
/// itself: it sends the `NoopMeterProvider.MeterCreation` debug event
/// (target `opentelemetry`) whenever it makes a meter. A probe subscriber,
/// current on this thread only while the meter is made, listens for it.
/// When the event cannot be seen (tracing's `DEBUG` level compiled out by
/// a `max_level_*` feature, an OpenTelemetry release that stops sending
/// it), the meter counts as a real one: operations then record everything,
/// which costs time but loses nothing.
fn meter_of(provider: &(dyn MeterProvider + Send + Sync)) -> (Meter, bool) {
    let probe = Arc::new(NoopProbe(AtomicBool::new(false)));
    let meter = tracing::subscriber::with_default(Arc::clone(&probe), || {
        provider.meter_with_scope(scope())
    });
    // The probe widened the callsites' interest and the maximum level while
    // it was registered; recompute both from the subscribers still alive.
    // (With none, `tracing`'s no-op default gives every callsite the
    // interest "never", and the maximum level reads TRACE.)
    tracing::callsite::rebuild_interest_cache();
    (meter, probe.0.load(Ordering::Relaxed))
}

/// Listens for [`NOOP_METER_EVENT`] and nothing else.
struct NoopProbe(AtomicBool);

impl NoopProbe {
    fn wants(metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && metadata.target() == "opentelemetry"
    }
}

impl tracing::Subscriber for NoopProbe {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // Asked again each time, so that nothing stays enabled for it once
        // it is gone; every other callsite keeps the interest it had.
        if Self::wants(metadata) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        Self::wants(metadata)
    }

    fn event(&self, event: &Event<'_>) {
        if event.metadata().name() == NOOP_METER_EVENT {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
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
    let instruments = Arc::new(Instruments::new(meter, false));
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
        assert!(!with(|i| i.noop), "a meter given to coscls counts as real");
    }

    #[test]
    fn the_noop_meter_is_recognised_and_a_real_one_is_not() {
        let noop = opentelemetry::metrics::noop::NoopMeterProvider::new();
        assert!(meter_of(&noop).1, "the no-op provider's meter");
        let sdk = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
        assert!(!meter_of(&sdk).1, "an SDK provider's meter");
        // Under a subscriber of the caller's: the probe hears the event
        // instead of it, and afterwards the caller's subscriber gets such
        // events again (the interest the probe changed is rebuilt).
        let outer = Arc::new(NoopProbe(AtomicBool::new(false)));
        tracing::subscriber::with_default(Arc::clone(&outer), || {
            assert!(meter_of(&noop).1);
            assert!(!outer.0.load(Ordering::Relaxed), "the probe took the event");
            tracing::debug!(name: "NoopMeterProvider.MeterCreation", target: "opentelemetry", "again");
        });
        assert!(
            outer.0.load(Ordering::Relaxed),
            "the caller's subscriber hears it"
        );
    }
}
