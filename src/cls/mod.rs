//! Tencent Cloud Log Service (CLS) ingestion: the `/structuredlog` protobuf
//! schema, signed uploads, a batching producer and a `tracing` layer.
//!
//! - [`Client::put_logs`] sends one checked, compressed, signed request and
//!   retries what can be retried.
//! - [`Producer`] batches logs per topic, caps its memory exactly, and
//!   reports the outcome of every log it accepted.
//! - [`ClsLayer`] ships `tracing` events through a producer, with the trace
//!   and span ids that join them to the traces in Jaeger.

mod client;
pub mod compress;
mod error;
pub mod layer;
pub mod limits;
pub mod producer;
pub mod proto;
#[cfg(test)]
mod test_support;

pub use client::{Client, ClientBuilder, PutLogsOutput, PutOptions};
pub use compress::Compression;
pub use error::Error;
pub use layer::ClsLayer;

pub use producer::{Destination, Producer, ProducerConfig, Receipt};
pub use proto::{Log, LogContent, LogGroup, LogGroupList, LogTag};
