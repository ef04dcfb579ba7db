//! The outcome table: for every operation family and every `error.type`
//! it can end with, the operation span (status and `error.type`) and the
//! duration histogram's `status` agree with the `Result` the caller got.
//!
//! The transport is scripted (each row says what the "server" answers), the
//! spans go to an in-memory exporter through `tracing-opentelemetry`, the
//! metrics to an in-memory metric exporter. Each row uses its own bucket
//! (or topic), so its span and histogram point are found by that label.
//!
//! The spans are read through the `tracing-opentelemetry` bridge, which
//! only the `otlp` feature (on by default) brings.
#![cfg(feature = "otlp")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use coscls::auth::{BoxFuture, Credentials, ProvideCredentials};
use coscls::cos::{self, Client, GetOptions, ListOptions};
use coscls::transport::retry::RetryPolicy;
use coscls::transport::{self as transport, ErrorKind, HttpSend, RequestBody, ResponseBody};
use futures_util::StreamExt;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry::Value;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;

/// What the scripted server does with one request.
#[derive(Debug, Clone)]
enum Reply {
    /// Answers with a status, headers and a body.
    Answer {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Bytes,
    },
    /// Answers 200 and then breaks off the body after `body`.
    Broken { len: u64, body: Bytes },
    /// Fails below HTTP.
    Fail(ErrorKind),
    /// Never answers.
    Hang,
}

fn ok(headers: Vec<(&'static str, String)>, body: &'static str) -> Reply {
    Reply::Answer {
        status: 200,
        headers,
        body: Bytes::from_static(body.as_bytes()),
    }
}

fn status(status: u16, body: &'static str) -> Reply {
    Reply::Answer {
        status,
        headers: vec![("content-type", "application/xml".into())],
        body: Bytes::from_static(body.as_bytes()),
    }
}

/// Answers each request with the next scripted reply.
#[derive(Debug, Default)]
struct Scripted(Mutex<VecDeque<Reply>>);

impl Scripted {
    fn load(&self, replies: Vec<Reply>) {
        *self.0.lock().unwrap() = replies.into();
    }
}

impl HttpSend for Scripted {
    fn send(
        &self,
        _request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, transport::Error>> {
        let reply = self
            .0
            .lock()
            .unwrap()
            .pop_front()
            .expect("a scripted reply");
        Box::pin(async move {
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
                        Err(transport::Error::new(ErrorKind::Body, "connection reset")),
                    ]);
                    Ok(http::Response::builder()
                        .status(200)
                        .header("content-length", len.to_string())
                        .body(ResponseBody::new(chunks))
                        .unwrap())
                }
                Reply::Fail(kind) => Err(transport::Error::new(kind, "scripted failure")),
                Reply::Hang => std::future::pending().await,
            }
        })
    }
}

/// A credentials provider that always fails.
#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide(&self) -> BoxFuture<'_, Result<Credentials, coscls::auth::Error>> {
        Box::pin(async { Credentials::new("", "") })
    }
}

struct World {
    spans: InMemorySpanExporter,
    tracer: SdkTracerProvider,
    metrics: InMemoryMetricExporter,
    meter: SdkMeterProvider,
    script: Arc<Scripted>,
    cos: Client,
    cos_no_creds: Client,
    cls: coscls::cls::Client,
    /// Rows that disagreed, with the first disagreement of each.
    failures: Mutex<Vec<String>>,
}

impl World {
    fn new() -> World {
        let spans = InMemorySpanExporter::default();
        let tracer = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        let metrics = InMemoryMetricExporter::default();
        let meter = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        coscls::telemetry::set_meter(&meter.meter("coscls"));
        let script = Arc::new(Scripted::default());
        let cos_with = |creds: Arc<dyn ProvideCredentials>| {
            Client::builder()
                .region("ap-guangzhou")
                .endpoint("http://127.0.0.1:9")
                .credentials_provider(creds)
                .transport(script.clone())
                .retry_policy(RetryPolicy::none())
                .build()
                .unwrap()
        };
        let cos = cos_with(Arc::new(Credentials::new("AKIDrow", "row-secret").unwrap()));
        let cos_no_creds = cos_with(Arc::new(NoCredentials));
        let cls = coscls::cls::Client::builder()
            .region("ap-guangzhou")
            .endpoint("http://127.0.0.1:9")
            .credentials(Credentials::new("AKIDrow", "row-secret").unwrap())
            .transport(script.clone())
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        World {
            spans,
            tracer,
            metrics,
            meter,
            script,
            cos,
            cos_no_creds,
            cls,
            failures: Mutex::new(Vec::new()),
        }
    }

