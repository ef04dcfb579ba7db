//! The one I/O seam: an [`HttpSend`] sends a signed request and returns a
//! streaming response. The reqwest implementation is the default; tests, the
//! emulator and telemetry plug in here.
//!
//! Retries live in [`retry`]: a pure policy (what to retry, how long to wait)
//! and a loop that re-signs every attempt.

mod body;
mod pipeline;
mod reqwest_send;
pub mod retry;

use std::fmt;

pub use body::{RequestBody, ResponseBody, StreamFactory};
pub use pipeline::PreparedRequest;
pub(crate) use pipeline::{Pipeline, PipelineError, Signer, SigningProfile};
pub use reqwest_send::{ReqwestTransport, Timeouts};

use crate::auth::BoxFuture;

/// Sends one HTTP request. Implementations must not retry; the caller does.
pub trait HttpSend: Send + Sync + fmt::Debug {
    /// Sends `request` and returns as soon as the response head arrives.
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, Error>>;

    /// Sends a request as the pipeline signed it. The default turns it into
    /// an `http::Request` for [`send`](Self::send). A transport whose client
    /// parses the URL text itself (reqwest does, into its own `Url`) can take
    /// it from here and skip parsing it into an `http::Uri` first.
    ///
    /// ```
    /// use coscls::auth::BoxFuture;
    /// use coscls::transport::{
    ///     Error, HttpSend, PreparedRequest, RequestBody, ResponseBody, ReqwestTransport, Timeouts,
    /// };
    ///
    /// /// Logs the URL of every request, then lets reqwest send it.
    /// #[derive(Debug)]
    /// struct Logged(ReqwestTransport);
    ///
    /// impl HttpSend for Logged {
    ///     fn send(
    ///         &self,
    ///         request: http::Request<RequestBody>,
    ///     ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, Error>> {
    ///         self.0.send(request)
    ///     }
    ///
    ///     fn send_prepared(
    ///         &self,
    ///         request: PreparedRequest,
    ///     ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, Error>> {
    ///         println!("{} {}", request.method, request.url);
    ///         self.0.send_prepared(request)
    ///     }
    /// }
    /// # let _ = Logged(ReqwestTransport::new(Timeouts::default()).unwrap());
    /// ```
    fn send_prepared(
        &self,
        request: PreparedRequest,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, Error>> {
        match request.into_http() {
            Ok(request) => self.send(request),
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }
}

/// What went wrong below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No connection could be made (DNS, refused, TLS handshake).
    Connect,
    /// A connect, read or total timeout fired.
    Timeout,
    /// The connection failed while the request was being sent or the response awaited.
    Request,
    /// The response body broke off or could not be read.
    Body,
    /// The request could not be built (bad header value, bad URL).
    InvalidRequest,
}

impl ErrorKind {
    /// A short stable name, used as `error.type` in telemetry.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Request => "request",
            ErrorKind::Body => "body",
            ErrorKind::InvalidRequest => "invalid_request",
        }
    }
}

/// A transport failure. Its message never contains the URL's query or headers,
/// so it is safe to log.
#[derive(Debug, thiserror::Error)]
#[error("{kind_text}: {message}")]
pub struct Error {
    kind: ErrorKind,
    kind_text: &'static str,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// A new error of `kind` with a human message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let kind_text = match kind {
            ErrorKind::Connect => "connection failed",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Request => "request failed",
            ErrorKind::Body => "response body failed",
            ErrorKind::InvalidRequest => "invalid request",
        };
        Error {
            kind,
            kind_text,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether a new attempt may succeed. A failure to build the request never will.
    pub fn retryable(&self) -> bool {
        !matches!(self.kind, ErrorKind::InvalidRequest)
    }
}
