//! The one test transport: an [`HttpSend`] that either answers from a
//! script of [`Reply`]s, or forwards to a real reqwest transport (to the
//! emulator) with per-request [`Rule`]s that tamper with what passes. Every
//! request is recorded either way.
//!
//! A rule matches requests ([`When`]), lets the first `after` matches
//! through, then applies its [`Act`] to the next `times` (all of them when
//! unbounded). Rules are checked in the order they were added; several may
//! act on one request.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use coscls::auth::BoxFuture;
use coscls::transport::{
    Error as TransportError, ErrorKind, HttpSend, RequestBody, ReqwestTransport, ResponseBody,
};

/// What the scripted server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answers with a status, headers and a body (plus
    /// `x-cos-request-id: req-1` and a matching `content-length`).
    Answer {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Bytes,
    },
    /// Answers 200 announcing `len` bytes, then breaks off after `body`.
    Broken { len: u64, body: Bytes },
    /// Fails below HTTP.
    Fail(ErrorKind),
    /// Never answers.
    Hang,
}

/// A 200 with `headers` and `body`.
pub fn ok(headers: Vec<(&'static str, String)>, body: &'static str) -> Reply {
    Reply::Answer {
        status: 200,
        headers,
        body: Bytes::from_static(body.as_bytes()),
    }
}

/// A `status` answer with an XML `body`.
pub fn status(status: u16, body: &'static str) -> Reply {
    Reply::Answer {
        status,
        headers: vec![("content-type", "application/xml".into())],
        body: Bytes::from_static(body.as_bytes()),
    }
}

/// Which requests a [`Rule`] looks at: every condition set must hold.
#[derive(Debug, Clone, Default)]
pub struct When {
    method: Option<http::Method>,
    query_param: Option<&'static str>,
    header: Option<&'static str>,
}

impl When {
    /// Every request.
    pub fn any() -> When {
        When::default()
    }

    /// Requests with this method.
    pub fn method(method: http::Method) -> When {
        When {
            method: Some(method),
            ..When::default()
        }
    }

    /// Requests with this method and query parameter `param` (`partNumber`,
    /// `uploads`…).
    pub fn query(method: http::Method, param: &'static str) -> When {
        When {
            method: Some(method),
            query_param: Some(param),
            ..When::default()
        }
    }

    /// Requests carrying header `name` (lower case), any method.
    pub fn header(name: &'static str) -> When {
        When {
            header: Some(name),
            ..When::default()
        }
    }

    /// Also requires the method.
    pub fn and_method(mut self, method: http::Method) -> When {
        self.method = Some(method);
        self
    }

    fn matches(&self, request: &http::Request<RequestBody>) -> bool {
        self.method.as_ref().is_none_or(|m| request.method() == m)
            && self.query_param.is_none_or(|param| {
                request
                    .uri()
                    .query()
                    .is_some_and(|q| q.split('&').any(|p| p.split('=').next() == Some(param)))
            })
            && self
                .header
                .is_none_or(|h| request.headers().contains_key(h))
    }
}

/// An async action run before the request goes out.
pub type Before = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// What a [`Rule`] does to a request it applies to.
#[derive(Clone)]
pub enum Act {
    /// Runs the action (shrink a file, overwrite the object…), then sends.
    Before(Before),
    /// Removes a request header before sending (`authorization`: unsigned).
    DropRequestHeader(http::HeaderName),
    /// Holds the request for ever, announcing it through
    /// [`Scripted::stalled`], like a process that dies there.
    Stall,
    /// Sends the request, then reports a broken connection instead of the
    /// answer: the server acted, the client does not know.
    LoseResponse,
    /// Replaces the answer's `x-cos-hash-crc64ecma` with a wrong value, as
    /// if the bytes had been damaged on the way.
    WrongCrc,
    /// Keeps the answer's head, replaces its body (a copy's `200` carrying an
    /// `<Error>` document).
    ReplaceBody(Bytes),
}

impl Act {
    /// [`Act::Before`] from a closure.
    pub fn before<F, Fut>(f: F) -> Act
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        Act::Before(Arc::new(move || Box::pin(f())))
    }
}

