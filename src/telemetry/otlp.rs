//! OTLP export of traces and metrics: [`init`], the [`Telemetry`] builder,
//! the [`TelemetryGuard`] that flushes on shutdown, and [`layer`] for
//! applications that already own a subscriber.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
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

/// Builds one signal's exporter with `grpc` or `http` (per the plan's
/// protocol), inside the export runtime when there is one (tonic needs a
/// reactor at construction).
///
/// TLS: an `https://` gRPC endpoint gets a rustls configuration trusting the
/// system's roots, or only the plan's certificate when there is one; over
/// HTTP the exporter's own client already trusts the system's roots, and a
/// client trusting only the certificate replaces it when there is one.
fn build_exporter<E>(
    what: &str,
    signal: &SignalPlan,
    runtime: Option<&ExportRuntime>,
    grpc: impl FnOnce(
        Option<tonic::transport::ClientTlsConfig>,
    ) -> Result<E, opentelemetry_otlp::ExporterBuildError>,
    http: impl FnOnce(
        Option<reqwest::blocking::Client>,
    ) -> Result<E, opentelemetry_otlp::ExporterBuildError>,
) -> Result<E, TelemetryError> {
    let pem = match &signal.certificate {
        Some(cert) if signal.endpoint.starts_with("https://") => Some(read_certificate(cert)?),
        _ => None,
    };
    let built = match signal.protocol {
        Protocol::Grpc => {
            let tls = signal.endpoint.starts_with("https://").then(|| {
                let tls = tonic::transport::ClientTlsConfig::new();
                match &pem {
                    Some(pem) => tls.ca_certificate(tonic::transport::Certificate::from_pem(pem)),
                    None => tls.with_native_roots(),
                }
            });
            let _entered = runtime.and_then(ExportRuntime::handle).map(|h| h.enter());
            grpc(tls)
        }
        Protocol::HttpProtobuf => {
            let client = match (&pem, &signal.certificate) {
                (Some(pem), Some(cert)) => Some(http_client_trusting(pem, cert, signal.timeout)?),
                _ => None,
            };
            http(client)
        }
    };
    built.map_err(|e| TelemetryError::config(format!("building the OTLP {what} exporter: {e}")))
}

/// A gRPC exporter builder (spans or metrics) with the plan's endpoint,
/// timeout, compression and TLS configuration: the two signals are set up
/// the same way.
fn grpc_settings<B: WithExportConfig + WithTonicConfig>(
    builder: B,
    signal: &SignalPlan,
    tls: Option<tonic::transport::ClientTlsConfig>,
) -> B {
    let b = builder
        .with_endpoint(&signal.endpoint)
        .with_timeout(signal.timeout);
    let b = match signal.compression {
        Some(c) => b.with_compression(c.to_otlp()),
        None => b,
    };
    match tls {
        Some(tls) => b.with_tls_config(tls),
        None => b,
    }
}

/// An OTLP/HTTP (protobuf) exporter builder (spans or metrics) with the
/// plan's endpoint, timeout and compression, and `client` when the plan
/// needs one of its own (a custom CA).
fn http_settings<B: WithExportConfig + WithHttpConfig>(
    builder: B,
    signal: &SignalPlan,
    client: Option<reqwest::blocking::Client>,
) -> B {
    let b = builder
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(&signal.endpoint)
        .with_timeout(signal.timeout);
    let b = match signal.compression {
        Some(c) => WithHttpConfig::with_compression(b, c.to_otlp()),
        None => b,
    };
    match client {
        Some(client) => b.with_http_client(client),
        None => b,
    }
}

/// Reads the PEM file a [`CertificateSource`] names.
fn read_certificate(cert: &CertificateSource) -> Result<Vec<u8>, TelemetryError> {
    let pem = std::fs::read(&cert.path).map_err(|e| {
        TelemetryError::config(format!(
            "reading the collector certificate {} (from {}): {e}",
            cert.path.display(),
            cert.from
        ))
    })?;
    // Both TLS stacks skip what is not a certificate; an empty trust store
    // would only fail later, on every export.
    if !pem
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(TelemetryError::config(format!(
            "the collector certificate {} (from {}) holds no PEM certificate",
            cert.path.display(),
            cert.from
        )));
    }
    Ok(pem)
}

