//! The instrumenting layer around one operation: its span, its per-attempt
//! child spans, the `traceparent` header, and its metric samples.
//!
//! The transport pipeline is the only caller; COS and CLS code never touch
//! spans or labels.

use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::KeyValue;
use tracing::field::{Empty, Field, FieldSet, Value};
#[cfg(feature = "otlp")]
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::instruments;
use super::label_values;
use super::redact::redact_url;
use super::schema::{attr, label, STATUS_CANCELLED, STATUS_OK};
use super::OperationInfo;
use crate::transport::{self, PreparedRequest, ResponseBody};

/// Metric attributes shared by every sample of one operation, kept in the
/// order the duration histogram takes them, so its sample passes the array
/// as it is instead of a fresh clone of each value. Byte counters take the
/// first three and a direction.
#[derive(Debug)]
struct Labels([KeyValue; 6]);

impl Labels {
    const SERVICE: usize = 0;
    const OPERATION: usize = 1;
    const BUCKET: usize = 2;
    const REGION: usize = 3;
    const STATUS: usize = 5;

    fn new(info: &OperationInfo<'_>) -> Self {
        let text = |v: Option<&str>| label_values::shared(v.unwrap_or_default());
        Labels([
            KeyValue::new(label::SERVICE, info.service.label()),
            KeyValue::new(label::OPERATION, info.operation),
            KeyValue::new(label::BUCKET, text(info.bucket)),
            KeyValue::new(label::REGION, text(info.region)),
            KeyValue::new(label::TOPIC, text(info.topic)),
            // Set when the operation ends.
            KeyValue::new(label::STATUS, STATUS_OK),
        ])
    }

    fn get(&self, slot: usize) -> KeyValue {
        self.0[slot].clone()
    }

    /// The byte counter's labels for `direction`.
    fn transfer(&self, direction: &'static str) -> [KeyValue; 4] {
        [
            self.get(Self::SERVICE),
            self.get(Self::OPERATION),
            self.get(Self::BUCKET),
            KeyValue::new(label::DIRECTION, direction),
        ]
    }
}

/// What the last attempt sent and got, copied onto the operation span when
/// it ends (each attribute is recorded once).
#[derive(Debug, Default)]
struct LastAttempt {
    status: Option<u16>,
    request_id: Option<String>,
    resends: u32,
}

/// Lives for the duration of one operation (including the reading of a
/// streamed body); records its span and metrics.
#[derive(Debug)]
pub(crate) struct OperationGuard {
    span: tracing::Span,
    started: Instant,
    labels: Labels,
    last: Mutex<LastAttempt>,
    finished: bool,
}

impl OperationGuard {
    /// Opens the operation span as a child of the caller's current span.
    pub(crate) fn start(info: &OperationInfo<'_>, request: Option<&PreparedRequest>) -> Self {
        // Known values are given at creation: one pass through the layer
        // instead of one `record` call each. The request is the same on every
        // attempt, so the first one describes the operation.
        // Field values are only evaluated when the span is enabled.
        let span = tracing::info_span!(
            target: "coscls",
            "coscls.operation",
            otel.name = %format_args!("{} {}", info.service.as_str(), info.operation),
            otel.kind = "client",
            otel.status_description = Empty,
            cloud.provider = "tencent_cloud",
            cloud.region = info.region,
            rpc.service = info.service.as_str(),
            rpc.method = info.operation,
            tencent_cloud.cos.bucket = info.bucket,
            tencent_cloud.cos.key = info.key,
            tencent_cloud.cos.upload_id = info.upload_id,
            tencent_cloud.cos.part_number = info.part_number,
            tencent_cloud.cls.topic_id = info.topic,
            tencent_cloud.request_id = Empty,
            http.request.method = request.map(|r| r.method.as_str()),
            http.response.status_code = Empty,
            server.address = request.and_then(|r| split_host(&r.url).0),
            url.full = request.map(|r| redact_url(&r.url)).as_deref(),
            http.request.body.size = request.map(|r| r.body.len() as i64),
            http.response.body.size = Empty,
            http.request.resend_count = Empty,
            error.type = Empty,
        );
        OperationGuard {
            span,
            started: Instant::now(),
            labels: Labels::new(info),
            last: Mutex::new(LastAttempt::default()),
            finished: false,
        }
    }

