//! The `tracing` layer that ships events through a producer (docs on
//! [`ClsLayer`]).

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::producer::{Destination, Producer};
use super::proto::Log;

/// Targets (and their `::` children) never shipped: the crates that ship.
pub const DEFAULT_IGNORED_TARGETS: &[&str] = &[
    "coscls",
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "tonic",
    "tower",
    "rustls",
    "rustls_platform_verifier",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
    "opentelemetry_http",
    "tracing_opentelemetry",
];

/// Keys the layer writes itself; event fields with these names are stored
/// as `field.<name>` so nothing is overwritten.
const OWN_KEYS: &[&str] = &["level", "target", "message", "traceID", "spanID"];

thread_local! {
    static SHIPPING: Cell<bool> = const { Cell::new(false) };
}

/// Clears the re-entrancy flag when the event has been handed over.
struct ShippingGuard;

impl Drop for ShippingGuard {
    fn drop(&mut self) {
        SHIPPING.with(|s| s.set(false));
    }
}

/// A `tracing_subscriber::Layer` that ships `tracing` events to CLS through a
/// [`Producer`], carrying the OpenTelemetry trace and span ids so a log line
/// in CLS and its trace in Jaeger can be joined.
///
/// Each event becomes one CLS log with the keys `level` (`INFO`…),
/// `target`, `message`, every event field (as text), and `traceID` /
/// `spanID` in lower-case hex, or empty strings outside a traced span (the
/// keys of the OpenTelemetry collector's CLS exporter, docs/protocol/cls.md §6).
///
/// It never recurses: events from the crates that do the shipping (coscls,
/// reqwest, hyper, h2, tonic, tower, rustls, opentelemetry) are skipped, and
/// an event raised while an event is being shipped on the same thread is
/// dropped. It never blocks: when the producer's buffer is full the event
/// is counted in [`ClsLayer::dropped`] instead of stalling the application.
///
/// ```no_run
/// # async fn demo(client: coscls::cls::Client) -> Result<(), coscls::cls::Error> {
/// use coscls::cls::{ClsLayer, Producer, ProducerConfig};
/// use tracing_subscriber::prelude::*;
///
/// let producer = Producer::new(client, ProducerConfig::default())?;
/// tracing_subscriber::registry()
///     .with(ClsLayer::new(producer.clone(), "my-topic-id"))
///     .init();
/// tracing::info!(user = "alice", "signed in");
/// producer.close(std::time::Duration::from_secs(10)).await;
/// # Ok(()) }
/// ```
///
/// Clones share the counters; each clone learns its own subscriber when
/// added to one.
#[derive(Debug)]
pub struct ClsLayer {
    producer: Producer,
    destination: Destination,
    ignored: Vec<String>,
    shipped: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
    /// The subscriber this layer is part of, to ask the OpenTelemetry layer
    /// for span contexts (the thread's default dispatcher is not reachable
    /// while an event is being dispatched).
    dispatch: OnceLock<WeakDispatch>,
}

impl Clone for ClsLayer {
    fn clone(&self) -> Self {
        ClsLayer {
            producer: self.producer.clone(),
            destination: self.destination.clone(),
            ignored: self.ignored.clone(),
            shipped: self.shipped.clone(),
            dropped: self.dropped.clone(),
            dispatch: OnceLock::new(),
        }
    }
}

impl ClsLayer {
    /// Ships events to `destination` through `producer`.
    pub fn new(producer: Producer, destination: impl Into<Destination>) -> Self {
        ClsLayer {
            producer,
            destination: destination.into(),
            ignored: DEFAULT_IGNORED_TARGETS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            shipped: Arc::default(),
            dropped: Arc::default(),
            dispatch: OnceLock::new(),
        }
    }

    /// Also skips events whose target is `target` or starts with `target::`.
    pub fn ignore_target(mut self, target: impl Into<String>) -> Self {
        self.ignored.push(target.into());
        self
    }

