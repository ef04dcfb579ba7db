//! The CLS producer's own ceiling: throughput and peak memory with the
//! network replaced by a transport that answers `200` at once, so what is
//! measured is the producer (accepting, batching, encoding, compressing,
//! signing), not a server.
//!
//! ```sh
//! cd bench && cargo run --release --bin cls_producer_ceiling -- [--logs N] [--hold-ms MS] [--memory-mib M]
//! ```
//!
//! One core: a current-thread runtime, and the caller pins the process
//! (`taskset -c 0`). The workload is the five-field log of
//! `cls_throughput` (level, msg, user, latency_ms, trace). With `--hold-ms`
//! every answer waits that long, so the buffer fills up to `memory_limit`
//! and the peak RSS shows what the cap really bounds. Prints one JSON line:
//! logs/s by wall clock and by CPU time, peak RSS (VmHWM) and the cap.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coscls::auth::{BoxFuture, Credentials};
use coscls::cls::{Client, Log, Producer, ProducerConfig};
use coscls::transport::{self, HttpSend, RequestBody, ResponseBody};

const LEVELS: [&str; 4] = ["INFO", "WARN", "ERROR", "DEBUG"];

/// Log number `i` of the workload (as in `cls_throughput`).
fn workload_log(i: usize) -> Log {
    let latency = i % 997;
    let user = i % 10007;
    Log::new(1_700_000_000_000 + i as i64)
        .field("level", LEVELS[i % 4])
        .field(
            "msg",
            format!(
                "GET /api/v1/orders/{i} completed with status 200 in {latency} ms for user u{user}"
            ),
        )
        .field("user", format!("u{user}"))
        .field("latency_ms", latency.to_string())
        .field("trace", format!("{:032x}", (i as u128) * 2_654_435_761))
}

/// Answers every request with `200` (after `hold`, when set) and counts the
/// body bytes it was handed.
#[derive(Debug)]
struct Instant200 {
    hold: Duration,
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl HttpSend for Instant200 {
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, transport::Error>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let RequestBody::Bytes(b) = request.body() {
            self.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
        let hold = self.hold;
        Box::pin(async move {
            drop(request);
            if !hold.is_zero() {
                tokio::time::sleep(hold).await;
            }
            Ok(http::Response::builder()
                .status(200)
                .body(ResponseBody::empty())
                .expect("a static response"))
        })
    }
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the pointer we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = arg(&args, "--logs")
        .unwrap_or_else(|| "1000000".into())
        .parse()?;
    let hold = Duration::from_millis(
        arg(&args, "--hold-ms")
            .unwrap_or_else(|| "0".into())
            .parse()?,
    );
    let memory_mib: usize = arg(&args, "--memory-mib")
        .unwrap_or_else(|| "100".into())
        .parse()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rss_before_kb = status_kb("VmRSS:");
    let transport = Arc::new(Instant200 {
        hold,
        requests: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
    });
    let (secs, cpu, report) = rt.block_on(async {
        let client = Client::builder()
            .endpoint("http://127.0.0.1:9")
            .credentials(Credentials::new("AKIDbench", "bench-key")?)
            .transport(transport.clone())
            .build()?;
        let config = ProducerConfig::default().memory_limit(memory_mib << 20);
        let producer = Producer::new(client, config)?;
        let cpu0 = cpu_secs();
        let start = Instant::now();
        for i in 0..n {
            producer.send("bench-topic", workload_log(i)).await?;
        }
        let report = producer.close(Duration::from_secs(600)).await;
        Ok::<_, Box<dyn std::error::Error>>((
            start.elapsed().as_secs_f64(),
            cpu_secs() - cpu0,
            report,
        ))
    })?;
    if !report.all_delivered() {
        return Err(format!("not all delivered: {report:?}").into());
    }
    println!(
        "{}",
        serde_json::json!({
            "logs": n,
            "hold_ms": hold.as_millis() as u64,
            "secs": secs,
            "cpu_secs": cpu,
            "logs_per_sec_wall": n as f64 / secs,
            "logs_per_sec_cpu": n as f64 / cpu,
            "requests": transport.requests.load(Ordering::Relaxed),
            "body_bytes": transport.bytes.load(Ordering::Relaxed),
            "rss_before_kib": rss_before_kb,
            "peak_rss_kib": status_kb("VmHWM:"),
            "memory_limit_kib": (memory_mib << 20) / 1024,
        })
    );
    Ok(())
}
