//! Telemetry of real COS and CLS client operations against the embedded emulator,
//! exported over OTLP/gRPC to an in-test receiver: span names, parent/child
//! links, attributes, error status, retries, histogram points, and no secret
//! in any exported byte.

#![cfg(feature = "otlp")]

mod support;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use coscls::auth::Credentials;
use coscls::cls::{Log, LogGroup, LogGroupList};
use coscls::cos::{Client, PutOptions};
use coscls::telemetry::schema::DURATION_BOUNDARIES;
use coscls::transport::retry::RetryPolicy;
use coscls::transport::HttpSend;
use coscls_emulator::{Emulator, FaultConfig};
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, Span};
use support::otlp::{
    assert_cos_duration_labels, assert_cos_span_attributes, attr, int_attr, is_error, string_attr,
    unique_bucket, wait_for, Shared,
};
use support::scripted::{Act, Rule, Scripted, When};
use tracing::Instrument;

const SECRET_ID: &str = "AKIDtelemetry";
const SECRET_KEY: &str = "telemetry-secret-KEY-5e4d3c2b";
const STS_ID: &str = "AKIDsts";
const STS_KEY: &str = "sts-secret-KEY-0a9b8c7d";
const STS_TOKEN: &str = "sts-session-token-77aa88bb99cc";

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| Shared::grpc("coscls-clients-test"))
}

async fn emulator(bucket: &str) -> Emulator {
    Emulator::builder()
        .credentials(SECRET_ID, SECRET_KEY)
        .temporary_credentials(STS_ID, STS_KEY, STS_TOKEN)
        .bucket(bucket)
        .start()
        .await
        .expect("emulator starts")
}