    /// The operation span, for instrumenting the attempts.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Counts one retry of this operation (`coscls.client.retries`); the
    /// retry loop calls it with the reason of the failure it retries.
    pub(crate) fn record_retry(&self, reason: &'static str) {
        let labels = [
            self.labels.get(Labels::SERVICE),
            self.labels.get(Labels::OPERATION),
            KeyValue::new(label::REASON, reason),
        ];
        instruments::with(|i| i.retries.add(1, &labels));
    }

    /// Opens the child span of one HTTP attempt (`resend` is 0 on the first
    /// try). The span is not entered: it names the request in `traceparent`
    /// and ends when the response head arrived.
    ///
    /// Attempt spans are `DEBUG` (target `coscls::attempt`): opt-in, since
    /// they roughly double what tracing costs per operation, while retries
    /// stay visible without them (retry events and
    /// `http.request.resend_count` on the operation span).
    pub(crate) fn attempt(&self, request: &PreparedRequest, resend: u32) -> Attempt {
        let method = request.method.as_str();
        let body_size = request.body.len();
        let span = tracing::debug_span!(
            target: "coscls::attempt",
            parent: &self.span,
            "coscls.attempt",
            otel.name = method,
            otel.kind = "client",
            otel.status_description = Empty,
            http.request.method = method,
            server.address = split_host(&request.url).0,
            server.port = split_host(&request.url).1,
            url.full = redact_url(&request.url).as_ref(),
            http.request.body.size = body_size as i64,
            http.request.resend_count = (resend > 0).then_some(i64::from(resend)),
            http.response.status_code = Empty,
            http.response.body.size = Empty,
            tencent_cloud.request_id = Empty,
            error.type = Empty,
        );
        // What the operation span reports comes from the last attempt only.
        *lock(&self.last) = LastAttempt {
            resends: resend,
            ..LastAttempt::default()
        };
        let fallback = span.is_disabled().then(|| self.span.clone());
        Attempt {
            span,
            fallback,
            request_size: body_size,
        }
    }

    /// Records what one attempt got back: the status, request id and body
    /// length on its span, the request bytes on the transfer counter.
    pub(crate) fn record_response(
        &self,
        attempt: &Attempt,
        response: &http::Response<ResponseBody>,
    ) {
        let status = response.status().as_u16();
        let op_on = !self.span.is_disabled();
        let attempt_on = !attempt.span.is_disabled();
        if op_on || attempt_on {
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
                    status: Some(i64::from(status)),
                    request_id,
                    body_size: len,
                    ..Late::default()
                }
                .record(&attempt.span, &ATTEMPT_FIELDS);
            }
            if op_on {
                let mut last = lock(&self.last);
                last.status = Some(status);
                last.request_id = request_id.map(str::to_string);
            }
        }
        if attempt.request_size > 0 {
            let labels = self.labels.transfer("upload");
            instruments::with(|i| i.transferred.add(attempt.request_size, &labels));
        }
    }

    /// Ends the operation with its outcome (`Err` carries the error type).
    pub(crate) fn finish(mut self, outcome: Result<(), &str>) {
        self.complete(outcome, None);
    }

    /// Ends the operation when `body` has been read to the end, failed, or
    /// been dropped; counts the bytes the caller read. A reader that checks
    /// the body after its last byte takes [`ResponseBody::defer_outcome`]
    /// and settles the operation with its verdict.
    pub(crate) fn finish_with_body(self, body: ResponseBody) -> ResponseBody {
        let outcome = BodyOutcome(Arc::new(Mutex::new(OutcomeState {
            guard: Some(self),
            deferred: false,
            read: 0,
        })));
        body.metered(outcome)
    }

    fn complete(&mut self, outcome: Result<(), &str>, response_bytes: Option<u64>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let elapsed = self.started.elapsed().as_secs_f64();
        if !self.span.is_disabled() {
            self.record_summary(outcome, response_bytes);
            // tracing-opentelemetry ends a span at its last exit, which was
            // when the request future returned; the body may have been read
            // long after. Stepping in and out makes the end now.
            self.span.in_scope(|| {});
        }
        if let Err(kind) = outcome {
            self.labels.0[Labels::STATUS] = KeyValue::new(label::STATUS, kind.to_string());
        }
        let downloaded = response_bytes.filter(|n| *n > 0);
        let labels = &mut self.labels.0;
        instruments::with(|i| {
            i.duration.record(elapsed, labels);
            if let Some(n) = downloaded {
                // The operation ends here once: its labels are not needed
                // again, so the direction takes the region's slot instead of
                // a copy of the first three.
                labels[Labels::REGION] = KeyValue::new(label::DIRECTION, "download");
                i.transferred.add(n, &labels[..=Labels::REGION]);
            }
        });
    }

    fn record_summary(&self, outcome: Result<(), &str>, response_bytes: Option<u64>) {
        let last = lock(&self.last);
        Late {
            status: last.status.map(i64::from),
            request_id: last.request_id.as_deref(),
            resend_count: (last.resends > 0).then_some(i64::from(last.resends)),
            body_size: response_bytes.map(|n| n as i64),
            error: outcome.err(),
        }
        .record(&self.span, &OPERATION_FIELDS);
    }
}

