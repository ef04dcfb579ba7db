//! The one in-memory telemetry observer: spans reach an in-memory exporter
//! through `tracing-opentelemetry` (so they are read as an OpenTelemetry
//! backend sees them), metrics an in-memory reader that coscls's
//! instruments are pointed at. Operations are found by the bucket or topic
//! they touched, so each check uses its own.

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry::Value;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;

/// Spans and metrics recorded in memory.
pub struct Recorder {
    spans: InMemorySpanExporter,
    tracer: SdkTracerProvider,
    metrics: InMemoryMetricExporter,
    meter: SdkMeterProvider,
}

impl Recorder {
    /// A recorder whose meter coscls's instruments now use (process-wide:
    /// the last one made wins).
    pub fn install() -> Recorder {
        let spans = InMemorySpanExporter::default();
        let tracer = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        let metrics = InMemoryMetricExporter::default();
        let meter = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        coscls::telemetry::set_meter(&meter.meter("coscls"));
        Recorder {
            spans,
            tracer,
            metrics,
            meter,
        }
    }

    /// The `tracing` layer that records spans here, to compose with others.
    pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        tracing_opentelemetry::layer().with_tracer(self.tracer.tracer("coscls-tests"))
    }

    /// Records this thread's spans until the guard drops.
    pub fn set_default(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(tracing_subscriber::registry().with(self.layer()))
    }

    /// Records this thread's spans until the guard drops, with the
    /// operation spans made through the OpenTelemetry API
    /// ([`coscls::telemetry::OperationSpans`]) instead of the bridge.
    pub fn set_default_direct(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(
            tracing_subscriber::registry()
                .with(self.layer())
                .with(coscls::telemetry::OperationSpans::new(&self.tracer)),
        )
    }

    /// Every finished span so far.
    pub fn spans(&self) -> Vec<SpanData> {
        let _ = self.tracer.force_flush();
        self.spans.get_finished_spans().unwrap()
    }

    /// The one span called `name` whose bucket or topic is `label`.
    pub fn op_span(&self, name: &str, label: &str) -> SpanData {
        let mut found: Vec<SpanData> = self
            .spans()
            .into_iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                s.attributes.iter().any(|kv| {
                    (kv.key.as_str() == "tencent_cloud.cos.bucket"
                        || kv.key.as_str() == "tencent_cloud.cls.topic_id")
                        && kv.value == Value::from(label.to_string())
                })
            })
            .collect();
        assert_eq!(found.len(), 1, "one {name} span for {label}");
        found.remove(0)
    }

    /// The `status` of every operation-duration sample whose `label_key`
    /// (`bucket`, `topic`) is `label`, with its count.
    pub fn histogram_status(&self, label_key: &str, label: &str) -> Vec<(String, u64)> {
        self.meter.force_flush().unwrap();
        let exported = self.metrics.get_finished_metrics().unwrap();
        let last = exported.last().expect("metrics exported");
        let mut out = Vec::new();
        for scope in last.scope_metrics() {
            for metric in scope.metrics() {
                if metric.name() != "coscls.client.operation.duration" {
                    continue;
                }
                let AggregatedMetrics::F64(MetricData::Histogram(h)) = metric.data() else {
                    panic!("the duration is an f64 histogram");
                };
                for point in h.data_points() {
                    let attr = |k: &str| {
                        point
                            .attributes()
                            .find(|kv| kv.key.as_str() == k)
                            .map(|kv| kv.value.to_string())
                    };
                    if attr(label_key).as_deref() == Some(label) {
                        out.push((attr("status").unwrap_or_default(), point.count()));
                    }
                }
            }
        }
        out
    }

    /// The caller's outcome (`got`: `None` for Ok, else its `error.type`) is
    /// `expected`, and the operation's span (status, `error.type`,
    /// `rpc.system`) and its one duration sample (`status`) agree with it.
    /// `row` names the case in failure messages.
    pub fn assert_outcome(
        &self,
        row: &str,
        span_name: &str,
        label_key: &str,
        label: &str,
        got: Option<String>,
        expected: Option<&str>,
    ) {
        assert_eq!(
            got.as_deref(),
            expected,
            "{row}: the caller got what the row scripts"
        );
        let span = self.op_span(span_name, label);
        assert_eq!(
            span_attr(&span, "error.type"),
            got,
            "{row}: the span's error.type is the caller's"
        );
        match &got {
            None => assert!(
                !matches!(span.status, Status::Error { .. }),
                "{row}: a success is not an error span: {:?}",
                span.status
            ),
            Some(kind) => assert!(
                matches!(&span.status, Status::Error { description } if description == kind),
                "{row}: an error span naming {kind}: {:?}",
                span.status
            ),
        }
        let status = got.clone().unwrap_or_else(|| "ok".to_string());
        assert_eq!(
            self.histogram_status(label_key, label),
            vec![(status, 1)],
            "{row}: one duration sample with the caller's status"
        );
        assert_eq!(
            span_attr(&span, "rpc.system").as_deref(),
            Some("tencent_cloud-api"),
            "{row}: rpc.system"
        );
    }
}

/// The value of a span attribute, as a string.
pub fn span_attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}
