//! `OTEL_EXPORTER_OTLP_COMPRESSION=gzip` compresses every export, over gRPC
//! (`grpc-encoding: gzip`) and HTTP (`Content-Encoding: gzip`); the
//! receivers decode what they get. (Its own binary with a single test: it
//! sets a process-wide variable.)

#![cfg(feature = "otlp")]

mod support;

use std::time::Duration;

use coscls::telemetry::{Protocol, Telemetry};
use opentelemetry::metrics::MeterProvider as _;
use support::otlp::Receiver;
use tracing_subscriber::layer::SubscriberExt as _;

#[test]
fn the_compression_variable_gzips_grpc_and_http_exports() {
    std::env::set_var("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = match protocol {
            Protocol::Grpc => Receiver::grpc(),
            _ => Receiver::http(),
        };
        let guard = Telemetry::builder()
            .service_name("coscls-gzip-test")
            .protocol(protocol)
            .endpoint(receiver.endpoint())
            .metric_interval(Duration::from_secs(3600))
            .build()
            .expect("builds");
        let subscriber = tracing_subscriber::registry().with(guard.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!("gzip.check", padding = "x".repeat(2000)).in_scope(|| {});
        });
        let meter = guard
            .meter_provider()
            .expect("metrics on")
            .meter("gzip-test");
        meter.u64_counter("gzip.check").build().add(1, &[]);
        guard.force_flush().expect("exported");

        let spans = receiver.spans();
        assert_eq!(spans.len(), 1, "{protocol:?}");
        assert_eq!(spans[0].name, "gzip.check");
        assert!(
            receiver.latest_metric("gzip.check").is_some(),
            "{protocol:?}"
        );
        // One encoding per export: the span batch and the metrics.
        assert_eq!(receiver.encodings(), ["gzip", "gzip"], "{protocol:?}");
        guard.shutdown().expect("shut down");
    }
}
