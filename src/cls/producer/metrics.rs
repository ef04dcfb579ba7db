//! Metrics of a CLS [`Producer`]: logs accepted / sent / failed / refused,
//! batches sent / failed, and the bytes it holds, read from
//! [`Producer::stats`] whenever the meter collects.
//!
//! They live with the producer and record through the `opentelemetry`
//! metrics API only (no-ops until an application installs a meter
//! provider); `coscls::telemetry` re-exports them next to the SDK set-up.

use std::sync::{Arc, Mutex};

use opentelemetry::KeyValue;

use super::{Producer, TopicCounts};
use crate::instrument::instruments;
use crate::instrument::schema::{label, metric};

/// Keeps a producer's metrics reported; dropping it stops them (and releases
/// the producer clone the metrics read from, so dropping the producer still
/// flushes it).
#[derive(Debug)]
pub struct ProducerMetrics {
    slot: Arc<Mutex<Option<Producer>>>,
}

impl Drop for ProducerMetrics {
    fn drop(&mut self) {
        *lock(&self.slot) = None;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Reports `producer`'s counters as the `coscls.cls.producer.*` metrics,
/// labelled `producer = name` (keep names few: one per producer); the log
/// counts are also labelled by `topic` (topics are few; past 256 the rest
/// share `topic = "_other"`).
///
/// Uses the meter coscls records with (see [`set_meter`](crate::telemetry::set_meter));
/// call it after setting telemetry up. Keep the returned value for as long as
/// the producer lives.
///
/// ```no_run
/// # async fn demo(client: coscls::cls::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let producer = coscls::cls::Producer::new(client, Default::default())?;
/// let _metrics = coscls::telemetry::observe_producer(&producer, "app-logs");
/// # Ok(()) }
/// ```
pub fn observe_producer(producer: &Producer, name: &str) -> ProducerMetrics {
    let slot = Arc::new(Mutex::new(Some(producer.clone())));
    let name: Arc<str> = Arc::from(name);
    let meter = instruments::current().meter.clone();
    let stats = {
        let slot = slot.clone();
        move || lock(&slot).as_ref().map(Producer::stats)
    };
    let by_topic = {
        let slot = slot.clone();
        move || {
            lock(&slot)
                .as_ref()
                .map(Producer::topic_counts)
                .unwrap_or_default()
        }
    };
    let producer_label = move || KeyValue::new(label::PRODUCER, name.clone());

    let p = producer_label.clone();
    meter
        .u64_observable_counter(metric::PRODUCER_LOGS)
        .with_unit("{log}")
        .with_description(
            "Logs a CLS producer accepted, sent, failed to send, refused, or resent after a failure that may have stored them",
        )
        .with_callback(move |o| {
            for (topic, counts) in by_topic() {
                for (state, n) in log_counts(&counts) {
                    o.observe(
                        n,
                        &[
                            p(),
                            KeyValue::new(label::TOPIC, topic.clone()),
                            KeyValue::new(label::STATE, state),
                        ],
                    );
                }
            }
        })
        .build();
    let (s, p) = (stats.clone(), producer_label.clone());
    meter
        .u64_observable_counter(metric::PRODUCER_BATCHES)
        .with_unit("{batch}")
        .with_description("Batches a CLS producer sent or failed to send")
        .with_callback(move |o| {
            if let Some(st) = s() {
                o.observe(
                    st.batches_delivered,
                    &[p(), KeyValue::new(label::STATE, "sent")],
                );
                o.observe(
                    st.batches_failed,
                    &[p(), KeyValue::new(label::STATE, "failed")],
                );
            }
        })
        .build();
    meter
        .u64_observable_gauge(metric::PRODUCER_QUEUED)
        .with_unit("By")
        .with_description("Memory held by logs a CLS producer accepted and has not finished")
        .with_callback(move |o| {
            if let Some(st) = stats() {
                o.observe(st.buffered_bytes as u64, &[producer_label()]);
            }
        })
        .build();
    ProducerMetrics { slot }
}

fn log_counts(st: &TopicCounts) -> [(&'static str, u64); 5] {
    [
        ("accepted", st.accepted),
        ("sent", st.delivered),
        ("failed", st.failed),
        ("refused", st.refused),
        ("possibly_duplicated", st.possibly_duplicated),
    ]
}
