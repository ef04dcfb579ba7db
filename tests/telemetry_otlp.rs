//! Telemetry end to end over OTLP/gRPC: client operations run against a
//! local HTTP server standing in for COS, the spans and metrics are exported by
//! `coscls::telemetry` to an in-test OTLP receiver (tonic server on the
//! official protobuf definitions), and the tests assert what arrived.
//!
//! One `TelemetryGuard` serves the whole binary (metrics instruments are
//! process-wide); each test uses its own bucket name and filters on it.

#![cfg(feature = "otlp")]

mod support;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use coscls::auth::Credentials;
use coscls::cos;
use coscls::telemetry::schema::DURATION_BOUNDARIES;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span};
use support::otlp::{
    assert_cos_duration_labels, assert_cos_span_attributes, fake_cos_client, int_attr, keys,
    string_attr, unique_bucket, wait_for, FakeCos, Shared, Spans,
};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

const SECRET_KEY: &str = "test-secret-KEY-9f8e7d6c";
const TOKEN: &str = "sts-token-XYZ-123456";

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| Shared::grpc("coscls-telemetry-test"))
}

/// A client of the stand-in at `addr` in `region`, with session
/// credentials, trying `max_attempts` times.
fn client(addr: std::net::SocketAddr, region: &str, max_attempts: u32) -> cos::Client {
    let creds = Credentials::new("AKIDtest", SECRET_KEY)
        .unwrap()
        .with_session_token(TOKEN)
        .unwrap();
    fake_cos_client(addr, region, creds, max_attempts)
}

/// Every case below runs twice: with coscls's operation spans made as
/// `tracing` spans and exported through the `tracing-opentelemetry` bridge,
/// and made through the OpenTelemetry API (`OperationSpans`, what
/// `telemetry::init` installs). Both must export the same thing.
macro_rules! both_ways {
    ($($case:ident),* $(,)?) => {
        mod bridge {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Spans::Bridge).await
                }
            )*
        }
        mod direct {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Spans::Direct).await
                }
            )*
        }
    };
}

both_ways!(
    a_put_exports_operation_and_attempt_spans_traceparent_and_metrics,
    a_streamed_get_object_keeps_the_operation_open_until_read_or_dropped,
    a_cancelled_operation_is_recorded_as_cancelled,
    no_exported_byte_or_log_line_contains_the_secret_token_or_signature,
    under_the_default_info_filter_there_are_no_attempt_spans_and_traceparent_names_the_operation,
    attempt_spans_are_opted_in_with_debug_for_coscls_attempt,
);

/// Every attribute is recorded once (the SDK would export duplicates).
fn assert_unique_keys(span: &Span) {
    let k = keys(&span.attributes);
    let mut d = k.clone();
    d.dedup();
    assert_eq!(k, d, "duplicate attribute keys on {}", span.name);
}

