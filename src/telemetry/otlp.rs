//! OTLP export of traces and metrics: [`init`], the [`Telemetry`] builder,
//! the [`TelemetryGuard`] that flushes on shutdown, and [`layer`] for
//! applications that already own a subscriber.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing::{Metadata, Subscriber};
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::filter::FilterFn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer, Registry};

use super::export::{
    report, ExportHealth, ExportRuntime, ReportingMetricExporter, ReportingSpanExporter,
};
use super::instruments::{scope, set_meter};
use super::propagation;

mod exporter;
mod plan;

use exporter::{build_exporter, grpc_settings, http_settings};
use plan::plan;

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP/gRPC, port 4317 (the default; what Jaeger and the Collector listen on).
    Grpc,
    /// OTLP/HTTP with protobuf bodies, port 4318, paths `/v1/traces` and `/v1/metrics`.
    HttpProtobuf,
}

impl Protocol {
    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` spelling: `grpc` or `http/protobuf`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "grpc" => Some(Protocol::Grpc),
            "http/protobuf" => Some(Protocol::HttpProtobuf),
            _ => None,
        }
    }

    fn default_base(self) -> &'static str {
        match self {
            Protocol::Grpc => "http://localhost:4317",
            Protocol::HttpProtobuf => "http://localhost:4318",
        }
    }
}

/// Compression of OTLP export requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// gzip: `grpc-encoding: gzip` over gRPC, `Content-Encoding: gzip` over HTTP.
    Gzip,
}

impl Compression {
    /// The `OTEL_EXPORTER_OTLP_COMPRESSION` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
        }
    }

    fn to_otlp(self) -> opentelemetry_otlp::Compression {
        match self {
            Compression::Gzip => opentelemetry_otlp::Compression::Gzip,
        }
    }
}

/// The export timeout when neither the builder nor `OTEL_EXPORTER_OTLP_TIMEOUT` sets one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why telemetry could not be set up or shut down.
#[derive(Debug, thiserror::Error)]
#[error("telemetry {what}: {message}")]
pub struct TelemetryError {
    what: &'static str,
    message: String,
}

impl TelemetryError {
    fn config(message: impl Into<String>) -> Self {
        TelemetryError {
            what: "configuration",
            message: message.into(),
        }
    }
}

/// Entry point of the builder: `Telemetry::builder()`.
#[derive(Debug)]
pub struct Telemetry;

impl Telemetry {
    /// A builder with nothing set: everything comes from `OTEL_*` variables,
    /// then the defaults (gRPC to `http://localhost:4317`, traces and metrics on).
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::default()
    }
}

/// Configures OTLP export. Anything set here wins over the `OTEL_*`
/// environment variables; anything left unset comes from them.
///
/// ```no_run
/// use coscls::telemetry::{Protocol, Telemetry};
/// # fn main() -> Result<(), coscls::telemetry::TelemetryError> {
/// let telemetry = Telemetry::builder()
///     .service_name("photo-archiver")
///     .protocol(Protocol::HttpProtobuf)
///     .endpoint("http://127.0.0.1:4318")
///     .install()?;
/// telemetry.shutdown()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TelemetryBuilder {
    service_name: Option<String>,
    default_service_name: Option<String>,
    protocol: Option<Protocol>,
    endpoint: Option<String>,
    traces_endpoint: Option<String>,
    metrics_endpoint: Option<String>,
    traces: Option<bool>,
    metrics: Option<bool>,
    timeout: Option<Duration>,
    metric_interval: Option<Duration>,
    log_to_stderr: Option<bool>,
    compression: Option<Compression>,
    certificate: Option<PathBuf>,
}

