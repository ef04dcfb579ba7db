//! How COS and CLS operations observe themselves: one span and one
//! duration sample per operation, one (opt-in) span per HTTP attempt, byte
//! and retry counters. Everything here records through `tracing` and the
//! `opentelemetry` API (and, for [`direct`] spans, the SDK tracer the
//! application's `OperationSpans` layer holds), so it costs next to nothing
//! when no subscriber or meter provider is installed, and it builds without
//! the OTel SDK.
//!
//! # Layering
//!
//! ```text
//! auth ← transport ← instrument ← cos, cls ← telemetry (SDK and OTLP set-up, re-exports)
//! ```
//!
//! Nothing in `transport` knows about spans or metrics. This module sits on
//! top of it and observes it from outside, in two places:
//!
//! - **per attempt**, [`TracedSend`] decorates the client's
//!   [`HttpSend`](crate::transport::HttpSend) (the shape of tower-http's
//!   `TraceLayer`): it opens the attempt span, injects the trace context
//!   after signing, counts request bytes, and wraps the response body to
//!   count what the caller reads;
//! - **per operation**, [`Operation`] wraps each public operation once and
//!   ends with the `Result` the caller gets, so every check made after the
//!   response head (CRC-64, an `<Error>` document in a 200, XML parsing)
//!   is part of the outcome. An operation whose body streams to the caller
//!   hands its [`Operation`] to the body, which ends it with what its
//!   reader got.
//!
//! COS and CLS use this module the way they use `transport`: a client
//! method describes itself with an [`OperationInfo`] and runs its body
//! inside [`Operation::run`]. The SDK, exporters and subscriber set-up stay
//! in `telemetry`, the only module that may be left out.
//!
//! The two halves meet through a task-local: while an operation runs, the
//! attempt decorator finds its span and counters there, so no signature
//! between the operation and the transport carries telemetry.
//!
//! An operation that nothing would see (no subscriber enables its span or
//! its attempts' spans, no `OperationSpans` layer, coscls's meter the no-op
//! one) is *unobserved*: it runs its body as it is, with no labels, span,
//! task-local scope or attempt decoration, and records nothing, since there
//! is nothing to record into. The no-op meter is recognised by the debug
//! event OpenTelemetry's no-op provider sends when it hands out a meter
//! ([`instruments`]).
//!
//! # Two ways to make the operation span
//!
//! By default the operation span is a `tracing` span: whatever layers the
//! application's subscriber has see it (log lines, `ClsLayer`'s trace and
//! span ids, users' own layers), events logged while it runs have it as
//! their parent, and `tracing-opentelemetry` exports it with whichever
//! tracer provider the application gave that layer, global or not.
//!
//! When the subscriber carries an [`OperationSpans`](direct::OperationSpans)
//! layer (`telemetry::init` and `TelemetryBuilder::install` add one), the
//! operation span is made with the OpenTelemetry API and that layer's
//! tracer instead ([`direct`]): the same name, kind, attributes, status and
//! events, the caller's current context as parent, the attempt spans as
//! children, for about half of what the bridge cost per operation (issue
//! 16's targets: BENCHMARKS.md, "Telemetry cost"). What it gives up:
//! other layers do not see the operation as a span, and events logged
//! while it runs have the caller's span as parent there (the
//! OpenTelemetry span still gets coscls's own events). The layer is
//! opt-in for that reason, and because only it knows the provider.
//!
//! To keep either way cheap: the bridged span gets what is known at its
//! start as fields at creation, and everything learnt later (the first
//! request, the last answer, the outcome) in one `record_all` when it ends;
//! nothing is gathered for a span whose OpenTelemetry span does not record
//! (the sampler dropped it), though its trace context is still sent; the
//! W3C `traceparent` is written without `core::fmt`.

pub(crate) mod direct;
pub(crate) mod instruments;
pub(crate) mod label_values;
mod operation;
pub(crate) mod otel;
pub(crate) mod redact;
pub mod schema;
mod send;

pub(crate) use operation::record_retry;
pub(crate) use operation::{record_checksum_retry, Operation};
pub(crate) use send::TracedSend;

/// Which service an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Service {
    /// Object storage.
    #[default]
    Cos,
    /// Log service.
    Cls,
}

impl Service {
    /// `COS` or `CLS`, as in span names and `rpc.service`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Service::Cos => "COS",
            Service::Cls => "CLS",
        }
    }

    /// `cos` or `cls`, the value of the `service` metric attribute.
    pub(crate) fn label(self) -> &'static str {
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
pub(crate) struct OperationInfo<'a> {
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
    pub(crate) fn cos(operation: &'static str, region: &'a str, bucket: &'a str) -> Self {
        OperationInfo {
            service: Service::Cos,
            operation,
            region: Some(region),
            bucket: Some(bucket),
            ..Default::default()
        }
    }

    /// A CLS operation on `topic`.
    pub(crate) fn cls(operation: &'static str, region: Option<&'a str>, topic: &'a str) -> Self {
        OperationInfo {
            service: Service::Cls,
            operation,
            region,
            topic: Some(topic),
            ..Default::default()
        }
    }

    /// Adds the object key.
    pub(crate) fn with_key(mut self, key: &'a str) -> Self {
        self.key = Some(key);
        self
    }

    /// Adds the multipart upload id.
    pub(crate) fn with_upload_id(mut self, upload_id: &'a str) -> Self {
        self.upload_id = Some(upload_id);
        self
    }

    /// Adds the multipart part number.
    pub(crate) fn with_part_number(mut self, part_number: i64) -> Self {
        self.part_number = Some(part_number);
        self
    }
}
