//! The flow of one SDK call: for each attempt, build the request, sign it
//! with fresh credentials and the corrected clock, send it, and turn an error
//! status into the service's error; retry per the policy.
//!
//! Nothing here records spans or metrics: instrumentation decorates the
//! [`HttpSend`] and wraps each operation from outside, and learns of
//! retries through the observer given to [`Pipeline::with_retry_observer`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::Future;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::retry::{self, Classify, RetryPolicy};
use super::{Error, ErrorKind, HttpSend, RequestBody, ResponseBody};
use crate::auth::{self, HeaderRule, KeyTime, ProvideCredentials, SignKeyCache, SignableRequest};

/// How a service wants its requests signed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SigningProfile {
    /// Which headers are signed.
    pub rule: HeaderRule,
    /// Header that carries an STS session token (lower-case).
    pub token_header: &'static str,
    /// How long after `now` a signature stays valid.
    pub validity: Duration,
    /// How far before `now` the window starts, to absorb small clock drift.
    pub backdate: Duration,
}

impl SigningProfile {
    /// COS: the SDK header filter, `x-cos-security-token` (signed), a short
    /// window because every attempt signs afresh.
    pub(crate) const COS: SigningProfile = SigningProfile {
        rule: HeaderRule::Cos,
        token_header: "x-cos-security-token",
        validity: Duration::from_secs(900),
        backdate: Duration::from_secs(60),
    };
    /// CLS: `content-type;host` + params, `X-Cls-Token`, `[now-60, now+300]`
    /// (docs/protocol/cls.md §3).
    pub(crate) const CLS: SigningProfile = SigningProfile {
        rule: HeaderRule::Cls,
        token_header: "x-cls-token",
        validity: Duration::from_secs(300),
        backdate: Duration::from_secs(60),
    };
}

/// A request as COS and CLS operations build it: signed by the pipeline,
/// then handed to [`HttpSend::send_prepared`](super::HttpSend::send_prepared).
/// `signed_path` and `params` are decoded (what the signature covers); `url`
/// is the encoded URL the request goes to. Made by coscls only.
#[derive(Debug)]
#[non_exhaustive]
pub struct PreparedRequest {
    /// HTTP method.
    pub method: Method,
    /// Full URL (already encoded).
    pub url: String,
    /// Decoded path covered by the signature.
    pub signed_path: String,
    /// Decoded query parameters (all signed).
    pub params: Vec<(String, String)>,
    /// Headers, including `Host`.
    pub headers: HeaderMap,
    /// Body.
    pub body: RequestBody,
}

impl PreparedRequest {
    /// The request as an `http::Request` (the signature path and parameters
    /// are already part of the URL and the `Authorization` header).
    pub fn into_http(self) -> Result<http::Request<RequestBody>, Error> {
        // The URL string moves into the `Uri` without a copy.
        let mut builder = http::Request::builder().method(self.method).uri(self.url);
        if let Some(map) = builder.headers_mut() {
            *map = self.headers;
        }
        builder.body(self.body).map_err(|e| {
            Error::new(
                ErrorKind::InvalidRequest,
                "the request URL or headers are invalid",
            )
            .with_source(e)
        })
    }
}

/// Signs requests with a provider's credentials and a clock that can be
/// corrected from the server's `Date`.
#[derive(Debug)]
pub(crate) struct Signer {
    provider: Arc<dyn ProvideCredentials>,
    profile: SigningProfile,
    clock_offset: AtomicI64,
    sign_keys: SignKeyCache,
}

impl Signer {
    /// A signer for `profile` using `provider`.
    pub(crate) fn new(provider: Arc<dyn ProvideCredentials>, profile: SigningProfile) -> Self {
        Signer {
            provider,
            profile,
            clock_offset: AtomicI64::new(0),
            sign_keys: SignKeyCache::new(),
        }
    }

    /// Seconds added to the local clock when signing.
    pub(crate) fn clock_offset(&self) -> i64 {
        self.clock_offset.load(Ordering::Relaxed)
    }

    /// Adopts the offset between the server's `Date` and the local clock.
    pub(crate) fn correct_clock(&self, server_date: SystemTime) {
        let offset = unix(server_date) - unix(SystemTime::now());
        self.clock_offset.store(offset, Ordering::Relaxed);
        tracing::warn!(target: "coscls::clock", offset_secs = offset, "local clock differs from the server's; signing with a corrected clock");
    }

    /// The window a signature made now covers, never beyond the credentials' expiry.
    pub(crate) fn key_time(&self, expires_at: Option<SystemTime>) -> KeyTime {
        let now = unix(SystemTime::now()) + self.clock_offset();
        let mut end = now + self.profile.validity.as_secs() as i64;
        if let Some(exp) = expires_at {
            end = end.min(unix(exp) + self.clock_offset()).max(now);
        }
        KeyTime::new(now - self.profile.backdate.as_secs() as i64, end)
    }

