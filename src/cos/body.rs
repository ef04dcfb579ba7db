//! The streaming body of a GetObject that checks itself: it counts bytes
//! against `Content-Length` and, for a whole-object read, computes the
//! CRC-64 as the bytes pass and compares it with `x-cos-hash-crc64ecma` when
//! the last byte has arrived. A short or corrupted body ends in an error,
//! never in a silent success.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use http::HeaderValue;

use super::crc64::Crc64;
use super::GetOptions;
use super::{BucketName, Client, Error};
use crate::instrument::Operation;
use crate::transport::{self, ResponseBody};

/// The body of a GetObject, a [`Stream`] of [`Bytes`] chunks.
///
/// The last item is an error if the body was shorter than announced or its
/// CRC-64 differs from the server's; consume it to the end (the helpers do).
///
/// ```no_run
/// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
/// use futures_util::TryStreamExt;
/// let object = client.get_object("examplebucket-1250000000", "big.bin").await?;
/// let mut body = object.body;
/// let mut total = 0;
/// while let Some(chunk) = body.try_next().await? {
///     total += chunk.len();
/// }
/// println!("{total} bytes, CRC verified");
/// # Ok(()) }
/// ```
pub struct ObjectBody {
    inner: ResponseBody,
    crc: Crc64,
    expected_crc: Option<u64>,
    expected_len: Option<u64>,
    /// The object's key; messages name the body `GetObject <key>`, formatted
    /// only when one is written rather than on every GET.
    key: String,
    done: bool,
    /// The GetObject operation this body belongs to, open until the body
    /// gives its verdict: the end with a good CRC-64 (success), a short,
    /// long or damaged body or a read error (that error). Dropped before
    /// then, it records `cancelled`. (Small: its metric labels are boxed
    /// inside it, so the body stays small as it is moved on its way to the
    /// caller.)
    operation: Option<Operation>,
    /// How to read the whole object again when its CRC-64 disagrees; only
    /// [`bytes`](Self::bytes) uses it, as only it has handed nothing over yet.
    refetch: Option<Box<Refetch>>,
    /// Set by `bytes`: the attempt a CRC-64 mismatch of this body starts,
    /// recorded on the operation before it ends.
    retry_next: Option<u32>,
}

/// What a whole-object GET needs to be issued again: the client, the
/// request, and the first answer's ETag to pin the re-read to the same
/// object (`If-Match`), so an overwrite in between fails with 412 instead of
/// passing off another object's bytes as a repair.
#[derive(Debug)]
pub(crate) struct Refetch {
    pub(crate) client: Client,
    pub(crate) bucket: BucketName,
    /// `None` for the default options.
    pub(crate) opts: Option<GetOptions>,
    /// The first answer's `ETag` header; a value that is not text pins nothing.
    pub(crate) etag: Option<HeaderValue>,
}

impl std::fmt::Debug for ObjectBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectBody")
            .field("key", &self.key)
            .field("received", &self.crc.len())
            .field("expected_len", &self.expected_len)
            .field("expected_crc", &self.expected_crc)
            .finish()
    }
}

impl ObjectBody {
    /// The body of a GetObject answer, checked against `expected_len` and
    /// `expected_crc`, ending `operation`, and read again through
    /// `refetch` (if any) when [`bytes`](Self::bytes) finds its CRC-64
    /// wrong. Built in one go: each builder step would move the whole body.
    pub(crate) fn open(
        inner: ResponseBody,
        key: String,
        expected_len: Option<u64>,
        expected_crc: Option<u64>,
        operation: Operation,
        refetch: Option<Box<Refetch>>,
    ) -> Self {
        ObjectBody {
            operation: Some(operation),
            inner,
            crc: Crc64::new(),
            expected_crc,
            expected_len,
            key,
            done: false,
            refetch,
            retry_next: None,
        }
    }

    /// A body with no operation and no repair, for the tests.
    #[cfg(test)]
    pub(crate) fn new(
        inner: ResponseBody,
        key: String,
        expected_len: Option<u64>,
        expected_crc: Option<u64>,
    ) -> Self {
        ObjectBody {
            operation: None,
            inner,
            crc: Crc64::new(),
            expected_crc,
            expected_len,
            key,
            done: false,
            refetch: None,
            retry_next: None,
        }
    }

    /// What messages call this body.
    fn what(&self) -> String {
        format!("GetObject {}", self.key)
    }