    /// The operation span of the row whose bucket or topic is `label`.
    fn span(&self, name: &str, label: &str) -> SpanData {
        let _ = self.tracer.force_flush();
        let spans = self.spans.get_finished_spans().unwrap();
        let mut found: Vec<SpanData> = spans
            .into_iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                s.attributes.iter().any(|kv| {
                    (kv.key.as_str() == "tencent_cloud.cos.bucket"
                        || kv.key.as_str() == "tencent_cloud.cls.topic_id")
                        && kv.value == Value::from(label.to_string())
                })
            })
            .collect();
        assert_eq!(found.len(), 1, "one {name} span for {label}");
        found.remove(0)
    }

    /// The `status` of every duration sample of the row's label, with counts.
    fn duration_statuses(&self, label_key: &str, label: &str) -> Vec<(String, u64)> {
        self.meter.force_flush().unwrap();
        let exported = self.metrics.get_finished_metrics().unwrap();
        let last = exported.last().expect("metrics exported");
        let mut out = Vec::new();
        for scope in last.scope_metrics() {
            for metric in scope.metrics() {
                if metric.name() != "coscls.client.operation.duration" {
                    continue;
                }
                let AggregatedMetrics::F64(MetricData::Histogram(h)) = metric.data() else {
                    panic!("the duration is an f64 histogram");
                };
                for point in h.data_points() {
                    let attr = |k: &str| {
                        point
                            .attributes()
                            .find(|kv| kv.key.as_str() == k)
                            .map(|kv| kv.value.to_string())
                    };
                    if attr(label_key).as_deref() == Some(label) {
                        out.push((attr("status").unwrap_or_default(), point.count()));
                    }
                }
            }
        }
        out
    }
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// One row's verdict: the caller's outcome (`None` = Ok, `Some(type)` = the
/// error's `error.type`), checked against the span and the histogram.
/// Checks one row (see [`check_row_now`]); a disagreement is kept, so one
/// run names every row that disagrees.
fn check_row(
    world: &World,
    row: &str,
    span_name: &str,
    label_key: &str,
    label: &str,
    got: Option<String>,
    expected: Option<&str>,
) {
    let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_row_now(world, row, span_name, label_key, label, got, expected)
    }));
    if let Err(panic) = checked {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        world.failures.lock().unwrap().push(message);
    }
}

/// One row's verdict: the caller's outcome (`None` = Ok, `Some(type)` = the
/// error's `error.type`), checked against the span and the histogram.
fn check_row_now(
    world: &World,
    row: &str,
    span_name: &str,
    label_key: &str,
    label: &str,
    got: Option<String>,
    expected: Option<&str>,
) {
    assert_eq!(
        got.as_deref(),
        expected,
        "{row}: the caller got what the row scripts"
    );
    let span = world.span(span_name, label);
    assert_eq!(
        attr(&span, "error.type"),
        got,
        "{row}: the span's error.type is the caller's"
    );
    match &got {
        None => assert!(
            !matches!(span.status, Status::Error { .. }),
            "{row}: a success is not an error span: {:?}",
            span.status
        ),
        Some(kind) => assert!(
            matches!(&span.status, Status::Error { description } if description == kind),
            "{row}: an error span naming {kind}: {:?}",
            span.status
        ),
    }
    let status = got.clone().unwrap_or_else(|| "ok".to_string());
    assert_eq!(
        world.duration_statuses(label_key, label),
        vec![(status, 1)],
        "{row}: one duration sample with the caller's status"
    );
    assert_eq!(
        attr(&span, "rpc.system").as_deref(),
        Some("tencent_cloud-api"),
        "{row}: rpc.system"
    );
}

fn crc_header(data: &[u8]) -> (&'static str, String) {
    ("x-cos-hash-crc64ecma", crc64(data).to_string())
}

