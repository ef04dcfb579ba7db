//! [`HttpSend`] over reqwest with rustls.

use std::time::Duration;

use futures_util::TryStreamExt;

use super::{Error, ErrorKind, HttpSend, PreparedRequest, RequestBody, ResponseBody};
use crate::auth::BoxFuture;

/// Timeouts for the reqwest transport.
///
/// There is no total per-request timeout by default: a 5 GB part on a slow
/// link legitimately takes long, and the Go SDK's users hit exactly that
/// (docs/protocol/cos.md §8.4). A read timeout catches a stalled connection instead.
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
    // The URL may carry a presigned query; drop it from the message. The
    // message already spells out every cause, so the reqwest error is not
    // kept as the source too: a chain printer would repeat each cause.
    let e = e.without_url();
    Error::new(kind, with_causes(&e))
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

/// Writes `scheme://authority/path?query` into `out` without going through
/// `fmt`, as `Uri`'s `Display` writes it.
fn write_uri(out: &mut String, uri: &http::Uri) {
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        out.push_str(&uri.to_string());
        return;
    };
    out.push_str(scheme);
    out.push_str("://");
    out.push_str(authority.as_str());
    out.push_str(uri.path());
    if let Some(query) = uri.query() {
        out.push('?');
        out.push_str(query);
    }
}

/// The `Uri` as reqwest's `Url`. The text in between is written into a
/// buffer kept per thread, so the conversion costs no allocation of its own.
fn to_url(uri: &http::Uri) -> Result<reqwest::Url, Error> {
    thread_local! {
        static TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    TEXT.with(|text| {
        let mut text = text.borrow_mut();
        text.clear();
        write_uri(&mut text, uri);
        reqwest::Url::parse(&text).map_err(invalid_url)
    })
}

impl ReqwestTransport {
    async fn execute(
        &self,
        method: http::Method,
        url: reqwest::Url,
        headers: http::HeaderMap,
        body: RequestBody,
    ) -> Result<http::Response<ResponseBody>, Error> {
        let mut outgoing = reqwest::Request::new(method, url);
        // The whole map moves over: no per-header copy.
        *outgoing.headers_mut() = headers;
        *outgoing.body_mut() = match body {
            RequestBody::Empty => None,
            RequestBody::Bytes(b) => Some(reqwest::Body::from(b)),
            RequestBody::Stream { stream, .. } => Some(reqwest::Body::wrap_stream(stream)),
            RequestBody::Replayable { make, .. } => Some(reqwest::Body::wrap_stream(make())),
        };
        let mut response = self.client.execute(outgoing).await.map_err(classify)?;
        let mut builder = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(headers) = builder.headers_mut() {
            // Taken, not cloned: the body stream below does not need them.
            *headers = std::mem::take(response.headers_mut());
        }
        let stream = response.bytes_stream().map_err(classify);
        builder
            .body(ResponseBody::new(stream))
            .map_err(|e| Error::new(ErrorKind::Body, "building the response").with_source(e))
    }
}

fn invalid_url(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::InvalidRequest, "the request URL is invalid").with_source(e)
}

impl HttpSend for ReqwestTransport {
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, Error>> {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = to_url(&parts.uri)?;
            self.execute(parts.method, url, parts.headers, body).await
        })
    }

    /// Straight from the URL text to reqwest's `Url`, which reqwest parses
    /// anyway: no `http::Uri` in between.
    fn send_prepared(
        &self,
        request: PreparedRequest,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, Error>> {
        Box::pin(async move {
            let url = reqwest::Url::parse(&request.url).map_err(invalid_url)?;
            self.execute(request.method, url, request.headers, request.body)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn write_uri_writes_what_display_writes() {
        for s in [
            "http://127.0.0.1:9000/b-1250000000/a%20b%2B.txt?uploads",
            "https://b-1.cos.ap-guangzhou.myqcloud.com/k?partNumber=1&uploadId=x",
            "http://example.com",
            "/relative?x=1",
        ] {
            let uri: http::Uri = s.parse().unwrap();
            let mut written = String::new();
            super::write_uri(&mut written, &uri);
            assert_eq!(written, uri.to_string(), "{s}");
        }
    }
}
