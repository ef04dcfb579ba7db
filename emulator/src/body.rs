//! Response bodies, request-body helpers and the fault-injecting body wrappers.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Incoming;

use crate::store::ByteStream;

/// The response body type.
pub(crate) type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, io::Error>;

pub(crate) fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn stream(s: ByteStream) -> Body {
    StreamBody::new(s.map_ok(Frame::data)).boxed_unsync()
}

/// Reading a request body failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// More than the limit arrived.
    TooLarge,
    /// The connection failed while reading.
    Transport(hyper::Error),
}

/// The next data chunk of a request body (trailers are skipped).
pub(crate) async fn next_chunk(body: &mut Incoming) -> Result<Option<Bytes>, hyper::Error> {
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            return Ok(Some(data));
        }
    }
    Ok(None)
}

/// Reads a whole (small) request body, refusing more than `limit` bytes.
pub(crate) async fn collect(body: &mut Incoming, limit: usize) -> Result<Bytes, ReadError> {
    let mut out = BytesMut::new();
    while let Some(chunk) = next_chunk(body).await.map_err(ReadError::Transport)? {
        if out.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// Reads and drops up to `limit` bytes so an early error response reaches a
/// client that is still sending (instead of a reset connection).
pub(crate) async fn drain(body: &mut Incoming, limit: u64) {
    let mut seen = 0u64;
    while let Ok(Some(chunk)) = next_chunk(body).await {
        seen += chunk.len() as u64;
        if seen > limit {
            break;
        }
    }
}

pin_project_lite::pin_project! {
    /// Sends `left` bytes of the inner body, then fails, which makes hyper
    /// close the connection mid-response. Before failing it pauses briefly,
    /// so hyper flushes what was sent instead of discarding its buffer.
    pub(crate) struct Cut {
        #[pin]
        inner: Body,
        left: u64,
        #[pin]
        pause: Option<tokio::time::Sleep>,
    }
}

/// How long a cut body waits (so the partial response reaches the socket).
const CUT_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

pub(crate) fn cut(inner: Body, after: u64) -> Body {
    Cut {
        inner,
        left: after,
        pause: None,
    }
    .boxed_unsync()
}

impl HttpBody for Cut {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let mut this = self.project();
        if *this.left == 0 {
            if this.pause.is_none() {
                this.pause.set(Some(tokio::time::sleep(CUT_PAUSE)));
            }
            if let Some(pause) = this.pause.as_mut().as_pin_mut() {
                std::task::ready!(pause.poll(cx));
            }
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection dropped by fault injection",
            ))));
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    if data.len() as u64 > *this.left {
                        data.truncate(*this.left as usize);
                    }
                    *this.left -= data.len() as u64;
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(other) => Poll::Ready(Some(Ok(other))),
            },
            other => other,
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// Flips the first byte of the body.
    pub(crate) struct Corrupt {
        #[pin]
        inner: Body,
        done: bool,
    }
}

pub(crate) fn corrupt(inner: Body) -> Body {
    Corrupt { inner, done: false }.boxed_unsync()
}

impl HttpBody for Corrupt {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) if !*this.done => match frame.into_data() {
                Ok(data) if !data.is_empty() => {
                    *this.done = true;
                    let mut altered = BytesMut::from(&data[..]);
                    altered[0] ^= 0xFF;
                    Poll::Ready(Some(Ok(Frame::data(altered.freeze()))))
                }
                Ok(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                Err(other) => Poll::Ready(Some(Ok(other))),
            },
            other => other,
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cut_sends_a_prefix_then_fails() {
        let mut b = cut(full("hello world"), 5);
        let first = b.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "hello");
        assert!(b.frame().await.unwrap().is_err());
    }

    #[tokio::test]
    async fn corrupt_flips_one_byte() {
        let got = corrupt(full("abc")).collect().await.unwrap().to_bytes();
        assert_eq!(got.len(), 3);
        assert_ne!(got[0], b'a');
        assert_eq!(&got[1..], b"bc");
    }
}