async fn a_put_exports_operation_and_attempt_spans_traceparent_and_metrics(spans: Spans) {
    let s = shared();
    let cos = FakeCos::start(0).await;
    let bucket = unique_bucket("put");
    let _subscriber = s.subscribe_with(spans);

    let app = tracing::info_span!("app.upload");
    let url_path = format!("/{bucket}/dir/a%20b.txt");
    let body = Bytes::from(vec![7u8; 4096]);
    client(cos.addr, "ap-guangzhou", 4)
        .put_object(&bucket, "dir/a b.txt", body)
        .instrument(app.clone())
        .await
        .expect("put succeeds");
    drop(app);
    s.guard.force_flush().unwrap();

    let op = s.receiver.first_span_on("COS PutObject", &bucket).await;
    assert_eq!(op.kind, SpanKind::Client as i32);
    let app_span = s
        .receiver
        .spans()
        .into_iter()
        .find(|x| x.name == "app.upload" && x.span_id == op.parent_span_id)
        .expect("the operation span is a child of the caller's span");
    assert_eq!(app_span.trace_id, op.trace_id);

    let a = &op.attributes;
    assert_cos_span_attributes(a, "PutObject", "dir/a b.txt");
    assert!(string_attr(a, "tencent_cloud.request_id").is_some_and(|id| id.starts_with("req-")));
    assert_eq!(
        string_attr(a, "http.request.method").as_deref(),
        Some("PUT")
    );
    assert_eq!(int_attr(a, "http.response.status_code"), Some(200));
    assert_eq!(int_attr(a, "http.request.body.size"), Some(4096));
    assert_eq!(int_attr(a, "http.response.body.size"), Some(0));
    assert_eq!(
        string_attr(a, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        string_attr(a, "url.full"),
        Some(format!("http://{}{url_path}", cos.addr))
    );
    assert_eq!(
        int_attr(a, "http.request.resend_count"),
        None,
        "first try: no resend count"
    );
    assert_eq!(string_attr(a, "error.type"), None);
    assert_ne!(
        op.status.as_ref().map(|st| st.code),
        Some(StatusCode::Error as i32)
    );
    for unwanted in [
        "code.file.path",
        "thread.id",
        "target",
        "busy_ns",
        "idle_ns",
        "level",
    ] {
        assert_eq!(
            support::otlp::attr(a, unwanted),
            None,
            "{unwanted} must not be exported"
        );
    }

    let attempts = s.receiver.children_of(&op);
    assert_eq!(attempts.len(), 1, "one attempt span");
    let attempt = &attempts[0];
    assert_eq!(attempt.name, "PUT");
    assert_eq!(attempt.kind, SpanKind::Client as i32);
    assert_eq!(
        int_attr(&attempt.attributes, "http.response.status_code"),
        Some(200)
    );
    assert_eq!(
        int_attr(&attempt.attributes, "server.port"),
        Some(i64::from(cos.addr.port()))
    );

    // The server saw a W3C traceparent naming the attempt span, unsigned.
    let seen = cos.seen();
    assert_eq!(seen.len(), 1);
    let traceparent = seen[0]
        .headers
        .get("traceparent")
        .expect("traceparent sent");
    assert_eq!(
        traceparent,
        &format!(
            "00-{}-{}-01",
            hex::encode(&op.trace_id),
            hex::encode(&attempt.span_id)
        )
    );
    let authorization = &seen[0].headers["authorization"];
    assert!(!authorization.contains("traceparent"), "{authorization}");

    // Histogram: one sample with the documented label set and boundaries.
    let points = s.receiver.duration_points_on(&bucket).await;
    assert_eq!(points.len(), 1, "{points:?}");
    let point = &points[0];
    assert_cos_duration_labels(&point.attributes);
    assert_eq!(
        string_attr(&point.attributes, "operation").as_deref(),
        Some("PutObject")
    );
    assert_eq!(
        string_attr(&point.attributes, "region").as_deref(),
        Some("ap-guangzhou")
    );
    assert_eq!(
        string_attr(&point.attributes, "status").as_deref(),
        Some("ok")
    );
    assert_eq!(point.count, 1);
    assert_eq!(point.explicit_bounds, DURATION_BOUNDARIES.to_vec());
    assert_eq!(point.bucket_counts.iter().sum::<u64>(), 1);

    let upload = s.receiver.sum_points(
        "coscls.client.transferred",
        &[("bucket", &bucket), ("direction", "upload")],
    );
    assert_eq!(upload.len(), 1);
    assert_eq!(
        keys(&upload[0].attributes),
        ["bucket", "direction", "operation", "service"]
    );
    assert_eq!(
        upload[0].value,
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(4096))
    );
    assert!(s
        .receiver
        .service_names()
        .iter()
        .any(|n| n == "coscls-telemetry-test"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_span_events_and_a_final_failure_marks_the_span_and_the_metric() {
    // The retry counter has no bucket label: the two ways run one after the
    // other here, and each adds its two retries to the process-wide count.
    retries(Spans::Bridge, 2).await;
    retries(Spans::Direct, 4).await;
}

/// An UploadPart answered 503 three times, with `spans`; `retried` is the
/// UploadPart `slow_down` retry count expected afterwards.
async fn retries(spans: Spans, retried: i64) {
    let s = shared();
    let cos = FakeCos::start(0).await;
    let bucket = unique_bucket("retry");
    let _subscriber = s.subscribe_with(spans);

    // The stand-in answers 503 SlowDown under `/slow`.
    let err = client(cos.addr, "ap-beijing", 3)
        .upload_part(
            &bucket,
            "slow/big.bin",
            "upload-1",
            3,
            Bytes::from_static(b"part"),
            &Default::default(),
        )
        .await
        .expect_err("503 three times");
    assert_eq!(err.code(), Some("SlowDown"));
    assert_eq!(cos.seen().len(), 3);
    s.guard.force_flush().unwrap();

    let op = s.receiver.first_span_on("COS UploadPart", &bucket).await;
    let status = op.status.clone().expect("status set");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(
        string_attr(&op.attributes, "error.type").as_deref(),
        Some("SlowDown")
    );
    assert_eq!(
        int_attr(&op.attributes, "http.response.status_code"),
        Some(503)
    );
    assert_eq!(
        int_attr(&op.attributes, "http.request.resend_count"),
        Some(2)
    );
    assert_eq!(
        string_attr(&op.attributes, "tencent_cloud.cos.upload_id").as_deref(),
        Some("upload-1")
    );
    assert_eq!(
        int_attr(&op.attributes, "tencent_cloud.cos.part_number"),
        Some(3)
    );
    let retries: Vec<_> = op
        .events
        .iter()
        .filter(|e| e.name == "retrying after a transient failure")
        .collect();
    assert_eq!(retries.len(), 2, "{:?}", op.events);
    assert_eq!(
        string_attr(&retries[0].attributes, "reason").as_deref(),
        Some("slow_down")
    );

    assert_unique_keys(&op);
    let attempts = s.receiver.children_of(&op);
    assert_eq!(attempts.len(), 3);
    for (n, a) in attempts.iter().enumerate() {
        assert_eq!(a.name, "PUT");
        assert_eq!(
            a.status.as_ref().map(|st| st.code),
            Some(StatusCode::Error as i32)
        );
        assert_eq!(
            string_attr(&a.attributes, "error.type").as_deref(),
            Some("SlowDown")
        );
        assert_eq!(
            int_attr(&a.attributes, "http.response.status_code"),
            Some(503)
        );
        let expected = if n == 0 { None } else { Some(n as i64) };
        assert_eq!(
            int_attr(&a.attributes, "http.request.resend_count"),
            expected
        );
    }
    // Each attempt carried its own span in traceparent.
    let sent: Vec<String> = cos
        .seen()
        .iter()
        .map(|r| r.headers["traceparent"].clone())
        .collect();
    for (a, tp) in attempts.iter().zip(&sent) {
        assert!(tp.contains(&hex::encode(&a.span_id)), "{tp}");
    }

    let points = s.receiver.duration_points_on(&bucket).await;
    assert_eq!(points.len(), 1);
    assert_eq!(
        string_attr(&points[0].attributes, "status").as_deref(),
        Some("SlowDown")
    );
    assert_eq!(points[0].count, 1);
    let counted = s.receiver.sum_points(
        "coscls.client.retries",
        &[("operation", "UploadPart"), ("reason", "slow_down")],
    );
    assert_eq!(counted.len(), 1);
    assert_eq!(
        keys(&counted[0].attributes),
        ["operation", "reason", "service"]
    );
    assert_eq!(
        counted[0].value,
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(retried))
    );
}

/// A streamed `get_object` keeps its operation open until the body is read
/// (the span ends after the read, with the body size, and the download
/// counter counts it); dropped unread, the operation ends as `cancelled`.
async fn a_streamed_get_object_keeps_the_operation_open_until_read_or_dropped(spans: Spans) {
    let s = shared();
    let bucket = unique_bucket("get");
    let emulator = coscls_emulator::Emulator::builder()
        .bucket(&bucket)
        .start()
        .await
        .unwrap();
    let client = cos::Client::builder()
        .region("ap-guangzhou")
        .endpoint(emulator.endpoint())
        .credentials(
            coscls::auth::Credentials::new(
                coscls_emulator::DEFAULT_SECRET_ID,
                coscls_emulator::DEFAULT_SECRET_KEY,
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    client
        .put_object(&bucket, "obj", vec![7u8; 65536])
        .await
        .unwrap();
    let _subscriber = s.subscribe_with(spans);

    let out = client.get_object(&bucket, "obj").await.unwrap();
    s.guard.force_flush().unwrap();
    // The flush has delivered every closed span: this one must still be open.
    assert!(
        s.receiver.spans_on("COS GetObject", &bucket).is_empty(),
        "the span must stay open while the body is unread"
    );
    let before_read = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let body = out.body.bytes().await.unwrap();
    assert_eq!(body.len(), 65536);
    s.guard.force_flush().unwrap();
    let op = s.receiver.first_span_on("COS GetObject", &bucket).await;
    assert_eq!(
        int_attr(&op.attributes, "http.response.body.size"),
        Some(65536)
    );
    assert_eq!(string_attr(&op.attributes, "error.type"), None);
    assert!(
        op.end_time_unix_nano >= before_read,
        "the span ends when the body was read, not when the response head arrived"
    );
    let download = s.receiver.sum_points(
        "coscls.client.transferred",
        &[
            ("bucket", &bucket),
            ("direction", "download"),
            ("operation", "GetObject"),
        ],
    );
    assert_eq!(download.len(), 1);
    assert_eq!(
        keys(&download[0].attributes),
        ["bucket", "direction", "operation", "service"]
    );
    assert_eq!(
        download[0].value,
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(65536))
    );

    // Dropped unread: the caller never got the object, so the operation
    // ends as cancelled.
    let other = unique_bucket("drop");
    client.create_bucket(&other).await.unwrap();
    client
        .put_object(&other, "obj", vec![1u8; 4096])
        .await
        .unwrap();
    let out = client.get_object(&other, "obj").await.unwrap();
    drop(out);
    s.guard.force_flush().unwrap();
    let op = s.receiver.first_span_on("COS GetObject", &other).await;
    assert_eq!(
        string_attr(&op.attributes, "error.type").as_deref(),
        Some("cancelled")
    );
}

async fn a_cancelled_operation_is_recorded_as_cancelled(spans: Spans) {
    let s = shared();
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            h.lock().unwrap().push(stream);
        }
    });
    let bucket = unique_bucket("cancel");
    let _subscriber = s.subscribe_with(spans);
    let c = client(addr, "ap-guangzhou", 1);
    let outcome =
        tokio::time::timeout(Duration::from_millis(300), c.get_object(&bucket, "obj")).await;
    assert!(outcome.is_err(), "the server never answers");
    s.guard.force_flush().unwrap();
    let op = s.receiver.first_span_on("COS GetObject", &bucket).await;
    assert_eq!(
        string_attr(&op.attributes, "error.type").as_deref(),
        Some("cancelled")
    );
    wait_for("the cancelled sample", || {
        !s.receiver
            .histogram_points(
                "coscls.client.operation.duration",
                &[("bucket", &bucket), ("status", "cancelled")],
            )
            .is_empty()
    })
    .await;
}

