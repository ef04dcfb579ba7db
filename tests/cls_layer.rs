//! The tracing layer against the emulator, installed as the global
//! subscriber next to the OpenTelemetry layer: logs carry the trace and span
//! ids of their span (the ids exported to Jaeger), and the producer's own
//! activity (upload spans, retry events, HTTP internals) is never shipped.
//!
//! One test per binary: the global subscriber can be set only once. Trace
//! ids come from `tracing-opentelemetry`: the `otlp` feature.

#![cfg(feature = "otlp")]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use coscls::auth::Credentials;
use coscls::cls::{Client, ClsLayer, Producer, ProducerConfig};
use coscls::transport::retry::RetryPolicy;
use coscls_emulator::{Emulator, FaultConfig};
use support::recorder::Recorder;
use tracing::Instrument;
use tracing_subscriber::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_join_their_traces_and_shipping_never_ships_itself() {
    let emu = Emulator::builder()
        .credentials("AKIDlayer", "layer-key")
        .start()
        .await
        .unwrap();
    // The first uploads fail: the retries emit `coscls::retry` events on the
    // runtime's threads, which must not be shipped.
    emu.set_faults(FaultConfig {
        fail_next: 2,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    let client = Client::builder()
        .endpoint(emu.endpoint())
        .credentials(Credentials::new("AKIDlayer", "layer-key").unwrap())
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(4)
                .with_backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
        .build()
        .unwrap();
    let config = ProducerConfig::default().linger(Duration::from_millis(20));
    let producer = Producer::new(client, config).unwrap();

    let recorder = Recorder::install();
    let layer = ClsLayer::new(producer.clone(), "app-logs");
    tracing_subscriber::registry()
        .with(recorder.layer())
        .with(layer.clone())
        .init();

    async {
        tracing::info!(target: "shop", item = "book", qty = 2, "added to cart");
        // Let a linger expire so uploads (and their retries) run meanwhile.
        tokio::time::sleep(Duration::from_millis(200)).await;
        tracing::warn!(target: "shop", "payment slow");
    }
    .instrument(tracing::info_span!("checkout", order = 42))
    .await;
    tracing::info!(target: "shop", "outside any span");

    let report = producer.close(Duration::from_secs(30)).await;
    assert!(report.all_delivered(), "{report:?}");
    assert_eq!(emu.stats().injected_errors, 2, "the retry path ran");
    let finished = recorder.spans();
    let checkout = finished
        .iter()
        .find(|s| s.name == "checkout")
        .expect("the checkout span was exported");
    let trace_id = checkout.span_context.trace_id().to_string();
    let span_id = checkout.span_context.span_id().to_string();

    let logs = emu.cls_logs("app-logs");
    let by_message: BTreeMap<&str, &BTreeMap<String, String>> = logs
        .iter()
        .map(|l| (l.contents["message"].as_str(), &l.contents))
        .collect();
    assert_eq!(
        logs.len(),
        3,
        "only the application's events: {by_message:#?}"
    );
    assert_eq!(layer.shipped(), 3);
    assert!(logs.iter().all(|l| l.contents["target"] == "shop"));

    let added = by_message["added to cart"];
    assert_eq!(added["level"], "INFO");
    assert_eq!(added["item"], "book");
    assert_eq!(added["qty"], "2");
    assert_eq!(added["traceID"], trace_id);
    assert_eq!(added["spanID"], span_id);
    assert_eq!(by_message["payment slow"]["level"], "WARN");
    assert_eq!(by_message["payment slow"]["traceID"], trace_id);
    assert_eq!(by_message["outside any span"]["traceID"], "");
    assert_eq!(by_message["outside any span"]["spanID"], "");
    assert!(
        trace_id.len() == 32
            && trace_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    emu.shutdown().await;
}
