//! Writes response header names in the case COS and CLS send them.
//!
//! hyper writes every header name in lower case, which HTTP allows, but the
//! official Python SDKs copy response headers into plain dicts and look up
//! `ETag`, `Content-Length` and `X-Cls-Requestid` case-sensitively. COS sends
//! standard headers in canonical case and its own `x-cos-*` headers in lower
//! case; this adapter rewrites the names in each response head accordingly.
//! Only letter case changes, so lengths never do. Bodies pass through
//! untouched: the adapter follows `Content-Length` framing, and stops
//! rewriting on a connection that ever sends a chunked body.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest response head the adapter rewrites; beyond it bytes pass through.
const MAX_HEAD: usize = 64 * 1024;
/// Bytes held back from a slow reader before writes wait.
const MAX_PENDING: usize = 1 << 20;

/// The canonical spelling of a header name hyper wrote in lower case.
pub(crate) fn canonical(name: &[u8]) -> Vec<u8> {
    if name.starts_with(b"x-cos-") {
        return name.to_vec();
    }
    if name.eq_ignore_ascii_case(b"etag") {
        return b"ETag".to_vec();
    }
    let mut out = name.to_vec();
    let mut upper = true;
    for b in out.iter_mut() {
        if upper {
            b.make_ascii_uppercase();
        }
        upper = *b == b'-';
    }
    out
}

/// Which requests on a connection were HEAD, in order, so the adapter knows
/// their responses carry no body despite `Content-Length`.
pub(crate) type HeadQueue = Arc<Mutex<VecDeque<bool>>>;

#[derive(Debug)]
enum Phase {
    /// Collecting a response head.
    Head(Vec<u8>),
    /// Passing this many body bytes through.
    Body(u64),
    /// Not rewriting any more (chunked body or an oversized head).
    Passthrough,
}

/// The byte-stream rewriter (pure apart from the shared HEAD queue).
#[derive(Debug)]
pub(crate) struct Rewriter {
    phase: Phase,
    heads: HeadQueue,
}

fn find_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    buf[start..]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| start + i + 4)
}

impl Rewriter {
    pub(crate) fn new(heads: HeadQueue) -> Self {
        Rewriter {
            phase: Phase::Head(Vec::new()),
            heads,
        }
    }

    /// Consumes `input`, appending what to send to `out`.
    pub(crate) fn feed(&mut self, mut input: &[u8], out: &mut BytesMut) {
        while !input.is_empty() {
            match &mut self.phase {
                Phase::Passthrough => {
                    out.extend_from_slice(input);
                    return;
                }
                Phase::Body(left) => {
                    let take = (*left).min(input.len() as u64) as usize;
                    out.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    *left -= take as u64;
                    if *left == 0 {
                        self.phase = Phase::Head(Vec::new());
                    }
                }
                Phase::Head(buf) => {
                    let before = buf.len();
                    buf.extend_from_slice(input);
                    match find_end(buf, before) {
                        None if buf.len() > MAX_HEAD => {
                            out.extend_from_slice(buf);
                            self.phase = Phase::Passthrough;
                            return;
                        }
                        None => return,
                        Some(end) => {
                            let consumed = end - before;
                            let mut head = std::mem::take(buf);
                            head.truncate(end);
                            input = &input[consumed..];
                            self.phase = self.after_head(&mut head);
                            out.extend_from_slice(&head);
                        }
                    }
                }
            }
        }
    }

