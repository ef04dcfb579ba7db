//! With no collector listening, operations keep working, and the failure is
//! reported once, clearly, naming where export was going.

#![cfg(feature = "otlp")]

mod support;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use coscls::auth::Credentials;
use coscls::telemetry::{Protocol, Telemetry};
use support::otlp::{fake_cos_client, FakeCos};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The export threads log through the global subscriber: capture it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Captured::default();
        let writer = log.clone();
        tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .with(coscls::telemetry::quiet_sdk_export_errors())
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || writer.clone()),
            )
            .init();
        log
    })
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

async fn run(protocol: Protocol) {
    let log = captured();
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let guard = Telemetry::builder()
        .protocol(protocol)
        .endpoint(&endpoint)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(guard.layer()));
    let cos = FakeCos::start(8).await;
    let creds = Credentials::new("AKIDtest", "secret").unwrap();
    let client = fake_cos_client(cos.addr, "ap-guangzhou", creds, 4);
    for round in 0..2 {
        let response = client
            .get_object("b-1250000000", "k")
            .await
            .expect("operations work without a collector");
        let body = response.body.bytes().await.unwrap();
        assert_eq!(body, Bytes::from_static(b"xxxxxxxx"), "round {round}");
        // Each flush fails to export.
        let _ = guard.force_flush();
        assert!(guard.export_failing(), "round {round}");
    }
    assert!(
        guard.shutdown().is_err(),
        "shutdown says what could not be sent"
    );

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let reports: Vec<&str> = text.lines().filter(|l| l.contains(&endpoint)).collect();
    assert_eq!(reports.len(), 1, "reported exactly once: {text}");
    assert!(reports[0].contains("WARN"), "{}", reports[0]);
    assert!(reports[0].contains("exporting"), "{}", reports[0]);
    assert!(reports[0].contains(protocol.as_str()), "{}", reports[0]);
    assert!(
        !text.contains("ExportError"),
        "the SDK's per-batch errors are quieted: {text}"
    );
}

// One test, both protocols in turn: coscls's metric instruments follow the
// most recently built guard, so two guards must not overlap in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_to_nowhere_is_reported_once_and_harmless() {
    run(Protocol::Grpc).await;
    run(Protocol::HttpProtobuf).await;
}
