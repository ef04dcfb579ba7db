//! coscls's metrics reach a meter provider the application installed in
//! `opentelemetry::global` and never named to coscls (no `set_meter`, no
//! telemetry builder, no subscriber). Operations that nothing observes skip
//! their telemetry (see `Operation` in `src/instrument`); this holds that a
//! real provider is not mistaken for the no-op one. Its own binary: the
//! global provider and coscls's instruments are process-wide.

mod support;

use bytes::Bytes;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

fn attr<'a>(mut attrs: impl Iterator<Item = &'a opentelemetry::KeyValue>, key: &str) -> String {
    attrs
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_global_meter_provider_alone_gets_the_samples() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());
    assert!(
        !tracing::dispatcher::has_been_set(),
        "no subscriber in this binary"
    );

    let (_emu, client) = support::setup().await;
    let body = Bytes::from_static(b"seen by the global meter");
    client
        .put_object(support::BUCKET, "global", body.clone())
        .await
        .unwrap();
    let got = support::read_back(&client, "global").await;
    assert_eq!(got, body);
    let missing = client.get_object(support::BUCKET, "missing").await;
    assert!(missing.unwrap_err().is_not_found());

    provider.force_flush().unwrap();
    let exported = exporter.get_finished_metrics().unwrap();
    let last = exported.last().expect("metrics exported");
    let mut durations = Vec::new();
    let mut downloaded = 0;
    for metric in last.scope_metrics().flat_map(|s| s.metrics()) {
        match (metric.name(), metric.data()) {
            (
                "coscls.client.operation.duration",
                AggregatedMetrics::F64(MetricData::Histogram(h)),
            ) => {
                for p in h.data_points() {
                    durations.push((
                        attr(p.attributes(), "operation"),
                        attr(p.attributes(), "status"),
                        p.count(),
                    ));
                }
            }
            ("coscls.client.transferred", AggregatedMetrics::U64(MetricData::Sum(s))) => {
                for p in s.data_points() {
                    if attr(p.attributes(), "direction") == "download" {
                        downloaded += p.value();
                    }
                }
            }
            _ => {}
        }
    }
    durations.sort();
    assert_eq!(
        durations,
        vec![
            ("GetObject".to_string(), "NoSuchKey".to_string(), 1),
            ("GetObject".to_string(), "ok".to_string(), 1),
            ("PutObject".to_string(), "ok".to_string(), 1),
        ]
    );
    assert_eq!(downloaded, body.len() as u64);
}
