//! OTLP export over TLS: gRPC and HTTP receivers serve a certificate made
//! for this test, which the exporter trusts through
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`; a collector signed by anything else is
//! refused. (Its own binary with a single test: it sets a process-wide
//! variable.)

#![cfg(feature = "otlp")]

mod support;

use std::time::Duration;

use coscls::telemetry::{Protocol, Telemetry, TelemetryBuilder, TelemetryGuard};
use opentelemetry::metrics::MeterProvider as _;
use support::otlp::{self_signed, Receiver};
use tracing_subscriber::layer::SubscriberExt as _;

/// Records one span and one counter sample through `guard`, then flushes.
fn export_one_of_each(guard: &TelemetryGuard, name: &str) {
    let subscriber = tracing_subscriber::registry().with(guard.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("tls.check", check = name).in_scope(|| {});
    });
    if let Some(mp) = guard.meter_provider() {
        mp.meter("tls-test")
            .u64_counter(name.to_string())
            .build()
            .add(1, &[]);
    }
    let _ = guard.force_flush();
}

/// A builder exporting to `receiver`; metrics only when flushed.
fn builder(protocol: Protocol, receiver: &Receiver) -> TelemetryBuilder {
    Telemetry::builder()
        .service_name("coscls-tls-test")
        .protocol(protocol)
        .endpoint(receiver.endpoint())
        .metric_interval(Duration::from_secs(3600))
        .timeout(Duration::from_secs(2))
}

#[test]
fn grpc_and_http_reach_a_tls_collector_signed_by_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let (other_cert, _) = self_signed();
    let ca = dir.path().join("collector-ca.pem");
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&ca, &cert).unwrap();
    std::fs::write(&other_ca, &other_cert).unwrap();

    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = match protocol {
            Protocol::Grpc => Receiver::grpc_tls(&cert, &key),
            _ => Receiver::http_tls(&cert, &key),
        };
        assert!(receiver.endpoint().starts_with("https://"));

        // No certificate configured: the system's roots, which do not know
        // this collector. The exporter builds (TLS is available) and refuses it.
        let system = builder(protocol, &receiver)
            .build()
            .expect("builds with TLS");
        export_one_of_each(&system, "system-roots");
        assert!(
            system.export_failing(),
            "{protocol:?}: an unknown issuer is refused"
        );
        assert!(receiver.spans().is_empty(), "{protocol:?}");

        // A configured certificate that did not sign the collector: refused
        // too, so the configured certificate really is what is trusted.
        let wrong = builder(protocol, &receiver)
            .certificate(&other_ca)
            .build()
            .expect("builds");
        export_one_of_each(&wrong, "wrong-ca");
        assert!(wrong.export_failing(), "{protocol:?}");
        assert!(receiver.spans().is_empty(), "{protocol:?}");
    }

    // From here on the variable names the collector's certificate. This
    // binary has a single test, so setting it cannot race another test.
    std::env::set_var("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca);
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = match protocol {
            Protocol::Grpc => Receiver::grpc_tls(&cert, &key),
            _ => Receiver::http_tls(&cert, &key),
        };
        let trusted = builder(protocol, &receiver).build().expect("builds");
        export_one_of_each(&trusted, "trusted");
        assert!(!trusted.export_failing(), "{protocol:?}");
        let spans = receiver.spans();
        assert_eq!(spans.len(), 1, "{protocol:?}");
        assert_eq!(spans[0].name, "tls.check");
        assert!(
            receiver.latest_metric("trusted").is_some(),
            "{protocol:?}: metrics travel over the same TLS set-up"
        );
        trusted.shutdown().expect("shut down");
    }
    std::env::remove_var("OTEL_EXPORTER_OTLP_CERTIFICATE");

    // A variable naming a file that is not a certificate stops the set-up
    // with an error naming both, before anything is sent.
    let not_pem = dir.path().join("not-a-cert.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    std::env::set_var("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", &not_pem);
    let receiver = Receiver::grpc_tls(&cert, &key);
    let e = builder(Protocol::Grpc, &receiver)
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"), "{e}");
    assert!(e.contains("not-a-cert.pem"), "{e}");
    std::env::remove_var("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE");
}
