//! What coscls's telemetry costs per operation: a 4 KiB
//! `cos::Client::put_object` against the embedded emulator, in one of these
//! configurations (one per process, so each starts from the same state):
//!
//! - `off`: no `tracing` subscriber, no meter provider (an application that
//!   never set telemetry up; coscls records into OpenTelemetry's no-op meter);
//! - `metrics`: coscls's metrics on an SDK meter provider exporting over
//!   OTLP, no subscriber (`Telemetry::builder().traces(false).build()`);
//! - `default`: what `coscls::telemetry::init()` installs (the global
//!   subscriber with the OpenTelemetry layer and `OperationSpans`, one
//!   exported span per operation made through the OpenTelemetry API,
//!   metrics), exporting OTLP/HTTP to a local sink. The sampler
//!   comes from `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG` when set, so
//!   the sampled configuration is this one with those variables;
//! - `default_nolog`: `default` without the stderr log layer `init()` adds
//!   (`log_to_stderr(false)`), which formats every span's fields even when
//!   it prints nothing;
//! - `floor`: no coscls telemetry, and one span per operation created with
//!   the `opentelemetry` API directly (no `tracing` bridge), carrying the
//!   attributes coscls's own span carries, exported by the same batch
//!   processor and OTLP exporter (`Telemetry::builder().metrics(false)`);
//! - `floor_metrics`: `floor` plus coscls's metrics, the `default`
//!   configuration with the bridge replaced by the bare API.
//!
//! Only the public API is used (the telemetry builder, its guard, the COS
//! client, the emulator), so the bench keeps measuring the same thing when
//! the instrumentation inside coscls changes. The floor's attributes are
//! not a hand-written list: before measuring, one operation runs under a
//! subscriber with coscls's layer (and a capturing global tracer provider),
//! and the floor copies the name, kind, status and attributes of the span
//! coscls produced; values that contain the object key are rebuilt for
//! every operation, as coscls has to.
//!
//! ```sh
//! cd bench && cargo build --release --bin telemetry_cost
//! ./target/release/telemetry_cost CONFIG OPS [WARMUP]
//! ```
//!
//! Runs `WARMUP` operations (default 20), then `OPS` operations and a
//! flush of whatever the configuration exports, and prints one JSON line:
//! CPU time of the whole process (all threads: client, emulator, exporter;
//! `getrusage`) and wall time of that measured phase per operation, and
//! what the sink received (OTLP trace and metric bytes and requests, so a
//! sampler that is ignored shows). Instruction counts come from running
//! the same command under callgrind with two values of `OPS`: see
//! `telemetry_cost.sh`.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use coscls::auth::Credentials;
use coscls::cos;
use coscls::telemetry::{Protocol, Telemetry, TelemetryGuard};
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _, TracerProvider as _};
use opentelemetry::{Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanProcessor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing_subscriber::layer::SubscriberExt as _;

const BUCKET: &str = "bench-1250000000";
const REGION: &str = "ap-guangzhou";
const SECRET_ID: &str = "AKIDbench";
const SECRET_KEY: &str = "bench-secret";
/// The key of the probe operation whose span the floor copies; the floor
/// replaces it with each operation's key wherever it appears in a value.
const PROBE_KEY: &str = "telemetry-cost/probe";

fn key_of(i: usize) -> String {
    format!("telemetry-cost/{}", i % 64)
}

/// Bytes and requests the sink received, by OTLP signal.
#[derive(Debug, Default)]
struct SinkCounts {
    trace_bytes: AtomicU64,
    trace_requests: AtomicU64,
    metric_bytes: AtomicU64,
    metric_requests: AtomicU64,
}

/// A minimal OTLP/HTTP collector on loopback: reads each request and
/// answers `200` with an empty protobuf body, counting body bytes by path.
async fn start_sink(counts: Arc<SinkCounts>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the sink");
    let addr = listener.local_addr().expect("sink address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counts = counts.clone();
            tokio::spawn(async move {
                const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\ncontent-type: application/x-protobuf\r\n\r\n";
                let mut buf = Vec::with_capacity(16 * 1024);
                let mut chunk = vec![0u8; 16 * 1024];
                loop {
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i;
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    let (bytes, requests) = if head.contains("/v1/traces") {
                        (&counts.trace_bytes, &counts.trace_requests)
                    } else {
                        (&counts.metric_bytes, &counts.metric_requests)
                    };
                    bytes.fetch_add(len as u64, Ordering::Relaxed);
                    requests.fetch_add(1, Ordering::Relaxed);
                    let total = head_end + 4 + len;
                    while buf.len() < total {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..total);
                    if stream.write_all(RESPONSE).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// CPU time of the whole process (every thread), user + system.
fn process_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Keeps every ended span (the probe run's).
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Capture {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}
    fn on_end(&self, span: SpanData) {
        self.0.lock().expect("capture lock").push(span);
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// One attribute of the floor's span: a value shared by every operation,
/// or one rebuilt around each operation's key.
#[derive(Debug)]
enum Attribute {
    Fixed(KeyValue),
    Keyed {
        key: Key,
        prefix: String,
        suffix: String,
    },
}

/// The span the floor creates for each operation, copied from coscls's.
#[derive(Debug)]
struct FloorSpan {
    name: Cow<'static, str>,
    kind: SpanKind,
    status: Status,
    attributes: Vec<Attribute>,
}

impl FloorSpan {
    fn from_span(span: &SpanData) -> Self {
        let attributes = span
            .attributes
            .iter()
            .map(|kv| match &kv.value {
                Value::String(s) => match s.as_str().split_once(PROBE_KEY) {
                    Some((prefix, suffix)) => Attribute::Keyed {
                        key: kv.key.clone(),
                        prefix: prefix.to_owned(),
                        suffix: suffix.to_owned(),
                    },
                    // Per-client constants (region, bucket, host...): shared.
                    None => Attribute::Fixed(KeyValue::new(
                        kv.key.clone(),
                        StringValue::from(Arc::<str>::from(s.as_str())),
                    )),
                },
                _ => Attribute::Fixed(kv.clone()),
            })
            .collect();
        FloorSpan {
            name: Cow::Owned(span.name.to_string()),
            kind: span.span_kind.clone(),
            status: span.status.clone(),
            attributes,
        }
    }

    fn start(&self, tracer: &SdkTracer, object_key: &str) -> opentelemetry_sdk::trace::Span {
        let attributes: Vec<KeyValue> = self
            .attributes
            .iter()
            .map(|a| match a {
                Attribute::Fixed(kv) => kv.clone(),
                Attribute::Keyed {
                    key,
                    prefix,
                    suffix,
                } => KeyValue::new(key.clone(), format!("{prefix}{object_key}{suffix}")),
            })
            .collect();
        tracer
            .span_builder(self.name.clone())
            .with_kind(self.kind.clone())
            .with_attributes(attributes)
            .start(tracer)
    }

    fn end(&self, mut span: opentelemetry_sdk::trace::Span) {
        if self.status != Status::Unset {
            span.set_status(self.status.clone());
        }
        span.end();
    }
}

/// Runs one put_object under a capturing subscriber (coscls's layer) and
/// global tracer provider, and returns the operation span coscls produced.
fn capture_operation_span(
    rt: &tokio::runtime::Runtime,
    client: &cos::Client,
    body: &Bytes,
) -> SpanData {
    let capture = Capture::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(capture.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO))
        .with(coscls::telemetry::layer(&provider));
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(client.put_object(BUCKET, PROBE_KEY, body.clone()))
            .expect("probe put_object");
    });
    opentelemetry::global::set_tracer_provider(
        opentelemetry::trace::noop::NoopTracerProvider::new(),
    );
    let spans = std::mem::take(&mut *capture.0.lock().expect("capture lock"));
    let span = spans
        .iter()
        .find(|s| s.parent_span_id == opentelemetry::trace::SpanId::INVALID)
        .or_else(|| spans.first())
        .cloned()
        .unwrap_or_else(|| {
            eprintln!("the probe put_object produced no span: the floor has nothing to copy");
            std::process::exit(1)
        });
    eprintln!(
        "floor copies span {:?} (kind {:?}, {} attributes: {})",
        span.name,
        span.span_kind,
        span.attributes.len(),
        span.attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    span
}

fn usage() -> ! {
    eprintln!(
        "usage: telemetry_cost off|metrics|default|default_nolog|floor|floor_metrics OPS [WARMUP]"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let config = args.get(1).cloned().unwrap_or_else(|| usage());
    let ops: usize = args
        .get(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| usage());
    let warmup: usize = match args.get(3) {
        Some(v) => v.parse().unwrap_or_else(|_| usage()),
        None => 20,
    };
    if ![
        "off",
        "metrics",
        "default",
        "default_nolog",
        "floor",
        "floor_metrics",
    ]
    .contains(&config.as_str())
    {
        usage();
    }

    // As the other benches: the caller's future on this thread, the
    // emulator and sink on one worker.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let counts = Arc::new(SinkCounts::default());
    let (emulator, sink) = rt.block_on(async {
        (
            coscls_emulator::Emulator::builder()
                .credentials(SECRET_ID, SECRET_KEY)
                .bucket(BUCKET)
                .start()
                .await
                .expect("emulator"),
            start_sink(counts.clone()).await,
        )
    });
    let client = cos::Client::builder()
        .region(REGION)
        .endpoint(emulator.endpoint())
        .credentials(Credentials::new(SECRET_ID, SECRET_KEY).expect("credentials"))
        .build()
        .expect("client");
    let body = Bytes::from(vec![0x5a; 4096]);

    // Everything but the endpoint and protocol comes from OTEL_* variables,
    // as with `init()`; the sink speaks OTLP/HTTP.
    let builder = || {
        Telemetry::builder()
            .service_name("coscls-telemetry-cost")
            .protocol(Protocol::HttpProtobuf)
            .endpoint(format!("http://{sink}"))
    };
    let floor_span = config
        .starts_with("floor")
        .then(|| FloorSpan::from_span(&capture_operation_span(&rt, &client, &body)));
    let guard: Option<TelemetryGuard> = match config.as_str() {
        "off" => None,
        "metrics" => Some(builder().traces(false).build().expect("telemetry")),
        "default" => Some(builder().install().expect("telemetry")),
        "default_nolog" => Some(builder().log_to_stderr(false).install().expect("telemetry")),
        "floor" => Some(builder().metrics(false).build().expect("telemetry")),
        "floor_metrics" => Some(builder().build().expect("telemetry")),
        _ => usage(),
    };
    let tracer = floor_span.as_ref().map(|_| {
        guard
            .as_ref()
            .and_then(TelemetryGuard::tracer_provider)
            .expect("the floor exports traces")
            .tracer("coscls-telemetry-cost")
    });

    let run = |from: usize, n: usize| {
        rt.block_on(async {
            for i in from..from + n {
                let key = key_of(i);
                let span = match (&floor_span, &tracer) {
                    (Some(f), Some(t)) => Some(f.start(t, &key)),
                    _ => None,
                };
                client
                    .put_object(BUCKET, &key, body.clone())
                    .await
                    .expect("put_object");
                if let (Some(f), Some(span)) = (&floor_span, span) {
                    f.end(span);
                }
            }
        })
    };
    let flush = || {
        if let Some(g) = &guard {
            g.force_flush().expect("flush");
        }
    };

    run(0, warmup);
    flush();
    let counted = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let before = [
        counted(&counts.trace_bytes),
        counted(&counts.trace_requests),
        counted(&counts.metric_bytes),
        counted(&counts.metric_requests),
    ];
    let (cpu0, wall0) = (process_cpu(), Instant::now());
    run(warmup, ops);
    flush();
    let (cpu, wall) = (process_cpu() - cpu0, wall0.elapsed());
    let after = [
        counted(&counts.trace_bytes),
        counted(&counts.trace_requests),
        counted(&counts.metric_bytes),
        counted(&counts.metric_requests),
    ];
    let stored = emulator.stats().requests;
    if let Some(g) = guard {
        g.shutdown().expect("telemetry shutdown");
    }
    rt.block_on(emulator.shutdown());

    let per_op = |d: Duration| d.as_secs_f64() * 1e6 / ops as f64;
    println!(
        "{}",
        serde_json::json!({
            "config": config,
            "sampler": std::env::var("OTEL_TRACES_SAMPLER").ok(),
            "sampler_arg": std::env::var("OTEL_TRACES_SAMPLER_ARG").ok(),
            "ops": ops,
            "warmup": warmup,
            "emulator_requests": stored,
            "cpu_us_per_op": per_op(cpu),
            "wall_us_per_op": per_op(wall),
            "trace_bytes": after[0] - before[0],
            "trace_requests": after[1] - before[1],
            "metric_bytes": after[2] - before[2],
            "metric_requests": after[3] - before[3],
        })
    );
}
