//! A subscriber that enables nothing below `WARN` (`RUST_LOG=warn`) gets no
//! operation spans when they are made through the OpenTelemetry API
//! (`OperationSpans`), as it gets none through the bridge; metrics still
//! flow. Its own binary: the maximum level `tracing` enables is
//! process-wide.

#![cfg(feature = "otlp")]

mod support;

use std::time::Duration;

use bytes::Bytes;
use coscls::auth::Credentials;
use coscls::telemetry::{Protocol, Telemetry};
use support::otlp::{fake_cos_client, FakeCos, Receiver};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn below_info_there_are_no_operation_spans_and_at_info_there_are() {
    let receiver = Receiver::http();
    let guard = Telemetry::builder()
        .service_name("coscls-quiet-test")
        .protocol(Protocol::HttpProtobuf)
        .endpoint(receiver.endpoint())
        .metric_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let cos = FakeCos::start(0).await;
    let creds = Credentials::new("AKIDtest", "quiet-secret").unwrap();
    let client = fake_cos_client(cos.addr, "ap-shanghai", creds, 1);

    for (level, bucket) in [
        (LevelFilter::WARN, "warn-1250000000"),
        (LevelFilter::INFO, "info-1250000000"),
    ] {
        let _subscriber = tracing::subscriber::set_default(
            tracing_subscriber::registry()
                .with(level)
                .with(guard.layer())
                .with(guard.operation_spans()),
        );
        client
            .put_object(bucket, "k", Bytes::from_static(b"x"))
            .await
            .unwrap();
    }
    guard.shutdown().expect("everything exported");

    let on = |bucket: &str| {
        receiver
            .spans()
            .into_iter()
            .filter(|s| s.name == "COS PutObject")
            .filter(|s| {
                support::otlp::string_attr(&s.attributes, "tencent_cloud.cos.bucket").as_deref()
                    == Some(bucket)
            })
            .count()
    };
    assert_eq!(on("warn-1250000000"), 0, "no operation span under WARN");
    assert_eq!(on("info-1250000000"), 1, "one operation span under INFO");
    for bucket in ["warn-1250000000", "info-1250000000"] {
        let points = receiver.histogram_points(
            "coscls.client.operation.duration",
            &[("bucket", bucket), ("status", "ok")],
        );
        assert_eq!(points.len(), 1, "metrics flow for {bucket}");
    }
}
