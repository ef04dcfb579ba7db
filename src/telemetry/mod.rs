//! Spans and metrics around every COS and CLS operation, exported over OTLP.
//!
//! Every operation is one span (`COS PutObject`, kind CLIENT, a child of
//! the caller's current span: a `tracing` span, or one made through the
//! OpenTelemetry API when the subscriber has an `OperationSpans` layer, as
//! the one `init()` installs does) and one sample of the
//! `coscls.client.operation.duration` histogram; each HTTP attempt is also a
//! child span when `DEBUG` is enabled for target `coscls::attempt` (opt-in).
//! The names are a public contract, listed in [`schema`] and
//! `docs/telemetry.md`.
//!
//! The spans and metrics are recorded by `crate::instrument` through
//! `tracing` and the `opentelemetry` API (it wraps each client operation
//! and observes the transport from outside); this module only sets up the
//! SDK and the OTLP export, and re-exports the public names.
//!
//! To export, install the OTLP pipeline once at start-up (feature `otlp`,
//! on by default):
//!
//! ```no_run
//! # #[cfg(feature = "otlp")]
//! # fn main() -> Result<(), coscls::telemetry::TelemetryError> {
//! // Honours OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME…
//! let telemetry = coscls::telemetry::init()?;
//! // … use the COS and CLS clients …
//! telemetry.shutdown()?; // flushes spans and metrics
//! # Ok(()) }
//! # #[cfg(not(feature = "otlp"))]
//! # fn main() {}
//! ```
//!
//! Applications that already own a `tracing` subscriber add
//! `TelemetryGuard::layer` to it instead (see `TelemetryBuilder::build`).
//!
//! Without the `otlp` feature none of the export set-up exists (no
//! OpenTelemetry SDK, OTLP exporter or tonic in the build): spans are still
//! `tracing` spans and metrics are recorded through the `opentelemetry` API,
//! so an application that installs its own meter provider (or calls
//! [`set_meter`]) still gets them.

#[cfg(feature = "otlp")]
mod export;
#[cfg(feature = "otlp")]
mod otlp;
#[cfg(feature = "otlp")]
mod propagation;

pub use crate::cls::producer::{observe_producer, ProducerMetrics};
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use crate::instrument::direct::OperationSpans;
/// The instruments live with the instrumentation; the SDK set-up here
/// installs its meter into them.
#[cfg(feature = "otlp")]
use crate::instrument::instruments;
pub use crate::instrument::instruments::set_meter;
pub use crate::instrument::redact::{is_secret_param, redact_url};
pub use crate::instrument::schema;
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use otlp::{
    init, init_with, layer, quiet_sdk_export_errors, Compression, Protocol, Telemetry,
    TelemetryBuilder, TelemetryError, TelemetryGuard,
};
