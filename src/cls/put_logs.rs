//! PutLogs (`POST /structuredlog`): the per-call options, the checked,
//! encoded and compressed body, the request built afresh for each attempt,
//! and the error answer's parser.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use prost::Message;

use super::compress::Compression;
use super::limits;
use super::proto::LogGroupList;
use super::{Client, Error};
use crate::auth::uri_encode;
use crate::instrument::{Operation, OperationInfo};
use crate::transport::retry::{RetryPolicy, Stopped};
use crate::transport::{PreparedRequest, RequestBody, ResponseBody};

/// Largest error body read from the service.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Per-call options of [`Client::put_logs_with`]. Made with
/// [`default`](Default::default) or [`hash_key_of`](Self::hash_key_of) and
/// the setters, so that adding an option is not a breaking change.
///
/// ```
/// use coscls::cls::{Compression, PutLogsOptions};
/// let opts = PutLogsOptions::hash_key_of("user-42").compression(Compression::None);
/// assert_eq!(opts.hash_key.as_deref().map(str::len), Some(32));
/// assert_eq!(opts.compression, Some(Compression::None));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PutLogsOptions {
    /// `x-cls-hashkey`: routes the request to the partition whose MD5 range
    /// holds it (docs/protocol/cls.md §1). See [`PutLogsOptions::hash_key_of`].
    pub hash_key: Option<String>,
    /// Overrides the client's compression for this call.
    pub compression: Option<Compression>,
}

impl PutLogsOptions {
    /// The hash key for a routing key: the lower-case hex MD5 of `routing_key`,
    /// a point in the MD5 range that CLS partitions split (docs/protocol/cls.md §1).
    ///
    /// ```
    /// let opts = coscls::cls::PutLogsOptions::hash_key_of("user-42");
    /// assert_eq!(opts.hash_key.as_deref().map(str::len), Some(32));
    /// ```
    pub fn hash_key_of(routing_key: &str) -> Self {
        use md5::Digest;
        PutLogsOptions::default().hash_key(hex::encode(md5::Md5::digest(routing_key.as_bytes())))
    }

    /// Sets `x-cls-hashkey` as given (checked when the call is made: visible
    /// ASCII, non-empty).
    pub fn hash_key(mut self, hash_key: impl Into<String>) -> Self {
        self.hash_key = Some(hash_key.into());
        self
    }

    /// Overrides the client's compression for this call.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = Some(compression);
        self
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
    /// Uploads `logs` to `topic`: checks the limits, encodes, compresses,
    /// signs and sends, retrying 429, 5xx and network failures per the
    /// client's [`RetryPolicy`] with a fresh signature each attempt.
    pub async fn put_logs(&self, topic: &str, logs: &LogGroupList) -> Result<PutLogsOutput, Error> {
        self.put_logs_with(topic, logs, &PutLogsOptions::default())
            .await
    }

    /// [`put_logs`](Self::put_logs) with a hash key or another compression.
    pub async fn put_logs_with(
        &self,
        topic: &str,
        logs: &LogGroupList,
        options: &PutLogsOptions,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{BoxFuture, Credentials};
    use crate::cls::proto::{Log, LogGroup};
    use crate::transport::{self, HttpSend};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

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
            .put_logs_with("topic-1", &logs(), &PutLogsOptions::hash_key_of("k"))
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
        let opts = PutLogsOptions::default().hash_key("bad key");
        assert!(c.put_logs_with("t", &logs(), &opts).await.is_err());
        assert!(t.seen.lock().unwrap().is_empty());
    }

    #[test]
    fn encoded_bodies_decode_back_to_the_logs() {
        for c in [Compression::None, Compression::Lz4] {
            let body = EncodedBody::encode(&logs(), c).unwrap();
            assert_eq!(body.decode().unwrap(), logs());
        }
    }
}