/// The attributes of a span known only after it started, recorded in one
/// `record_all` call (one pass through the subscriber instead of one per
/// attribute). `None` values are not recorded.
#[derive(Debug, Default)]
struct Late<'a> {
    status: Option<i64>,
    request_id: Option<&'a str>,
    resend_count: Option<i64>,
    body_size: Option<i64>,
    /// `error.type`, also the status description (status Error).
    error: Option<&'a str>,
}

/// The late fields of one span callsite, looked up once.
#[derive(Debug)]
struct LateFields {
    set: &'static FieldSet,
    status: Field,
    request_id: Field,
    resend_count: Field,
    body_size: Field,
    error: Field,
    description: Field,
}

impl LateFields {
    fn of(span: &tracing::Span) -> Option<Self> {
        let set = span.metadata()?.fields();
        Some(LateFields {
            set,
            status: set.field(attr::HTTP_RESPONSE_STATUS_CODE)?,
            request_id: set.field(attr::REQUEST_ID)?,
            resend_count: set.field(attr::HTTP_REQUEST_RESEND_COUNT)?,
            body_size: set.field(attr::HTTP_RESPONSE_BODY_SIZE)?,
            error: set.field(attr::ERROR_TYPE)?,
            description: set.field("otel.status_description")?,
        })
    }
}

/// Late fields of the operation span and of the attempt span (one callsite each).
static OPERATION_FIELDS: OnceLock<Option<LateFields>> = OnceLock::new();
static ATTEMPT_FIELDS: OnceLock<Option<LateFields>> = OnceLock::new();

impl Late<'_> {
    fn record(&self, span: &tracing::Span, fields: &OnceLock<Option<LateFields>>) {
        if span.is_disabled() {
            return;
        }
        let Some(f) = fields.get_or_init(|| LateFields::of(span)) else {
            return;
        };
        let values: [(&Field, Option<&dyn Value>); 6] = [
            (&f.status, self.status.as_ref().map(|v| v as &dyn Value)),
            (
                &f.request_id,
                self.request_id.as_ref().map(|v| v as &dyn Value),
            ),
            (
                &f.resend_count,
                self.resend_count.as_ref().map(|v| v as &dyn Value),
            ),
            (
                &f.body_size,
                self.body_size.as_ref().map(|v| v as &dyn Value),
            ),
            (&f.error, self.error.as_ref().map(|v| v as &dyn Value)),
            (&f.description, self.error.as_ref().map(|v| v as &dyn Value)),
        ];
        span.record_all(&f.set.value_set(&values));
    }
}

impl Drop for OperationGuard {
    /// A guard dropped unfinished means the caller dropped the operation's
    /// future: it is recorded as `cancelled`.
    fn drop(&mut self) {
        self.complete(Err(STATUS_CANCELLED), None);
    }
}

