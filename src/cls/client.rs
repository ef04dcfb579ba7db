//! The CLS upload client: one signed `POST /structuredlog` per call.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use prost::Message;

use super::compress::Compression;
use super::limits;
use super::proto::LogGroupList;
use super::Error;
use crate::auth::Credentials;
use crate::auth::{uri_encode, EnvProvider, ProvideCredentials, StaticProvider};
use crate::instrument::{self, Operation, OperationInfo, TracedSend};
use crate::transport::retry::{RetryPolicy, Stopped};
use crate::transport::{
    HttpSend, Pipeline, PreparedRequest, RequestBody, ReqwestTransport, ResponseBody, Signer,
    SigningProfile, Timeouts,
};

/// Largest error body read from the service.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A CLS client. Cheap to clone; clones share the connection pool.
///
/// ```no_run
/// # async fn demo() -> Result<(), coscls::cls::Error> {
/// use coscls::auth::Credentials;
/// use coscls::cls::{Client, Log, LogGroup, LogGroupList};
/// let client = Client::builder()
///     .region("ap-guangzhou")
///     .credentials(Credentials::new("AKID...", "secret")?)
///     .build()?;
/// let logs = LogGroupList::new(vec![LogGroup::new(vec![Log::now().field("msg", "hello")])]);
/// let out = client.put_logs("0e69453c-0727-4c9c-9d4f-3b6b1c2a9e11", &logs).await?;
/// println!("request id {:?}", out.request_id);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pipeline: Pipeline,
    base_url: String,
    host: HeaderValue,
    region: Option<String>,
    compression: Compression,
}

/// Per-call options of [`Client::put_logs_with`].
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    /// `x-cls-hashkey`: routes the request to the partition whose MD5 range
    /// holds it (docs/protocol/cls.md §1). See [`PutOptions::hash_key_of`].
    pub hash_key: Option<String>,
    /// Overrides the client's compression for this call.
    pub compression: Option<Compression>,
}

impl PutOptions {
    /// The hash key for a routing key: the lower-case hex MD5 of `routing_key`,
    /// a point in the MD5 range that CLS partitions split (docs/protocol/cls.md §1).
    ///
    /// ```
    /// let opts = coscls::cls::PutOptions::hash_key_of("user-42");
    /// assert_eq!(opts.hash_key.as_deref().map(str::len), Some(32));
    /// ```
    pub fn hash_key_of(routing_key: &str) -> Self {
        use md5::Digest;
        PutOptions {
            hash_key: Some(hex::encode(md5::Md5::digest(routing_key.as_bytes()))),
            compression: None,
        }
    }
}

/// What CLS answered to a successful upload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutLogsOutput {
    /// `X-Cls-Requestid`, for support tickets.
    pub request_id: Option<String>,
}

/// An encoded, compressed request body, kept for retries.
#[derive(Debug, Clone)]
pub(crate) struct EncodedBody {
    pub(crate) body: Bytes,
    pub(crate) compression: Compression,
    pub(crate) raw_len: usize,
}

impl EncodedBody {
    /// Encodes and compresses `list` (already checked against the limits).
    pub(crate) fn encode(list: &LogGroupList, compression: Compression) -> Result<Self, Error> {
        let raw = list.encode_to_vec();
        let compressed = compression.compress(&raw)?;
        Ok(EncodedBody {
            body: compressed.body,
            compression,
            raw_len: raw.len(),
        })
    }

    /// The logs back, for reporting what was not delivered.
    pub(crate) fn decode(&self) -> Result<LogGroupList, Error> {
        let raw = self.compression.decompress(&self.body, self.raw_len)?;
        LogGroupList::decode(raw.as_slice())
            .map_err(|e| Error::invalid_input("encoded body", format!("does not decode: {e}")))
    }
}

impl Client {
    /// A builder; set a region or an endpoint.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// `scheme://host[:port]` requests go to.
    pub fn endpoint(&self) -> &str {
        &self.inner.base_url
    }

    /// The default body compression.
    pub fn compression(&self) -> Compression {
        self.inner.compression
    }

    /// Uploads `logs` to `topic`: checks the limits, encodes, compresses,
    /// signs and sends, retrying 429, 5xx and network failures per the
    /// client's [`RetryPolicy`] with a fresh signature each attempt.
    pub async fn put_logs(&self, topic: &str, logs: &LogGroupList) -> Result<PutLogsOutput, Error> {
        self.put_logs_with(topic, logs, &PutOptions::default())
            .await
    }