    /// Ends the operation's span and duration with this verdict.
    fn settle(&mut self, error: Option<&Error>) {
        if let Some(operation) = self.operation.take() {
            operation.end(error);
        }
    }

    /// The CRC-64 the body will be checked against, if any.
    pub fn expected_crc64(&self) -> Option<u64> {
        self.expected_crc
    }

    /// Reads the whole body into memory. For large objects prefer
    /// [`write_to`](Self::write_to) or iterating the stream.
    ///
    /// Nothing is handed over before the whole body is checked, so a
    /// whole-object read whose CRC-64 disagrees with the server's (bytes
    /// damaged in transit) is read again with a fresh GET, pinned to the
    /// first answer's ETag with `If-Match`, under the client's retry policy.
    /// Each repair is a `checksum_mismatch_retry` event on the operation's
    /// span and a `coscls.client.retries` sample with reason
    /// `checksum_mismatch`. Only when the attempts are spent does the
    /// [`Error::ChecksumMismatch`] reach the caller, naming the attempts; an
    /// overwrite between attempts fails with the server's 412
    /// (`PreconditionFailed`), never with mixed bytes. [`write_to`] and the
    /// [`Stream`] keep reporting a mismatch as an error at the end, since
    /// their bytes were handed over already.
    ///
    /// [`write_to`]: Self::write_to
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        let Some(refetch) = self.refetch.take() else {
            return self.read_all().await;
        };
        let policy = *refetch.client.inner.pipeline.retry_policy();
        let first_crc = self.expected_crc;
        let mut body = self;
        let mut attempt = 1u32;
        loop {
            if attempt < policy.max_attempts {
                body.retry_next = Some(attempt + 1);
            }
            let (what, server, computed) = match body.read_all().await {
                Err(Error::ChecksumMismatch {
                    what,
                    server,
                    computed,
                }) => (what, server, computed),
                other => return other,
            };
            if attempt >= policy.max_attempts {
                let what = if attempt > 1 {
                    format!("{what} after {attempt} attempts")
                } else {
                    what
                };
                return Err(Error::ChecksumMismatch {
                    what,
                    server,
                    computed,
                });
            }
            tracing::warn!(target: "coscls::cos", attempt = i64::from(attempt) + 1, "{what}: CRC-64 mismatch, reading the object again");
            tokio::time::sleep(policy.backoff(attempt)).await;
            attempt += 1;
            let mut opts = refetch.opts.clone().unwrap_or_default();
            if let Some(etag) = refetch.etag.as_ref().and_then(|v| v.to_str().ok()) {
                opts.if_match = Some(etag.trim_ascii().to_string());
            }
            let key = std::mem::take(&mut body.key);
            drop(body);
            body = refetch
                .client
                .get_object_with(refetch.bucket.as_str(), &key, &opts)
                .await?
                .body;
            body.refetch = None;
            if body.expected_crc != first_crc {
                return Err(Error::protocol(format!(
                    "GetObject {key}: the object's CRC-64 changed between attempts ({first_crc:?}, now {:?})",
                    body.expected_crc
                )));
            }
        }
    }

    /// Reads the whole body into memory, checked, with no repair.
    async fn read_all(&mut self) -> Result<Bytes, Error> {
        // A small object usually arrives in one chunk: hand that chunk over
        // instead of copying it. The end of the stream is where the CRC-64
        // is checked, so the chunk is returned only once `next` said so.
        let first = match self.next().await {
            Some(chunk) => chunk?,
            None => return Ok(Bytes::new()),
        };
        let second = match self.next().await {
            Some(chunk) => chunk?,
            None => return Ok(first),
        };
        let cap = self.expected_len.unwrap_or(0).min(64 * 1024 * 1024) as usize;
        let mut buf = BytesMut::with_capacity(cap.max(first.len() + second.len()));
        buf.extend_from_slice(&first);
        buf.extend_from_slice(&second);
        while let Some(chunk) = self.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }

    /// Copies the body into `writer` chunk by chunk (memory stays at one
    /// chunk), flushes it, and returns the number of bytes written. The
    /// verification error, if any, comes after the last write: a caller
    /// writing to a file should discard the file on error.
    pub async fn write_to<W: AsyncWrite + Unpin + ?Sized>(
        mut self,
        writer: &mut W,
    ) -> Result<u64, Error> {
        let mut written = 0u64;
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            if let Err(source) = writer.write_all(&chunk).await {
                // The caller gets this error: so does the operation.
                let e = Error::Io {
                    context: format!("writing {}", self.what()),
                    source,
                };
                self.settle(Some(&e));
                return Err(e);
            }
            written += chunk.len() as u64;
        }
        writer.flush().await.map_err(|source| Error::Io {
            context: format!("flushing {}", self.what()),
            source,
        })?;
        Ok(written)
    }

    fn finish(&mut self) -> Option<Error> {
        let received = self.crc.len();
        if let Some(len) = self.expected_len {
            if received != len {
                return Some(Error::Transport(transport::Error::new(
                    transport::ErrorKind::Body,
                    format!(
                        "{}: body ended after {received} of {len} bytes",
                        self.what()
                    ),
                )));
            }
        }
        match self.expected_crc {
            Some(server) if server != self.crc.value() => Some(Error::ChecksumMismatch {
                what: self.what(),
                server,
                computed: self.crc.value(),
            }),
            _ => None,
        }
    }
}

