//! [`HttpSend`] over reqwest with rustls.

use std::time::Duration;

use futures_util::TryStreamExt;

use super::{Error, ErrorKind, HttpSend, RequestBody, ResponseBody};
use crate::auth::BoxFuture;

/// Timeouts for the reqwest transport.
///
/// There is no total per-request timeout by default: a 5 GB part on a slow
/// link legitimately takes long, and the Go SDK's users hit exactly that
/// (cos.md §8.4). A read timeout catches a stalled connection instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Time to establish a connection (TCP + TLS).
    pub connect: Duration,
    /// Longest silence while reading a response.
    pub read: Duration,
    /// Cap on a whole request, head to last byte; `None` for no cap.
    pub request: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(30),
            request: None,
        }
    }
}

/// The default transport: a shared, pooled `reqwest::Client`.
///
/// ```
/// use coscls::transport::{ReqwestTransport, Timeouts};
/// let transport = ReqwestTransport::new(Timeouts::default()).unwrap();
/// # let _ = transport;
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A new pooled client with these timeouts. Redirects are not followed:
    /// COS answers 3xx only for misrouted requests, and following them
    /// blindly would send the signed request elsewhere (the Go SDK's SSRF guard).
    pub fn new(timeouts: Timeouts) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.read)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64);
        if let Some(total) = timeouts.request {
            builder = builder.timeout(total);
        }
        let client = builder.build().map_err(|e| {
            Error::new(ErrorKind::InvalidRequest, "building the HTTP client").with_source(e)
        })?;
        Ok(ReqwestTransport { client })
    }

    /// Reuses an application's existing client (its pool, proxy and TLS settings).
    pub fn from_client(client: reqwest::Client) -> Self {
        ReqwestTransport { client }
    }
}

fn classify(e: reqwest::Error) -> Error {
    let kind = if e.is_builder() {
        ErrorKind::InvalidRequest
    } else if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_connect() {
        ErrorKind::Connect
    } else if e.is_body() || e.is_decode() {
        ErrorKind::Body
    } else {
        ErrorKind::Request
    };
    // The URL may carry a presigned query; drop it from the message.
    let e = e.without_url();
    Error::new(kind, with_causes(&e)).with_source(e)
}

/// The message and its causes on one line ("error sending request: …:
/// connection refused"): reqwest's own message rarely says what went wrong.
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = c.source();
    }
    message
}

impl HttpSend for ReqwestTransport {
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, Error>> {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let body = match body {
                RequestBody::Empty => reqwest::Body::from(Vec::new()),
                RequestBody::Bytes(b) => reqwest::Body::from(b),
                RequestBody::Stream { stream, .. } => reqwest::Body::wrap_stream(stream),
                RequestBody::Replayable { make, .. } => reqwest::Body::wrap_stream(make()),
            };
            let response = self
                .client
                .request(parts.method, url)
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(classify)?;
            let mut builder = http::Response::builder()
                .status(response.status())
                .version(response.version());
            if let Some(headers) = builder.headers_mut() {
                *headers = response.headers().clone();
            }
            let stream = response.bytes_stream().map_err(classify);
            builder
                .body(ResponseBody::new(stream))
                .map_err(|e| Error::new(ErrorKind::Body, "building the response").with_source(e))
        })
    }
}