impl TelemetryBuilder {
    /// `service.name` of the resource (else `OTEL_SERVICE_NAME`, else the SDK default).
    /// This wins over the environment; for a name the environment may
    /// override, use [`default_service_name`](Self::default_service_name).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// `service.name` of the resource when nothing else sets one: used only
    /// if [`service_name`](Self::service_name) is not called, `OTEL_SERVICE_NAME`
    /// is unset and `OTEL_RESOURCE_ATTRIBUTES` names no `service.name`. The
    /// right choice for a program's own name, so operators can rename it.
    ///
    /// ```
    /// # fn main() -> Result<(), coscls::telemetry::TelemetryError> {
    /// // Reported as "photo-archiver" unless OTEL_SERVICE_NAME says otherwise.
    /// let telemetry = coscls::telemetry::Telemetry::builder()
    ///     .default_service_name("photo-archiver")
    ///     .traces(false)
    ///     .metrics(false)
    ///     .build()?;
    /// telemetry.shutdown()?;
    /// # Ok(()) }
    /// ```
    pub fn default_service_name(mut self, name: impl Into<String>) -> Self {
        self.default_service_name = Some(name.into());
        self
    }

    /// The transport for both signals (else `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_PROTOCOL`,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`, else gRPC).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Base URL of the collector, like `OTEL_EXPORTER_OTLP_ENDPOINT`: over
    /// HTTP the signal paths `/v1/traces` and `/v1/metrics` are appended.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Full URL for traces, used as is (like `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
    pub fn traces_endpoint(mut self, url: impl Into<String>) -> Self {
        self.traces_endpoint = Some(url.into());
        self
    }

    /// Full URL for metrics, used as is (like `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`).
    pub fn metrics_endpoint(mut self, url: impl Into<String>) -> Self {
        self.metrics_endpoint = Some(url.into());
        self
    }

    /// Whether to export traces (else off when `OTEL_TRACES_EXPORTER=none`).
    pub fn traces(mut self, on: bool) -> Self {
        self.traces = Some(on);
        self
    }

