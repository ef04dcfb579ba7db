//! The first five minutes with coscls.
//!
//! With no configuration it starts the embedded emulator (no network, no
//! account) and runs a real workload against it: uploads (one large enough
//! for a concurrent multipart upload, with a progress bar), a server-side
//! copy in parts, a listing,
//! downloads that are verified byte for byte and by CRC-64, a presigned URL,
//! and logs shipped to CLS through the batching producer and the `tracing`
//! layer, each log carrying the trace id of the span it was written in.
//! It ends with a table per operation built from the SDK's own spans.
//!
//! With `COS_REGION`, `COS_BUCKET`, credentials (`TENCENTCLOUD_SECRET_ID` /
//! `TENCENTCLOUD_SECRET_KEY`) and `CLS_TOPIC_ID` set it runs the same against
//! Tencent Cloud (objects under `coscls-quickstart/`, removed at the end).
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, traces and metrics go over OTLP.

mod stats;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coscls::auth::{Credentials, EnvProvider};
use coscls::cls::{self, ClsLayer, Log, LogContent, Producer, ProducerConfig};
use coscls::cos::{self, CopyOptions, DownloadOptions, ListOptions, PresignOptions, UploadOptions};
use coscls::telemetry::Telemetry;
use coscls_emulator::Emulator;
use futures_util::TryStreamExt;
use opentelemetry::trace::TracerProvider as _;
use tracing::Instrument;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer as _;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const PREFIX: &str = "coscls-quickstart/";
const LARGE_SIZE: usize = 24 * 1024 * 1024;

/// Where the workload runs.
struct Target {
    cos: cos::Client,
    cls: cls::Client,
    bucket: String,
    topic: String,
    emulator: Option<Emulator>,
}

async fn target() -> Result<Target, BoxError> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let (Some(region), Some(bucket), Some(topic)) =
        (env("COS_REGION"), env("COS_BUCKET"), env("CLS_TOPIC_ID"))
    {
        let creds = EnvProvider::load()?;
        println!("Running against Tencent Cloud: bucket {bucket} in {region}, CLS topic {topic}");
        let cls_region = env("CLS_REGION").unwrap_or_else(|| region.clone());
        return Ok(Target {
            cos: cos::Client::builder()
                .region(region)
                .credentials(creds.clone())
                .build()?,
            cls: cls::Client::builder()
                .region(cls_region)
                .credentials(creds)
                .build()?,
            bucket,
            topic,
            emulator: None,
        });
    }
    let (id, key) = ("AKIDquickstart", "quickstart-secret-key");
    let bucket = "quickstart-1250000000".to_string();
    let topic = "0e69453c-0727-4c9c-9d4f-3b6b1c2a9e11".to_string();
    let emulator = Emulator::builder()
        .credentials(id, key)
        .bucket(&bucket)
        .topic(&topic)
        .start()
        .await?;
    println!(
        "No COS_REGION/COS_BUCKET/CLS_TOPIC_ID set: using the embedded emulator at {}",
        emulator.endpoint()
    );
    println!("(it verifies every signature exactly as COS and CLS do)\n");
    let creds = Credentials::new(id, key)?;
    Ok(Target {
        cos: cos::Client::builder()
            .region("ap-guangzhou")
            .endpoint(emulator.endpoint())
            .credentials(creds.clone())
            .build()?,
        cls: cls::Client::builder()
            .region("ap-guangzhou")
            .endpoint(emulator.endpoint())
            .credentials(creds)
            .build()?,
        bucket,
        topic,
        emulator: Some(emulator),
    })
}