/// Collects everything the `fmt` layer writes.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn no_exported_byte_or_log_line_contains_the_secret_token_or_signature(spans: Spans) {
    let s = shared();
    let cos = FakeCos::start(16).await;
    let bucket = unique_bucket("secret");
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .with_ansi(false),
        )
        .with(s.guard.layer())
        .with(s.operation_spans(spans));
    let _subscriber = tracing::subscriber::set_default(subscriber);

    // The session token travels in a header, the signature in
    // `authorization`: neither may reach telemetry. The PUT is answered 503
    // (under `/slow`), so it is retried.
    let c = client(cos.addr, "ap-guangzhou", 2);
    c.get_object(&bucket, "k")
        .await
        .expect("get")
        .body
        .bytes()
        .await
        .expect("body");
    c.put_object(&bucket, "slow/k", Bytes::from_static(b"data"))
        .await
        .expect_err("503 twice");
    s.guard.force_flush().unwrap();
    wait_for("both spans", || {
        !s.receiver.spans_on("COS GetObject", &bucket).is_empty()
            && !s.receiver.spans_on("COS PutObject", &bucket).is_empty()
    })
    .await;

    let op = s.receiver.spans_on("COS GetObject", &bucket).remove(0);
    let url = string_attr(&op.attributes, "url.full").unwrap();
    assert_eq!(url, format!("http://{}/{bucket}/k", cos.addr));
    // No client operation sends a presigned-style query; the redaction that
    // url.full goes through is checked on one here.
    let presigned = format!(
        "{url}?q-ak=AKIDtest&q-signature=querysig0123456789abcdef&x-cos-security-token={TOKEN}"
    );
    assert_eq!(
        coscls::telemetry::redact_url(&presigned),
        format!("{url}?q-ak=REDACTED&q-signature=REDACTED&x-cos-security-token=REDACTED")
    );

    let mut forbidden: Vec<String> = vec![SECRET_KEY.into(), TOKEN.into()];
    for req in cos.seen() {
        let auth = &req.headers["authorization"];
        let sig = auth
            .split('&')
            .find_map(|kv| kv.strip_prefix("q-signature="))
            .expect("signed request");
        forbidden.push(sig.to_string());
    }
    let exports = s.receiver.raw_exports();
    assert!(!exports.is_empty());
    for bytes in &exports {
        for secret in &forbidden {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "an export contains {secret:?}"
            );
        }
    }
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("retrying"),
        "the retry was logged: {logged}"
    );
    for secret in &forbidden {
        assert!(
            !logged.contains(secret.as_str()),
            "a log line contains {secret:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_tracing_layer_no_traceparent_is_sent_and_metrics_still_flow() {
    let s = shared();
    let cos = FakeCos::start(0).await;
    let bucket = unique_bucket("nolayer");
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry());
    put_one_byte(&cos, &bucket).await;
    assert!(!cos.seen()[0].headers.contains_key("traceparent"));
    s.guard.force_flush().unwrap();
    s.receiver.duration_points_on(&bucket).await;
}