    /// Events handed to the producer (each then has a delivery outcome in
    /// the producer's stats).
    pub fn shipped(&self) -> u64 {
        self.shipped.load(Ordering::Relaxed)
    }

    /// Events the producer refused (buffer full, closed): not shipped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn is_ignored(&self, target: &str) -> bool {
        self.ignored.iter().any(|p| {
            target
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
    }
}

/// The trace and span id of the OpenTelemetry span behind `span`, if the
/// `tracing-opentelemetry` layer is part of `dispatch` and the span is valid.
/// Without the `otlp` feature there is no such layer: never any ids.
#[cfg(feature = "otlp")]
fn otel_ids(dispatch: &Dispatch, span: &tracing::span::Id) -> Option<(String, String)> {
    let sc = crate::instrument::otel::span_context_in(dispatch, span)?;
    Some((sc.trace_id().to_string(), sc.span_id().to_string()))
}

#[cfg(not(feature = "otlp"))]
fn otel_ids(_: &Dispatch, _: &tracing::span::Id) -> Option<(String, String)> {
    None
}

impl<S> Layer<S> for ClsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if self.is_ignored(meta.target()) || SHIPPING.with(|s| s.replace(true)) {
            return;
        }
        let _guard = ShippingGuard;

        let mut fields = Fields::default();
        event.record(&mut fields);
        let target = fields.log_target.take();
        let target = target.as_deref().unwrap_or(meta.target());
        if self.is_ignored(target) {
            return;
        }
        // Take the id and release the span before asking for its OTel context.
        let span = ctx.event_span(event).map(|s| s.id());
        let dispatch = self.dispatch.get().and_then(WeakDispatch::upgrade);
        let (trace_id, span_id) = match (dispatch, span) {
            (Some(d), Some(id)) => otel_ids(&d, &id).unwrap_or_default(),
            _ => Default::default(),
        };

        let mut log = Log::now();
        log.push("level", meta.level().as_str());
        log.push("target", target);
        log.push("message", fields.message.take().unwrap_or_default());
        for (key, value) in fields.values {
            log.push(key, value);
        }
        log.push("traceID", trace_id);
        log.push("spanID", span_id);
        match self.producer.try_send(&self.destination, log) {
            Ok(_) => self.shipped.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Collects an event's fields as text.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    log_target: Option<String>,
    values: Vec<(String, String)>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: String) {
        let name = field.name();
        match name {
            "message" => self.message = Some(value),
            // Set by tracing-log for `log` records: the real target.
            "log.target" => self.log_target = Some(value),
            "log.module_path" | "log.file" | "log.line" => {}
            _ => self.values.push((key_for(name), value)),
        }
    }
}

