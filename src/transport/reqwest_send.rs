//! [`HttpSend`] over reqwest with rustls.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Future, Stream, TryStreamExt};

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
    /// Longest silence while reading a response: from sending the request
    /// to its head, and between pieces of its body. The silence is the
    /// server's; time a caller takes between reads of the body does not count.
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
    /// The read timeout, kept here rather than given to reqwest (see
    /// [`IdleTimeout`]); `None` for an application's own client.
    read: Option<Duration>,
}

impl ReqwestTransport {
    /// A new pooled client with these timeouts. Redirects are not followed:
    /// COS answers 3xx only for misrouted requests, and following them
    /// blindly would send the signed request elsewhere (the Go SDK's SSRF guard).
    pub fn new(timeouts: Timeouts) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64);
        if let Some(total) = timeouts.request {
            builder = builder.timeout(total);
        }
        let client = builder.build().map_err(|e| {
            Error::new(ErrorKind::InvalidRequest, "building the HTTP client").with_source(e)
        })?;
        Ok(ReqwestTransport {
            client,
            read: Some(timeouts.read),
        })
    }

    /// Reuses an application's existing client (its pool, proxy and TLS
    /// settings, its timeouts).
    pub fn from_client(client: reqwest::Client) -> Self {
        ReqwestTransport { client, read: None }
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
    /// The request as reqwest's, built before the sending future exists:
    /// the future then holds this one value instead of the method, URL,
    /// headers and body apart and a request made of them.
    fn outgoing(
        method: http::Method,
        url: reqwest::Url,
        headers: http::HeaderMap,
        body: RequestBody,
    ) -> reqwest::Request {
        let mut outgoing = reqwest::Request::new(method, url);
        // The whole map moves over: no per-header copy.
        *outgoing.headers_mut() = headers;
        *outgoing.body_mut() = match body {
            RequestBody::Empty => None,
            RequestBody::Bytes(b) => Some(reqwest::Body::from(b)),
            RequestBody::Stream { stream, .. } => Some(reqwest::Body::wrap_stream(stream)),
            RequestBody::Replayable { make, .. } => Some(reqwest::Body::wrap_stream(make())),
        };
        outgoing
    }

    /// Sends `outgoing` (or fails with the error of building it) and
    /// returns the response head with its body still streaming: the one
    /// future both [`HttpSend`] methods box.
    async fn execute(
        &self,
        outgoing: Result<reqwest::Request, Error>,
    ) -> Result<http::Response<ResponseBody>, Error> {
        let sending = self.client.execute(outgoing?);
        let mut response = match self.read {
            // The head must come within `read` of sending, as reqwest's own
            // read timeout has it; the timer lives in this future, unboxed.
            Some(read) => match tokio::time::timeout(read, sending).await {
                Ok(response) => response.map_err(classify)?,
                Err(_) => return Err(silent(read, "response head")),
            },
            None => sending.await.map_err(classify)?,
        };
        let status = response.status();
        let version = response.version();
        // Taken, not cloned: the body stream below does not need them.
        let headers = std::mem::take(response.headers_mut());
        let stream = response.bytes_stream().map_err(classify);
        let body = match self.read {
            Some(read) => ResponseBody::new(IdleTimeout::new(stream, read)),
            None => ResponseBody::new(stream),
        };
        // Assembled from parts that are valid already (no builder, which
        // re-checks them and could only fail on its own conversions).
        let mut out = http::Response::new(body);
        *out.status_mut() = status;
        *out.version_mut() = version;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

/// The error of a read timeout: nothing arrived for `read`.
fn silent(read: Duration, waiting_for: &str) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!("no {waiting_for} bytes within the read timeout of {read:?}"),
    )
}

pin_project_lite::pin_project! {
    /// A response body that fails once the server has been silent for
    /// `read`: the read timeout of [`Timeouts`].
    ///
    /// reqwest's own read timeout reads the clock and re-arms its timer on
    /// every chunk, and arms one even when the chunk is already buffered,
    /// as the whole body of a small object is by the time its head is
    /// read. Here the timer is armed only when the body has nothing to
    /// give (the silence starts then), keeps its deadline through any
    /// spurious wake-ups, and is re-armed only when a later silence
    /// starts: a body that arrives with its head costs no timer at all.
    /// The silence that counts is the server's: time a caller takes
    /// between reads is not held against the connection.
    struct IdleTimeout<S> {
        #[pin]
        inner: S,
        #[pin]
        sleep: Option<tokio::time::Sleep>,
        read: Duration,
        // Whether the last poll found the body silent (the deadline set
        // then still stands).
        waiting: bool,
    }
}