/// PutObject `k` of one byte in `bucket`, one attempt.
async fn put_one_byte(cos: &FakeCos, bucket: &str) {
    client(cos.addr, "ap-guangzhou", 1)
        .put_object(bucket, "k", Bytes::from_static(b"x"))
        .await
        .unwrap();
}

/// One PutObject under `filter`: its operation span, the operation's
/// child spans, and the `traceparent` the server saw.
async fn put_under_filter(spans: Spans, filter: &str, prefix: &str) -> (Span, Vec<Span>, String) {
    let s = shared();
    let cos = FakeCos::start(0).await;
    let bucket = unique_bucket(prefix);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(filter))
        .with(s.guard.layer())
        .with(s.operation_spans(spans));
    let _subscriber = tracing::subscriber::set_default(subscriber);
    put_one_byte(&cos, &bucket).await;
    s.guard.force_flush().unwrap();
    let op = s.receiver.first_span_on("COS PutObject", &bucket).await;
    let children = s.receiver.children_of(&op);
    let tp = cos.seen()[0].headers["traceparent"].clone();
    (op, children, tp)
}

async fn under_the_default_info_filter_there_are_no_attempt_spans_and_traceparent_names_the_operation(
    spans: Spans,
) {
    // `info` is what `init()` installs without RUST_LOG; attempt spans are DEBUG.
    for (filter, prefix) in [("info", "info"), ("info,coscls::attempt=off", "noattempt")] {
        let (op, children, tp) = put_under_filter(spans, filter, prefix).await;
        assert!(children.is_empty(), "no attempt spans under {filter}");
        assert_eq!(
            int_attr(&op.attributes, "http.response.status_code"),
            Some(200)
        );
        assert_eq!(int_attr(&op.attributes, "http.request.body.size"), Some(1));
        assert_unique_keys(&op);
        assert_eq!(
            tp,
            format!(
                "00-{}-{}-01",
                hex::encode(&op.trace_id),
                hex::encode(&op.span_id)
            )
        );
    }
}

async fn attempt_spans_are_opted_in_with_debug_for_coscls_attempt(spans: Spans) {
    let (op, children, tp) =
        put_under_filter(spans, "info,coscls::attempt=debug", "attempts").await;
    assert_eq!(children.len(), 1, "one attempt span");
    let attempt = &children[0];
    assert_eq!(attempt.name, "PUT");
    assert_eq!(
        int_attr(&attempt.attributes, "http.response.status_code"),
        Some(200)
    );
    assert_eq!(
        tp,
        format!(
            "00-{}-{}-01",
            hex::encode(&op.trace_id),
            hex::encode(&attempt.span_id)
        )
    );
}
