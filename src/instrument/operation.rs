//! One operation's span and metric samples, ended by the operation's own
//! `Result`.
//!
//! [`Operation::run`] wraps the whole body of a public client method: the
//! requests it sends, and every check it makes on the answer after the
//! response head. Whatever that body returns is what the span and the
//! duration histogram record, so they cannot disagree with the caller.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use futures_util::future::Either;
use futures_util::Future;
use opentelemetry::KeyValue;
use tracing::field::{Empty, Field, FieldSet, Value};
use tracing::Instrument as _;

use super::direct::{self, DirectSpan};
use super::instruments;
use super::label_values;
use super::schema::{attr, label, RPC_SYSTEM, STATUS_CANCELLED, STATUS_OK};
use super::{OperationInfo, Service};
use crate::transport::PipelineError;

tokio::task_local! {
    /// The operation whose future is being polled, for the attempt
    /// decorator ([`super::TracedSend`]) and the retry hook.
    static CURRENT: Arc<Shared>;
}

/// Metric attributes shared by every sample of one operation, kept in the
/// order the duration histogram takes them, so its sample passes the array
/// as it is. Byte counters take the first three and a direction.
#[derive(Debug)]
struct Labels([KeyValue; 6]);

impl Labels {
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
}

/// What the last attempt got back, copied onto the operation span when it
/// ends (each attribute is recorded once).
#[derive(Debug, Default)]
pub(super) struct LastAttempt {
    pub(super) status: Option<u16>,
    pub(super) request_id: Option<String>,
    pub(super) resends: u32,
}

/// The request of an operation's first attempt, recorded on the operation
/// span when it ends (with the other late attributes, in one pass through
/// the subscriber instead of one per attribute).
#[derive(Debug)]
pub(super) struct FirstRequest {
    pub(super) method: http::Method,
    /// Redacted (see [`redact_url`](super::redact::redact_url)); shared, so
    /// the span's attribute takes it without a copy.
    pub(super) url: Arc<str>,
    pub(super) body_size: u64,
}

/// The part of an operation the attempt decorator and the response body
/// wrapper see.
#[derive(Debug)]
pub(super) struct Shared {
    /// The operation span, when it is a `tracing` span (disabled when
    /// `direct` is set).
    pub(super) span: tracing::Span,
    /// The operation span, when the subscriber asked for it to be created
    /// through the OpenTelemetry API (see [`direct`]).
    pub(super) direct: Option<DirectSpan>,
    service: Service,
    operation: &'static str,
    /// `service`, `operation`, `bucket`: the byte counter's labels.
    transfer: [KeyValue; 3],
    /// Attempts started so far.
    attempts: AtomicU32,
    pub(super) last: Mutex<LastAttempt>,
    /// Response body bytes the caller read from the last attempt.
    pub(super) read: AtomicU64,
    /// The last attempt's span while its answer was an HTTP error: kept
    /// open until the error it became is known (the retry observer or the
    /// operation's end records it as the attempt's `error.type`).
    pub(super) failed_attempt: Mutex<Option<tracing::Span>>,
    /// What the first attempt sent (set once, while the span records).
    pub(super) request: OnceLock<FirstRequest>,
    /// Set when the OpenTelemetry span behind the operation span does not
    /// record (the sampler dropped it): what would only become its
    /// attributes is then neither gathered nor recorded.
    unrecorded: AtomicBool,
}

impl Shared {
    /// The operation being polled on this task, if any.
    pub(super) fn current() -> Option<Arc<Shared>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    /// Whether the operation span's late attributes are worth gathering:
    /// it is enabled and its OpenTelemetry span (if one was looked at)
    /// records.
    pub(super) fn records(&self) -> bool {
        match &self.direct {
            Some(direct) => direct.records(),
            None => !self.span.is_disabled() && !self.unrecorded.load(Ordering::Relaxed),
        }
    }

    /// Notes that the operation span's OpenTelemetry span does not record.
    pub(super) fn set_unrecorded(&self) {
        self.unrecorded.store(true, Ordering::Relaxed);
    }