impl<S> IdleTimeout<S> {
    fn new(inner: S, read: Duration) -> Self {
        IdleTimeout {
            inner,
            sleep: None,
            read,
            waiting: false,
        }
    }
}

impl<S: Stream<Item = Result<Bytes, Error>>> Stream for IdleTimeout<S> {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if let Poll::Ready(item) = this.inner.poll_next(cx) {
            *this.waiting = false;
            return Poll::Ready(item);
        }
        if !*this.waiting {
            // A silence starts: at most `read` from now.
            let deadline = tokio::time::Instant::now() + *this.read;
            match this.sleep.as_mut().as_pin_mut() {
                Some(sleep) => sleep.reset(deadline),
                None => this.sleep.set(Some(tokio::time::sleep_until(deadline))),
            }
            *this.waiting = true;
        }
        match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Some(Err(silent(*this.read, "response body")))),
            _ => Poll::Pending,
        }
    }
}

/// `text` as reqwest's `Url`, the same value [`reqwest::Url::parse`] gives.
///
/// Every request of a client shares its `scheme://host[:port]`, and parsing
/// the host (IDNA mapping included) is most of the cost of parsing a URL. So
/// the `Url` of the last origin seen is kept per thread, and a URL of that
/// origin is parsed as a path-absolute reference against it
/// ([`Url::join`](reqwest::Url::join)), which copies the origin and parses
/// only the path and query. The URL standard defines `/path?query` against
/// `scheme://host` to be the URL `scheme://host/path?query`; the short way
/// is taken only where that holds plainly: visible ASCII without `#` (a
/// fragment) or `\` (a separator in special schemes), a path starting with
/// one `/` (`//` would start an authority), no userinfo in the origin.
/// Anything else is parsed whole.
fn parse_url(text: &str) -> Result<reqwest::Url, Error> {
    thread_local! {
        static ORIGIN: std::cell::RefCell<Option<(String, reqwest::Url)>> =
            const { std::cell::RefCell::new(None) };
    }
    let Some((origin, rest)) = split_origin(text) else {
        return reqwest::Url::parse(text).map_err(invalid_url);
    };
    ORIGIN.with(|cached| {
        let mut cached = cached.borrow_mut();
        let base = match &*cached {
            Some((text, url)) if text == origin => url,
            _ => {
                let url = reqwest::Url::parse(origin).map_err(invalid_url)?;
                &cached.insert((origin.to_owned(), url)).1
            }
        };
        base.join(rest).map_err(invalid_url)
    })
}

/// Splits `http[s]://authority/rest` into the origin and `/rest` when `/rest`
/// joined to the origin is plainly the same URL (see [`parse_url`]).
fn split_origin(text: &str) -> Option<(&str, &str)> {
    let after_scheme = if text.starts_with("https://") {
        "https://".len()
    } else if text.starts_with("http://") {
        "http://".len()
    } else {
        return None;
    };
    let slash = after_scheme + text.get(after_scheme..)?.find('/')?;
    let (origin, rest) = text.split_at(slash);
    let plain = !rest.starts_with("//")
        && rest
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'#' && b != b'\\');
    // An authority with userinfo (`user:pw@`) is parsed whole: the cache
    // would keep a credential per thread.
    let plain_origin = origin[after_scheme..]
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'@' | b'?' | b'#' | b'\\'));
    (plain && plain_origin && slash > after_scheme).then_some((origin, rest))
}

fn invalid_url(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::InvalidRequest, "the request URL is invalid").with_source(e)
}

impl HttpSend for ReqwestTransport {
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, Error>> {
        let (parts, body) = request.into_parts();
        let outgoing =
            to_url(&parts.uri).map(|url| Self::outgoing(parts.method, url, parts.headers, body));
        Box::pin(self.execute(outgoing))
    }