impl std::fmt::Debug for Act {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Act::Before(_) => f.write_str("Before(..)"),
            Act::DropRequestHeader(h) => write!(f, "DropRequestHeader({h})"),
            Act::Stall => f.write_str("Stall"),
            Act::LoseResponse => f.write_str("LoseResponse"),
            Act::WrongCrc => f.write_str("WrongCrc"),
            Act::ReplaceBody(b) => write!(f, "ReplaceBody({} bytes)", b.len()),
        }
    }
}

/// One tampering rule; keep the `Arc` [`Scripted::rule`] returns to ask how
/// often it acted.
#[derive(Debug)]
pub struct Rule {
    when: When,
    act: Act,
    after: u32,
    times: Option<u32>,
    seen: AtomicU32,
    fired: AtomicU32,
}

impl Rule {
    /// A rule acting on every request `when` matches.
    pub fn new(when: When, act: Act) -> Rule {
        Rule {
            when,
            act,
            after: 0,
            times: None,
            seen: AtomicU32::new(0),
            fired: AtomicU32::new(0),
        }
    }

    /// Lets the first `n` matching requests through untouched.
    pub fn after(mut self, n: u32) -> Rule {
        self.after = n;
        self
    }

    /// Acts on at most `n` requests.
    pub fn times(mut self, n: u32) -> Rule {
        self.times = Some(n);
        self
    }

    /// How many requests it acted on.
    pub fn fired(&self) -> u32 {
        self.fired.load(Ordering::SeqCst)
    }

    /// How many more requests a bounded rule will act on (0 when unbounded).
    pub fn remaining(&self) -> u32 {
        self.times.map_or(0, |t| t.saturating_sub(self.fired()))
    }

    /// Whether it acts on this request (counting it).
    fn applies(&self, request: &http::Request<RequestBody>) -> bool {
        if !self.when.matches(request) {
            return false;
        }
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        if n < self.after {
            return false;
        }
        let armed = self.times.is_none_or(|t| self.fired() < t);
        if armed {
            self.fired.fetch_add(1, Ordering::SeqCst);
        }
        armed
    }
}

/// One request as it left the client.
#[derive(Debug, Clone)]
pub struct Sent {
    pub method: http::Method,
    pub uri: http::Uri,
    pub headers: http::HeaderMap,
}

/// The scripted transport (see the module documentation).
#[derive(Debug)]
pub struct Scripted {
    /// `None`: answers come from `replies`.
    inner: Option<ReqwestTransport>,
    replies: Mutex<VecDeque<Reply>>,
    rules: Mutex<Vec<Arc<Rule>>>,
    sent: Mutex<Vec<Sent>>,
    stalled: tokio::sync::Notify,
}

impl Scripted {
    fn with_inner(inner: Option<ReqwestTransport>) -> Arc<Scripted> {
        Arc::new(Scripted {
            inner,
            replies: Mutex::new(VecDeque::new()),
            rules: Mutex::new(Vec::new()),
            sent: Mutex::new(Vec::new()),
            stalled: tokio::sync::Notify::new(),
        })
    }

    /// Answers from the script ([`Scripted::load`]); no network.
    pub fn replies() -> Arc<Scripted> {
        Scripted::with_inner(None)
    }

    /// Forwards to a real reqwest transport.
    pub fn forward() -> Arc<Scripted> {
        Scripted::with_inner(Some(
            ReqwestTransport::new(Default::default()).expect("reqwest transport"),
        ))
    }

    /// Forwarding, with one rule: `act` on the first `times` requests with
    /// `method` and query parameter `param`.
    pub fn tamper(
        method: http::Method,
        param: &'static str,
        act: Act,
        times: u32,
    ) -> Arc<Scripted> {
        let t = Scripted::forward();
        t.rule(Rule::new(When::query(method, param), act).times(times));
        t
    }