    /// Rewrites the names in `head` and decides how the body is framed.
    fn after_head(&mut self, head: &mut [u8]) -> Phase {
        let mut status = 0u16;
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut pos = 0;
        let mut first = true;
        while pos < head.len() {
            let line_end = head[pos..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .map_or(head.len(), |i| pos + i);
            let line = &mut head[pos..line_end];
            if first {
                // "HTTP/1.1 200 OK"
                status = line
                    .split(|b| *b == b' ')
                    .nth(1)
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                first = false;
            } else if let Some(colon) = line.iter().position(|b| *b == b':') {
                let fixed = canonical(&line[..colon]);
                line[..colon].copy_from_slice(&fixed);
                let value = std::str::from_utf8(&line[colon + 1..]).unwrap_or("").trim();
                let name = &line[..colon];
                if name.eq_ignore_ascii_case(b"content-length") {
                    length = value.parse().ok();
                } else if name.eq_ignore_ascii_case(b"transfer-encoding")
                    && value.to_ascii_lowercase().contains("chunked")
                {
                    chunked = true;
                }
            }
            pos = line_end + 2;
        }
        if (100..200).contains(&status) {
            return Phase::Head(Vec::new());
        }
        let head_request = self
            .heads
            .lock()
            .map(|mut q| q.pop_front().unwrap_or(false))
            .unwrap_or(false);
        if head_request || status == 204 || status == 304 {
            return Phase::Head(Vec::new());
        }
        if chunked {
            return Phase::Passthrough;
        }
        match length {
            Some(0) => Phase::Head(Vec::new()),
            Some(n) => Phase::Body(n),
            // No framing: the body runs to the end of the connection.
            None => Phase::Passthrough,
        }
    }
}

/// A connection whose response heads go through a [`Rewriter`].
#[derive(Debug)]
pub(crate) struct CaseIo<T> {
    inner: T,
    rewriter: Rewriter,
    pending: BytesMut,
}

impl<T> CaseIo<T> {
    pub(crate) fn new(inner: T, heads: HeadQueue) -> Self {
        CaseIo {
            inner,
            rewriter: Rewriter::new(heads),
            pending: BytesMut::new(),
        }
    }
}

impl<T: AsyncWrite + Unpin> CaseIo<T> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CaseIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CaseIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending if this.pending.len() >= MAX_PENDING => return Poll::Pending,
            _ => {}
        }
        this.rewriter.feed(buf, &mut this.pending);
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]], heads: &[bool]) -> String {
        let q: HeadQueue = Arc::new(Mutex::new(heads.iter().copied().collect()));
        let mut r = Rewriter::new(q);
        let mut out = BytesMut::new();
        for c in chunks {
            r.feed(c, &mut out);
        }
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn names() {
        assert_eq!(canonical(b"etag"), b"ETag");
        assert_eq!(canonical(b"content-length"), b"Content-Length");
        assert_eq!(canonical(b"x-cls-requestid"), b"X-Cls-Requestid");
        assert_eq!(canonical(b"x-cos-meta-author"), b"x-cos-meta-author");
    }

    #[test]
    fn heads_are_rewritten_and_bodies_untouched_across_split_writes() {
        let a =
            b"HTTP/1.1 200 OK\r\netag: \"x\"\r\ncontent-length: 20\r\nx-cos-request-id: r\r\n\r\n";
        let body = b"etag: stays\r\n\r\nabcd";
        let b = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        let mut all = Vec::new();
        all.extend_from_slice(a);
        all.extend_from_slice(body);
        all.extend_from_slice(b);
        for split in [1, 7, 30, all.len()] {
            let chunks: Vec<&[u8]> = all.chunks(split).collect();
            let out = run(&chunks, &[false, false]);
            assert!(out.starts_with("HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 20\r\nx-cos-request-id: r\r\n\r\netag: stays\r\n\r\nabcd"), "{split}: {out}");
            assert!(
                out.ends_with("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
                "{split}: {out}"
            );
            assert_eq!(out.len(), all.len());
        }
    }

    #[test]
    fn head_responses_and_interim_responses_have_no_body() {
        let out = run(
            &[b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nHTTP/1.1 200 OK\r\netag: e\r\ncontent-length: 1\r\n\r\nz"],
            &[true, false],
        );
        assert!(
            out.contains("Content-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nETag: e"),
            "{out}"
        );
    }

    #[test]
    fn chunked_bodies_switch_rewriting_off() {
        let out = run(
            &[b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\netag:\r\n0\r\n\r\nHTTP/1.1 200 OK\r\netag: e\r\n\r\n"],
            &[false, false],
        );
        assert!(
            out.starts_with("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"),
            "{out}"
        );
        assert!(out.ends_with("etag: e\r\n\r\n"), "{out}");
    }
}
