//! Per-attempt instrumentation as a decorator over [`HttpSend`]: the
//! attempt span, the trace-context header, the byte counters, and what the
//! operation span reports of its last attempt. The transport below knows
//! nothing of it.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, HeaderName, Method};
use opentelemetry::trace::TraceContextExt as _;
use tracing::field::Empty;

use super::operation::{lock, FirstRequest, Late, Shared, ATTEMPT_FIELDS};
use super::otel;
use super::redact::redact_url;
use super::schema::RPC_SYSTEM;
use crate::auth::BoxFuture;
use crate::transport::{self, HttpSend, PreparedRequest, RequestBody, ResponseBody};

/// Wraps an [`HttpSend`] so that every request sent inside an observed
/// operation is one attempt of it: a `DEBUG` child span (target
/// `coscls::attempt`, opt-in), a `traceparent` naming that span (or the
/// operation span when attempt spans are off), request bytes counted on
/// `coscls.client.transferred`, and a response body that counts what the
/// caller reads. Outside an operation it only forwards.
///
/// The COS and CLS client builders wrap their transport in it, custom
/// transports included.
#[derive(Debug)]
pub(crate) struct TracedSend {
    inner: Arc<dyn HttpSend>,
}

impl TracedSend {
    /// Observes the requests sent through `inner`.
    pub(crate) fn new(inner: Arc<dyn HttpSend>) -> Self {
        TracedSend { inner }
    }
}

impl HttpSend for TracedSend {
    fn send(
        &self,
        mut request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, transport::Error>> {
        let Some(shared) = Shared::current() else {
            return self.inner.send(request);
        };
        let url = request.uri().to_string();
        let len = request.body().len();
        let method = request.method().clone();
        let attempt = Attempt::start(shared, &method, &url, len, request.headers_mut());
        attempt.finish(self.inner.send(request))
    }

    fn send_prepared(
        &self,
        mut request: PreparedRequest,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, transport::Error>> {
        let Some(shared) = Shared::current() else {
            return self.inner.send_prepared(request);
        };
        let len = request.body.len();
        let attempt = Attempt::start(
            shared,
            &request.method,
            &request.url,
            len,
            &mut request.headers,
        );
        attempt.finish(self.inner.send_prepared(request))
    }
}

/// One attempt of the current operation.
struct Attempt {
    shared: Arc<Shared>,
    span: tracing::Span,
}

impl Attempt {
    /// Opens the attempt span (not entered: it names the request in
    /// `traceparent` and ends when the response head arrived), describes
    /// the operation span with its first request, injects the trace
    /// context (after signing: it is never part of the signature) and
    /// counts the request body.
    fn start(
        shared: Arc<Shared>,
        method: &Method,
        url: &str,
        body_size: u64,
        headers: &mut HeaderMap,
    ) -> Self {
        let resend = shared.next_attempt();
        let http_method = method;
        let method = method.as_str();
        // An operation span created through the OpenTelemetry API is no
        // `tracing` span: the attempt span starts as a root and is given
        // the operation's context as its parent.
        let op = &shared.span;
        let direct = shared.direct.as_ref().map(|d| d.context());
        let span = tracing::debug_span!(
            target: "coscls::attempt",
            parent: op,
            "coscls.attempt",
            otel.name = method,
            otel.kind = "client",
            otel.status_description = Empty,
            rpc.system = RPC_SYSTEM,
            http.request.method = method,
            server.address = split_host(url).0,
            server.port = split_host(url).1,
            url.full = redact_url(url).as_ref(),
            http.request.body.size = body_size as i64,
            http.request.resend_count = (resend > 0).then_some(i64::from(resend)),
            http.response.status_code = Empty,
            http.response.body.size = Empty,
            tencent_cloud.request_id = Empty,
            error.type = Empty,
        );
        let cx = match direct {
            Some(op_cx) if span.is_disabled() => Some(op_cx.clone()),
            Some(op_cx) => {
                otel::set_parent(&span, op_cx.clone());
                otel::context_of(&span)
            }
            None => {
                // When the attempt span is filtered out, name the operation
                // instead.
                let carrier = if span.is_disabled() { op } else { &span };
                let cx = otel::context_of(carrier);
                if span.is_disabled() {
                    if let Some(cx) = &cx {
                        if !cx.span().is_recording() {
                            shared.set_unrecorded();
                        }
                    }
                }
                cx
            }
        };
        if resend == 0 && shared.records() {
            // The request is the same on every attempt: the first one
            // describes the operation (recorded when it ends).
            let _ = shared.request.set(FirstRequest {
                method: http_method.clone(),
                url: Arc::from(redact_url(url).as_ref()),
                body_size,
            });
        }
        if let Some(cx) = cx {
            otel::inject(&cx, headers);
        }
        if body_size > 0 {
            shared.transferred("upload", body_size);
        }
        Attempt { shared, span }
    }

    /// Records what the attempt got back and wraps the response body.
    fn finish<'a>(
        self,
        sending: BoxFuture<'a, Result<http::Response<ResponseBody>, transport::Error>>,
    ) -> BoxFuture<'a, Result<http::Response<ResponseBody>, transport::Error>> {
        Box::pin(async move {
            match sending.await {
                Ok(response) => {
                    self.record_response(&response);
                    if !response.status().is_success() {
                        // An error document is the pipeline's to read, not
                        // the caller's: it is not counted as downloaded.
                        return Ok(response);
                    }
                    let shared = self.shared;
                    Ok(response.map(|body| {
                        ResponseBody::new(CountedBody {
                            inner: body,
                            shared,
                        })
                    }))
                }
                Err(e) => {
                    Late {
                        error: Some(e.kind().as_str()),
                        ..Late::default()
                    }
                    .record(&self.span, &ATTEMPT_FIELDS);
                    Err(e)
                }
            }
        })
    }

