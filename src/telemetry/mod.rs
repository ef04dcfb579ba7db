//! Spans and metrics around every COS and CLS operation, exported over OTLP.
//!
//! Every operation is one `tracing` span (`COS PutObject`, kind CLIENT, a
//! child of the caller's current span) and one sample of the
//! `coscls.client.operation.duration` histogram; each HTTP attempt is also a
//! child span when `DEBUG` is enabled for target `coscls::attempt` (opt-in).
//! The names are a public contract, listed in [`schema`] and
//! `docs/telemetry.md`.
//!
//! The spans and metrics are recorded by `crate::instrument` through
//! `tracing` and the `opentelemetry` API (it observes the transport from
//! outside; see [`TracedSend`] and [`observe`]); this module only sets up
//! the SDK and the OTLP export, and re-exports the public names.
//!
//! To export, install the OTLP pipeline once at start-up:
//!
//! ```no_run
//! # fn main() -> Result<(), coscls::telemetry::TelemetryError> {
//! // Honours OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME…
//! let telemetry = coscls::telemetry::init()?;
//! // … use the COS and CLS clients …
//! telemetry.shutdown()?; // flushes spans and metrics
//! # Ok(()) }
//! ```
//!
//! Applications that already own a `tracing` subscriber add
//! [`TelemetryGuard::layer`] to it instead (see [`TelemetryBuilder::build`]).

mod export;
mod otlp;

pub use crate::cls::producer::{observe_producer, ProducerMetrics};
/// The instruments live with the instrumentation; the SDK set-up here
/// installs its meter into them.
use crate::instrument::instruments;
pub use crate::instrument::instruments::set_meter;
pub use crate::instrument::redact::{is_secret_param, redact_url};
pub use crate::instrument::schema;
pub use crate::instrument::{observe, record_retry, OperationInfo, Service, TracedSend};
pub use otlp::{
    init, init_with, layer, quiet_sdk_export_errors, Protocol, Telemetry, TelemetryBuilder,
    TelemetryError, TelemetryGuard,
};