impl Stream for ObjectBody {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                self.crc.update(&chunk);
                if let Some(len) = self.expected_len {
                    if self.crc.len() > len {
                        self.done = true;
                        let what = self.what();
                        let e = Error::protocol(format!(
                            "{what}: body is longer than its Content-Length {len}"
                        ));
                        self.settle(Some(&e));
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                let e = Error::Transport(e);
                self.settle(Some(&e));
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.done = true;
                let verdict = self.finish();
                if let (Some(Error::ChecksumMismatch { .. }), Some(next), Some(operation)) =
                    (&verdict, self.retry_next, &self.operation)
                {
                    operation.record_checksum_retry(next);
                }
                self.settle(verdict.as_ref());
                Poll::Ready(verdict.map(Err))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::crc64;

    fn body(chunks: Vec<&'static [u8]>) -> ResponseBody {
        ResponseBody::new(futures_util::stream::iter(
            chunks.into_iter().map(|c| Ok(Bytes::from_static(c))),
        ))
    }

    #[tokio::test]
    async fn a_good_body_passes() {
        let crc = crc64::checksum(b"hello cos");
        let b = ObjectBody::new(
            body(vec![b"hello ", b"cos"]),
            "t".into(),
            Some(9),
            Some(crc),
        );
        assert_eq!(b.bytes().await.unwrap(), "hello cos");
    }

    #[tokio::test]
    async fn a_corrupted_body_fails_loudly_at_the_end() {
        let crc = crc64::checksum(b"hello cos");
        let b = ObjectBody::new(
            body(vec![b"hello ", b"cOs"]),
            "k".into(),
            Some(9),
            Some(crc),
        );
        let mut sink = Vec::new();
        match b.write_to(&mut sink).await {
            Err(Error::ChecksumMismatch {
                server,
                computed,
                what,
            }) => {
                assert_eq!(server, crc);
                assert_eq!(computed, crc64::checksum(b"hello cOs"));
                assert_eq!(what, "GetObject k");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn short_and_long_bodies_fail() {
        let b = ObjectBody::new(body(vec![b"hello"]), "t".into(), Some(9), None);
        let e = b.bytes().await.unwrap_err();
        assert!(matches!(e, Error::Transport(_)) && e.retryable(), "{e}");
        let b = ObjectBody::new(body(vec![b"hello world"]), "t".into(), Some(9), None);
        assert!(matches!(b.bytes().await, Err(Error::Protocol { .. })));
    }

    #[tokio::test]
    async fn bytes_checks_a_single_chunk_before_handing_it_over() {
        let crc = crc64::checksum(b"hello cos");
        let one =
            |data: &'static [u8]| ObjectBody::new(body(vec![data]), "k".into(), Some(9), Some(crc));
        assert_eq!(one(b"hello cos").bytes().await.unwrap(), "hello cos");
        assert!(matches!(
            one(b"hello cOs").bytes().await,
            Err(Error::ChecksumMismatch { .. })
        ));
        let three = ObjectBody::new(
            body(vec![b"hel", b"lo ", b"cos"]),
            "t".into(),
            Some(9),
            Some(crc),
        );
        assert_eq!(three.bytes().await.unwrap(), "hello cos");
        let empty = ObjectBody::new(body(vec![]), "t".into(), Some(0), None);
        assert!(empty.bytes().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn without_a_server_crc_nothing_is_compared() {
        let b = ObjectBody::new(body(vec![b"abc"]), "t".into(), None, None);
        assert_eq!(b.bytes().await.unwrap(), "abc");
    }
}