    /// The operation span's attributes known only at its end: its first
    /// request, its last answer and its outcome.
    fn late<'a>(&'a self, last: &'a LastAttempt, error: Option<&'a str>, read: u64) -> Late<'a> {
        let request = self.request.get();
        let url = request.map(|r| &r.url);
        Late {
            method: request.map(|r| r.method.as_str()),
            host: url.and_then(|u| super::send::split_host(u).0),
            url,
            request_body_size: request.map(|r| r.body_size as i64),
            status: last.status.map(i64::from),
            request_id: last.request_id.as_deref(),
            resend_count: (last.resends > 0).then_some(i64::from(last.resends)),
            // What the caller read of a successful answer's body (also
            // when a check of it failed afterwards).
            body_size: last
                .status
                .filter(|s| (200..300).contains(s))
                .map(|_| read as i64),
            error,
        }
    }

    /// Starts one more attempt: returns how many were made before it.
    pub(super) fn next_attempt(&self) -> u32 {
        let resend = self.attempts.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last) = LastAttempt {
            resends: resend,
            ..LastAttempt::default()
        };
        self.read.store(0, Ordering::Relaxed);
        resend
    }

    /// Counts `n` bytes on `coscls.client.transferred` in `direction`.
    pub(super) fn transferred(&self, direction: &'static str, n: u64) {
        let [s, o, b] = &self.transfer;
        let labels = [
            s.clone(),
            o.clone(),
            b.clone(),
            KeyValue::new(label::DIRECTION, direction),
        ];
        instruments::with(|i| i.transferred.add(n, &labels));
    }

    /// Records `error_type` on the attempt span kept open for it, and ends
    /// that span.
    fn end_failed_attempt(&self, error_type: &str) {
        if let Some(span) = lock(&self.failed_attempt).take() {
            Late {
                error: Some(error_type),
                ..Late::default()
            }
            .record(&span, &ATTEMPT_FIELDS);
        }
    }

    fn record_retry(&self, reason: &'static str) {
        let labels = [
            KeyValue::new(label::SERVICE, self.service.label()),
            KeyValue::new(label::OPERATION, self.operation),
            KeyValue::new(label::REASON, reason),
        ];
        instruments::with(|i| i.retries.add(1, &labels));
    }
}

/// Calls `f` with the span of the operation this task is running, when it
/// is one made through the OpenTelemetry API.
#[cfg(feature = "otlp")]
pub(super) fn with_current(f: impl FnOnce(&DirectSpan)) {
    let _ = CURRENT.try_with(|op| {
        if let Some(direct) = &op.direct {
            f(direct);
        }
    });
}

/// One operation, from the call to its outcome. Dropped without an outcome
/// (the caller dropped the future, or a streamed body before its end), it
/// records `cancelled`.
///
/// An operation nothing would see is *unobserved* and records nothing: no
/// subscriber enables its span (or its attempts' spans), no
/// [`OperationSpans`](direct::OperationSpans) layer is installed, and
/// coscls's metrics go to OpenTelemetry's no-op meter. It then skips its
/// labels, span, task-local scope and attempt decoration: that work has no
/// reader, and on a small GET it was a measurable share of the client's
/// CPU (bench/JOURNAL.md, issue 18).
#[derive(Debug)]
pub(crate) struct Operation(Option<Observed>);

impl Operation {
    /// Opens the operation span as a child of the caller's current span.
    pub(crate) fn start(info: &OperationInfo<'_>) -> Self {
        Operation(Observed::start(info))
    }

    /// Runs `body` as this operation and ends it with the `Result` it
    /// returns: what the caller gets is what the span and the histogram
    /// record.
    ///
    /// One future holds the operation and `body` once (an `async fn` would
    /// keep `body` twice: as its argument and inside what it awaits).
    pub(crate) fn run<T, E, F>(self, body: F) -> impl Future<Output = Result<T, E>>
    where
        E: PipelineError,
        F: Future<Output = Result<T, E>>,
    {
        let body = self.enter(body);
        Ended {
            operation: Some(self),
            body,
        }
    }

    /// [`run`](Self::run) for an outcome that is not a plain client
    /// `Result` (the producer's stop reasons): `error_type` names the
    /// error of a failed outcome, `None` for a success.
    pub(crate) async fn run_judged<T>(
        mut self,
        body: impl Future<Output = T>,
        error_type: impl FnOnce(&T) -> Option<String>,
    ) -> T {
        let outcome = self.enter(body).await;
        if let Some(observed) = &mut self.0 {
            let error = error_type(&outcome);
            observed.complete(error.as_deref());
        }
        outcome
    }