    /// [`put_logs`](Self::put_logs) with a hash key or another compression.
    pub async fn put_logs_with(
        &self,
        topic: &str,
        logs: &LogGroupList,
        options: &PutOptions,
    ) -> Result<PutLogsOutput, Error> {
        check_topic(topic)?;
        let hash_key = options
            .hash_key
            .as_deref()
            .map(check_hash_key)
            .transpose()?;
        let compression = options.compression.unwrap_or(self.inner.compression);
        compression.check()?;
        limits::check_request(logs)?;
        let body = EncodedBody::encode(logs, compression)?;
        self.send_encoded(topic, hash_key, &body).await
    }

    /// Sends an already checked and encoded body under the client's policy.
    pub(crate) async fn send_encoded(
        &self,
        topic: &str,
        hash_key: Option<HeaderValue>,
        body: &EncodedBody,
    ) -> Result<PutLogsOutput, Error> {
        let info = OperationInfo::cls("UploadLog", self.inner.region.as_deref(), topic);
        Operation::start(&info)
            .run(async {
                let response = self
                    .inner
                    .pipeline
                    .execute(self.upload(topic, hash_key, body), parse_error)
                    .await?;
                Ok(finish_upload(response).await)
            })
            .await
    }

    /// The producer's path: sends an encoded batch under the producer's
    /// `policy` until it is delivered, fails for good, or `abort` fires.
    /// `on_retry` sees each retried error just before the attempt that
    /// retries it. Returns the output and the attempts made.
    pub(crate) async fn send_encoded_until(
        &self,
        topic: &str,
        hash_key: Option<HeaderValue>,
        body: &EncodedBody,
        policy: &RetryPolicy,
        abort: impl std::future::Future<Output = ()>,
        on_retry: impl FnMut(&Error),
    ) -> Result<(PutLogsOutput, u32), Stopped<Error>> {
        let info = OperationInfo::cls("UploadLog", self.inner.region.as_deref(), topic);
        let sending = async {
            let (response, attempts) = self
                .inner
                .pipeline
                .execute_until(
                    policy,
                    abort,
                    on_retry,
                    self.upload(topic, hash_key, body),
                    parse_error,
                )
                .await?;
            Ok((finish_upload(response).await, attempts))
        };
        Operation::start(&info)
            .run_judged(sending, |result| match result {
                Ok(_) => None,
                Err(Stopped::Failed { error, .. }) => Some(error.type_name()),
                Err(Stopped::Aborted { .. }) => Some("aborted".to_string()),
            })
            .await
    }

    /// Builds a fresh unsigned `POST /structuredlog` per attempt.
    fn upload<'a>(
        &'a self,
        topic: &'a str,
        hash_key: Option<HeaderValue>,
        body: &'a EncodedBody,
    ) -> impl FnMut() -> Result<PreparedRequest, Error> + 'a {
        let url = format!(
            "{}/structuredlog?topic_id={}",
            self.inner.base_url,
            uri_encode(topic)
        );
        move || {
            let mut headers = HeaderMap::with_capacity(6);
            headers.insert(http::header::HOST, self.inner.host.clone());
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            );
            headers.insert(
                http::header::USER_AGENT,
                HeaderValue::from_static(concat!("coscls/", env!("CARGO_PKG_VERSION"))),
            );
            if let Some(ct) = body.compression.header_value() {
                headers.insert(
                    HeaderName::from_static("x-cls-compress-type"),
                    HeaderValue::from_static(ct),
                );
            }
            if let Some(h) = &hash_key {
                headers.insert(HeaderName::from_static("x-cls-hashkey"), h.clone());
            }
            Ok(PreparedRequest {
                method: Method::POST,
                url: url.clone(),
                signed_path: "/structuredlog".into(),
                params: vec![("topic_id".into(), topic.to_string())],
                headers,
                body: RequestBody::Bytes(body.body.clone()),
            })
        }
    }
}