    /// Whether to export metrics (else off when `OTEL_METRICS_EXPORTER=none`).
    /// Jaeger alone refuses metrics; send them to a Collector.
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = Some(on);
        self
    }

    /// Timeout of one export request (else `OTEL_EXPORTER_OTLP_TIMEOUT`, else 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How often metrics are exported (else `OTEL_METRIC_EXPORT_INTERVAL`, else 60 s).
    pub fn metric_interval(mut self, interval: Duration) -> Self {
        self.metric_interval = Some(interval);
        self
    }

    /// Compresses export requests (else `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_COMPRESSION`,
    /// `OTEL_EXPORTER_OTLP_COMPRESSION`, else none).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = Some(compression);
        self
    }

    /// A PEM file with the certificate(s) that `https://` collectors must be
    /// signed by (else `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_CERTIFICATE`,
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE`, else the system's roots). When set,
    /// it replaces the system's roots for both gRPC and HTTP.
    pub fn certificate(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.certificate = Some(pem_file.into());
        self
    }

    /// Whether [`install`](Self::install) also prints log lines to stderr
    /// (default true; level from `RUST_LOG`, default `info`).
    pub fn log_to_stderr(mut self, on: bool) -> Self {
        self.log_to_stderr = Some(on);
        self
    }

    /// Builds the exporters and providers, and points coscls's metrics at
    /// the new meter provider, without touching the global subscriber: add
    /// [`TelemetryGuard::layer`] to yours.
    ///
    /// ```no_run
    /// use tracing_subscriber::layer::SubscriberExt as _;
    /// use tracing_subscriber::util::SubscriberInitExt as _;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let telemetry = coscls::telemetry::Telemetry::builder().build()?;
    /// tracing_subscriber::registry()
    ///     .with(tracing_subscriber::fmt::layer())
    ///     .with(telemetry.layer())
    ///     // Optional: operation spans made through the OpenTelemetry API.
    ///     .with(telemetry.operation_spans())
    ///     .init();
    /// # Ok(()) }
    /// ```
    pub fn build(self) -> Result<TelemetryGuard, TelemetryError> {
        let guard = self.build_providers()?;
        guard.report_warnings(&[], false);
        guard.use_for_coscls_metrics();
        Ok(guard)
    }

    fn build_providers(self) -> Result<TelemetryGuard, TelemetryError> {
        let plan = plan(&self, |k| std::env::var(k).ok())?;
        let warnings = plan.warnings.clone();
        let resource = match plan.service_name.clone() {
            Some(name) => Resource::builder().with_service_name(name).build(),
            None => Resource::builder().build(),
        };
        let uses_grpc = [&plan.traces, &plan.metrics]
            .iter()
            .any(|s| s.as_ref().is_some_and(|s| s.protocol == Protocol::Grpc));
        let runtime = if uses_grpc {
            Some(Arc::new(ExportRuntime::new().map_err(|e| {
                TelemetryError::config(format!("starting the gRPC export runtime: {e}"))
            })?))
        } else {
            None
        };
        let health = Arc::new(ExportHealth::new(plan.destination()));
        let tracer_provider = match &plan.traces {
            Some(signal) => {
                let exporter = build_exporter(
                    "span",
                    signal,
                    runtime.as_deref(),
                    |tls| {
                        grpc_settings(
                            opentelemetry_otlp::SpanExporter::builder().with_tonic(),
                            signal,
                            tls,
                        )
                        .build()
                    },
                    |client| {
                        http_settings(
                            opentelemetry_otlp::SpanExporter::builder().with_http(),
                            signal,
                            client,
                        )
                        .build()
                    },
                )?;
                Some(
                    SdkTracerProvider::builder()
                        .with_batch_exporter(ReportingSpanExporter {
                            inner: exporter,
                            runtime: runtime.clone(),
                            health: health.clone(),
                        })
                        .with_resource(resource.clone())
                        .build(),
                )
            }
            None => None,
        };

        let meter_provider = match &plan.metrics {
            Some(signal) => {
                let exporter = build_exporter(
                    "metric",
                    signal,
                    runtime.as_deref(),
                    |tls| {
                        grpc_settings(
                            opentelemetry_otlp::MetricExporter::builder().with_tonic(),
                            signal,
                            tls,
                        )
                        .build()
                    },
                    |client| {
                        http_settings(
                            opentelemetry_otlp::MetricExporter::builder().with_http(),
                            signal,
                            client,
                        )
                        .build()
                    },
                )?;
                let mut reader = PeriodicReader::builder(ReportingMetricExporter {
                    inner: exporter,
                    runtime: runtime.clone(),
                    health: health.clone(),
                });
                if let Some(interval) = self.metric_interval {
                    reader = reader.with_interval(interval);
                }
                let provider = SdkMeterProvider::builder()
                    .with_reader(reader.build())
                    .with_resource(resource)
                    .build();
                Some(provider)
            }
            None => None,
        };

        Ok(TelemetryGuard {
            tracer_provider,
            meter_provider,
            health,
            _runtime: runtime,
            log_to_stderr: self.log_to_stderr.unwrap_or(true),
            warnings,
            shut_down: false,
        })
    }

    /// [`build`](Self::build), then installs the global `tracing` subscriber
    /// (an `EnvFilter` from `RUST_LOG`, default `info`; a stderr log layer
    /// unless turned off; the OpenTelemetry layer) and the global OpenTelemetry
    /// tracer and meter providers and text-map propagator (`OTEL_PROPAGATORS`,
    /// default W3C trace context and baggage).
    ///
    /// Fails if the application already installed a global subscriber: use
    /// `build` and [`TelemetryGuard::layer`] then, or give your own layers
    /// to [`install_with`](Self::install_with).
    pub fn install(self) -> Result<TelemetryGuard, TelemetryError> {
        self.install_with(tracing_subscriber::layer::Identity::new())
    }

    /// [`install`](Self::install), with `layer` added to the global
    /// subscriber: the way to add [`ClsLayer`](crate::cls::ClsLayer) (or any
    /// other layer) when coscls owns the subscriber, since a process has only
    /// one. Combine several with [`Layer::and_then`](tracing_subscriber::Layer::and_then).
    /// `layer` sees the events `RUST_LOG` lets through (default `info`).
    ///
    /// ```no_run
    /// use coscls::cls::{Client, ClsLayer, Producer, ProducerConfig};
    /// # async fn demo(client: Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let producer = Producer::new(client, ProducerConfig::default())?;
    /// let telemetry = coscls::telemetry::Telemetry::builder()
    ///     .default_service_name("photo-archiver")
    ///     .install_with(ClsLayer::new(producer.clone(), "my-topic-id"))?;
    /// tracing::info!("shipped to CLS, with the trace id of the current span");
    /// producer.close(std::time::Duration::from_secs(10)).await;
    /// telemetry.shutdown()?;
    /// # Ok(()) }
    /// ```
    pub fn install_with<L>(self, layer: L) -> Result<TelemetryGuard, TelemetryError>
    where
        L: Layer<Registry> + Send + Sync + 'static,
    {
        // Nothing global changes unless the subscriber can be installed.
        let guard = self.build_providers()?;
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        // The stderr log layer prints events. coscls's own operation and
        // attempt spans are left out of it: their fields go to the trace, and
        // formatting them for a log line that is rarely printed cost about as
        // much per operation as exporting the span.
        let fmt = guard.log_to_stderr.then(|| {
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                    let t = meta.target();
                    meta.is_event() || !(t == "coscls" || t.starts_with("coscls::"))
                }))
        });
        tracing_subscriber::registry()
            .with(layer)
            .with(filter)
            .with(quiet_sdk_export_errors())
            .with(guard.layer())
            .with(guard.operation_spans())
            // Outermost: a layer with a per-layer filter that wraps layers
            // without a level hint (the OpenTelemetry layer has none) makes
            // the subscriber's maximum level TRACE, and every `debug!` and
            // `trace!` in the process (hyper's, reqwest's) would then ask
            // the layers whether it is enabled; outside them the maximum
            // stays what `RUST_LOG` says.
            .with(fmt)
            .try_init()
            .map_err(|e| TelemetryError {
                what: "installation",
                message: format!(
                    "{e}; an application with its own subscriber should use Telemetry::builder().build() and add guard.layer() to it"
                ),
            })?;
        let (propagator, propagator_warnings) =
            propagation::from_env_value(std::env::var("OTEL_PROPAGATORS").ok().as_deref());
        guard.report_warnings(&propagator_warnings, !guard.log_to_stderr);
        guard.use_for_coscls_metrics();
        if let Some(tp) = &guard.tracer_provider {
            opentelemetry::global::set_tracer_provider(tp.clone());
        }
        if let Some(mp) = &guard.meter_provider {
            opentelemetry::global::set_meter_provider(mp.clone());
        }
        opentelemetry::global::set_text_map_propagator(propagator);
        Ok(guard)
    }
}

