//! Overhead of coscls telemetry on a 4 KiB `cos::Client::put_object` against
//! the embedded emulator, measured in one run:
//! batches of the same operation alternate between telemetry off (no
//! subscriber, the no-op meter) and on (the `tracing-opentelemetry` layer and
//! the SDK meter provider, exporting over OTLP/HTTP to a local sink), and the
//! ratio of paired batches is reported.
//!
//! Run: `cd bench && cargo bench --bench telemetry_overhead`
//! (`ROUNDS` and `BATCH` environment variables change the sample size.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coscls::auth::Credentials;
use coscls::cos;
use coscls::telemetry::{OperationInfo, Protocol, Telemetry};
use coscls::transport::retry::RetryPolicy;
use coscls::transport::{
    HttpSend, Pipeline, PreparedRequest, RequestBody, ReqwestTransport, ResponseBody, Signer,
    SigningProfile, Timeouts,
};
use http::{HeaderMap, HeaderValue, Method};
use opentelemetry::metrics::MeterProvider as _;
use tracing_subscriber::layer::SubscriberExt as _;

const BUCKET: &str = "bench-1250000000";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn parse_error(r: http::Response<ResponseBody>) -> cos::Error {
    cos::Error::Service(Box::new(cos::ServiceError {
        status: r.status().as_u16(),
        code: "Error".into(),
        ..Default::default()
    }))
}

/// The measured operation: `cos::Client::put_object` of 4 KiB.
async fn put_object(client: &cos::Client, body: &Bytes, i: usize) {
    let key = format!("obj/{}", i % 64);
    client
        .put_object(BUCKET, &key, body.clone())
        .await
        .expect("put_object");
}

/// The same request shape straight through the pipeline (for
/// `TRANSPORT=memory`, where no server answers).
async fn put(p: &Pipeline, addr: std::net::SocketAddr, body: &Bytes, i: usize) {
    let key = format!("obj/{}", i % 64);
    let info = OperationInfo::cos("PutObject", "ap-guangzhou", BUCKET).with_key(&key);
    let response = p
        .execute(
            &info,
            || {
                let mut headers = HeaderMap::new();
                headers.insert(
                    "host",
                    HeaderValue::from_str(&addr.to_string()).expect("host"),
                );
                headers.insert(
                    "content-type",
                    HeaderValue::from_static("application/octet-stream"),
                );
                Ok(PreparedRequest {
                    method: Method::PUT,
                    url: format!("http://{addr}/{BUCKET}/{key}"),
                    signed_path: format!("/{BUCKET}/{key}"),
                    params: vec![],
                    headers,
                    body: RequestBody::Bytes(body.clone()),
                })
            },
            parse_error,
        )
        .await
        .expect("put");
    response.into_body().collect(1024).await.expect("body");
}

/// Answers 200 at once without I/O, to isolate the CPU cost of telemetry.
#[derive(Debug)]
struct Instant200;

impl HttpSend for Instant200 {
    fn send(
        &self,
        _request: http::Request<RequestBody>,
    ) -> coscls::auth::BoxFuture<'_, Result<http::Response<ResponseBody>, coscls::transport::Error>>
    {
        Box::pin(async {
            Ok(http::Response::builder()
                .status(200)
                .header("x-cos-request-id", "bench")
                .body(ResponseBody::empty())
                .expect("response"))
        })
    }
}

