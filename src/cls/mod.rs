//! Tencent Cloud Log Service (CLS) ingestion: the `/structuredlog` protobuf
//! schema, signed uploads, a batching producer and a `tracing` layer.

mod error;
pub mod proto;

pub use error::Error;
pub use proto::{Log, LogContent, LogGroup, LogGroupList, LogTag};