    /// Adds a rule; the returned handle tells how often it acted.
    pub fn rule(&self, rule: Rule) -> Arc<Rule> {
        let rule = Arc::new(rule);
        self.rules.lock().unwrap().push(rule.clone());
        rule
    }

    /// How many more requests the bounded rules will act on.
    pub fn remaining(&self) -> u32 {
        self.rules
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.remaining())
            .sum()
    }

    /// Replaces the script: each request takes the next reply.
    pub fn load(&self, replies: Vec<Reply>) {
        *self.replies.lock().unwrap() = replies.into();
    }

    /// Every request sent so far, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// The `q-signature` of every signed request sent so far.
    pub fn signatures(&self) -> Vec<String> {
        self.sent()
            .iter()
            .filter_map(|s| s.headers.get("authorization"))
            .filter_map(|v| v.to_str().ok())
            .filter_map(|a| a.split('&').find_map(|kv| kv.strip_prefix("q-signature=")))
            .map(str::to_string)
            .collect()
    }

    /// Resolves once a [`Act::Stall`] holds a request.
    pub async fn stalled(&self) {
        self.stalled.notified().await
    }

    async fn answer(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        if let Some(inner) = &self.inner {
            return inner.send(request).await;
        }
        let reply = self
            .replies
            .lock()
            .unwrap()
            .pop_front()
            .expect("a scripted reply");
        match reply {
            Reply::Answer {
                status,
                headers,
                body,
            } => {
                let mut b = http::Response::builder()
                    .status(status)
                    .header("x-cos-request-id", "req-1")
                    .header("content-length", body.len().to_string());
                for (k, v) in headers {
                    b = b.header(k, v);
                }
                Ok(b.body(ResponseBody::from_bytes(body)).unwrap())
            }
            Reply::Broken { len, body } => {
                let chunks = futures_util::stream::iter(vec![
                    Ok(body),
                    Err(TransportError::new(ErrorKind::Body, "connection reset")),
                ]);
                Ok(http::Response::builder()
                    .status(200)
                    .header("content-length", len.to_string())
                    .body(ResponseBody::new(chunks))
                    .unwrap())
            }
            Reply::Fail(kind) => Err(TransportError::new(kind, "scripted failure")),
            Reply::Hang => std::future::pending().await,
        }
    }
}

impl HttpSend for Scripted {
    fn send(
        &self,
        mut request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, TransportError>> {
        self.sent.lock().unwrap().push(Sent {
            method: request.method().clone(),
            uri: request.uri().clone(),
            headers: request.headers().clone(),
        });
        let acts: Vec<Act> = self
            .rules
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.applies(&request))
            .map(|r| r.act.clone())
            .collect();
        Box::pin(async move {
            for act in &acts {
                match act {
                    Act::Before(f) => f().await,
                    Act::DropRequestHeader(h) => {
                        request.headers_mut().remove(h);
                    }
                    Act::Stall => {
                        self.stalled.notify_one();
                        std::future::pending::<()>().await;
                    }
                    _ => {}
                }
            }
            let mut response = self.answer(request).await?;
            for act in acts {
                match act {
                    Act::LoseResponse => {
                        let (_, body) = response.into_parts();
                        let _ = body.collect(1 << 20).await;
                        return Err(TransportError::new(
                            ErrorKind::Request,
                            "connection reset (injected by the test)",
                        ));
                    }
                    Act::WrongCrc => {
                        response.headers_mut().insert(
                            "x-cos-hash-crc64ecma",
                            http::HeaderValue::from_static("12345"),
                        );
                    }
                    Act::ReplaceBody(bytes) => {
                        let (parts, body) = response.into_parts();
                        body.collect(1 << 20).await?;
                        response =
                            http::Response::from_parts(parts, ResponseBody::from_bytes(bytes));
                    }
                    _ => {}
                }
            }
            Ok(response)
        })
    }
}