/// CRC-64/XZ (ECMA-182, reflected), as COS computes it.
fn crc64(data: &[u8]) -> u64 {
    const POLY: u64 = 0xC96C_5795_D787_0F42;
    let mut crc = !0u64;
    for &b in data {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn type_of<T>(r: &Result<T, cos::Error>) -> Option<String> {
    r.as_ref().err().map(cos::Error::type_name)
}

const NO_SUCH_KEY: &str =
    "<?xml version='1.0'?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
const ERROR_IN_200: &str =
    "<?xml version='1.0'?><Error><Code>InternalError</Code><Message>late</Message></Error>";

#[tokio::test(flavor = "current_thread")]
async fn span_status_error_type_and_histogram_agree_with_the_result() {
    let world = World::new();
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(world.tracer.tracer("outcomes"))),
    );
    let data: &[u8] = b"hello outcome table";
    let good = || vec![crc_header(data), ("etag", "\"e\"".to_string())];
    let mut n = 0;
    let mut bucket = || {
        n += 1;
        format!("row{n}-1250000000")
    };

    // PutObject.
    let put_rows: Vec<(&str, Vec<Reply>, Option<&str>)> = vec![
        ("put ok", vec![ok(good(), "")], None),
        // The issue's reproducer: a wrong CRC-64 in the answer.
        (
            "put wrong crc",
            vec![ok(vec![("x-cos-hash-crc64ecma", "12345".into())], "")],
            Some("checksum_mismatch"),
        ),
        (
            "put malformed crc",
            vec![ok(
                vec![("x-cos-hash-crc64ecma", "not-a-number".into())],
                "",
            )],
            Some("protocol"),
        ),
        (
            "put 403",
            vec![status(403, "<Error><Code>AccessDenied</Code></Error>")],
            Some("AccessDenied"),
        ),
        (
            "put connect",
            vec![Reply::Fail(ErrorKind::Connect)],
            Some("connect"),
        ),
        (
            "put timeout",
            vec![Reply::Fail(ErrorKind::Timeout)],
            Some("timeout"),
        ),
        (
            "put request",
            vec![Reply::Fail(ErrorKind::Request)],
            Some("request"),
        ),
        (
            "put invalid request",
            vec![Reply::Fail(ErrorKind::InvalidRequest)],
            Some("invalid_request"),
        ),
    ];
    for (row, replies, expected) in put_rows {
        let b = bucket();
        world.script.load(replies);
        let r = world.cos.put_object(&b, "k", data).await;
        check_row(
            &world,
            row,
            "COS PutObject",
            "bucket",
            &b,
            type_of(&r),
            expected,
        );
    }
    // Bad input found inside the operation, and credentials that fail.
    let b = bucket();
    let r = world.cos.put_object(&b, "", data).await;
    check_row(
        &world,
        "put bad key",
        "COS PutObject",
        "bucket",
        &b,
        type_of(&r),
        Some("invalid_input"),
    );
    let b = bucket();
    let r = world.cos_no_creds.put_object(&b, "k", data).await;
    check_row(
        &world,
        "put no credentials",
        "COS PutObject",
        "bucket",
        &b,
        type_of(&r),
        Some("credentials"),
    );
    // The caller stops waiting.
    let b = bucket();
    world.script.load(vec![Reply::Hang]);
    let r = tokio::time::timeout(
        Duration::from_millis(20),
        world.cos.put_object(&b, "k", data),
    )
    .await;
    assert!(r.is_err(), "the scripted server never answers");
    check_row(
        &world,
        "put cancelled",
        "COS PutObject",
        "bucket",
        &b,
        Some("cancelled".into()),
        Some("cancelled"),
    );

    // GetObject, read whole.
    let damaged = Bytes::from_static(b"hello 0utcome table");
    let get_rows: Vec<(&str, Vec<Reply>, Option<&str>)> = vec![
        ("get ok", vec![ok(good(), "hello outcome table")], None),
        ("get 404", vec![status(404, NO_SUCH_KEY)], Some("NoSuchKey")),
        (
            "get damaged",
            vec![Reply::Answer {
                status: 200,
                headers: good(),
                body: damaged.clone(),
            }],
            Some("checksum_mismatch"),
        ),
        (
            "get short",
            vec![Reply::Broken {
                len: data.len() as u64,
                body: Bytes::from_static(b"hello"),
            }],
            Some("body"),
        ),
        (
            "get 206 to a whole read",
            vec![Reply::Answer {
                status: 206,
                headers: good(),
                body: Bytes::from_static(data),
            }],
            Some("protocol"),
        ),
    ];
    for (row, replies, expected) in get_rows.clone() {
        let b = bucket();
        world.script.load(replies);
        let r = match world.cos.get_object(&b, "k").await {
            Ok(out) => out.body.bytes().await.map(|_| ()),
            Err(e) => Err(e),
        };
        check_row(
            &world,
            row,
            "COS GetObject",
            "bucket",
            &b,
            type_of(&r),
            expected,
        );
    }

    // GetObject, streamed chunk by chunk.
    for (row, replies, expected) in get_rows {
        let b = bucket();
        world.script.load(replies);
        let r = match world.cos.get_object(&b, "k").await {
            Ok(out) => {
                let mut body = out.body;
                let mut r = Ok(());
                while let Some(chunk) = body.next().await {
                    if let Err(e) = chunk {
                        r = Err(e);
                    }
                }
                r
            }
            Err(e) => Err(e),
        };
        check_row(
            &world,
            &format!("streamed {row}"),
            "COS GetObject",
            "bucket",
            &b,
            type_of(&r),
            expected,
        );
    }
    // A streamed body dropped before its end.
    let b = bucket();
    world.script.load(vec![ok(good(), "hello outcome table")]);
    let out = world.cos.get_object(&b, "k").await.unwrap();
    drop(out);
    check_row(
        &world,
        "streamed dropped",
        "COS GetObject",
        "bucket",
        &b,
        Some("cancelled".into()),
        Some("cancelled"),
    );
    // A streamed body whose writer fails.
    let b = bucket();
    world.script.load(vec![ok(good(), "hello outcome table")]);
    let out = world.cos.get_object(&b, "k").await.unwrap();
    let r = out.body.write_to(&mut FailingWriter).await.map(|_| ());
    check_row(
        &world,
        "streamed write fails",
        "COS GetObject",
        "bucket",
        &b,
        type_of(&r),
        Some("io"),
    );
    // A ranged read answered with another range.
    let b = bucket();
    world.script.load(vec![Reply::Answer {
        status: 206,
        headers: vec![("content-range", format!("bytes 5-9/{}", data.len()))],
        body: Bytes::from_static(b"o out"),
    }]);
    let opts = GetOptions::default().range(cos::ByteRange::new(0, 4).unwrap());
    let r = world.cos.get_object_with(&b, "k", &opts).await.map(|_| ());
    check_row(
        &world,
        "get wrong range",
        "COS GetObject",
        "bucket",
        &b,
        type_of(&r),
        Some("protocol"),
    );

    // UploadPart.
    let part_rows: Vec<(&str, Vec<Reply>, Option<&str>)> = vec![
        ("part ok", vec![ok(good(), "")], None),
        (
            "part wrong crc",
            vec![ok(
                vec![
                    ("x-cos-hash-crc64ecma", "1".into()),
                    ("etag", "\"e\"".into()),
                ],
                "",
            )],
            Some("checksum_mismatch"),
        ),
        (
            "part no etag",
            vec![ok(vec![crc_header(data)], "")],
            Some("protocol"),
        ),
        (
            "part 404",
            vec![status(404, "<Error><Code>NoSuchUpload</Code></Error>")],
            Some("NoSuchUpload"),
        ),
    ];
    for (row, replies, expected) in part_rows {
        let b = bucket();
        world.script.load(replies);
        let r = world
            .cos
            .upload_part(&b, "k", "upload-1", 1, data, &Default::default())
            .await
            .map(|_| ());
        check_row(
            &world,
            row,
            "COS UploadPart",
            "bucket",
            &b,
            type_of(&r),
            expected,
        );
    }

    // CompleteMultipartUpload.
    let part = cos::CompletedPart::new(1, "\"e\"", data.len() as u64, crc64(data));
    let complete_ok =
        "<CompleteMultipartUploadResult><ETag>\"m\"</ETag></CompleteMultipartUploadResult>";
    let complete_rows: Vec<(&str, Vec<Reply>, Option<&str>)> = vec![
        (
            "complete ok",
            vec![ok(vec![crc_header(data)], complete_ok)],
            None,
        ),
        (
            "complete error in a 200",
            vec![ok(vec![], ERROR_IN_200)],
            Some("InternalError"),
        ),
        (
            "complete bad xml",
            vec![ok(
                vec![crc_header(data)],
                "<CompleteMultipartUploadResult><ETag>",
            )],
            Some("protocol"),
        ),
        (
            "complete wrong crc",
            vec![ok(vec![("x-cos-hash-crc64ecma", "7".into())], complete_ok)],
            Some("checksum_mismatch"),
        ),
    ];
    for (row, replies, expected) in complete_rows {
        let b = bucket();
        world.script.load(replies);
        let r = world
            .cos
            .complete_multipart_upload(&b, "k", "upload-1", std::slice::from_ref(&part))
            .await
            .map(|_| ());
        check_row(
            &world,
            row,
            "COS CompleteMultipartUpload",
            "bucket",
            &b,
            type_of(&r),
            expected,
        );
    }

    // CopyObject.
    let copy_rows: Vec<(&str, Vec<Reply>, Option<&str>)> = vec![
        (
            "copy ok",
            vec![ok(
                vec![],
                "<CopyObjectResult><ETag>\"c\"</ETag></CopyObjectResult>",
            )],
            None,
        ),
        (
            "copy error in a 200",
            vec![ok(vec![], ERROR_IN_200)],
            Some("InternalError"),
        ),
        (
            "copy bad xml",
            vec![ok(vec![], "<CopyObjectResult><ETag>")],
            Some("protocol"),
        ),
        (
            "copy bad crc",
            vec![ok(
                vec![],
                "<CopyObjectResult><CRC64>x1</CRC64></CopyObjectResult>",
            )],
            Some("protocol"),
        ),
    ];
    for (row, replies, expected) in copy_rows {
        let b = bucket();
        world.script.load(replies);
        let r = world
            .cos
            .copy_object("src-1250000000", "a", &b, "k", &Default::default())
            .await
            .map(|_| ());
        check_row(
            &world,
            row,
            "COS CopyObject",
            "bucket",
            &b,
            type_of(&r),
            expected,
        );
    }

    // ListObjects.
    let list_ok =
        "<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated></ListBucketResult>";
    let list_rows: Vec<(&str, Vec<Reply>, Option<&str>)> = vec![
        ("list ok", vec![ok(vec![], list_ok)], None),
        (
            "list bad xml",
            vec![ok(vec![], "<ListBucketResult><Name>")],
            Some("protocol"),
        ),
        (
            "list 403",
            vec![status(403, "<Error><Code>AccessDenied</Code></Error>")],
            Some("AccessDenied"),
        ),
        (
            "list timeout",
            vec![Reply::Fail(ErrorKind::Timeout)],
            Some("timeout"),
        ),
    ];
    for (row, replies, expected) in list_rows {
        let b = bucket();
        world.script.load(replies);
        let r = world
            .cos
            .list_objects(&b, &ListOptions::default())
            .await
            .map(|_| ());
        check_row(
            &world,
            row,
            "COS ListObjects",
            "bucket",
            &b,
            type_of(&r),
            expected,
        );
    }

    // CLS UploadLog.
    let cls_rows: Vec<(&str, Vec<Reply>, Option<&str>)> = vec![
        ("upload ok", vec![ok(vec![], "")], None),
        (
            "upload 403",
            vec![Reply::Answer {
                status: 403,
                headers: vec![("content-type", "application/json".into())],
                body: Bytes::from_static(br#"{"errorcode":"Unauthorized","errormessage":"no"}"#),
            }],
            Some("Unauthorized"),
        ),
        (
            "upload connect",
            vec![Reply::Fail(ErrorKind::Connect)],
            Some("connect"),
        ),
    ];
    for (i, (row, replies, expected)) in cls_rows.into_iter().enumerate() {
        let topic = format!("0000000{i}-aaaa-bbbb-cccc-dddddddddddd");
        world.script.load(replies);
        let logs = coscls::cls::LogGroupList {
            log_group_list: vec![coscls::cls::LogGroup {
                logs: vec![coscls::cls::Log::now().field("msg", "row")],
                ..Default::default()
            }],
        };
        let r = world.cls.put_logs(&topic, &logs).await.map(|_| ());
        let got = r.as_ref().err().map(coscls::cls::Error::type_name);
        check_row(&world, row, "CLS UploadLog", "topic", &topic, got, expected);
    }

    let failures = world.failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} rows disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A writer that refuses every byte.
struct FailingWriter;

impl tokio::io::AsyncWrite for FailingWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        _buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Err(std::io::Error::other("disk full")))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