    /// Runs `body` as this operation and, on success, hands the operation
    /// back still open, for a response body that streams to the caller:
    /// the body ends it with what its reader got ([`end`](Self::end)). An
    /// error ends it here.
    pub(crate) fn run_open<T, E, F>(
        self,
        body: F,
    ) -> impl Future<Output = Result<(T, Operation), E>>
    where
        E: PipelineError,
        F: Future<Output = Result<T, E>>,
    {
        let body = self.enter(body);
        Opened {
            operation: Some(self),
            body,
        }
    }

    /// `body` inside the operation span, with the operation reachable by
    /// the attempt decorator; an unobserved operation runs it as it is.
    fn enter<F: Future>(&self, body: F) -> Either<F, impl Future<Output = F::Output>> {
        match &self.0 {
            None => Either::Left(body),
            Some(observed) => Either::Right(CURRENT.scope(
                observed.shared.clone(),
                body.instrument(observed.shared.span.clone()),
            )),
        }
    }

    /// Ends the operation: `None` is a success, `Some` an error whose
    /// [`type_name`](PipelineError::type_name) is `error.type`.
    pub(crate) fn end<E: PipelineError>(self, error: Option<&E>) {
        if let Some(mut observed) = self.0 {
            match error {
                None => observed.complete(None),
                Some(e) => observed.complete(Some(&e.type_name())),
            }
        }
    }

    /// Records that the body of this operation failed its CRC-64 and is
    /// read again: a `checksum_mismatch_retry` event on the operation span
    /// with the attempt about to start, and one `coscls.client.retries`
    /// sample with reason `checksum_mismatch`. Unobserved, only the event
    /// is sent (a subscriber may take events it does not take the span
    /// for).
    pub(crate) fn record_checksum_retry(&self, attempt: u32) {
        match &self.0 {
            Some(observed) => observed.record_checksum_retry(attempt),
            None => tracing::info!(
                target: "coscls",
                parent: None,
                attempt = i64::from(attempt),
                "checksum_mismatch_retry"
            ),
        }
    }
}

/// Whether a subscriber takes attempt spans (target `coscls::attempt`,
/// `DEBUG`; off by default).
fn attempt_spans() -> bool {
    tracing::span_enabled!(target: "coscls::attempt", tracing::Level::DEBUG)
}

/// An observed [`Operation`].
#[derive(Debug)]
struct Observed {
    shared: Arc<Shared>,
    started: Instant,
    /// Boxed: the operation is moved with the futures that carry it
    /// several times per request, and the labels are most of its size.
    labels: Box<Labels>,
    finished: bool,
}

impl Observed {
    /// The operation `info` describes, or `None` when it is unobserved.
    fn start(info: &OperationInfo<'_>) -> Option<Self> {
        // An operation inside another on this task is its child.
        let nested_in = CURRENT
            .try_with(|op| op.direct.as_ref().map(|d| d.context().clone()))
            .ok()
            .flatten();
        if nested_in.is_none() && instruments::noop() && !direct::installed() && !attempt_spans() {
            let span = Self::tracing_span(info);
            if span.is_disabled() {
                return None;
            }
            return Some(Self::with_span(
                info,
                Box::new(Labels::new(info)),
                None,
                span,
            ));
        }
        let labels = Box::new(Labels::new(info));
        let direct = direct::start(
            info,
            nested_in.as_ref(),
            &labels.0[2].value,
            &labels.0[Labels::REGION].value,
        );
        let span = match direct {
            Some(_) => tracing::Span::none(),
            None => Self::tracing_span(info),
        };
        Some(Self::with_span(info, labels, direct, span))
    }

    fn with_span(
        info: &OperationInfo<'_>,
        labels: Box<Labels>,
        direct: Option<DirectSpan>,
        span: tracing::Span,
    ) -> Self {
        let transfer = [
            labels.0[0].clone(),
            labels.0[1].clone(),
            labels.0[2].clone(),
        ];
        Observed {
            shared: Arc::new(Shared {
                span,
                direct,
                service: info.service,
                operation: info.operation,
                transfer,
                attempts: AtomicU32::new(0),
                last: Mutex::new(LastAttempt::default()),
                read: AtomicU64::new(0),
                failed_attempt: Mutex::new(None),
                request: OnceLock::new(),
                unrecorded: AtomicBool::new(false),
            }),
            started: Instant::now(),
            labels,
            finished: false,
        }
    }

