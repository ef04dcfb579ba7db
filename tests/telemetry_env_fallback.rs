//! `init()` with variables it cannot fully honour keeps the application
//! running: an unsupported `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/json`) falls
//! back to gRPC and spans still arrive; `OTEL_PROPAGATORS` chooses the
//! global propagator. (Its own binary with a single test: it installs the
//! global subscriber and sets process-wide variables.)

#![cfg(feature = "otlp")]

mod support;

use support::otlp::Receiver;

#[test]
fn an_unsupported_protocol_falls_back_to_grpc_and_propagators_follow_the_variable() {
    let receiver = Receiver::grpc();
    std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    std::env::set_var("OTEL_METRICS_EXPORTER", "none");
    std::env::set_var("OTEL_SERVICE_NAME", "coscls-fallback-test");
    std::env::set_var("OTEL_PROPAGATORS", "baggage,b3");
    let telemetry = coscls::telemetry::init().expect("init succeeds despite http/json");

    tracing::info_span!("fallback.check").in_scope(|| {});
    let fields: Vec<String> = opentelemetry::global::get_text_map_propagator(|p| {
        p.fields().map(str::to_string).collect()
    });
    telemetry.shutdown().expect("flushed");

    let spans = receiver.spans();
    assert!(
        spans.iter().any(|s| s.name == "fallback.check"),
        "spans arrive over gRPC: {spans:?}"
    );
    // `baggage` only: b3 is unsupported (warned about and skipped).
    assert_eq!(fields, ["baggage"]);
}
