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

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use coscls::auth::{BoxFuture, Credentials, ProvideCredentials};
use coscls::cos::{self, Client, GetOptions, ListOptions};
use coscls::transport::retry::RetryPolicy;
use coscls::transport::ErrorKind;
use futures_util::StreamExt;
use support::recorder::Recorder;
use support::scripted::{ok, status, Reply, Scripted};

/// A credentials provider that always fails.
#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide(&self) -> BoxFuture<'_, Result<Credentials, coscls::auth::Error>> {
        Box::pin(async { Credentials::new("", "") })
    }
}

struct World {
    recorder: Recorder,
    script: Arc<Scripted>,
    cos: Client,
    cos_no_creds: Client,
    cls: coscls::cls::Client,
    /// Rows that disagreed, with the first disagreement of each.
    failures: Mutex<Vec<String>>,
}

impl World {
    fn new() -> World {
        let recorder = Recorder::install();
        let script = Scripted::replies();
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
            recorder,
            script,
            cos,
            cos_no_creds,
            cls,
            failures: Mutex::new(Vec::new()),
        }
    }
}

/// One row's verdict: the caller's outcome (`None` = Ok, `Some(type)` = the
/// error's `error.type`), checked against the span and the histogram by
/// [`Recorder::assert_outcome`]; a disagreement is kept, so one run names
/// every row that disagrees.
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
        world
            .recorder
            .assert_outcome(row, span_name, label_key, label, got, expected)
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

/// The table runs once for each way coscls makes its operation spans:
/// `tracing` spans exported through the `tracing-opentelemetry` bridge, and
/// spans made with the OpenTelemetry API for a subscriber that carries
/// `OperationSpans` (what `telemetry::init` installs).
#[tokio::test(flavor = "current_thread")]
async fn span_status_error_type_and_histogram_agree_with_the_result() {
    let world = World::new();
    {
        let _subscriber = world.recorder.set_default();
        outcome_table(&world, "b").await;
    }
    {
        let _subscriber = world.recorder.set_default_direct();
        outcome_table(&world, "d").await;
    }
    both_ways_make_the_same_span(&world).await;
    // Each run made its spans the way it meant to: the bridge with the
    // recorder's tracer, the direct way with coscls's own scope.
    for (mode, scope) in [("b", "coscls-tests"), ("d", "coscls")] {
        let first = world
            .recorder
            .op_span("COS PutObject", &format!("{mode}row1-1250000000"));
        assert_eq!(first.instrumentation_scope.name(), scope, "run {mode}");
    }
    let failures = world.failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} rows disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every row, with buckets and topics marked by `mode` (one letter) so the
/// two runs' spans and samples are told apart.
async fn outcome_table(world: &World, mode: &str) {
    let data: &[u8] = b"hello outcome table";
    let good = || vec![crc_header(data), ("etag", "\"e\"".to_string())];
    let mut n = 0;
    let mut bucket = || {
        n += 1;
        format!("{mode}row{n}-1250000000")
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
            world,
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
        world,
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
        world,
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
        world,
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
            world,
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
            world,
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
        world,
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
        world,
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
        world,
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
            world,
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
            world,
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
            world,
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
            world,
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
        let topic = format!("0000000{i}-aaaa-bbbb-cccc-{mode}ddddddddddd");
        world.script.load(replies);
        let logs = coscls::cls::LogGroupList {
            log_group_list: vec![coscls::cls::LogGroup {
                logs: vec![coscls::cls::Log::now().field("msg", "row")],
                ..Default::default()
            }],
        };
        let r = world.cls.put_logs(&topic, &logs).await.map(|_| ());
        let got = r.as_ref().err().map(coscls::cls::Error::type_name);
        check_row(world, row, "CLS UploadLog", "topic", &topic, got, expected);
    }
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

/// The two ways of making the operation span give the same span (one
/// PutObject each): name,
/// kind, status and every attribute (the bucket aside). The recorder's
/// bridge is `tracing-opentelemetry` with its defaults, which adds timing,
/// thread, code location and target attributes of its own (coscls's
/// `telemetry::layer` turns them off): those are left out.
async fn both_ways_make_the_same_span(world: &World) {
    let data: &[u8] = b"parity";
    let mut spans = Vec::new();
    for mode in ["b", "d"] {
        let _subscriber = if mode == "b" {
            world.recorder.set_default()
        } else {
            world.recorder.set_default_direct()
        };
        let bucket = format!("parity{mode}-1250000000");
        world.script.load(vec![ok(
            vec![crc_header(data), ("etag", "\"e\"".into())],
            "",
        )]);
        world
            .cos
            .put_object(&bucket, "dir/k.txt", Bytes::from_static(data))
            .await
            .unwrap();
        spans.push(world.recorder.op_span("COS PutObject", &bucket));
    }
    let described = |s: &opentelemetry_sdk::trace::SpanData| {
        let mut attributes: Vec<(String, String)> = s
            .attributes
            .iter()
            .filter(|kv| kv.key.as_str() != "tencent_cloud.cos.bucket")
            .filter(|kv| {
                let k = kv.key.as_str();
                !(BRIDGE_DEFAULTS.contains(&k)
                    || k.starts_with("code.")
                    || k.starts_with("thread."))
            })
            .map(|kv| {
                let v = kv.value.to_string();
                let v = v
                    .replace("parityb-", "parity-")
                    .replace("parityd-", "parity-");
                (kv.key.to_string(), v)
            })
            .collect();
        attributes.sort();
        (
            s.name.to_string(),
            format!("{:?}", s.span_kind),
            format!("{:?}", s.status),
            attributes,
        )
    };
    const BRIDGE_DEFAULTS: [&str; 3] = ["busy_ns", "idle_ns", "target"];
    let (bridge, direct) = (described(&spans[0]), described(&spans[1]));
    assert!(bridge.3.len() >= 12, "a full span: {:?}", bridge.3);
    assert_eq!(bridge, direct);
    assert_eq!(spans[0].instrumentation_scope.name(), "coscls-tests");
    assert_eq!(spans[1].instrumentation_scope.name(), "coscls");
}