    fn record_response(&self, response: &http::Response<ResponseBody>) {
        let status = response.status();
        let op_on = self.shared.records();
        let attempt_on = !self.span.is_disabled();
        if !(op_on || attempt_on) {
            return;
        }
        let headers = response.headers();
        let request_id = headers
            .get(X_COS_REQUEST_ID)
            .or_else(|| headers.get(X_CLS_REQUESTID))
            .and_then(|v| v.to_str().ok());
        if attempt_on {
            let len = headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok());
            Late {
                status: Some(i64::from(status.as_u16())),
                request_id,
                body_size: len,
                ..Late::default()
            }
            .record(&self.span, &ATTEMPT_FIELDS);
            if status.is_client_error() || status.is_server_error() {
                // The error document is parsed after this: the span stays
                // open until the error it becomes is known, and records it
                // as its `error.type` (the service's code).
                *lock(&self.shared.failed_attempt) = Some(self.span.clone());
            }
        }
        if op_on {
            let mut last = lock(&self.shared.last);
            last.status = Some(status.as_u16());
            last.request_id = request_id.map(str::to_string);
        }
    }
}

/// A response body that counts the bytes the caller reads for its
/// operation (the operation reports them when it ends).
struct CountedBody {
    inner: ResponseBody,
    shared: Arc<Shared>,
}

impl Stream for CountedBody {
    type Item = Result<Bytes, transport::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let poll = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &poll {
            self.shared
                .read
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        poll
    }
}

const X_COS_REQUEST_ID: HeaderName = HeaderName::from_static("x-cos-request-id");
const X_CLS_REQUESTID: HeaderName = HeaderName::from_static("x-cls-requestid");

/// Host and port of an absolute URL (`http://host:port/path`), for
/// `server.address` and `server.port`: the authority after any user info,
/// its port when the part after its last `:` is one (else the scheme's),
/// IPv6 brackets removed. One pass over the authority's bytes: this runs
/// for every observed operation.
pub(super) fn split_host(url: &str) -> (Option<&str>, Option<i64>) {
    let Some(start) = super::redact::scheme_end(url) else {
        return (None, None);
    };
    let bytes = url.as_bytes();
    let (mut host_start, mut colon, mut end) = (start, None, bytes.len());
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        match b {
            b'/' | b'?' | b'#' => {
                end = i;
                break;
            }
            b'@' => {
                host_start = i + 1;
                colon = None;
            }
            b':' => colon = Some(i),
            _ => {}
        }
    }
    let (host, port) = match colon {
        Some(c) => match url[c + 1..end].parse::<u16>() {
            Ok(p) => (&url[host_start..c], Some(p)),
            Err(_) => (&url[host_start..end], None),
        },
        None => (&url[host_start..end], None),
    };
    let port = port.or(match &url[..start - 3] {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ((!host.is_empty()).then_some(host), port.map(i64::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_come_from_the_url() {
        assert_eq!(
            split_host("http://127.0.0.1:9000/b/k?x=1"),
            (Some("127.0.0.1"), Some(9000))
        );
        assert_eq!(
            split_host("https://b-1.cos.ap-guangzhou.myqcloud.com/k"),
            (Some("b-1.cos.ap-guangzhou.myqcloud.com"), Some(443))
        );
        assert_eq!(split_host("http://[::1]:8080/"), (Some("::1"), Some(8080)));
        assert_eq!(split_host("http://u:p@h/"), (Some("h"), Some(80)));
        assert_eq!(split_host("not a url"), (None, None));
        // The authority ends at the path, the query or the fragment; a
        // `:` or `@` after it is not the authority's.
        assert_eq!(split_host("http://h?a=b:1"), (Some("h"), Some(80)));
        assert_eq!(split_host("http://h#x:1"), (Some("h"), Some(80)));
        assert_eq!(split_host("https://h/p:1@x"), (Some("h"), Some(443)));
        assert_eq!(split_host("http://h:81"), (Some("h"), Some(81)));
        // User info with a `:`, the last `@` wins; a port that is not one
        // leaves the whole authority as the host.
        assert_eq!(split_host("http://u:p@h:9/"), (Some("h"), Some(9)));
        assert_eq!(split_host("http://a@b@h:9/"), (Some("h"), Some(9)));
        assert_eq!(split_host("http://h:x/"), (Some("h:x"), Some(80)));
        assert_eq!(split_host("http://h:99999/"), (Some("h:99999"), Some(80)));
        assert_eq!(split_host("http://[::1]/"), (Some("::1"), Some(80)));
        assert_eq!(split_host("ftp://h/"), (Some("h"), None));
        assert_eq!(split_host("http:///p"), (None, Some(80)));
        assert_eq!(split_host("http://:5/"), (None, Some(5)));
    }
}