/// Reads the (normally empty) body of a 200 so the connection returns to the
/// pool. The logs are accepted once the status is 200, so a broken body is ignored.
async fn finish_upload(response: http::Response<ResponseBody>) -> PutLogsOutput {
    let request_id = request_id(response.headers());
    let _ = response.into_body().collect(MAX_ERROR_BODY).await;
    PutLogsOutput { request_id }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-cls-requestid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Turns an error response into [`Error::Service`]: `errorcode` and
/// `errormessage` from the JSON body, or a code derived from the status
/// when the body has none (the Go SDK does the same for 429 and 5xx).
pub(crate) async fn parse_error(response: http::Response<ResponseBody>) -> Error {
    #[derive(serde::Deserialize)]
    struct Body {
        errorcode: Option<String>,
        errormessage: Option<String>,
    }
    let status = response.status().as_u16();
    let request_id = request_id(response.headers());
    let server_date = response
        .headers()
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d.trim()).ok());
    let body = response
        .into_body()
        .collect(MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let parsed: Option<Body> = serde_json::from_slice(&body).ok();
    let (code, message) = match parsed {
        Some(Body {
            errorcode: Some(code),
            errormessage,
        }) if !code.is_empty() => (code, errormessage.unwrap_or_default()),
        _ => (
            status_code_name(status),
            String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
        ),
    };
    Error::Service {
        status,
        code,
        message,
        request_id,
        server_date,
    }
}

fn status_code_name(status: u16) -> String {
    match status {
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "TopicNotExists",
        413 => "ContentIsTooLarge",
        429 => "SpeedQuotaExceed",
        500 => "InternalError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => return format!("HTTP{status}"),
    }
    .to_string()
}

/// A topic id goes into the query string and the signature: it must be
/// non-empty and free of whitespace and control characters.
pub(crate) fn check_topic(topic: &str) -> Result<(), Error> {
    if topic.is_empty() {
        return Err(Error::invalid_input("topic id", "it is empty"));
    }
    if topic.len() > 128 {
        return Err(Error::invalid_input(
            "topic id",
            format!("it is {} bytes long; topic ids are UUIDs", topic.len()),
        ));
    }
    if let Some(c) = topic.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid_input(
            "topic id",
            format!("{topic:?} contains {c:?}"),
        ));
    }
    Ok(())
}

/// A hash key is sent as a header: visible ASCII, non-empty.
pub(crate) fn check_hash_key(key: &str) -> Result<HeaderValue, Error> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid_input(
            "hash key",
            format!("{key:?} must be non-empty visible ASCII (e.g. 32 hex digits of an MD5)"),
        ));
    }
    HeaderValue::from_str(key).map_err(|_| Error::invalid_input("hash key", "not a header value"))
}

/// Builds a [`Client`].
#[derive(Debug, Default)]
#[must_use]
pub struct ClientBuilder {
    region: Option<String>,
    intranet: bool,
    endpoint: Option<String>,
    provider: Option<Arc<dyn ProvideCredentials>>,
    transport: Option<Arc<dyn HttpSend>>,
    http_client: Option<reqwest::Client>,
    timeouts: Option<Timeouts>,
    retry: Option<RetryPolicy>,
    compression: Compression,
}

impl ClientBuilder {
    /// The region, e.g. `ap-guangzhou`: requests go to
    /// `https://<region>.cls.tencentcs.com` unless an endpoint is set.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Uses the intranet host `<region>.cls.tencentyun.com` (reachable only
    /// from Tencent Cloud machines in the same region).
    pub fn intranet(mut self, intranet: bool) -> Self {
        self.intranet = intranet;
        self
    }

    /// An explicit endpoint, `http(s)://host[:port]` (the emulator, a proxy).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Fixed credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.provider = Some(Arc::new(StaticProvider::new(credentials)));
        self
    }

    /// A credentials provider, asked before every signature (STS rotation).
    /// Without one, the environment is read ([`EnvProvider`]).
    pub fn credentials_provider(mut self, provider: Arc<dyn ProvideCredentials>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Sends through this transport instead of reqwest.
    pub fn transport(mut self, transport: Arc<dyn HttpSend>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Reuses an application's reqwest client (its pool, proxy, TLS settings).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Timeouts of the default transport. By default 5 s to connect, 30 s of
    /// read silence, 60 s per request (a request is at most 6 MiB).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = Some(timeouts);
        self
    }

    /// How each call retries 429, 5xx and network failures.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Body compression (LZ4 by default).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        self.compression.check()?;
        if let Some(region) = &self.region {
            check_region(region)?;
        }
        let base_url = match (&self.endpoint, &self.region) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Some(region)) => {
                let domain = if self.intranet {
                    "tencentyun.com"
                } else {
                    "tencentcs.com"
                };
                format!("https://{region}.cls.{domain}")
            }
            (None, None) => {
                return Err(Error::invalid_input(
                    "client",
                    "set a region or an endpoint",
                ))
            }
        };
        let host = parse_endpoint(&base_url)?;
        let transport: Arc<dyn HttpSend> = match (self.transport, self.http_client) {
            (Some(t), _) => t,
            (None, Some(c)) => Arc::new(ReqwestTransport::from_client(c)),
            (None, None) => {
                let timeouts = self.timeouts.unwrap_or(Timeouts {
                    request: Some(Duration::from_secs(60)),
                    ..Timeouts::default()
                });
                Arc::new(ReqwestTransport::new(timeouts)?)
            }
        };
        let provider = self
            .provider
            .unwrap_or_else(|| Arc::new(EnvProvider::new()));
        let signer = Arc::new(Signer::new(provider, SigningProfile::CLS));
        // Instrumentation observes the transport from outside: attempts
        // through the decorator, retries through the observer.
        let transport: Arc<dyn HttpSend> = Arc::new(TracedSend::new(transport));
        let pipeline = Pipeline::new(transport, signer, self.retry.unwrap_or_default())
            .with_retry_observer(instrument::record_retry);
        Ok(Client {
            inner: Arc::new(Inner {
                pipeline,
                base_url,
                host,
                region: self.region,
                compression: self.compression,
            }),
        })
    }
}