    /// Straight from the URL text to reqwest's `Url`, which reqwest parses
    /// anyway: no `http::Uri` in between, and the host of a known origin is not
    /// parsed again.
    fn send_prepared(
        &self,
        request: PreparedRequest,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, Error>> {
        let outgoing = parse_url(&request.url)
            .map(|url| Self::outgoing(request.method, url, request.headers, request.body));
        Box::pin(self.execute(outgoing))
    }
}

#[cfg(test)]
mod tests {
    /// The cached-origin parse gives exactly what a whole parse gives, for
    /// URLs that take the short way and for those that do not, with the
    /// cache warm from another origin in between.
    #[test]
    fn parse_url_agrees_with_a_whole_parse() {
        let urls = [
            "http://127.0.0.1:9000/b-1250000000/a%20b%2B.txt",
            "http://127.0.0.1:9000/b-1250000000/k?uploads",
            "http://127.0.0.1:9000/b-1250000000/k?",
            "http://127.0.0.1:9000/b-1250000000/k?partNumber=1&uploadId=x%2Fy",
            "http://127.0.0.1:9000/",
            "http://127.0.0.1:9000/./a/../b/%2e%2E/c",
            "http://127.0.0.1:9000//double//slash",
            "http://127.0.0.1:9000//evil.example/k",
            "http://127.0.0.1:9000/a//b?x//y",
            "http://127.0.0.1:9000/a?q=/../?x",
            "http://127.0.0.1:9000/a#frag",
            "http://127.0.0.1:9000/a\\b",
            "http://127.0.0.1:9000/a b",
            "http://127.0.0.1:9000/caf\u{e9}",
            "https://b-1.cos.ap-guangzhou.myqcloud.com/k?acl",
            "https://B-1.COS.ap-guangzhou.myqcloud.com:443/k",
            "https://b-1.cos.ap-guangzhou.myqcloud.com",
            "https://b-1.cos.ap-guangzhou.myqcloud.com?x=1",
            "https://user:pw@b-1.cos.ap-guangzhou.myqcloud.com/k",
            "https://xn--caf-dma.example/k",
            "http://[::1]:9000/k",
            "http://0x7f.1/k",
            "http:///k",
            "http://:9000/k",
            "ftp://example.com/k",
            "/relative",
        ];
        for round in 0..2 {
            for text in urls {
                let whole = reqwest::Url::parse(text);
                let cached = super::parse_url(text);
                match (whole, cached) {
                    (Ok(w), Ok(c)) => {
                        assert_eq!(w, c, "{text} (round {round})");
                        assert_eq!(w.as_str(), c.as_str(), "{text}");
                    }
                    (Err(_), Err(e)) => {
                        assert_eq!(e.kind(), super::ErrorKind::InvalidRequest, "{text}")
                    }
                    (w, c) => panic!("{text}: whole {w:?}, cached {c:?}"),
                }
            }
        }
    }

    /// What a test server writes for a request: pieces, each after a pause.
    type Script = Vec<(std::time::Duration, &'static [u8])>;

    /// A server on a local port that answers each request with what
    /// `answer` says for its path, and then stays silent until the client
    /// gives up.
    async fn silent_server(answer: fn(&str) -> Script) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = vec![0u8; 4096];
                    let n = socket.read(&mut request).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&request[..n]).into_owned();
                    let path = head.split(' ').nth(1).unwrap_or("").to_string();
                    for (pause, bytes) in answer(&path) {
                        tokio::time::sleep(pause).await;
                        if socket.write_all(bytes).await.is_err() {
                            return;
                        }
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                });
            }
        });
        addr
    }

    fn get(addr: std::net::SocketAddr, path: &str) -> http::Request<super::RequestBody> {
        http::Request::get(format!("http://{addr}{path}"))
            .body(super::RequestBody::Empty)
            .unwrap()
    }

    /// The read timeout still fires on a server that never answers, and on
    /// a body that stops half-way; a body that keeps arriving, each piece
    /// within the timeout though all of it takes longer, is read whole.
    #[tokio::test]
    async fn the_read_timeout_fires_on_silence_only() {
        use super::{ErrorKind, HttpSend, ReqwestTransport, Timeouts};
        use futures_util::StreamExt;
        use std::time::Duration;
        const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n";
        let addr = silent_server(|path| match path {
            "/half" => vec![(Duration::ZERO, HEAD), (Duration::ZERO, b"abc")],
            "/slow" => vec![
                (Duration::ZERO, HEAD),
                (Duration::from_millis(150), b"ab"),
                (Duration::from_millis(150), b"cd"),
                (Duration::from_millis(150), b"ef"),
            ],
            _ => vec![],
        })
        .await;
        let transport = ReqwestTransport::new(Timeouts {
            read: Duration::from_millis(300),
            ..Timeouts::default()
        })
        .unwrap();

        let e = transport.send(get(addr, "/mute")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");

        let mut half = transport
            .send(get(addr, "/half"))
            .await
            .unwrap()
            .into_body();
        assert_eq!(half.next().await.unwrap().unwrap(), "abc");
        let e = half.next().await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");

        let slow = transport
            .send(get(addr, "/slow"))
            .await
            .unwrap()
            .into_body();
        assert_eq!(slow.collect(64).await.unwrap(), "abcdef");
    }

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
