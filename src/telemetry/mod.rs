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
mod instruments;
mod label_values;
mod operation;
#[cfg(feature = "otlp")]
mod otlp;
mod producer;
#[cfg(feature = "otlp")]
mod propagation;
mod redact;
pub mod schema;

pub use instruments::set_meter;
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use otlp::{
    init, init_with, layer, quiet_sdk_export_errors, Compression, Protocol, Telemetry,
    TelemetryBuilder, TelemetryError, TelemetryGuard,
};
pub use producer::{observe_producer, ProducerMetrics};
pub use redact::{is_secret_param, redact_url};

pub(crate) use operation::{record_checksum_retry, BodyMeter, BodyOutcome, OperationGuard};

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
///
/// It borrows from the call it describes: the pipeline reads it when the
/// operation starts and keeps nothing of it, so describing an operation
/// costs no allocation.
#[derive(Debug, Clone, Copy, Default)]
pub struct OperationInfo<'a> {
    /// COS or CLS.
    pub service: Service,
    /// API name: `PutObject`, `UploadLog`…
    pub operation: &'static str,
    /// Region, when known.
    pub region: Option<&'a str>,
    /// Bucket (COS).
    pub bucket: Option<&'a str>,
    /// Object key (COS; spans only, never a metric label).
    pub key: Option<&'a str>,
    /// Multipart upload id (spans only).
    pub upload_id: Option<&'a str>,
    /// Multipart part number.
    pub part_number: Option<i64>,
    /// Topic id (CLS).
    pub topic: Option<&'a str>,
}

impl<'a> OperationInfo<'a> {
    /// A COS operation on `bucket`.
    pub fn cos(operation: &'static str, region: &'a str, bucket: &'a str) -> Self {
        OperationInfo {
            service: Service::Cos,
            operation,
            region: Some(region),
            bucket: Some(bucket),
            ..Default::default()
        }
    }

    /// A CLS operation on `topic`.
    pub fn cls(operation: &'static str, region: Option<&'a str>, topic: &'a str) -> Self {
        OperationInfo {
            service: Service::Cls,
            operation,
            region,
            topic: Some(topic),
            ..Default::default()
        }
    }

    /// Adds the object key.
    pub fn with_key(mut self, key: &'a str) -> Self {
        self.key = Some(key);
        self
    }

    /// Adds the multipart upload id.
    pub fn with_upload_id(mut self, upload_id: &'a str) -> Self {
        self.upload_id = Some(upload_id);
        self
    }

    /// Adds the multipart part number.
    pub fn with_part_number(mut self, part_number: i64) -> Self {
        self.part_number = Some(part_number);
        self
    }
}