/// Installs the OTLP pipeline from the `OTEL_*` environment variables (see
/// [`TelemetryBuilder::install`]). Keep the guard and call
/// [`TelemetryGuard::shutdown`] before exiting, so the last spans are sent.
///
/// When no collector listens the application keeps working; the first failed
/// export is reported once on the log (or stderr).
pub fn init() -> Result<TelemetryGuard, TelemetryError> {
    Telemetry::builder().install()
}

/// [`init`] with `layer` added to the global subscriber (see
/// [`TelemetryBuilder::install_with`]), e.g. a [`ClsLayer`](crate::cls::ClsLayer).
pub fn init_with<L>(layer: L) -> Result<TelemetryGuard, TelemetryError>
where
    L: Layer<Registry> + Send + Sync + 'static,
{
    Telemetry::builder().install_with(layer)
}

/// The `tracing-opentelemetry` layer coscls's spans need, for an application
/// with its own `SdkTracerProvider` and subscriber. Location, thread, target
/// and timing attributes are off: spans carry only the schema's attributes.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
/// let subscriber = tracing_subscriber::registry().with(coscls::telemetry::layer(&provider));
/// # let _ = subscriber;
/// ```
pub fn layer<S>(provider: &SdkTracerProvider) -> OpenTelemetryLayer<S, SdkTracer>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer_with_scope(scope()))
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_level(false)
        .with_tracked_inactivity(false)
}