/// A blocking reqwest client (what the HTTP exporter uses by default) that
/// trusts only the certificates in `pem`. Built on its own thread, as the
/// exporter does, because a blocking client must not be created or dropped
/// inside an async runtime.
fn http_client_trusting(
    pem: &[u8],
    cert: &CertificateSource,
    timeout: Duration,
) -> Result<reqwest::blocking::Client, TelemetryError> {
    let named = |e: &dyn std::fmt::Display| {
        TelemetryError::config(format!(
            "the collector certificate {} (from {}): {e}",
            cert.path.display(),
            cert.from
        ))
    };
    let roots = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| named(&e))?;
    std::thread::Builder::new()
        .name("coscls-otlp-client".into())
        .spawn(move || {
            reqwest::blocking::Client::builder()
                .timeout(timeout)
                .tls_certs_only(roots)
                .build()
        })
        .map_err(|e| named(&e))?
        .join()
        .map_err(|_| named(&"building the HTTP client panicked"))?
        .map_err(|e| named(&e))
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

/// Where one signal goes and how.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SignalPlan {
    protocol: Protocol,
    endpoint: String,
    compression: Option<Compression>,
    /// Trusted instead of the system's roots for `https://` endpoints.
    certificate: Option<CertificateSource>,
    timeout: Duration,
}

/// A PEM file and the setting that named it (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
struct CertificateSource {
    path: PathBuf,
    from: String,
}

/// The resolved configuration: builder settings, then `OTEL_*`, then defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    service_name: Option<String>,
    traces: Option<SignalPlan>,
    metrics: Option<SignalPlan>,
    /// Values that were ignored, each said once.
    warnings: Vec<String>,
}

impl Plan {
    fn destination(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for s in [&self.traces, &self.metrics].into_iter().flatten() {
            let d = format!("{} ({})", s.endpoint, s.protocol.as_str());
            if !parts.contains(&d) {
                parts.push(d);
            }
        }
        parts.join(" and ")
    }
}

/// The per-signal variables of one signal (`TRACES` or `METRICS`).
struct SignalVars {
    exporter: &'static str,
    protocol: &'static str,
    endpoint: &'static str,
    compression: &'static str,
    certificate: &'static str,
    timeout: &'static str,
    path: &'static str,
}

const TRACES: SignalVars = SignalVars {
    exporter: "OTEL_TRACES_EXPORTER",
    protocol: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    endpoint: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    compression: "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    certificate: "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    timeout: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    path: "/v1/traces",
};

const METRICS: SignalVars = SignalVars {
    exporter: "OTEL_METRICS_EXPORTER",
    protocol: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    endpoint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    compression: "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
    certificate: "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
    timeout: "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    path: "/v1/metrics",
};