    /// The operation span as a `tracing` span, exported through whatever
    /// layers the subscriber has.
    fn tracing_span(info: &OperationInfo<'_>) -> tracing::Span {
        // Known values are given at creation: one pass through the layer
        // instead of one `record` call each. Field values are only
        // evaluated when the span is enabled. The request's own attributes
        // are recorded by the first attempt (see `TracedSend`).
        tracing::info_span!(
            target: "coscls",
            "coscls.operation",
            otel.name = %format_args!("{} {}", info.service.as_str(), info.operation),
            otel.kind = "client",
            otel.status_description = Empty,
            rpc.system = RPC_SYSTEM,
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
            http.request.method = Empty,
            http.response.status_code = Empty,
            server.address = Empty,
            url.full = Empty,
            http.request.body.size = Empty,
            http.response.body.size = Empty,
            http.request.resend_count = Empty,
            error.type = Empty,
        )
    }

    /// Records that the body of this operation failed its CRC-64 and is
    /// read again: a `checksum_mismatch_retry` event on the operation span
    /// with the attempt about to start, and one `coscls.client.retries`
    /// sample with reason `checksum_mismatch`.
    fn record_checksum_retry(&self, attempt: u32) {
        match &self.shared.direct {
            Some(direct) => direct.add_event(
                CHECKSUM_MISMATCH_RETRY,
                vec![KeyValue::new("attempt", i64::from(attempt))],
            ),
            None => tracing::info!(
                target: "coscls",
                parent: &self.shared.span,
                attempt = i64::from(attempt),
                "checksum_mismatch_retry"
            ),
        }
        self.shared.record_retry(CHECKSUM_MISMATCH);
    }

    fn complete(&mut self, error: Option<&str>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let elapsed = self.started.elapsed().as_secs_f64();
        match error {
            Some(kind) => self.shared.end_failed_attempt(kind),
            None => drop(lock(&self.shared.failed_attempt).take()),
        }
        let read = self.shared.read.load(Ordering::Relaxed);
        let span = &self.shared.span;
        if let Some(direct) = &self.shared.direct {
            if direct.records() {
                let last = lock(&self.shared.last);
                direct.end(&self.shared.late(&last, error, read));
            } else {
                direct.end(&Late::default());
            }
        } else if self.shared.records() {
            let last = lock(&self.shared.last);
            self.shared
                .late(&last, error, read)
                .record(span, &OPERATION_FIELDS);
            drop(last);
            // tracing-opentelemetry ends a span at its last exit, which was
            // when the operation's future returned; a streamed body may
            // have been read long after. Stepping in and out makes the end
            // now.
            span.in_scope(|| {});
        }
        if let Some(kind) = error {
            self.labels.0[Labels::STATUS] = KeyValue::new(label::STATUS, kind.to_string());
        }
        let labels = &mut self.labels.0;
        instruments::with(|i| {
            i.duration.record(elapsed, labels);
            if read > 0 {
                // The operation ends here once: its labels are not needed
                // again, so the direction takes the region's slot.
                labels[Labels::REGION] = KeyValue::new(label::DIRECTION, "download");
                i.transferred.add(read, &labels[..=Labels::REGION]);
            }
        });
    }
}

impl Drop for Observed {
    /// An operation dropped without an outcome: its caller stopped waiting
    /// (or stopped reading its body).
    fn drop(&mut self) {
        self.complete(Some(STATUS_CANCELLED));
    }
}

pin_project_lite::pin_project! {
    /// [`Operation::run`]'s future: `body` inside the operation, which
    /// ends with `body`'s result.
    struct Ended<F> {
        operation: Option<Operation>,
        #[pin]
        body: F,
    }
}

impl<T, E: PipelineError, F: Future<Output = Result<T, E>>> Future for Ended<F> {
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.body.poll(cx));
        if let Some(operation) = this.operation.take() {
            operation.end(result.as_ref().err());
        }
        Poll::Ready(result)
    }
}

pin_project_lite::pin_project! {
    /// [`Operation::run_open`]'s future: `body` inside the operation,
    /// which a success hands back open and an error ends.
    struct Opened<F> {
        operation: Option<Operation>,
        #[pin]
        body: F,
    }
}

