//! Request and response bodies.
//!
//! Request bodies that are [`Bytes`] are replayable (a clone per attempt is a
//! reference-count bump); a stream can be sent once and is never retried,
//! unless it comes from a [`StreamFactory`] that can start it again (a file
//! re-opened per attempt), which keeps large bodies out of memory and still
//! retried.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, Stream, StreamExt};

use super::{Error, ErrorKind};

/// The body of a request.
pub enum RequestBody {
    /// No body.
    Empty,
    /// An in-memory body; replayable.
    Bytes(Bytes),
    /// A streamed body of known length; sendable once.
    Stream {
        /// Exact length, sent as `Content-Length`.
        len: u64,
        /// The data.
        stream: BoxStream<'static, std::io::Result<Bytes>>,
    },
    /// A streamed body of known length that [`StreamFactory`] starts afresh
    /// for every attempt; replayable.
    Replayable {
        /// Exact length, sent as `Content-Length`.
        len: u64,
        /// Called once per attempt; each stream must yield the same bytes.
        make: StreamFactory,
    },
}

/// Starts the stream of a [`RequestBody::Replayable`] body again, once per
/// attempt.
pub type StreamFactory = Arc<dyn Fn() -> BoxStream<'static, std::io::Result<Bytes>> + Send + Sync>;

impl RequestBody {
    /// The body length, when known.
    pub fn len(&self) -> u64 {
        match self {
            RequestBody::Empty => 0,
            RequestBody::Bytes(b) => b.len() as u64,
            RequestBody::Stream { len, .. } | RequestBody::Replayable { len, .. } => *len,
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether another attempt can send this body again (everything but a
    /// one-shot stream).
    pub fn is_replayable(&self) -> bool {
        !matches!(self, RequestBody::Stream { .. })
    }

    /// A copy for another attempt, or `None` for a stream that was already consumed.
    pub fn try_clone(&self) -> Option<RequestBody> {
        match self {
            RequestBody::Empty => Some(RequestBody::Empty),
            RequestBody::Bytes(b) => Some(RequestBody::Bytes(b.clone())),
            RequestBody::Stream { .. } => None,
            RequestBody::Replayable { len, make } => Some(RequestBody::Replayable {
                len: *len,
                make: make.clone(),
            }),
        }
    }
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestBody::Empty => f.write_str("Empty"),
            RequestBody::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            RequestBody::Stream { len, .. } => write!(f, "Stream({len} bytes)"),
            RequestBody::Replayable { len, .. } => write!(f, "Replayable({len} bytes)"),
        }
    }
}

impl From<Bytes> for RequestBody {
    fn from(b: Bytes) -> Self {
        RequestBody::Bytes(b)
    }
}

impl From<Vec<u8>> for RequestBody {
    fn from(v: Vec<u8>) -> Self {
        RequestBody::Bytes(Bytes::from(v))
    }
}

/// A streaming response body.
pub struct ResponseBody {
    inner: BoxStream<'static, Result<Bytes, Error>>,
}

impl ResponseBody {
    /// Wraps any stream of chunks.
    pub fn new(stream: impl Stream<Item = Result<Bytes, Error>> + Send + 'static) -> Self {
        ResponseBody {
            inner: stream.boxed(),
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        ResponseBody::new(futures_util::stream::empty())
    }

    /// A body that is already in memory.
    pub fn from_bytes(bytes: Bytes) -> Self {
        ResponseBody::new(futures_util::stream::once(async move { Ok(bytes) }))
    }

    /// Reads the whole body, failing once it exceeds `limit` bytes so a
    /// misbehaving server cannot exhaust memory with an error page.
    pub async fn collect(mut self, limit: usize) -> Result<Bytes, Error> {
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            if buf.len() + chunk.len() > limit {
                return Err(Error::new(
                    ErrorKind::Body,
                    format!("response body exceeds {limit} bytes"),
                ));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }
}

impl Stream for ResponseBody {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseBody")
    }
}