fn cos_client(emu: &Emulator, credentials: Credentials, transport: Arc<dyn HttpSend>) -> Client {
    Client::builder()
        .region("ap-guangzhou")
        .endpoint(emu.endpoint())
        .credentials(credentials)
        .transport(transport)
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(4)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cos_operations_export_spans_and_metrics_to_the_collector() {
    let s = shared();
    let bucket = unique_bucket("cos");
    let emu = emulator(&bucket).await;
    let transport = Scripted::forward();
    let client = cos_client(
        &emu,
        Credentials::new(SECRET_ID, SECRET_KEY).unwrap(),
        transport.clone(),
    );
    let _subscriber = s.subscribe();

    let app = tracing::info_span!("app.sync");
    async {
        let body = vec![42u8; 4096];
        client
            .put_object(&bucket, "docs/a.txt", body.clone())
            .await
            .unwrap();
        let got = client.get_object(&bucket, "docs/a.txt").await.unwrap();
        assert_eq!(got.body.bytes().await.unwrap().len(), 4096);
        let missing = client
            .get_object(&bucket, "docs/missing.txt")
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Some("NoSuchKey"));
        emu.set_faults(FaultConfig {
            fail_next: 2,
            error_status: 503,
            ..Default::default()
        })
        .unwrap();
        client
            .put_object(&bucket, "docs/b.txt", body)
            .await
            .unwrap();
        let upload = client
            .create_multipart_upload(&bucket, "big.bin", &PutOptions::default())
            .await
            .unwrap();
        client
            .upload_part(
                &bucket,
                "big.bin",
                &upload,
                3,
                vec![1u8; 1024],
                &PutOptions::default(),
            )
            .await
            .unwrap();
        client
            .abort_multipart_upload(&bucket, "big.bin", &upload)
            .await
            .unwrap();
    }
    .instrument(app.clone())
    .await;
    drop(app);
    s.guard.force_flush().unwrap();

    wait_for("the COS spans", || {
        s.receiver
            .spans_on("COS AbortMultipartUpload", &bucket)
            .len()
            == 1
    })
    .await;
    let app_span = s
        .receiver
        .spans()
        .into_iter()
        .find(|x| x.name == "app.sync" && !s.receiver.children_of(x).is_empty())
        .expect("the caller's span");
    let ops: Vec<String> = s
        .receiver
        .children_of(&app_span)
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        ops,
        [
            "COS PutObject",
            "COS GetObject",
            "COS GetObject",
            "COS PutObject",
            "COS InitiateMultipartUpload",
            "COS UploadPart",
            "COS AbortMultipartUpload"
        ],
        "every operation is a child of the caller's span, in order"
    );

    let puts = s.receiver.spans_on("COS PutObject", &bucket);
    let put = &puts[0];
    assert_eq!(put.kind, SpanKind::Client as i32);
    let a = &put.attributes;
    assert_cos_span_attributes(a, "PutObject", "docs/a.txt");
    assert_eq!(int_attr(a, "http.response.status_code"), Some(200));
    assert_eq!(int_attr(a, "http.request.body.size"), Some(4096));
    assert_eq!(
        string_attr(a, "http.request.method").as_deref(),
        Some("PUT")
    );
    assert_eq!(
        string_attr(a, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        string_attr(a, "url.full"),
        Some(format!("{}/{bucket}/docs/a.txt", emu.endpoint()))
    );
    let request_id = string_attr(a, "tencent_cloud.request_id").expect("request id");
    assert!(!request_id.is_empty());
    assert!(!is_error(put));

    let gets = s.receiver.spans_on("COS GetObject", &bucket);
    assert_eq!(
        int_attr(&gets[0].attributes, "http.response.body.size"),
        Some(4096)
    );
    let missing = &gets[1];
    assert!(is_error(missing));
    assert_eq!(
        string_attr(&missing.attributes, "error.type").as_deref(),
        Some("NoSuchKey")
    );
    assert_eq!(
        int_attr(&missing.attributes, "http.response.status_code"),
        Some(404)
    );
    let missing_attempt = s.receiver.children_of(missing);
    assert_eq!(missing_attempt.len(), 1);
    assert_eq!(missing_attempt[0].name, "GET");
    assert!(is_error(&missing_attempt[0]));

    // The retried put: two 503 attempts, then success; events on the operation.
    let retried = &puts[1];
    assert!(!is_error(retried));
    assert_eq!(
        int_attr(&retried.attributes, "http.request.resend_count"),
        Some(2)
    );
    let events: Vec<_> = retried
        .events
        .iter()
        .filter(|e| e.name == "retrying after a transient failure")
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(
        string_attr(&events[0].attributes, "reason").as_deref(),
        Some("slow_down")
    );
    let attempts = s.receiver.children_of(retried);
    let statuses: Vec<Option<i64>> = attempts
        .iter()
        .map(|a| int_attr(&a.attributes, "http.response.status_code"))
        .collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(200)]);
    assert_eq!(
        attempts.iter().map(is_error).collect::<Vec<_>>(),
        [true, true, false]
    );
    assert_eq!(
        string_attr(&attempts[0].attributes, "error.type").as_deref(),
        Some("SlowDown")
    );

    let part = &s.receiver.spans_on("COS UploadPart", &bucket)[0];
    assert_eq!(
        int_attr(&part.attributes, "tencent_cloud.cos.part_number"),
        Some(3)
    );
    assert!(
        string_attr(&part.attributes, "tencent_cloud.cos.upload_id").is_some_and(|u| !u.is_empty())
    );

    // Metrics: one series per (operation, status), the documented label set.
    let point = |operation: &str, status: &str| {
        let p = s.receiver.histogram_points(
            "coscls.client.operation.duration",
            &[
                ("bucket", &bucket),
                ("operation", operation),
                ("status", status),
            ],
        );
        assert!(p.len() <= 1, "{p:?}");
        p.into_iter().next()
    };
    let put_ok = point("PutObject", "ok").expect("PutObject ok");
    assert_eq!(put_ok.count, 2);
    assert_eq!(put_ok.explicit_bounds, DURATION_BOUNDARIES.to_vec());
    assert_cos_duration_labels(&put_ok.attributes);
    assert_eq!(point("GetObject", "ok").map(|p| p.count), Some(1));
    assert_eq!(point("GetObject", "NoSuchKey").map(|p| p.count), Some(1));
    assert_eq!(point("UploadPart", "ok").map(|p| p.count), Some(1));
    for p in [point("PutObject", "ok"), point("GetObject", "NoSuchKey")]
        .into_iter()
        .flatten()
    {
        for kv in &p.attributes {
            assert!(
                !matches!(kv.key.as_str(), "key" | "path" | "request_id" | "url"),
                "high-cardinality label {}",
                kv.key
            );
        }
    }
    let upload = s.receiver.sum_points(
        "coscls.client.transferred",
        &[
            ("bucket", &bucket),
            ("operation", "PutObject"),
            ("direction", "upload"),
        ],
    );
    // Request bodies count once per attempt that got an answer: 1 + 3 puts.
    assert_eq!(upload[0].value, Some(Number::AsInt(4 * 4096)));
    let download = s.receiver.sum_points(
        "coscls.client.transferred",
        &[
            ("bucket", &bucket),
            ("operation", "GetObject"),
            ("direction", "download"),
        ],
    );
    assert_eq!(download[0].value, Some(Number::AsInt(4096)));
    let retries = s.receiver.sum_points(
        "coscls.client.retries",
        &[
            ("service", "cos"),
            ("operation", "PutObject"),
            ("reason", "slow_down"),
        ],
    );
    assert_eq!(retries[0].value, Some(Number::AsInt(2)));

    // Every request carried a traceparent of the trace it belongs to.
    let trace = hex::encode(&put.trace_id);
    for sent in transport.sent() {
        let tp = sent.headers["traceparent"].to_str().unwrap();
        assert!(tp.starts_with(&format!("00-{trace}-")), "{tp}");
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cls_uploads_export_spans_and_metrics_to_the_collector() {
    let s = shared();
    let emu = emulator("unused-1250000000").await;
    let topic = format!(
        "{:08x}-aaaa-bbbb-cccc-{:012x}",
        fastrand::u32(..),
        fastrand::u64(..1 << 48)
    );
    let client = coscls::cls::Client::builder()
        .endpoint(emu.endpoint())
        .region("ap-shanghai")
        .credentials(Credentials::new(SECRET_ID, SECRET_KEY).unwrap())
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(2)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build()
        .unwrap();
    let _subscriber = s.subscribe();
    let logs = LogGroupList::new(vec![LogGroup::new(vec![Log::now()
        .field("msg", "hello")
        .field("n", "1")])]);

    let out = client.put_logs(&topic, &logs).await.unwrap();
    // Throttled twice: one retry, then the error (max 2 attempts).
    emu.set_faults(FaultConfig {
        fail_next: 2,
        error_status: 429,
        ..Default::default()
    })
    .unwrap();
    let err = client.put_logs(&topic, &logs).await.unwrap_err();
    assert_eq!(err.code(), Some("SpeedQuotaExceed"));
    assert_eq!(emu.cls_logs(&topic).len(), 1);
    s.guard.force_flush().unwrap();

    let uploads = || -> Vec<Span> {
        let mut v: Vec<Span> = s
            .receiver
            .spans()
            .into_iter()
            .filter(|x| {
                x.name == "CLS UploadLog"
                    && string_attr(&x.attributes, "tencent_cloud.cls.topic_id").as_deref()
                        == Some(topic.as_str())
            })
            .collect();
        v.sort_by_key(|x| x.start_time_unix_nano);
        v
    };
    wait_for("both UploadLog spans", || uploads().len() == 2).await;
    let spans = uploads();
    let ok = &spans[0];
    assert_eq!(ok.kind, SpanKind::Client as i32);
    assert!(!is_error(ok));
    let a = &ok.attributes;
    assert_eq!(string_attr(a, "rpc.service").as_deref(), Some("CLS"));
    assert_eq!(string_attr(a, "rpc.method").as_deref(), Some("UploadLog"));
    assert_eq!(
        string_attr(a, "cloud.region").as_deref(),
        Some("ap-shanghai")
    );
    assert_eq!(
        string_attr(a, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(int_attr(a, "http.response.status_code"), Some(200));
    assert_eq!(string_attr(a, "tencent_cloud.request_id"), out.request_id);
    assert_eq!(attr(a, "tencent_cloud.cos.bucket"), None);
    assert!(int_attr(a, "http.request.body.size").is_some_and(|n| n > 0));
    assert!(string_attr(a, "url.full").is_some_and(|u| u.contains("/structuredlog?topic_id=")));

    let failed = &spans[1];
    assert!(is_error(failed));
    assert_eq!(
        string_attr(&failed.attributes, "error.type").as_deref(),
        Some("SpeedQuotaExceed")
    );
    assert_eq!(
        int_attr(&failed.attributes, "http.response.status_code"),
        Some(429)
    );
    assert_eq!(
        int_attr(&failed.attributes, "http.request.resend_count"),
        Some(1)
    );
    assert_eq!(s.receiver.children_of(failed).len(), 2);

    let point = |status: &str| {
        s.receiver
            .histogram_points(
                "coscls.client.operation.duration",
                &[("topic", &topic), ("status", status)],
            )
            .into_iter()
            .next()
    };
    let ok_point = point("ok").expect("UploadLog ok");
    assert_eq!(ok_point.count, 1);
    assert_eq!(
        string_attr(&ok_point.attributes, "service").as_deref(),
        Some("cls")
    );
    assert_eq!(
        string_attr(&ok_point.attributes, "operation").as_deref(),
        Some("UploadLog")
    );
    assert_eq!(
        string_attr(&ok_point.attributes, "bucket").as_deref(),
        Some("")
    );
    assert_eq!(
        string_attr(&ok_point.attributes, "region").as_deref(),
        Some("ap-shanghai")
    );
    assert_eq!(point("SpeedQuotaExceed").map(|p| p.count), Some(1));
    let retries = s.receiver.sum_points(
        "coscls.client.retries",
        &[
            ("service", "cls"),
            ("operation", "UploadLog"),
            ("reason", "throttled"),
        ],
    );
    assert_eq!(retries[0].value, Some(Number::AsInt(1)));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cls_producer_reports_its_logs_batches_and_queued_bytes() {
    let s = shared();
    let emu = emulator("unused-1250000000").await;
    let topic = format!(
        "{:08x}-dddd-eeee-ffff-{:012x}",
        fastrand::u32(..),
        fastrand::u64(..1 << 48)
    );
    let client = coscls::cls::Client::builder()
        .endpoint(emu.endpoint())
        .region("ap-guangzhou")
        .credentials(Credentials::new(SECRET_ID, SECRET_KEY).unwrap())
        .build()
        .unwrap();
    let producer = coscls::cls::Producer::new(client, Default::default()).unwrap();
    let name = format!("producer-{topic}");
    let metrics = coscls::telemetry::observe_producer(&producer, &name);
    for i in 0..25 {
        let log = Log::now().field("n", i.to_string());
        producer.send(topic.as_str(), log).await.unwrap();
    }
    producer.close(Duration::from_secs(10)).await;
    assert_eq!(emu.cls_logs(&topic).len(), 25);
    s.guard.force_flush().unwrap();

    let logs = |state: &str| {
        s.receiver
            .sum_points(
                "coscls.cls.producer.logs",
                &[("producer", &name), ("topic", &topic), ("state", state)],
            )
            .first()
            .and_then(|p| p.value)
    };
    assert_eq!(logs("accepted"), Some(Number::AsInt(25)));
    assert_eq!(logs("sent"), Some(Number::AsInt(25)));
    assert_eq!(logs("failed"), Some(Number::AsInt(0)));
    let batches = s.receiver.sum_points(
        "coscls.cls.producer.batches",
        &[("producer", &name), ("state", "sent")],
    );
    assert!(matches!(batches[0].value, Some(Number::AsInt(n)) if n >= 1));
    match s.receiver.latest_metric("coscls.cls.producer.queued") {
        Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Gauge(g)) => {
            let p = g
                .data_points
                .iter()
                .find(|p| string_attr(&p.attributes, "producer").as_deref() == Some(name.as_str()))
                .expect("queued bytes of this producer");
            assert_eq!(p.value, Some(Number::AsInt(0)), "nothing left after close");
        }
        other => panic!("queued is a gauge: {other:?}"),
    }

    // Dropped: the producer is no longer observed.
    drop(metrics);
    s.guard.force_flush().unwrap();
    let still_there = {
        let c = s.receiver.collected.lock().unwrap();
        let last = c.metrics.last().expect("an export");
        last.resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .filter(|m| m.name == "coscls.cls.producer.queued")
            .any(|m| match &m.data {
                Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Gauge(g)) => {
                    g.data_points.iter().any(|p| {
                        string_attr(&p.attributes, "producer").as_deref() == Some(name.as_str())
                    })
                }
                _ => false,
            })
    };
    assert!(!still_there, "a dropped observer reports nothing");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_exported_byte_contains_a_secret_a_token_or_a_signature() {
    let s = shared();
    let bucket = unique_bucket("sts");
    let emu = emulator(&bucket).await;
    let transport = Scripted::forward();
    let creds = Credentials::new(STS_ID, STS_KEY)
        .unwrap()
        .with_session_token(STS_TOKEN)
        .unwrap();
    let client = cos_client(&emu, creds, transport.clone());
    let _subscriber = s.subscribe();

    client.put_object(&bucket, "k", "v").await.unwrap();
    client
        .get_object(&bucket, "k")
        .await
        .unwrap()
        .body
        .bytes()
        .await
        .unwrap();
    emu.set_faults(FaultConfig {
        fail_next: 1,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    client.head_object(&bucket, "k").await.unwrap();
    // A wrong key: the emulator refuses the signature, and the error names it.
    let wrong = cos_client(
        &emu,
        Credentials::new(STS_ID, "wrong-secret-KEY-11223344")
            .unwrap()
            .with_session_token(STS_TOKEN)
            .unwrap(),
        transport.clone(),
    );
    let refused = wrong.head_object(&bucket, "k").await.unwrap_err();
    assert_eq!(refused.status(), Some(403));
    s.guard.force_flush().unwrap();
    wait_for("the refused HeadObject", || {
        s.receiver
            .spans_on("COS HeadObject", &bucket)
            .iter()
            .any(is_error)
    })
    .await;

    let mut forbidden = vec![
        STS_KEY.to_string(),
        STS_TOKEN.to_string(),
        "wrong-secret-KEY-11223344".to_string(),
    ];
    forbidden.extend(transport.signatures());
    assert!(
        forbidden.len() >= 7,
        "signatures were captured: {forbidden:?}"
    );
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
    for span in s.receiver.spans_on("COS HeadObject", &bucket) {
        assert_eq!(
            attr(&span.attributes, "http.request.header.authorization"),
            None
        );
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crc_mismatch_found_after_the_body_ends_makes_the_get_an_error() {
    let s = shared();
    let bucket = unique_bucket("crc");
    let emu = emulator(&bucket).await;
    let client = cos_client(
        &emu,
        Credentials::new(SECRET_ID, SECRET_KEY).unwrap(),
        Scripted::forward(),
    );
    let _subscriber = s.subscribe();

    client
        .put_object(&bucket, "k", vec![7u8; 1000])
        .await
        .unwrap();
    // The emulator flips a byte after computing x-cos-hash-crc64ecma.
    emu.set_faults(FaultConfig {
        corrupt_body_rate: 1.0,
        ..Default::default()
    })
    .unwrap();
    let err = client
        .get_object(&bucket, "k")
        .await
        .expect("the response head is fine")
        .body
        .bytes()
        .await
        .expect_err("the CRC-64 differs");
    assert!(
        matches!(&err, coscls::cos::Error::ChecksumMismatch { what, .. } if what.ends_with("after 4 attempts")),
        "{err:?}"
    );

    s.guard.force_flush().unwrap();
    let get = &s.receiver.first_span_on("COS GetObject", &bucket).await;
    // bytes() read the object again three times; each repair is an event on
    // the GET it repairs and a retry with reason checksum_mismatch.
    let repairs: Vec<_> = get
        .events
        .iter()
        .filter(|e| e.name == "checksum_mismatch_retry")
        .collect();
    assert_eq!(repairs.len(), 1, "{get:?}");
    assert_eq!(int_attr(&repairs[0].attributes, "attempt"), Some(2));
    let retries = s.receiver.sum_points(
        "coscls.client.retries",
        &[
            ("service", "cos"),
            ("operation", "GetObject"),
            ("reason", "checksum_mismatch"),
        ],
    );
    assert_eq!(retries.last().and_then(|p| p.value), Some(Number::AsInt(3)));
    assert!(is_error(get), "{get:?}");
    assert_eq!(
        get.status.as_ref().map(|st| st.message.as_str()),
        Some("checksum_mismatch")
    );
    assert_eq!(
        string_attr(&get.attributes, "error.type").as_deref(),
        Some("checksum_mismatch")
    );
    assert_eq!(
        int_attr(&get.attributes, "http.response.status_code"),
        Some(200)
    );
    assert_eq!(
        int_attr(&get.attributes, "http.response.body.size"),
        Some(1000),
        "every byte was read before the check"
    );
    let count = |status: &str| {
        s.receiver.duration_count(&[
            ("bucket", &bucket),
            ("operation", "GetObject"),
            ("status", status),
        ])
    };
    assert_eq!(
        count("checksum_mismatch"),
        4,
        "the GET and its three re-reads"
    );
    assert_eq!(count("ok"), 0, "the GET is not counted as ok");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_document_in_a_200_makes_the_copy_an_error() {
    let s = shared();
    let bucket = unique_bucket("copy200");
    let emu = emulator(&bucket).await;
    // Lets the request through, then answers a copy with `200 OK` and an
    // `<Error>` document, as COS may do when a copy fails after it started.
    let transport = Scripted::forward();
    transport.rule(Rule::new(
        When::header("x-cos-copy-source"),
        Act::ReplaceBody(bytes::Bytes::from_static(
            b"<?xml version='1.0' encoding='utf-8' ?>\n<Error><Code>InternalError</Code>\
                <Message>We encountered an internal error.</Message></Error>",
        )),
    ));
    let client = cos_client(
        &emu,
        Credentials::new(SECRET_ID, SECRET_KEY).unwrap(),
        transport,
    );
    let _subscriber = s.subscribe();

    client.put_object(&bucket, "src", "data").await.unwrap();
    let err = client
        .copy_object(&bucket, "src", &bucket, "dst", &Default::default())
        .await
        .expect_err("a 200 carrying <Error> is a failure");
    assert_eq!(err.code(), Some("InternalError"), "{err}");

    s.guard.force_flush().unwrap();
    let copy = &s.receiver.first_span_on("COS CopyObject", &bucket).await;
    assert!(is_error(copy), "{copy:?}");
    assert_eq!(
        string_attr(&copy.attributes, "error.type").as_deref(),
        Some("InternalError")
    );
    let count = |status: &str| {
        s.receiver.duration_count(&[
            ("bucket", &bucket),
            ("operation", "CopyObject"),
            ("status", status),
        ])
    };
    assert_eq!(count("InternalError"), 1);
    assert_eq!(count("ok"), 0, "the copy is not counted as ok");
    emu.shutdown().await;
}