    /// Adds the token header (when `creds` have one) and `Authorization`.
    /// Not async: the attempt gets the credentials (awaiting the provider
    /// only when it has none at hand) and signs without polling another
    /// state machine.
    fn sign(&self, creds: &auth::Credentials, request: &mut PreparedRequest) -> Result<(), Error> {
        if let Some(token) = creds.session_token() {
            let value = HeaderValue::from_str(token.expose())
                .map_err(|_| invalid("the session token is not a valid header value"))?;
            request
                .headers
                .insert(HeaderName::from_static(self.profile.token_header), value);
        }
        // A request signs a handful of headers: they are gathered on the
        // stack, and only an unusually long list spills into a Vec.
        const INLINE: usize = 16;
        let mut inline = [("", ""); INLINE];
        let mut spilled = Vec::new();
        let mut count = 0;
        for (name, value) in &request.headers {
            if self.profile.rule.selects_lowercase(name.as_str()) {
                let value = value.to_str().map_err(|_| {
                    invalid(&format!(
                        "header {name} is not visible ASCII and cannot be signed"
                    ))
                })?;
                let pair = (name.as_str(), value);
                if count < INLINE {
                    inline[count] = pair;
                } else {
                    if spilled.is_empty() {
                        spilled.extend_from_slice(&inline);
                    }
                    spilled.push(pair);
                }
                count += 1;
            }
        }
        let headers = if count <= INLINE {
            &inline[..count]
        } else {
            &spilled[..]
        };
        let params: Vec<(&str, &str)> = request
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let authorization = self.sign_keys.authorization(
            creds,
            self.key_time(creds.expires_at()),
            &SignableRequest {
                method: request.method.as_str(),
                path: &request.signed_path,
                params: &params,
                headers,
            },
        );
        let value = HeaderValue::try_from(authorization)
            .map_err(|_| invalid("the secret id is not a valid header value"))?;
        request.headers.insert(http::header::AUTHORIZATION, value);
        Ok(())
    }
}

fn invalid(message: &str) -> Error {
    Error::new(ErrorKind::InvalidRequest, message)
}

fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Implemented by the service errors the pipeline produces.
pub(crate) trait PipelineError: Classify + From<Error> + From<auth::Error> + Send {
    /// The server's `Date` when the error says our clock is off.
    fn clock_skew_date(&self) -> Option<SystemTime> {
        None
    }
    /// A low-cardinality error name (`error.type` in telemetry).
    fn type_name(&self) -> String;
}

/// Transport, signer and retry policy shared by every operation of a client.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    transport: Arc<dyn HttpSend>,
    signer: Arc<Signer>,
    retry: RetryPolicy,
    on_retry: RetryObserver,
}

