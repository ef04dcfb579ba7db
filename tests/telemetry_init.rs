//! `coscls::telemetry::init()` configured only by `OTEL_*` variables: it
//! installs the global subscriber and providers, and its guard's shutdown
//! delivers everything. (Its own binary: it sets process-wide state.)

#![cfg(feature = "otlp")]

mod support;

use bytes::Bytes;
use coscls::auth::Credentials;
use support::otlp::{fake_cos_client, FakeCos, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_reads_the_otel_environment_and_shutdown_flushes() {
    let receiver = Receiver::http();
    // This binary has a single test, so changing the environment is safe.
    std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    std::env::set_var("OTEL_SERVICE_NAME", "coscls-init-test");
    std::env::set_var("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test");
    let telemetry = coscls::telemetry::init().expect("init");
    assert!(
        coscls::telemetry::init().is_err(),
        "a second global subscriber is refused with an explanation"
    );

    let cos = FakeCos::start(0).await;
    let creds = Credentials::new("AKIDtest", "secret").unwrap();
    let client = fake_cos_client(cos.addr, "ap-guangzhou", creds, 4);
    let app = tracing::info_span!("app.main");
    let _entered = app.enter();
    client
        .put_object("init-1250000000", "k", Bytes::from_static(b"hello"))
        .await
        .unwrap();
    drop(_entered);
    drop(app);
    telemetry.shutdown().expect("flushed");

    let spans = receiver.spans();
    let op = spans
        .iter()
        .find(|s| s.name == "COS PutObject")
        .expect("exported");
    let parent = spans
        .iter()
        .find(|s| s.name == "app.main")
        .expect("app span");
    assert_eq!(op.parent_span_id, parent.span_id);
    assert!(receiver
        .service_names()
        .iter()
        .any(|n| n == "coscls-init-test"));
    let c = receiver.collected.lock().unwrap();
    let env_attr = c.traces.iter().flat_map(|t| &t.resource_spans).any(|rs| {
        rs.resource.as_ref().is_some_and(|r| {
            support::otlp::string_attr(&r.attributes, "deployment.environment").as_deref()
                == Some("test")
        })
    });
    assert!(env_attr, "OTEL_RESOURCE_ATTRIBUTES reaches the resource");
    assert!(
        !c.metrics.is_empty(),
        "metrics are exported at shutdown too"
    );
    let traceparent = &cos.seen()[0].headers["traceparent"];
    assert!(traceparent.starts_with(&format!("00-{}-", hex::encode(&op.trace_id))));
}