/// One HTTP attempt of an operation.
#[derive(Debug)]
pub(crate) struct Attempt {
    span: tracing::Span,
    /// The operation span, when the attempt span itself is disabled.
    fallback: Option<tracing::Span>,
    request_size: u64,
}

impl Attempt {
    /// Adds W3C `traceparent` (and `tracestate`) naming this attempt's span,
    /// so a server-side trace can join. Called after signing, so the header
    /// is never part of the signature. Nothing is added when no OpenTelemetry
    /// layer records the span.
    pub(crate) fn inject_trace_context(&self, headers: &mut HeaderMap) {
        // When the attempt span is filtered out, name the operation instead.
        let carrier = self.fallback.as_ref().unwrap_or(&self.span);
        if carrier.is_disabled() {
            return;
        }
        #[cfg(feature = "otlp")]
        let cx = carrier.context();
        // Without the `otlp` feature no span has an OpenTelemetry context.
        #[cfg(not(feature = "otlp"))]
        let cx = opentelemetry::Context::new();
        let otel_span = cx.span();
        let sc = otel_span.span_context();
        if !sc.is_valid() {
            return;
        }
        let traceparent = traceparent(
            sc.trace_id().to_bytes(),
            sc.span_id().to_bytes(),
            sc.trace_flags().to_u8(),
        );
        if let Ok(v) = HeaderValue::from_bytes(&traceparent) {
            headers.insert(TRACEPARENT, v);
        }
        let state = sc.trace_state().header();
        if !state.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&state) {
                headers.insert(TRACESTATE, v);
            }
        }
    }

    /// Marks the attempt failed with `error_type`.
    pub(crate) fn fail(&self, error_type: &str) {
        Late {
            error: Some(error_type),
            ..Late::default()
        }
        .record(&self.span, &ATTEMPT_FIELDS);
    }
}