/// CPU time used so far by every thread of this process (client, emulator,
/// exporters), from `/proc/self/task/*/schedstat`; `None` off Linux.
fn process_cpu() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        total += text
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(Duration::from_nanos(total))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let rounds = env_or("ROUNDS", 40);
    let batch = env_or("BATCH", 200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    // The embedded emulator verifies every signature and stores the object;
    // the sink stands in for an OTLP/HTTP collector.
    let (emulator, sink) = rt.block_on(async {
        (
            coscls_emulator::Emulator::builder()
                .credentials("AKIDbench", "bench-secret")
                .bucket(BUCKET)
                .start()
                .await
                .expect("emulator"),
            coscls_bench::start_sink("content-type: application/x-protobuf\r\n").await,
        )
    });
    let server = emulator.addr();

    let telemetry = Telemetry::builder()
        .service_name("coscls-bench")
        .protocol(Protocol::HttpProtobuf)
        .endpoint(format!("http://{sink}"))
        // The SDK default (60 s): metric export is periodic, not per operation.
        .metric_interval(Duration::from_secs(60))
        .build()
        .expect("telemetry");
    // No global meter provider is installed: this is the no-op meter an
    // application without telemetry gets.
    let off_meter = opentelemetry::global::meter("coscls");
    // VARIANT picks what "on" means: `full` (default: operation spans and
    // metrics, exported, as `init()` sets it up), `attempts` (the same plus
    // the opt-in attempt spans: `coscls::attempt=debug`), `metrics` (metrics
    // only, no subscriber), `registry` (metrics, and a subscriber without
    // the OpenTelemetry layer: what `init()` gives with
    // `OTEL_TRACES_EXPORTER=none`, minus the log layer), `layer` (spans
    // built by the layer but never exported; no metrics), `noactivation`
    // (`full` with the layer's context activation off).
    let variant = std::env::var("VARIANT").unwrap_or_else(|_| "full".into());
    let unexported = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let on_meter = match variant.as_str() {
        "layer" => off_meter.clone(),
        _ => telemetry
            .meter_provider()
            .expect("metrics on")
            .meter("coscls"),
    };
    let on_layer = match variant.as_str() {
        "layer" => Some(coscls::telemetry::layer(&unexported)),
        "registry" => None,
        "noactivation" => telemetry.layer().map(|l| l.with_context_activation(false)),
        _ => telemetry.layer(),
    };
    // As `coscls::telemetry::init()` sets it up: an `info` level filter (so
    // the HTTP stack's debug and trace events stay off), then the layer.
    let level = if variant == "attempts" {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    let on_subscriber = Arc::new(
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::filter::Targets::new()
                    .with_default(tracing::Level::INFO)
                    .with_target("coscls::attempt", level),
            )
            .with(on_layer),
    );
    let traced = variant != "metrics";

    let creds = Credentials::new("AKIDbench", "bench-secret").expect("creds");
    let transport: Arc<dyn HttpSend> = if std::env::var("TRANSPORT").as_deref() == Ok("memory") {
        Arc::new(Instant200)
    } else {
        Arc::new(ReqwestTransport::new(Timeouts::default()).expect("client"))
    };
    let p = Pipeline::new(
        transport,
        Arc::new(Signer::new(Arc::new(creds), SigningProfile::COS)),
        RetryPolicy::default(),
    );
    let body = Bytes::from(vec![0x5a; 4096]);
    let memory = std::env::var("TRANSPORT").as_deref() == Ok("memory");
    let client = cos::Client::builder()
        .region("ap-guangzhou")
        .endpoint(cos::Endpoint::custom(&emulator.endpoint()).expect("endpoint"))
        .credentials(Credentials::new("AKIDbench", "bench-secret").expect("creds"))
        .build()
        .expect("client");

    let cpu_used = std::cell::Cell::new([Duration::ZERO; 2]);
    // ONLY=on|off forces one mode for every batch (for profiling).
    let only = std::env::var("ONLY").ok();
    let run = |on: bool, n: usize, start: usize| -> Duration {
        let on = match only.as_deref() {
            Some("on") => true,
            Some("off") => false,
            _ => on,
        };
        let cpu_before = process_cpu();
        if on {
            coscls::telemetry::set_meter(&on_meter);
        } else {
            coscls::telemetry::set_meter(&off_meter);
        }
        let fut = async {
            let t = Instant::now();
            for i in 0..n {
                if memory {
                    put(&p, server, &body, start + i).await;
                } else {
                    put_object(&client, &body, start + i).await;
                }
            }
            t.elapsed()
        };
        let elapsed = if on && traced {
            let _g = tracing::subscriber::set_default(on_subscriber.clone());
            rt.block_on(fut)
        } else {
            let _g = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
            rt.block_on(fut)
        };
        if let (Some(a), Some(b)) = (cpu_before, process_cpu()) {
            let mut used = cpu_used.get();
            used[usize::from(on)] += b.saturating_sub(a);
            cpu_used.set(used);
        }
        elapsed
    };

    // Warm up both paths (connections, allocator, exporter threads).
    run(false, batch, 0);
    run(true, batch, 0);
    cpu_used.set([Duration::ZERO; 2]);

    let mut ratios = Vec::with_capacity(rounds);
    let (mut off_total, mut on_total) = (Duration::ZERO, Duration::ZERO);
    for r in 0..rounds {
        // Alternate which mode goes first so drift does not favour one.
        let (off, on) = if r % 2 == 0 {
            let off = run(false, batch, r * batch);
            (off, run(true, batch, r * batch))
        } else {
            let on = run(true, batch, r * batch);
            (run(false, batch, r * batch), on)
        };
        off_total += off;
        on_total += on;
        ratios.push(on.as_secs_f64() / off.as_secs_f64());
    }
    telemetry.shutdown().expect("flush");
    let stored = emulator.stats().requests;
    rt.block_on(emulator.shutdown());

    let ops = (rounds * batch) as f64;
    let off_us = off_total.as_secs_f64() * 1e6 / ops;
    let on_us = on_total.as_secs_f64() * 1e6 / ops;
    let med = median(&mut ratios);
    let (lo, hi) = (ratios[rounds / 10], ratios[rounds - 1 - rounds / 10]);
    let what = if memory {
        "the transport pipeline, no I/O"
    } else {
        "cos::Client::put_object against the embedded emulator"
    };
    println!("telemetry overhead, 4 KiB PutObject, {what} (variant {variant})");
    println!("  emulator requests     {stored}");
    println!("  rounds x batch        {rounds} x {batch} operations per mode");
    println!("  off (no telemetry)    {off_us:.1} µs/op");
    println!("  on  (spans + metrics) {on_us:.1} µs/op");
    println!(
        "  on/off, total         {:.4}",
        on_total.as_secs_f64() / off_total.as_secs_f64()
    );
    let [cpu_off, cpu_on] = cpu_used.get();
    if !(cpu_off + cpu_on).is_zero() {
        println!(
            "  CPU, all threads      off {:.1} µs/op, on {:.1} µs/op, on/off {:.4}",
            cpu_off.as_secs_f64() * 1e6 / ops,
            cpu_on.as_secs_f64() * 1e6 / ops,
            cpu_on.as_secs_f64() / cpu_off.as_secs_f64()
        );
    }
    println!("  on/off, median pair   {med:.4}  (10th–90th percentile {lo:.4}–{hi:.4})");
}