/// Resolves the builder's settings, then the `OTEL_*` variables (read
/// through `env`), then the defaults. Values the exporter cannot honour
/// (an unsupported protocol or compression, a malformed timeout) fall back
/// to the default with a warning in [`Plan::warnings`], as the OpenTelemetry
/// specification asks; only an endpoint that cannot work is an error.
fn plan(
    b: &TelemetryBuilder,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Plan, TelemetryError> {
    let env = |k: &str| {
        env(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    // The per-signal variable, else the general one; with the name of the one used.
    let either = |specific: &'static str, general: &'static str| {
        env(specific)
            .map(|v| (specific, v))
            .or_else(|| env(general).map(|v| (general, v)))
    };
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let exporter_on = |var: &str| env(var).is_none_or(|v| !v.eq_ignore_ascii_case("none"));
    let mut warnings: Vec<String> = Vec::new();
    let mut warn = |w: String| {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    };
    let mut signal = |on: Option<bool>,
                      vars: &SignalVars,
                      explicit: &Option<String>|
     -> Result<Option<SignalPlan>, TelemetryError> {
        if !on.unwrap_or(!disabled && exporter_on(vars.exporter)) {
            return Ok(None);
        }
        let protocol = match b.protocol {
            Some(p) => p,
            None => match either(vars.protocol, "OTEL_EXPORTER_OTLP_PROTOCOL") {
                Some((var, v)) => Protocol::parse(&v).unwrap_or_else(|| {
                    warn(format!(
                        "{var}={v:?} is not supported (supported: grpc, http/protobuf); using grpc"
                    ));
                    Protocol::Grpc
                }),
                None => Protocol::Grpc,
            },
        };
        let with_path = |base: &str| match protocol {
            Protocol::Grpc => base.to_string(),
            Protocol::HttpProtobuf => format!("{}{}", base.trim_end_matches('/'), vars.path),
        };
        let endpoint = if let Some(full) = explicit {
            full.clone()
        } else if let Some(base) = &b.endpoint {
            with_path(base)
        } else if let Some(full) = env(vars.endpoint) {
            full
        } else if let Some(base) = env("OTEL_EXPORTER_OTLP_ENDPOINT") {
            with_path(&base)
        } else {
            with_path(protocol.default_base())
        };
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(TelemetryError::config(format!(
                "OTLP endpoint {endpoint:?} must start with http:// or https://"
            )));
        }
        let compression = match b.compression {
            Some(c) => Some(c),
            None => match either(vars.compression, "OTEL_EXPORTER_OTLP_COMPRESSION") {
                Some((_, v)) if v.eq_ignore_ascii_case("gzip") => Some(Compression::Gzip),
                Some((_, v)) if v.eq_ignore_ascii_case("none") => None,
                Some((var, v)) => {
                    warn(format!(
                        "{var}={v:?} is not supported (supported: gzip, none); sending uncompressed"
                    ));
                    None
                }
                None => None,
            },
        };
        let certificate = match &b.certificate {
            Some(path) => Some(CertificateSource {
                path: path.clone(),
                from: "TelemetryBuilder::certificate".into(),
            }),
            None => either(vars.certificate, "OTEL_EXPORTER_OTLP_CERTIFICATE").map(|(var, v)| {
                CertificateSource {
                    path: PathBuf::from(v),
                    from: var.into(),
                }
            }),
        };
        let timeout = match b.timeout {
            Some(t) => t,
            None => match either(vars.timeout, "OTEL_EXPORTER_OTLP_TIMEOUT") {
                Some((var, v)) => match v.parse::<u64>() {
                    Ok(ms) => Duration::from_millis(ms),
                    Err(_) => {
                        warn(format!(
                            "{var}={v:?} is not a number of milliseconds; using {} s",
                            DEFAULT_TIMEOUT.as_secs()
                        ));
                        DEFAULT_TIMEOUT
                    }
                },
                None => DEFAULT_TIMEOUT,
            },
        };
        Ok(Some(SignalPlan {
            protocol,
            endpoint,
            compression,
            certificate,
            timeout,
        }))
    };
    let traces = signal(b.traces, &TRACES, &b.traces_endpoint)?;
    let metrics = signal(b.metrics, &METRICS, &b.metrics_endpoint)?;
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are read by the SDK's
    // resource detectors; a default name only fills in when both are silent.
    let named_by_env = env("OTEL_SERVICE_NAME").is_some()
        || env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attrs| {
            attrs
                .split(',')
                .any(|kv| kv.split('=').next().map(str::trim) == Some("service.name"))
        });
    let service_name = match (&b.service_name, named_by_env) {
        (Some(name), _) => Some(name.clone()),
        (None, true) => None,
        (None, false) => b.default_service_name.clone(),
    };
    Ok(Plan {
        service_name,
        traces,
        metrics,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn plan_with(b: TelemetryBuilder, vars: &[(&str, &str)]) -> Result<Plan, TelemetryError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        plan(&b, |k| vars.get(k).cloned())
    }

    fn sig(protocol: Protocol, endpoint: &str) -> Option<SignalPlan> {
        Some(SignalPlan {
            protocol,
            endpoint: endpoint.into(),
            compression: None,
            certificate: None,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    #[test]
    fn defaults_are_grpc_to_localhost_4317_for_both_signals() {
        let p = plan_with(Telemetry::builder(), &[]).unwrap();
        assert_eq!(p.traces, sig(Protocol::Grpc, "http://localhost:4317"));
        assert_eq!(p.metrics, sig(Protocol::Grpc, "http://localhost:4317"));
        assert_eq!(p.destination(), "http://localhost:4317 (grpc)");
    }

    #[test]
    fn http_appends_signal_paths_to_base_endpoints_only() {
        let p = plan_with(
            Telemetry::builder(),
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
                ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:9/custom"),
            ],
        )
        .unwrap();
        assert_eq!(
            p.traces,
            sig(Protocol::HttpProtobuf, "http://collector:4318/v1/traces")
        );
        assert_eq!(p.metrics, sig(Protocol::HttpProtobuf, "http://m:9/custom"));
    }

    #[test]
    fn builder_settings_win_over_the_environment() {
        let b = Telemetry::builder()
            .protocol(Protocol::HttpProtobuf)
            .endpoint("http://127.0.0.1:1234")
            .metrics(true);
        let p = plan_with(
            b,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://elsewhere:4317"),
                ("OTEL_METRICS_EXPORTER", "none"),
            ],
        )
        .unwrap();
        assert_eq!(
            p.traces,
            sig(Protocol::HttpProtobuf, "http://127.0.0.1:1234/v1/traces")
        );
        assert_eq!(
            p.metrics,
            sig(Protocol::HttpProtobuf, "http://127.0.0.1:1234/v1/metrics")
        );
    }

    #[test]
    fn per_signal_protocol_and_none_exporters_are_honoured() {
        let p = plan_with(
            Telemetry::builder(),
            &[
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
                ("OTEL_METRICS_EXPORTER", "none"),
            ],
        )
        .unwrap();
        assert_eq!(
            p.traces,
            sig(Protocol::HttpProtobuf, "http://localhost:4318/v1/traces")
        );
        assert_eq!(p.metrics, None);
        let off = plan_with(Telemetry::builder(), &[("OTEL_SDK_DISABLED", "true")]).unwrap();
        assert_eq!((off.traces, off.metrics), (None, None));
    }

    #[test]
    fn a_default_service_name_yields_to_the_environment() {
        let b = || Telemetry::builder().default_service_name("dflt");
        let name = |b, vars: &[(&str, &str)]| plan_with(b, vars).unwrap().service_name;
        assert_eq!(name(b(), &[]).as_deref(), Some("dflt"));
        // None: the SDK's resource detectors then read the variable.
        assert_eq!(name(b(), &[("OTEL_SERVICE_NAME", "my-app")]), None);
        let attrs = [("OTEL_RESOURCE_ATTRIBUTES", "team=a, service.name=my-app")];
        assert_eq!(name(b(), &attrs), None);
        let other = [("OTEL_RESOURCE_ATTRIBUTES", "service.namespace=x")];
        assert_eq!(name(b(), &other).as_deref(), Some("dflt"));
        let explicit = b().service_name("fixed");
        let vars = [("OTEL_SERVICE_NAME", "my-app")];
        assert_eq!(name(explicit, &vars).as_deref(), Some("fixed"));
    }

    #[test]
    fn an_unsupported_protocol_warns_once_and_falls_back_to_grpc() {
        let p = plan_with(
            Telemetry::builder(),
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ],
        )
        .unwrap();
        assert_eq!(p.traces, sig(Protocol::Grpc, "http://collector:4317"));
        assert_eq!(p.metrics, sig(Protocol::Grpc, "http://collector:4317"));
        // Both signals read the variable; it is said once.
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert!(p.warnings[0].contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"http/json\""));
        // A per-signal value is named as such, and only that signal falls back.
        let p = plan_with(
            Telemetry::builder(),
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "thrift"),
            ],
        )
        .unwrap();
        assert_eq!(p.metrics, sig(Protocol::Grpc, "http://localhost:4317"));
        assert_eq!(
            p.traces,
            sig(Protocol::HttpProtobuf, "http://localhost:4318/v1/traces")
        );
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].starts_with("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"));
        // Supported values never warn.
        assert!(plan_with(Telemetry::builder(), &[])
            .unwrap()
            .warnings
            .is_empty());
    }

    #[test]
    fn bad_endpoints_are_named() {
        let e = plan_with(Telemetry::builder().endpoint("localhost:4317"), &[]).unwrap_err();
        assert!(e.to_string().contains("localhost:4317"), "{e}");
    }

    #[test]
    fn compression_comes_from_the_builder_then_per_signal_then_general_variables() {
        let p = plan_with(
            Telemetry::builder(),
            &[
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "GZIP"),
                ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
            ],
        )
        .unwrap();
        assert_eq!(p.traces.unwrap().compression, Some(Compression::Gzip));
        assert_eq!(p.metrics.unwrap().compression, None);
        let b = Telemetry::builder().compression(Compression::Gzip);
        let p = plan_with(b, &[("OTEL_EXPORTER_OTLP_COMPRESSION", "none")]).unwrap();
        assert_eq!(p.metrics.unwrap().compression, Some(Compression::Gzip));
        let p = plan_with(
            Telemetry::builder(),
            &[("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd")],
        )
        .unwrap();
        assert_eq!(p.traces.unwrap().compression, None);
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("\"zstd\""), "{:?}", p.warnings);
    }

    #[test]
    fn certificates_and_timeouts_are_per_signal_with_a_general_fallback() {
        let p = plan_with(
            Telemetry::builder(),
            &[
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                    "/etc/traces-ca.pem",
                ),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
                ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "soon"),
            ],
        )
        .unwrap();
        let (traces, metrics) = (p.traces.unwrap(), p.metrics.unwrap());
        let traces_ca = traces.certificate.unwrap();
        assert_eq!(traces_ca.path, PathBuf::from("/etc/traces-ca.pem"));
        assert_eq!(traces_ca.from, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE");
        assert_eq!(
            metrics.certificate.unwrap().from,
            "OTEL_EXPORTER_OTLP_CERTIFICATE"
        );
        assert_eq!(traces.timeout, Duration::from_millis(2500));
        assert_eq!(metrics.timeout, DEFAULT_TIMEOUT);
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"));
        let b = Telemetry::builder()
            .certificate("/mine.pem")
            .timeout(Duration::from_secs(1));
        let p = plan_with(b, &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem")]).unwrap();
        let traces = p.traces.unwrap();
        assert_eq!(traces.certificate.unwrap().path, PathBuf::from("/mine.pem"));
        assert_eq!(traces.timeout, Duration::from_secs(1));
    }

    #[test]
    fn a_certificate_that_is_not_pem_is_refused_before_any_export() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, b"not a certificate").unwrap();
        let source = CertificateSource {
            path: path.clone(),
            from: "OTEL_EXPORTER_OTLP_CERTIFICATE".into(),
        };
        let e = read_certificate(&source).unwrap_err().to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
        assert!(e.contains("OTEL_EXPORTER_OTLP_CERTIFICATE"), "{e}");
        let missing = CertificateSource {
            path: dir.path().join("absent.pem"),
            from: "OTEL_EXPORTER_OTLP_CERTIFICATE".into(),
        };
        let e = read_certificate(&missing).unwrap_err().to_string();
        assert!(e.contains("absent.pem"), "{e}");
    }
}