/// Told of every failure the pipeline retries: its retry reason
/// (`slow_down`, `timeout`…) and its error type
/// ([`PipelineError::type_name`]).
pub(crate) type RetryObserver = fn(reason: &'static str, error_type: &str);

/// The default retry observer: nothing to tell.
fn ignore_retry(_reason: &'static str, _error_type: &str) {}

impl Pipeline {
    /// A pipeline sending through `transport`.
    pub(crate) fn new(
        transport: Arc<dyn HttpSend>,
        signer: Arc<Signer>,
        retry: RetryPolicy,
    ) -> Self {
        Pipeline {
            transport,
            signer,
            retry,
            on_retry: ignore_retry,
        }
    }

    /// Calls `on_retry` with the reason and the error type of every failure
    /// the pipeline retries, just before the backoff: how instrumentation
    /// counts retries without the pipeline knowing of it.
    pub(crate) fn with_retry_observer(mut self, on_retry: RetryObserver) -> Self {
        self.on_retry = on_retry;
        self
    }

    /// The signer (for presigning and clock inspection).
    pub(crate) fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The retry policy.
    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Runs one operation: `build` makes a fresh unsigned request per attempt,
    /// `parse_error` turns a non-2xx response into the service error. A body
    /// that cannot be replayed (a stream) is sent once and never retried.
    ///
    /// The returned response body is still streaming.
    ///
    /// `build` may return the request boxed already; otherwise it is boxed
    /// here, so the attempt and retry futures hold it as a pointer, not by
    /// value.
    pub(crate) async fn execute<E, B, R, P, PF>(
        &self,
        mut build: B,
        parse_error: P,
    ) -> Result<http::Response<ResponseBody>, E>
    where
        E: PipelineError,
        B: FnMut() -> Result<R, E>,
        R: Into<Box<PreparedRequest>>,
        P: Fn(http::Response<ResponseBody>) -> PF,
        PF: Future<Output = E>,
    {
        let (first, policy) = start(build(), &self.retry)?;
        let mut first = Some(first);
        let on_retry = |e: &E| (self.on_retry)(e.retry_reason(), &e.type_name());
        retry::run_observed(&policy, on_retry, |_resend| {
            let built = match first.take() {
                Some(request) => Ok(request),
                None => build().map(Into::into),
            };
            self.attempt(built, &parse_error)
        })
        .await
    }
}

/// Starts an operation from its first request, built up front: its body
/// decides whether the operation may be retried at all (`policy`, or none
/// for a body that cannot be sent twice).
fn start<E, R>(
    first: Result<R, E>,
    policy: &RetryPolicy,
) -> Result<(Box<PreparedRequest>, RetryPolicy), E>
where
    E: PipelineError,
    R: Into<Box<PreparedRequest>>,
{
    let request: Box<PreparedRequest> = first?.into();
    let policy = if request.body.is_replayable() {
        *policy
    } else {
        RetryPolicy::none()
    };
    Ok((request, policy))
}

impl Pipeline {
    /// [`execute`](Self::execute) under a caller's `policy` that also stops
    /// when `abort` resolves (see [`retry::run_until`]): the CLS producer
    /// hands each batch here, so its attempts follow the one schedule and
    /// the operation's retry counter counts each of them once. `on_retry`
    /// sees each retried error just before the attempt that retries it.
    /// On success, also returns the number of attempts made.
    pub(crate) async fn execute_until<E, B, R, P, PF>(
        &self,
        policy: &RetryPolicy,
        abort: impl Future<Output = ()>,
        mut on_retry: impl FnMut(&E),
        mut build: B,
        parse_error: P,
    ) -> Result<(http::Response<ResponseBody>, u32), retry::Stopped<E>>
    where
        E: PipelineError,
        B: FnMut() -> Result<R, E>,
        R: Into<Box<PreparedRequest>>,
        P: Fn(http::Response<ResponseBody>) -> PF,
        PF: Future<Output = E>,
    {
        let (first, policy) = start(build(), policy)
            .map_err(|error| retry::Stopped::Failed { error, attempts: 0 })?;
        let mut first = Some(first);
        retry::run_until(
            &policy,
            abort,
            |e: &E| {
                (self.on_retry)(e.retry_reason(), &e.type_name());
                on_retry(e);
            },
            |_resend| {
                let built = match first.take() {
                    Some(request) => Ok(request),
                    None => build().map(Into::into),
                };
                self.attempt(built, &parse_error)
            },
        )
        .await
    }

    async fn attempt<E, P, PF>(
        &self,
        built: Result<Box<PreparedRequest>, E>,
        parse_error: &P,
    ) -> Result<http::Response<ResponseBody>, E>
    where
        E: PipelineError,
        P: Fn(http::Response<ResponseBody>) -> PF,
        PF: Future<Output = E>,
    {
        let mut request = built?;
        // Credentials at hand are the rule; only a provider that has to
        // fetch them is awaited (its future is boxed already).
        let creds = match self.signer.provider.provide_now() {
            Some(creds) => creds,
            None => self.signer.provider.provide().await.map_err(E::from)?,
        };
        self.signer.sign(&creds, &mut request)?;
        // The transport's future is boxed: the request moves into it and is
        // not kept in this future while it is sent.
        let response = self.transport.send_prepared(*request).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        // Boxed: an error answer is the rare path, and its future would
        // otherwise make every operation's future larger.
        let err = Box::pin(parse_error(response)).await;
        if let Some(date) = err.clock_skew_date() {
            self.signer.correct_clock(date);
        }
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{BoxFuture, Credentials};
    use crate::cos;
    use bytes::Bytes;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;

    /// Answers with the queued statuses and records every request's headers.
    #[derive(Debug, Default)]
    struct Scripted {
        statuses: Mutex<Vec<u16>>,
        seen: Mutex<Vec<HeaderMap>>,
    }

    impl HttpSend for Scripted {
        fn send(
            &self,
            request: http::Request<RequestBody>,
        ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, Error>> {
            self.seen.lock().unwrap().push(request.headers().clone());
            let status = self.statuses.lock().unwrap().remove(0);
            Box::pin(async move {
                Ok(http::Response::builder()
                    .status(status)
                    .header("x-cos-request-id", "req")
                    .body(ResponseBody::empty())
                    .unwrap())
            })
        }
    }

    #[derive(Debug, Default)]
    struct CountingProvider(AtomicUsize);
    impl ProvideCredentials for CountingProvider {
        fn provide(&self) -> BoxFuture<'_, Result<Credentials, auth::Error>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Credentials::new("AKID", "key")?.with_session_token("tok") })
        }
    }

    fn pipeline(statuses: &[u16]) -> (Pipeline, Arc<Scripted>, Arc<CountingProvider>) {
        let transport = Arc::new(Scripted {
            statuses: Mutex::new(statuses.to_vec()),
            ..Default::default()
        });
        let provider = Arc::new(CountingProvider::default());
        let signer = Arc::new(Signer::new(provider.clone(), SigningProfile::COS));
        let retry =
            RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(1));
        (
            Pipeline::new(transport.clone(), signer, retry),
            transport,
            provider,
        )
    }

    fn request(body: RequestBody) -> PreparedRequest {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("b-1.cos.r.myqcloud.com"));
        PreparedRequest {
            method: Method::PUT,
            url: "http://b-1.cos.r.myqcloud.com/k".into(),
            signed_path: "/k".into(),
            params: vec![],
            headers,
            body,
        }
    }

    /// More signed headers than the signer gathers on the stack: every one
    /// is still in the signature, the same as the pure signer makes it.
    #[tokio::test]
    async fn a_long_header_list_is_signed_whole() {
        let creds = Credentials::new("AKID", "key").unwrap();
        let signer = Signer::new(Arc::new(creds.clone()), SigningProfile::COS);
        let mut req = request(RequestBody::Empty);
        for i in 0..20 {
            let name = HeaderName::try_from(format!("x-cos-meta-m{i:02}")).unwrap();
            req.headers.insert(name, HeaderValue::from(i));
        }
        signer.sign(&creds, &mut req).unwrap();
        let auth = req.headers["authorization"].to_str().unwrap().to_string();
        let parsed = auth::parse_authorization(&auth).unwrap();
        assert_eq!(
            parsed.header_list.len(),
            21,
            "host and 20 x-cos-meta-: {auth}"
        );
        let pairs: Vec<(String, String)> = req
            .headers
            .iter()
            .filter(|(n, _)| n.as_str() != "authorization")
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let expected = auth::sign(
            &creds,
            parsed.key_time,
            &SignableRequest {
                method: "PUT",
                path: "/k",
                params: &[],
                headers: &borrowed,
            },
        );
        assert_eq!(auth, expected.authorization);
    }

    async fn status_error(r: http::Response<ResponseBody>) -> cos::Error {
        cos::Error::Service(Box::new(cos::ServiceError {
            status: r.status().as_u16(),
            code: "X".into(),
            ..Default::default()
        }))
    }

    #[tokio::test]
    async fn every_attempt_is_signed_afresh_with_the_token_signed() {
        let (p, transport, provider) = pipeline(&[503, 500, 200]);
        let r = p
            .execute(
                || Ok::<_, cos::Error>(request(RequestBody::Bytes(Bytes::from_static(b"x")))),
                status_error,
            )
            .await;
        assert!(r.is_ok());
        assert_eq!(
            provider.0.load(Ordering::SeqCst),
            3,
            "credentials fetched per attempt"
        );
        let seen = transport.seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        for h in seen.iter() {
            let auth = h["authorization"].to_str().unwrap();
            assert!(
                auth.contains("q-header-list=host;x-cos-security-token"),
                "{auth}"
            );
            assert_eq!(h["x-cos-security-token"], "tok");
        }
    }

    #[tokio::test]
    async fn a_streamed_body_is_never_resent() {
        let (p, transport, _) = pipeline(&[503, 200]);
        let builds = AtomicUsize::new(0);
        let r = p
            .execute(
                || {
                    builds.fetch_add(1, Ordering::SeqCst);
                    let stream = futures_util::stream::empty().boxed_stream();
                    Ok::<_, cos::Error>(request(RequestBody::Stream { len: 0, stream }))
                },
                status_error,
            )
            .await;
        assert_eq!(r.unwrap_err().status(), Some(503));
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        assert_eq!(transport.seen.lock().unwrap().len(), 1);
    }

    trait BoxedStream {
        fn boxed_stream(self) -> futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>;
    }
    impl<S: futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static> BoxedStream for S {
        fn boxed_stream(self) -> futures_util::stream::BoxStream<'static, std::io::Result<Bytes>> {
            Box::pin(self)
        }
    }

    #[test]
    fn the_window_never_outlives_the_credentials() {
        let signer = Signer::new(Arc::new(CountingProvider::default()), SigningProfile::COS);
        let soon = SystemTime::now() + Duration::from_secs(30);
        let kt = signer.key_time(Some(soon));
        assert!(kt.end - kt.start <= 91, "{kt:?}");
        signer.correct_clock(SystemTime::now() + Duration::from_secs(3600));
        let shifted = signer.key_time(None);
        assert!(shifted.start >= kt.start + 3500, "{shifted:?} vs {kt:?}");
    }
}