/// A filter that hides the OpenTelemetry SDK's per-batch `ExportError`
/// events: coscls reports a failing collector once instead. Add it to your
/// subscriber when you use [`TelemetryGuard::layer`].
pub fn quiet_sdk_export_errors() -> FilterFn<fn(&Metadata<'_>) -> bool> {
    fn keep(m: &Metadata<'_>) -> bool {
        !(m.target() == "opentelemetry_sdk" && m.name().ends_with("ExportError"))
    }
    FilterFn::new(keep as fn(&Metadata<'_>) -> bool)
}

/// Owns the providers; [`shutdown`](Self::shutdown) (or dropping it) flushes
/// the remaining spans and metrics.
#[derive(Debug)]
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    health: Arc<ExportHealth>,
    _runtime: Option<Arc<ExportRuntime>>,
    log_to_stderr: bool,
    /// Settings that were ignored (an unsupported protocol…), reported once
    /// the subscriber is in place.
    warnings: Vec<String>,
    shut_down: bool,
}

impl TelemetryGuard {
    /// Says each ignored setting once: through `tracing` (or stderr when no
    /// subscriber listens), or straight to stderr when the subscriber coscls
    /// installed prints nothing, so a fallback is never silent.
    fn report_warnings(&self, extra: &[String], straight_to_stderr: bool) {
        for w in self.warnings.iter().chain(extra) {
            let message = format!("coscls telemetry: {w}");
            if straight_to_stderr {
                eprintln!("{message}");
            } else {
                report(&message);
            }
        }
    }

    fn use_for_coscls_metrics(&self) {
        if let Some(mp) = &self.meter_provider {
            set_meter(&mp.meter_with_scope(scope()));
        }
    }

    /// The OpenTelemetry layer to add to an existing subscriber; `None` (a
    /// layer that does nothing) when traces are off.
    pub fn layer<S>(&self) -> Option<OpenTelemetryLayer<S, SdkTracer>>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        self.tracer_provider.as_ref().map(layer)
    }

    /// The layer that has coscls create its operation spans through the
    /// OpenTelemetry API with this guard's tracer provider (see
    /// [`OperationSpans`](crate::telemetry::OperationSpans)); add it beside
    /// [`layer`](Self::layer). `None` when traces are off.
    pub fn operation_spans(&self) -> Option<crate::telemetry::OperationSpans> {
        self.tracer_provider
            .as_ref()
            .map(crate::telemetry::OperationSpans::new)
    }

    /// The tracer provider, when traces are exported.
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.tracer_provider.as_ref()
    }

    /// The meter provider, when metrics are exported.
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.meter_provider.as_ref()
    }

    /// Whether the last export attempt failed (no collector listening…).
    pub fn export_failing(&self) -> bool {
        self.health.is_failing()
    }

    /// Exports everything recorded so far, now.
    pub fn force_flush(&self) -> Result<(), TelemetryError> {
        let mut errors = Vec::new();
        if let Some(tp) = &self.tracer_provider {
            if let Err(e) = tp.force_flush() {
                errors.push(format!("traces: {e}"));
            }
        }
        if let Some(mp) = &self.meter_provider {
            if let Err(e) = mp.force_flush() {
                errors.push(format!("metrics: {e}"));
            }
        }
        joined("flush", errors)
    }

    /// Flushes and stops both providers. Blocks until the last export ends
    /// (bounded by the export timeout). Errors say what could not be sent.
    pub fn shutdown(mut self) -> Result<(), TelemetryError> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> Result<(), TelemetryError> {
        if self.shut_down {
            return Ok(());
        }
        self.shut_down = true;
        let mut errors = Vec::new();
        if let Some(tp) = &self.tracer_provider {
            if let Err(e) = tp.shutdown() {
                errors.push(format!("traces: {e}"));
            }
        }
        if let Some(mp) = &self.meter_provider {
            if let Err(e) = mp.shutdown() {
                errors.push(format!("metrics: {e}"));
            }
        }
        joined("shutdown", errors)
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.shutdown_inner();
    }
}

fn joined(what: &'static str, errors: Vec<String>) -> Result<(), TelemetryError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(TelemetryError {
            what,
            message: errors.join("; "),
        })
    }
}