/// A CLS key for an event field: keys must not start with `_` (docs/protocol/cls.md §2),
/// and the layer's own keys are not overwritten.
fn key_for(name: &str) -> String {
    let trimmed = name.trim_start_matches('_');
    if trimmed.is_empty() {
        "field".into()
    } else if OWN_KEYS.contains(&trimmed) {
        format!("field.{trimmed}")
    } else {
        trimmed.to_string()
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.to_string());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.to_string());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.to_string());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.to_string());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(s) = source {
            let _ = write!(text, ": {s}");
            source = s.source();
        }
        self.put(field, text);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_become_valid_cls_keys() {
        assert_eq!(key_for("user"), "user");
        assert_eq!(key_for("__secret_ish"), "secret_ish");
        assert_eq!(key_for("_"), "field");
        assert_eq!(key_for("level"), "field.level");
        assert_eq!(key_for("traceID"), "field.traceID");
    }

    use crate::cls::test_support::{client, MockCls};
    use crate::cls::ProducerConfig;
    #[cfg(feature = "otlp")]
    use opentelemetry::trace::TraceContextExt as _;
    #[cfg(feature = "otlp")]
    use opentelemetry::trace::TracerProvider as _;
    #[cfg(feature = "otlp")]
    use std::collections::BTreeMap;
    #[cfg(feature = "otlp")]
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::prelude::*;

    #[cfg(feature = "otlp")]
    fn contents(log: &Log) -> BTreeMap<String, String> {
        log.contents
            .iter()
            .map(|c| (c.key.clone(), c.value.clone()))
            .collect()
    }

    #[test]
    fn targets_are_ignored_by_prefix_at_module_boundaries() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _enter = rt.enter();
        let mock = MockCls::new();
        let producer = Producer::new(client(&mock, 1), ProducerConfig::default()).unwrap();
        let layer = ClsLayer::new(producer, "t").ignore_target("noisy");
        for t in [
            "coscls",
            "coscls::cls::producer",
            "hyper_util::client",
            "noisy::x",
        ] {
            assert!(layer.is_ignored(t), "{t}");
        }
        for t in ["coscls_app", "myapp", "hyperloop", "noisy_neighbour"] {
            assert!(!layer.is_ignored(t), "{t}");
        }
    }

    #[cfg(feature = "otlp")]
    #[tokio::test]
    async fn events_carry_level_target_fields_and_the_trace_of_their_span() {
        let mock = MockCls::new();
        let producer = Producer::new(client(&mock, 1), ProducerConfig::default()).unwrap();
        let layer = ClsLayer::new(producer.clone(), "logs");
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(layer.clone());
        let (trace_id, span_id) = tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request");
            let ids = span.in_scope(|| {
                tracing::warn!(target: "myapp::db", user = "alice", rows = 3_u64, _hidden = true, level = "x", "slow query");
                let sc = tracing::Span::current().context().span().span_context().clone();
                (sc.trace_id().to_string(), sc.span_id().to_string())
            });
            tracing::info!(target: "myapp", "outside any span");
            tracing::info!(target: "coscls::cls", "never shipped");
            tracing::error!(target: "hyper::proto", "never shipped");
            ids
        });
        assert_eq!(layer.shipped(), 2);
        assert!(producer.flush().await.failed.is_empty());
        let logs = mock.logs("logs");
        assert_eq!(logs.len(), 2);
        let first = contents(&logs[0]);
        assert_eq!(first["level"], "WARN");
        assert_eq!(first["target"], "myapp::db");
        assert_eq!(first["message"], "slow query");
        assert_eq!(first["user"], "alice");
        assert_eq!(first["rows"], "3");
        assert_eq!(first["hidden"], "true");
        assert_eq!(first["field.level"], "x");
        assert_eq!(trace_id.len(), 32);
        assert_eq!(span_id.len(), 16);
        assert_eq!(first["traceID"], trace_id);
        assert_eq!(first["spanID"], span_id);
        assert!(trace_id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        let second = contents(&logs[1]);
        assert_eq!(second["message"], "outside any span");
        assert_eq!(second["traceID"], "");
        assert_eq!(second["spanID"], "");
    }

    #[tokio::test]
    async fn a_full_buffer_drops_and_counts_instead_of_blocking() {
        let mock = MockCls::new();
        mock.gate.send_replace(false);
        let config = ProducerConfig {
            memory_limit: 1000,
            batch_max_logs: 1,
            ..ProducerConfig::default()
        };
        let producer = Producer::new(client(&mock, 1), config).unwrap();
        let layer = ClsLayer::new(producer.clone(), "logs");
        let subscriber = tracing_subscriber::registry().with(layer.clone());
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..5 {
                tracing::info!(target: "app", i, "event");
            }
        });
        assert_eq!(layer.shipped() + layer.dropped(), 5);
        assert!(layer.dropped() > 0 && layer.shipped() > 0);
        mock.gate.send_replace(true);
        assert!(producer.flush().await.failed.is_empty());
        assert_eq!(mock.logs("logs").len() as u64, layer.shipped());
    }
}
