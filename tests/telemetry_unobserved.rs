//! An operation nothing observes records nothing (no span, no attempt, no
//! metric: the process has no subscriber and coscls's meter is the no-op
//! one), and that is decided per operation: once a subscriber listens, the
//! next operation has its span. Its own binary: the subscriber state and
//! coscls's instruments are process-wide.

#![cfg(feature = "otlp")]

mod support;

use bytes::Bytes;
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test(flavor = "current_thread")]
async fn an_unobserved_operation_records_nothing_and_a_later_observed_one_its_span() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let (_emu, client) = support::setup().await;

    // Nothing listens: the operation works and leaves no trace.
    client
        .put_object(support::BUCKET, "unobserved", Bytes::from_static(b"a"))
        .await
        .unwrap();
    let body = support::read_back(&client, "unobserved").await;
    assert_eq!(&body[..], b"a");

    // A subscriber on this thread from now on.
    let subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(coscls::telemetry::layer(&provider))
            .with(LevelFilter::INFO),
    );
    client
        .put_object(support::BUCKET, "observed", Bytes::from_static(b"b"))
        .await
        .unwrap();
    drop(subscriber);
    provider.force_flush().unwrap();

    let keys: Vec<(String, String)> = exporter
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .map(|s| {
            let key = s
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == "tencent_cloud.cos.key")
                .map(|kv| kv.value.clone());
            let key = match key {
                Some(Value::String(k)) => k.to_string(),
                other => format!("{other:?}"),
            };
            (s.name.to_string(), key)
        })
        .collect();
    assert_eq!(
        keys,
        vec![("COS PutObject".to_string(), "observed".to_string())],
        "only the operation made while the subscriber listened has a span"
    );
}
