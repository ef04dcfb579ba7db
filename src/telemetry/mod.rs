//! Spans and metrics around every COS and CLS operation, exported over OTLP.
//!
//! Every operation is one `tracing` span (`COS PutObject`, kind CLIENT, a
//! child of the caller's current span) and one sample of the
//! `coscls.client.operation.duration` histogram; each HTTP attempt is also a
//! child span when `DEBUG` is enabled for target `coscls::attempt` (opt-in).
//! The names are a public contract, listed in [`schema`] and
//! `docs/telemetry.md`.
//!
//! The transport pipeline opens the operation's guard; COS and CLS code only
//! describe the call with an [`OperationInfo`].
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
mod instruments;
mod operation;
mod otlp;
mod producer;
mod redact;
pub mod schema;

pub use instruments::set_meter;
pub use otlp::{
    init, layer, quiet_sdk_export_errors, Protocol, Telemetry, TelemetryBuilder, TelemetryError,
    TelemetryGuard,
};
pub use producer::{observe_producer, ProducerMetrics};
pub use redact::{is_secret_param, redact_url};

pub(crate) use operation::{BodyOutcome, OperationGuard};

/// Which service an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Service {
    /// Object storage.
    #[default]
    Cos,
    /// Log service.
    Cls,
}

impl Service {
    /// `COS` or `CLS`, as in span names and `rpc.service`.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Cos => "COS",
            Service::Cls => "CLS",
        }
    }

    /// `cos` or `cls`, the value of the `service` metric attribute.
    pub fn label(self) -> &'static str {
        match self {
            Service::Cos => "cos",
            Service::Cls => "cls",
        }
    }
}

/// What an operation is about: the span name, attributes and metric labels
/// are derived from it in one place.
#[derive(Debug, Clone, Default)]
pub struct OperationInfo {
    /// COS or CLS.
    pub service: Service,
    /// API name: `PutObject`, `UploadLog`…
    pub operation: &'static str,
    /// Region, when known.
    pub region: Option<String>,
    /// Bucket (COS).
    pub bucket: Option<String>,
    /// Object key (COS; spans only, never a metric label).
    pub key: Option<String>,
    /// Multipart upload id (spans only).
    pub upload_id: Option<String>,
    /// Multipart part number.
    pub part_number: Option<i64>,
    /// Topic id (CLS).
    pub topic: Option<String>,
}

impl OperationInfo {
    /// A COS operation on `bucket`.
    pub fn cos(operation: &'static str, region: &str, bucket: &str) -> Self {
        OperationInfo {
            service: Service::Cos,
            operation,
            region: Some(region.to_string()),
            bucket: Some(bucket.to_string()),
            ..Default::default()
        }
    }

    /// A CLS operation on `topic`.
    pub fn cls(operation: &'static str, region: Option<&str>, topic: &str) -> Self {
        OperationInfo {
            service: Service::Cls,
            operation,
            region: region.map(str::to_string),
            topic: Some(topic.to_string()),
            ..Default::default()
        }
    }

    /// Adds the object key.
    pub fn with_key(mut self, key: &str) -> Self {
        self.key = Some(key.to_string());
        self
    }

    /// Adds the multipart upload id.
    pub fn with_upload_id(mut self, upload_id: &str) -> Self {
        self.upload_id = Some(upload_id.to_string());
        self
    }

    /// Adds the multipart part number.
    pub fn with_part_number(mut self, part_number: i64) -> Self {
        self.part_number = Some(part_number);
        self
    }
}
