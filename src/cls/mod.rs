//! Tencent Cloud Log Service (CLS) ingestion: the `/structuredlog` protobuf
//! schema, signed uploads, a batching producer and a `tracing` layer.
//!
//! - [`Client::put_logs`] sends one checked, compressed, signed request and
//!   retries what can be retried.
//! - [`Producer`] batches logs per topic, caps its memory exactly, and
//!   reports the outcome of every log it accepted.
//! - [`ClsLayer`] ships `tracing` events through a producer, with the trace
//!   and span ids that join them to the traces in Jaeger.

//!
//! Every item has one path: the types and constants are named flat
//! (`cls::Producer`, `cls::Log`, `cls::MAX_CONFIG_DURATION`), and only the
//! service limits keep a namespace, [`limits`], since their names say what
//! they bound only next to it (`cls::limits::MAX_LOGS_PER_GROUP`).

mod client;
mod compress;
mod error;
mod layer;
pub mod limits;
pub(crate) mod producer;
mod proto;
mod put_logs;
#[cfg(test)]
mod test_support;

pub use client::{Client, ClientBuilder};
pub use compress::{Compressed, Compression};
pub use error::Error;
pub use layer::{ClsLayer, DEFAULT_IGNORED_TARGETS};
pub use producer::{
    CloseReport, Delivery, Destination, FailedBatch, FailedDelivery, FailureReason, FlushReport,
    Producer, ProducerConfig, ProducerStats, Receipt, RecordId, WhenFull, MAX_CONFIG_DURATION,
};
pub use proto::{Log, LogContent, LogGroup, LogGroupList, LogTag};
pub use put_logs::{PutLogsOptions, PutLogsOutput};
