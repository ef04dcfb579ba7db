//! `Telemetry::builder().install_with(ClsLayer)` as the README shows it: the
//! global subscriber coscls installs also ships the application's events to
//! CLS, with the trace id of the span they were written in, and a program's
//! default service name yields to `OTEL_SERVICE_NAME`. (Its own binary: it
//! sets the environment and the global subscriber.)

#![cfg(feature = "otlp")]

mod support;

use std::time::Duration;

use coscls::auth::Credentials;
use coscls::cls::{Client, ClsLayer, Producer, ProducerConfig};
use coscls::telemetry::Telemetry;
use coscls_emulator::Emulator;
use support::otlp::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_with_adds_the_cls_layer_and_the_environment_names_the_service() {
    let receiver = Receiver::http();
    // This binary has a single test, so changing the environment is safe.
    std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    std::env::set_var("OTEL_METRICS_EXPORTER", "none");
    std::env::set_var("OTEL_SERVICE_NAME", "my-app");

    let topic = "0e69453c-0727-4c9c-9d4f-3b6b1c2a9e11";
    let emulator = Emulator::builder()
        .credentials("AKIDinstall", "install-secret")
        .topic(topic)
        .start()
        .await
        .expect("emulator");
    let client = Client::builder()
        .endpoint(emulator.endpoint())
        .credentials(Credentials::new("AKIDinstall", "install-secret").unwrap())
        .build()
        .expect("client");
    let producer = Producer::new(client, ProducerConfig::default()).expect("producer");

    let telemetry = Telemetry::builder()
        .default_service_name("coscls-quickstart")
        .log_to_stderr(false)
        .install_with(ClsLayer::new(producer.clone(), topic))
        .expect("install_with");

    let span = tracing::info_span!("order.process");
    span.in_scope(|| tracing::info!(order = 42, "order processed"));
    drop(span);

    let report = producer.close(Duration::from_secs(30)).await;
    assert!(report.all_delivered(), "{report:?}");
    telemetry.shutdown().expect("flushed");

    let logs = emulator.cls_logs(topic);
    let shipped: Vec<_> = logs
        .iter()
        .filter(|l| l.contents.get("message").map(String::as_str) == Some("order processed"))
        .collect();
    assert_eq!(shipped.len(), 1, "{logs:?}");
    assert_eq!(shipped[0].contents["order"], "42");

    let spans = receiver.spans();
    let exported = spans
        .iter()
        .find(|s| s.name == "order.process")
        .expect("the application span is exported");
    assert_eq!(
        shipped[0].contents["traceID"],
        hex::encode(&exported.trace_id),
        "the log carries the trace id of its span"
    );
    let names = receiver.service_names();
    assert!(names.iter().any(|n| n == "my-app"), "{names:?}");
    assert!(!names.iter().any(|n| n == "coscls-quickstart"), "{names:?}");
    emulator.shutdown().await;
}