impl<T, E: PipelineError, F: Future<Output = Result<T, E>>> Future for Opened<F> {
    type Output = Result<(T, Operation), E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // `body` (a task-local scope) panics if polled after it completed,
        // so the operation is still here whenever it completes.
        let result = std::task::ready!(this.body.poll(cx));
        match (result, this.operation.take()) {
            (Ok(value), Some(operation)) => Poll::Ready(Ok((value, operation))),
            (Err(e), operation) => {
                if let Some(operation) = operation {
                    operation.end(Some(&e));
                }
                Poll::Ready(Err(e))
            }
            (Ok(_), None) => unreachable!("an operation's future completed twice"),
        }
    }
}

/// Counts one retry of the current observed operation on
/// `coscls.client.retries` and names the failed attempt's error: the retry
/// observer the clients give their
/// [`Pipeline`](crate::transport::Pipeline::with_retry_observer), called
/// with the reason and error type of each failure retried. Outside an
/// operation it does nothing.
pub(crate) fn record_retry(reason: &'static str, error_type: &str) {
    if let Some(shared) = Shared::current() {
        shared.end_failed_attempt(error_type);
        shared.record_retry(reason);
    }
}

/// The retry reason of a body read again because its CRC-64 disagreed.
pub(crate) const CHECKSUM_MISMATCH: &str = "checksum_mismatch";

/// The operation span's event for a body read again because its CRC-64
/// disagreed.
const CHECKSUM_MISMATCH_RETRY: &str = "checksum_mismatch_retry";

/// Counts a retry that no single operation owns (`download_file` fetching
/// a whole file again) on `coscls.client.retries`, and records the
/// `checksum_mismatch_retry` event in the caller's current span.
pub(crate) fn record_checksum_retry(service: Service, operation: &'static str, attempt: u32) {
    tracing::info!(target: "coscls", attempt = i64::from(attempt), "checksum_mismatch_retry");
    let labels = [
        KeyValue::new(label::SERVICE, service.label()),
        KeyValue::new(label::OPERATION, operation),
        KeyValue::new(label::REASON, CHECKSUM_MISMATCH),
    ];
    instruments::with(|i| i.retries.add(1, &labels));
}

/// The attributes of a span known only after it started, recorded in one
/// `record_all` call (one pass through the subscriber instead of one per
/// attribute). `None` values are not recorded.
#[derive(Debug, Default)]
pub(super) struct Late<'a> {
    /// The request's attributes (the operation span's, from its first
    /// attempt; an attempt span has them from its start).
    pub(super) method: Option<&'a str>,
    pub(super) host: Option<&'a str>,
    /// Shared as the operation keeps it: an OpenTelemetry attribute takes
    /// it without a copy.
    pub(super) url: Option<&'a Arc<str>>,
    pub(super) request_body_size: Option<i64>,
    pub(super) status: Option<i64>,
    pub(super) request_id: Option<&'a str>,
    pub(super) resend_count: Option<i64>,
    pub(super) body_size: Option<i64>,
    /// `error.type`, also the status description (status Error).
    pub(super) error: Option<&'a str>,
}

/// The late fields of one span callsite, looked up once.
#[derive(Debug)]
pub(super) struct LateFields {
    set: &'static FieldSet,
    method: Field,
    host: Field,
    url: Field,
    request_body_size: Field,
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
            method: set.field(attr::HTTP_REQUEST_METHOD)?,
            host: set.field(attr::SERVER_ADDRESS)?,
            url: set.field(attr::URL_FULL)?,
            request_body_size: set.field(attr::HTTP_REQUEST_BODY_SIZE)?,
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
pub(super) static OPERATION_FIELDS: OnceLock<Option<LateFields>> = OnceLock::new();
pub(super) static ATTEMPT_FIELDS: OnceLock<Option<LateFields>> = OnceLock::new();

impl Late<'_> {
    pub(super) fn record(&self, span: &tracing::Span, fields: &OnceLock<Option<LateFields>>) {
        if span.is_disabled() {
            return;
        }
        let Some(f) = fields.get_or_init(|| LateFields::of(span)) else {
            return;
        };
        let url = self.url.map(|u| &**u);
        let values: [(&Field, Option<&dyn Value>); 10] = [
            (&f.method, self.method.as_ref().map(|v| v as &dyn Value)),
            (&f.host, self.host.as_ref().map(|v| v as &dyn Value)),
            (&f.url, url.as_ref().map(|v| v as &dyn Value)),
            (
                &f.request_body_size,
                self.request_body_size.as_ref().map(|v| v as &dyn Value),
            ),
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

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}
