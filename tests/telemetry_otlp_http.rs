//! Telemetry over OTLP/HTTP with protobuf bodies: the exporter runs on the
//! SDK's own threads with the blocking HTTP client, so this test drives it
//! from a current-thread runtime (the case that panics with an async client).

#![cfg(feature = "otlp")]

mod support;

use std::time::Duration;

use bytes::Bytes;
use coscls::auth::Credentials;
use coscls::telemetry::{Protocol, Telemetry};
use support::otlp::{fake_cos_client, int_attr, string_attr, FakeCos, Receiver};
use tracing_subscriber::layer::SubscriberExt;

const SECRET_KEY: &str = "http-secret-KEY-1a2b3c4d";

#[tokio::test]
async fn spans_and_metrics_arrive_over_http_protobuf_from_a_current_thread_runtime() {
    let receiver = Receiver::http();
    let guard = Telemetry::builder()
        .service_name("coscls-http-test")
        .protocol(Protocol::HttpProtobuf)
        .endpoint(receiver.endpoint())
        .metric_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(guard.layer()));
    let cos = FakeCos::start(0).await;
    let creds = Credentials::new("AKIDtest", SECRET_KEY).unwrap();
    let bucket = "http-1250000000";
    fake_cos_client(cos.addr, "ap-shanghai", creds, 4)
        .put_object(bucket, "k", Bytes::from(vec![1u8; 4096]))
        .await
        .unwrap();

    // Shutdown flushes both signals; it must not need this thread's runtime.
    guard.shutdown().expect("everything exported");

    let spans = receiver.spans();
    let op = spans
        .iter()
        .find(|s| s.name == "COS PutObject")
        .expect("operation span exported over HTTP");
    assert_eq!(
        int_attr(&op.attributes, "http.request.body.size"),
        Some(4096)
    );
    assert_eq!(
        string_attr(&op.attributes, "cloud.region").as_deref(),
        Some("ap-shanghai")
    );
    assert!(spans
        .iter()
        .any(|s| s.name == "PUT" && s.parent_span_id == op.span_id));
    let points = receiver.histogram_points(
        "coscls.client.operation.duration",
        &[("bucket", bucket), ("status", "ok")],
    );
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].count, 1);
    assert!(receiver
        .service_names()
        .iter()
        .any(|n| n == "coscls-http-test"));
    let signature = cos.seen()[0].headers["authorization"]
        .split('&')
        .find_map(|kv| kv.strip_prefix("q-signature="))
        .unwrap()
        .to_string();
    for body in receiver.raw_exports() {
        for secret in [SECRET_KEY, signature.as_str()] {
            assert!(!body.windows(secret.len()).any(|w| w == secret.as_bytes()));
        }
    }
}