/// Deterministic pseudo-random bytes, so the download can be compared.
fn sample_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// One `indicatif` bar per transfer on stderr (hidden when stderr is not a
/// terminal, as in CI logs).
fn progress_bar(label: &'static str) -> impl Fn(cos::Progress) + Send + Sync + 'static {
    let style = indicatif::ProgressStyle::with_template(
        "  {msg:8} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
    )
    .map(|s| s.progress_chars("#>."))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    let bar = indicatif::ProgressBar::new(0)
        .with_style(style)
        .with_message(label);
    move |p: cos::Progress| {
        if let Some(total) = p.total {
            bar.set_length(total);
        }
        bar.set_position(p.transferred);
        if p.total.is_some_and(|total| p.transferred >= total) {
            bar.finish();
        }
    }
}

async fn cos_workload(t: &Target) -> Result<(), BoxError> {
    let (client, bucket) = (&t.cos, t.bucket.as_str());
    println!("COS");
    let small = [
        (format!("{PREFIX}hello.txt"), b"hello, COS".to_vec()),
        (
            format!("{PREFIX}docs/文件 +1.txt"),
            "keys with spaces, + and CJK just work".as_bytes().to_vec(),
        ),
        (format!("{PREFIX}data.json"), br#"{"answer":42}"#.to_vec()),
    ];
    for (key, body) in &small {
        let out = client.put_object(bucket, key, body.clone()).await?;
        let crc = out
            .crc64
            .map_or("not reported".to_string(), |c| format!("{c:016x}"));
        println!("  put {key} ({} bytes, CRC-64 {crc})", body.len());
    }

    let dir = tempfile::tempdir()?;
    let large = sample_bytes(LARGE_SIZE, 7);
    let large_path = dir.path().join("large.bin");
    std::fs::write(&large_path, &large)?;
    let large_key = format!("{PREFIX}large.bin");
    let opts = UploadOptions::default()
        .part_size(8 * 1024 * 1024)
        .concurrency(3)
        .on_progress(progress_bar("upload"));
    let up = client
        .upload_file(bucket, &large_key, &large_path, &opts)
        .await?;
    println!(
        "  uploaded {large_key}: {} MiB in {} parts",
        LARGE_SIZE >> 20,
        up.parts
    );

    // A server-side copy: above the threshold it runs as UploadPartCopy
    // ranges (the default threshold is 5 GiB, COS's CopyObject limit).
    let copy_key = format!("{PREFIX}large-copy.bin");
    let copy_opts = CopyOptions::default().multipart_threshold(8 * 1024 * 1024);
    let copied = client
        .copy(bucket, &large_key, bucket, &copy_key, &copy_opts)
        .await?;
    let check = copied.crc64.map_or("no CRC-64 reported".to_string(), |c| {
        format!("CRC-64 {c:016x}, same as the source")
    });
    println!(
        "  copied it server-side to {copy_key} in {} parts ({check})",
        copied.parts
    );

    let mut listed = Vec::new();
    let mut pages =
        Box::pin(client.list_objects_stream(bucket, ListOptions::default().prefix(PREFIX)));
    while let Some(page) = pages.try_next().await? {
        listed.extend(page.objects.into_iter().map(|o| (o.key, o.size)));
    }
    println!("  listed {} objects under {PREFIX}", listed.len());

    for (key, body) in &small {
        let got = client.get_object(bucket, key).await?.body.bytes().await?;
        if got.as_ref() != body.as_slice() {
            return Err(format!("downloaded {key} differs from what was uploaded").into());
        }
    }
    println!("  downloaded and compared {} small objects", small.len());

    let copy_path = dir.path().join("large.copy");
    let down_opts = DownloadOptions::default()
        .concurrency(3)
        .on_progress(progress_bar("download"));
    let down = client
        .download_file(bucket, &large_key, &copy_path, &down_opts)
        .await?;
    if std::fs::read(&copy_path)? != large {
        return Err("the downloaded large object differs from the upload".into());
    }
    println!(
        "  downloaded {large_key} in {} ranged parts: bytes equal, whole-object CRC-64 {}",
        down.parts,
        down.crc64_verified
            .map_or("not provided by the server".to_string(), |c| format!(
                "{c:016x} verified"
            ))
    );

    let url = client
        .presigned_url(
            bucket,
            &small[0].0,
            &PresignOptions::get(Duration::from_secs(300)),
        )
        .await?;
    let fetched = reqwest::get(&url).await?.bytes().await?;
    println!(
        "  a presigned URL fetched with a plain HTTP client returned {:?}",
        String::from_utf8_lossy(&fetched)
    );

    let keys: Vec<String> = listed.into_iter().map(|(k, _)| k).collect();
    client
        .delete_objects(bucket, keys.iter().map(String::as_str))
        .await?;
    println!("  deleted {} objects\n", keys.len());
    Ok(())
}

async fn cls_workload(t: &Target, producer: &Producer) -> Result<(), BoxError> {
    println!("CLS");
    // Structured logs straight through the producer, with a receipt each.
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let mut receipts = Vec::new();
    for i in 0..500 {
        let log = Log {
            time: now_ms,
            contents: vec![
                LogContent {
                    key: "event".into(),
                    value: "checkout".into(),
                },
                LogContent {
                    key: "order".into(),
                    value: format!("{i}"),
                },
            ],
            collect_time: None,
        };
        receipts.push(producer.send(t.topic.as_str(), log).await?);
    }
    // Application logs through the tracing layer: each carries the trace and
    // span id of the span it was written in.
    async {
        for i in 0..20 {
            tracing::info!(order = i, "order processed");
        }
        tracing::warn!(queue = "payments", "queue is getting long");
    }
    .instrument(tracing::info_span!("process_orders"))
    .await;
    producer.flush().await;
    let mut delivered = 0;
    for r in receipts {
        if r.await.is_ok() {
            delivered += 1;
        }
    }
    println!("  producer: {delivered}/500 structured logs confirmed delivered");
    if let Some(emu) = &t.emulator {
        let logs = emu.cls_logs(&t.topic);
        let traced: Vec<_> = logs
            .iter()
            .filter(|l| l.contents.get("traceID").is_some_and(|v| !v.is_empty()))
            .collect();
        println!(
            "  the emulator received {} logs; {} came from tracing events",
            logs.len(),
            traced.len()
        );
        if let Some(l) = traced.first() {
            println!(
                "  e.g. {:?} with traceID {} spanID {}",
                l.contents
                    .get("message")
                    .or(l.contents.get("content"))
                    .cloned()
                    .unwrap_or_default(),
                l.contents["traceID"],
                l.contents.get("spanID").cloned().unwrap_or_default()
            );
        }
    }
    println!();
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let target = target().await?;
    let producer = Producer::new(
        target.cls.clone(),
        ProducerConfig::default().linger(Duration::from_millis(200)),
    )?;

    // Export only when asked to; otherwise a local tracer still gives every
    // span a trace id, so the shipped logs show how they join traces.
    let exporting = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
    let telemetry = if exporting {
        Some(
            // The program's name is only a default: OTEL_SERVICE_NAME wins.
            Telemetry::builder()
                .default_service_name("coscls-quickstart")
                .build()?,
        )
    } else {
        None
    };
    let local = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let otel_layer = match telemetry.as_ref().and_then(|t| t.layer()) {
        Some(layer) => layer,
        None => tracing_opentelemetry::layer().with_tracer(local.tracer("coscls-quickstart")),
    };
    let stats = stats::Stats::default();
    tracing_subscriber::registry()
        .with(otel_layer)
        .with(stats.clone())
        // Ship this program's own events; libraries log elsewhere.
        .with(
            ClsLayer::new(producer.clone(), target.topic.as_str())
                .with_filter(Targets::new().with_target("quickstart", Level::INFO)),
        )
        .init();

    let root = tracing::info_span!("quickstart");
    async {
        cos_workload(&target).await?;
        cls_workload(&target, &producer).await
    }
    .instrument(root)
    .await?;

    let report = producer.close(Duration::from_secs(30)).await;
    println!(
        "Producer closed: {} accepted, {} delivered, {} failed\n",
        report.accepted, report.delivered, report.failed
    );
    println!("{}", stats.table());

    match telemetry {
        Some(t) => {
            t.shutdown()?;
            let service = std::env::var("OTEL_SERVICE_NAME")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "coscls-quickstart".into());
            println!("Traces and metrics were exported over OTLP; open Jaeger (http://localhost:16686) and look for service {service}.");
        }
        None => println!(
            "To see these operations as traces in Jaeger and as latency histograms in Prometheus:\n  \
             docker compose up -d\n  \
             OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 cargo run --example quickstart\n  \
             then open http://localhost:16686 (Jaeger) and http://localhost:9090 (Prometheus)."
        ),
    }
    if let Some(emu) = target.emulator {
        emu.shutdown().await;
    }
    if !report.all_delivered() {
        return Err(format!(
            "{} logs were not delivered",
            report.accepted - report.delivered
        )
        .into());
    }
    Ok(())
}