fn check_region(region: &str) -> Result<(), Error> {
    let ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "region",
            format!("{region:?} must be lower-case letters, digits and '-', e.g. ap-guangzhou"),
        ))
    }
}

/// Checks `scheme://host[:port]` and returns the `Host` header value.
fn parse_endpoint(url: &str) -> Result<HeaderValue, Error> {
    let bad = |reason: &str| {
        Err(Error::invalid_input(
            "endpoint",
            format!("{url:?} {reason}"),
        ))
    };
    let uri: http::Uri = match url.parse() {
        Ok(u) => u,
        Err(_) => return bad("is not a URL"),
    };
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return bad("must start with http:// or https://"),
    }
    if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
        return bad("must not have a path or query");
    }
    let Some(authority) = uri.authority() else {
        return bad("has no host");
    };
    if authority.as_str().contains('@') {
        return bad("must not carry user info");
    }
    HeaderValue::from_str(authority.as_str())
        .or_else(|_| bad("has a host that is not a header value"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::BoxFuture;
    use crate::cls::proto::{Log, LogGroup};
    use crate::transport;
    use std::sync::Mutex;

    /// Answers with scripted responses and records every request.
    #[derive(Debug, Default)]
    struct Scripted {
        answers: Mutex<Vec<(u16, &'static str)>>,
        seen: Mutex<Vec<http::Request<Bytes>>>,
    }

    impl HttpSend for Scripted {
        fn send(
            &self,
            request: http::Request<RequestBody>,
        ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, transport::Error>> {
            let (parts, body) = request.into_parts();
            let body = match body {
                RequestBody::Bytes(b) => b,
                _ => Bytes::new(),
            };
            self.seen
                .lock()
                .unwrap()
                .push(http::Request::from_parts(parts, body));
            let (status, body) = self.answers.lock().unwrap().remove(0);
            Box::pin(async move {
                if status == 0 {
                    return Err(transport::Error::new(
                        transport::ErrorKind::Request,
                        "connection reset",
                    ));
                }
                Ok(http::Response::builder()
                    .status(status)
                    .header("X-Cls-Requestid", format!("req-{status}"))
                    .body(ResponseBody::from_bytes(Bytes::from_static(
                        body.as_bytes(),
                    )))
                    .unwrap())
            })
        }
    }

    fn client(answers: &[(u16, &'static str)]) -> (Client, Arc<Scripted>) {
        let t = Arc::new(Scripted {
            answers: Mutex::new(answers.to_vec()),
            ..Default::default()
        });
        let creds = Credentials::new("AKIDtest", "secret")
            .unwrap()
            .with_session_token("tok")
            .unwrap();
        let c = Client::builder()
            .endpoint("http://127.0.0.1:9000")
            .credentials(creds)
            .transport(t.clone())
            .retry_policy(
                RetryPolicy::default()
                    .with_max_attempts(3)
                    .with_backoff(Duration::from_millis(1), Duration::from_millis(1)),
            )
            .build()
            .unwrap();
        (c, t)
    }

    fn logs() -> LogGroupList {
        LogGroupList::new(vec![LogGroup::new(vec![
            Log::new(1_700_000_000_000).field("msg", "hello hello hello hello")
        ])])
    }

    #[tokio::test]
    async fn a_request_is_signed_compressed_and_carries_the_token() {
        let (c, t) = client(&[(200, "")]);
        let out = c
            .put_logs_with("topic-1", &logs(), &PutOptions::hash_key_of("k"))
            .await
            .unwrap();
        assert_eq!(out.request_id.as_deref(), Some("req-200"));
        let seen = t.seen.lock().unwrap();
        let r = &seen[0];
        assert_eq!(r.method(), Method::POST);
        assert_eq!(
            r.uri().to_string(),
            "http://127.0.0.1:9000/structuredlog?topic_id=topic-1"
        );
        let h = r.headers();
        assert_eq!(h["host"], "127.0.0.1:9000");
        assert_eq!(h["content-type"], "application/x-protobuf");
        assert_eq!(h["x-cls-compress-type"], "lz4");
        assert_eq!(h["x-cls-token"], "tok");
        assert_eq!(h["x-cls-hashkey"].len(), 32);
        let auth = h["authorization"].to_str().unwrap();
        assert!(auth.contains("q-ak=AKIDtest"), "{auth}");
        assert!(
            auth.contains("q-header-list=content-type;host&q-url-param-list=topic_id"),
            "{auth}"
        );
        let raw = lz4_flex::block::decompress(r.body(), logs().encoded_len()).unwrap();
        assert_eq!(LogGroupList::decode(raw.as_slice()).unwrap(), logs());
    }

    #[tokio::test]
    async fn throttling_server_errors_and_resets_are_retried_with_fresh_signatures() {
        let (c, t) = client(&[(429, ""), (0, ""), (200, "")]);
        c.put_logs("topic-1", &logs()).await.unwrap();
        let seen = t.seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert!(seen
            .iter()
            .all(|r| r.headers().contains_key("authorization")));
    }

    #[tokio::test]
    async fn client_errors_are_typed_and_not_retried() {
        let body = r#"{"errorcode":"TopicClosed","errormessage":"topic is closed"}"#;
        let (c, t) = client(&[(400, body), (200, "")]);
        let err = c.put_logs("topic-1", &logs()).await.unwrap_err();
        match &err {
            Error::Service {
                status,
                code,
                message,
                request_id,
                ..
            } => {
                assert_eq!(*status, 400);
                assert_eq!(code, "TopicClosed");
                assert_eq!(message, "topic is closed");
                assert_eq!(request_id.as_deref(), Some("req-400"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!err.retryable());
        assert_eq!(t.seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn exhausted_retries_return_the_last_error_with_a_derived_code() {
        let (c, t) = client(&[(503, "<html>busy</html>"), (503, ""), (503, "")]);
        let err = c.put_logs("topic-1", &logs()).await.unwrap_err();
        assert_eq!(err.code(), Some("ServiceUnavailable"));
        assert!(err.retryable());
        assert_eq!(t.seen.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn bad_input_fails_before_any_request() {
        let (c, t) = client(&[]);
        assert!(c.put_logs("", &logs()).await.is_err());
        assert!(c.put_logs("a b", &logs()).await.is_err());
        assert!(c
            .put_logs("t", &LogGroupList::new(vec![]))
            .await
            .unwrap_err()
            .to_string()
            .contains("no log groups"));
        let opts = PutOptions {
            hash_key: Some("bad key".into()),
            ..Default::default()
        };
        assert!(c.put_logs_with("t", &logs(), &opts).await.is_err());
        assert!(t.seen.lock().unwrap().is_empty());
    }

    #[test]
    fn endpoints_and_regions_are_checked() {
        let b = || Client::builder().credentials(Credentials::new("a", "b").unwrap());
        assert_eq!(
            b().region("ap-guangzhou").build().unwrap().endpoint(),
            "https://ap-guangzhou.cls.tencentcs.com"
        );
        assert_eq!(
            b().region("ap-beijing")
                .intranet(true)
                .build()
                .unwrap()
                .endpoint(),
            "https://ap-beijing.cls.tencentyun.com"
        );
        assert!(b().build().is_err());
        assert!(b().region("AP Guangzhou").build().is_err());
        for bad in [
            "ftp://x",
            "http://x/path",
            "http://x?q=1",
            "not a url",
            "http://u:p@x",
        ] {
            assert!(b().endpoint(bad).build().is_err(), "{bad}");
        }
    }

    #[test]
    fn encoded_bodies_decode_back_to_the_logs() {
        for c in [Compression::None, Compression::Lz4] {
            let body = EncodedBody::encode(&logs(), c).unwrap();
            assert_eq!(body.decode().unwrap(), logs());
        }
    }
}