const X_COS_REQUEST_ID: HeaderName = HeaderName::from_static("x-cos-request-id");
const X_CLS_REQUESTID: HeaderName = HeaderName::from_static("x-cls-requestid");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// `00-<trace id>-<span id>-<flags>`, lower-case hex (W3C Trace Context).
fn traceparent(trace_id: [u8; 16], span_id: [u8; 8], flags: u8) -> [u8; 55] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 55];
    out[0] = b'0';
    out[1] = b'0';
    let mut put = |at: usize, bytes: &[u8]| {
        for (i, b) in bytes.iter().enumerate() {
            out[at + 2 * i] = HEX[usize::from(b >> 4)];
            out[at + 2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
    };
    put(3, &trace_id);
    put(36, &span_id);
    put(53, &[flags]);
    out
}

/// Host and port of an absolute URL (`http://host:port/path`), for
/// `server.address` and `server.port`.
fn split_host(url: &str) -> (Option<&str>, Option<i64>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (None, None);
    };
    let end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => match p.parse::<u16>() {
            Ok(p) => (h, Some(p)),
            Err(_) => (authority, None),
        },
        None => (authority, None),
    };
    let port = port.or(match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ((!host.is_empty()).then_some(host), port.map(i64::from))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The retry reason of a body read again because its CRC-64 disagreed.
pub(crate) const CHECKSUM_MISMATCH: &str = "checksum_mismatch";

/// Counts a retry that no single operation owns (`download_file` fetching
/// a whole file again) on `coscls.client.retries`, and records the
/// `checksum_mismatch_retry` event in the caller's current span.
pub(crate) fn record_checksum_retry(
    service: super::Service,
    operation: &'static str,
    attempt: u32,
) {
    tracing::info!(target: "coscls", attempt = i64::from(attempt), "checksum_mismatch_retry");
    let labels = [
        KeyValue::new(label::SERVICE, service.label()),
        KeyValue::new(label::OPERATION, operation),
        KeyValue::new(label::REASON, CHECKSUM_MISMATCH),
    ];
    instruments::with(|i| i.retries.add(1, &labels));
}

/// How the operation of a streamed response body ends: shared by the
/// [`InstrumentedBody`] and, when it defers, the reader that verifies the
/// body after its end (COS CRC-64).
#[derive(Debug, Clone)]
pub(crate) struct BodyOutcome(Arc<Mutex<OutcomeState>>);

#[derive(Debug)]
struct OutcomeState {
    /// Present while the operation is open.
    guard: Option<OperationGuard>,
    /// The end of the body does not end the operation: the reader settles it.
    deferred: bool,
    /// Bytes the caller read, once the body ended.
    read: u64,
}

impl BodyOutcome {
    /// At the end of the body, waits for [`settle`](Self::settle) (or the
    /// body's drop) instead of ending the operation as a success.
    pub(crate) fn defer(&self) {
        lock(&self.0).deferred = true;
    }

    /// Ends the operation with the reader's verdict (`Err` carries
    /// `error.type`). Does nothing if the operation already ended (a
    /// transport error ended it first).
    pub(crate) fn settle(&self, outcome: Result<(), &str>) {
        let mut state = lock(&self.0);
        let read = state.read;
        if let Some(mut guard) = state.guard.take() {
            guard.complete(outcome, Some(read));
        }
    }

    /// Records, before the operation is settled, that its body failed the
    /// checksum and is read again: a `checksum_mismatch_retry` event on the
    /// operation span with the attempt about to start, and one
    /// `coscls.client.retries` sample with reason `checksum_mismatch`.
    pub(crate) fn record_checksum_retry(&self, attempt: u32) {
        let state = lock(&self.0);
        if let Some(guard) = &state.guard {
            tracing::info!(
                target: "coscls",
                parent: &guard.span,
                attempt = i64::from(attempt),
                "checksum_mismatch_retry"
            );
            guard.record_retry(CHECKSUM_MISMATCH);
        }
    }

    /// Ends the operation unless it ended already.
    fn end(&self, outcome: Result<(), &str>, read: u64, body_ended: bool) {
        let mut state = lock(&self.0);
        if body_ended && state.deferred {
            state.read = read;
            return;
        }
        if let Some(mut guard) = state.guard.take() {
            guard.complete(outcome, Some(read));
        }
    }
}

/// Watches a response body for its operation: counts the bytes read and
/// ends the operation when the body ends, fails, or is dropped. It lives
/// inside the [`ResponseBody`] rather than wrapping its stream, so metering
/// costs no second boxed stream.
pub(crate) struct BodyMeter {
    outcome: BodyOutcome,
    read: u64,
    /// Until the body ended or failed.
    open: bool,
}

impl BodyMeter {
    /// A meter that ends `outcome`'s operation.
    pub(crate) fn new(outcome: BodyOutcome) -> Self {
        BodyMeter {
            outcome,
            read: 0,
            open: true,
        }
    }

    /// Called with every poll result of the body.
    pub(crate) fn observe(&mut self, poll: &Poll<Option<Result<Bytes, transport::Error>>>) {
        if !self.open {
            return;
        }
        match poll {
            Poll::Ready(Some(Ok(chunk))) => self.read += chunk.len() as u64,
            Poll::Ready(Some(Err(e))) => {
                self.open = false;
                self.outcome.end(Err(e.kind().as_str()), self.read, false);
            }
            Poll::Ready(None) => {
                self.open = false;
                self.outcome.end(Ok(()), self.read, true);
            }
            Poll::Pending => {}
        }
    }
}

impl std::fmt::Debug for BodyMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyMeter")
            .field("read", &self.read)
            .field("open", &self.open)
            .finish()
    }
}

impl Drop for BodyMeter {
    /// A body dropped before its end (or before a deferring reader settled)
    /// still ends the operation: the response was a success, the caller
    /// chose to stop reading.
    fn drop(&mut self) {
        self.outcome.end(Ok(()), self.read, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_the_w3c_layout() {
        let tp = traceparent(
            [0xab; 16],
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
            1,
        );
        assert_eq!(
            std::str::from_utf8(&tp).unwrap(),
            "00-abababababababababababababababab-0123456789abcdef-01"
        );
    }

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
    }
}
