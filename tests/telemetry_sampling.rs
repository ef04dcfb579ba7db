//! The sampler's verdict and what coscls does with it: an operation whose
//! trace is dropped still sends its trace context (flagged not sampled) and
//! exports nothing, while a sampled one keeps every attribute of its
//! request, recorded when it ends.

#![cfg(feature = "otlp")]

use std::sync::{Arc, Mutex};

use coscls::auth::{BoxFuture, Credentials};
use coscls::cos::Client;
use coscls::transport::{HttpSend, RequestBody, ReqwestTransport, ResponseBody, Timeouts};
use coscls_emulator::Emulator;
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

const SECRET_ID: &str = "AKIDsampling";
const SECRET_KEY: &str = "sampling-secret-KEY-3c2b1a";
const BUCKET: &str = "sampling-1250000000";

/// Forwards to reqwest and keeps every request's `traceparent`.
#[derive(Debug)]
struct Recording {
    inner: ReqwestTransport,
    traceparents: Mutex<Vec<Option<String>>>,
}

impl HttpSend for Recording {
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, coscls::transport::Error>> {
        let tp = request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        self.traceparents.lock().unwrap().push(tp);
        self.inner.send(request)
    }
}

/// Puts one object under a subscriber whose OpenTelemetry layer samples
/// with `sampler` (with the operation span made through the OpenTelemetry
/// API when `direct`): the spans exported and the `traceparent` sent.
async fn put_with(
    emu: &Emulator,
    sampler: Sampler,
    direct: bool,
) -> (Vec<opentelemetry_sdk::trace::SpanData>, Vec<Option<String>>) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_simple_exporter(exporter.clone())
        .build();
    let transport = Arc::new(Recording {
        inner: ReqwestTransport::new(Timeouts::default()).unwrap(),
        traceparents: Mutex::new(Vec::new()),
    });
    let client = Client::builder()
        .region("ap-guangzhou")
        .endpoint(emu.endpoint())
        .credentials(Credentials::new(SECRET_ID, SECRET_KEY).unwrap())
        .transport(transport.clone())
        .build()
        .unwrap();
    // At INFO, as by default: attempt spans are off, so the operation span
    // is the one named in `traceparent` and the one whose sampling counts.
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(coscls::telemetry::layer(&provider))
        .with(direct.then(|| coscls::telemetry::OperationSpans::new(&provider)));
    let _default = tracing::subscriber::set_default(subscriber);
    client
        .put_object(BUCKET, "sampled/a.txt", vec![7u8; 1000])
        .await
        .unwrap();
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let sent = transport.traceparents.lock().unwrap().clone();
    (spans, sent)
}

fn attr<'a>(span: &'a opentelemetry_sdk::trace::SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// Both ways of making the operation span: through the bridge, and through
/// the OpenTelemetry API (`OperationSpans`).
#[tokio::test(flavor = "current_thread")]
async fn a_dropped_trace_still_propagates_and_a_kept_one_has_every_attribute() {
    let emu = Emulator::builder()
        .credentials(SECRET_ID, SECRET_KEY)
        .bucket(BUCKET)
        .start()
        .await
        .unwrap();
    for direct in [false, true] {
        sampling(&emu, direct).await;
    }
    emu.shutdown().await;
}

async fn sampling(emu: &Emulator, direct: bool) {
    let (spans, sent) = put_with(emu, Sampler::AlwaysOff, direct).await;
    assert!(spans.is_empty(), "nothing exported: {spans:?}");
    assert_eq!(sent.len(), 1);
    let tp = sent[0]
        .as_deref()
        .expect("traceparent sent for a dropped trace");
    assert_eq!(tp.len(), 55, "{tp}");
    assert!(
        tp.starts_with("00-") && tp.ends_with("-00"),
        "not sampled: {tp}"
    );

    let (spans, sent) = put_with(emu, Sampler::AlwaysOn, direct).await;
    let op = spans
        .iter()
        .find(|s| s.name == "COS PutObject")
        .expect("operation span exported");
    let tp = sent[0].as_deref().expect("traceparent sent");
    assert_eq!(
        tp,
        format!(
            "00-{}-{}-01",
            op.span_context.trace_id(),
            op.span_context.span_id()
        )
    );
    assert_eq!(attr(op, "http.request.method"), Some(&Value::from("PUT")));
    assert_eq!(attr(op, "server.address"), Some(&Value::from("127.0.0.1")));
    assert_eq!(
        attr(op, "url.full"),
        Some(&Value::from(format!(
            "{}/{BUCKET}/sampled/a.txt",
            emu.endpoint()
        )))
    );
    assert_eq!(attr(op, "http.request.body.size"), Some(&Value::I64(1000)));
    assert_eq!(
        attr(op, "http.response.status_code"),
        Some(&Value::I64(200))
    );
    assert_eq!(attr(op, "rpc.method"), Some(&Value::from("PutObject")));
}
