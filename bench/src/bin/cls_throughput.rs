//! CLS producer throughput into the emulator, against the official Python
//! SDK's `put_log_raw` on the same workload, in the same run.
//!
//! ```sh
//! cd bench && cargo run --release --bin cls_throughput -- [--logs N] [--reps R]
//! ```
//!
//! The runner starts the emulator in a child process, then runs each client
//! in its own child process (so each peak-memory figure is that client's
//! alone): the coscls `Producer` on one core (a current-thread runtime pinned
//! with `taskset -c 0`) and on all cores, then the Python SDK (pinned to one
//! core; it is single-threaded). Every run is checked: the emulator must have
//! stored exactly N logs. It prints a Markdown table of medians.
//!
//! The Python SDK is taken from `scripts/interop/.venv` when present, else
//! `bench/.venv` is created with `tencentcloud-cls-sdk-python` from PyPI.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coscls::auth::Credentials;
use coscls::cls::limits::wire_bytes;
use coscls::cls::{Client, Log, Producer, ProducerConfig};
use coscls_emulator::{Emulator, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY};

const PY_SDK: &str = "tencentcloud-cls-sdk-python==1.0.9";
const LEVELS: [&str; 4] = ["INFO", "WARN", "ERROR", "DEBUG"];

/// Log number `i` of the workload (the Python script builds the same).
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

fn vmhwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time of this process so far (all live threads), from `schedstat`.
fn cpu_secs() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum();
    ns as f64 / 1e9
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve-emulator") => serve_emulator(),
        Some("rust-client") => {
            let endpoint = arg(&args, "--endpoint").ok_or("--endpoint")?;
            let topic = arg(&args, "--topic").ok_or("--topic")?;
            let n: usize = arg(&args, "--logs").ok_or("--logs")?.parse()?;
            let threads: usize = arg(&args, "--threads").ok_or("--threads")?.parse()?;
            rust_client(&endpoint, &topic, n, threads)
        }
        _ => {
            let n: usize = arg(&args, "--logs")
                .unwrap_or_else(|| "200000".into())
                .parse()?;
            let reps: usize = arg(&args, "--reps").unwrap_or_else(|| "3".into()).parse()?;
            orchestrate(n, reps)
        }
    }
}

/// Child: an emulator on loopback until stdin closes.
fn serve_emulator() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let emu = Emulator::builder().max_logs_per_topic(1000).start().await?;
        println!("{}", emu.endpoint());
        std::io::stdout().flush()?;
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await?;
        emu.shutdown().await;
        Ok(())
    })
}

/// Child: the producer with default settings, `threads` generator tasks.
fn rust_client(
    endpoint: &str,
    topic: &str,
    n: usize,
    threads: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    let (secs, cpu) = rt.block_on(async {
        let client = Client::builder()
            .endpoint(endpoint)
            .credentials(Credentials::new(DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY)?)
            .build()?;
        let producer = Producer::new(client, ProducerConfig::default())?;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..threads {
            let producer = producer.clone();
            let topic = topic.to_string();
            tasks.push(tokio::spawn(async move {
                for i in (t..n).step_by(threads) {
                    producer.send(topic.as_str(), workload_log(i)).await?;
                }
                Ok::<_, coscls::cls::Error>(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        let report = producer.close(Duration::from_secs(300)).await;
        let secs = start.elapsed().as_secs_f64();
        let cpu = cpu_secs();
        if !report.all_delivered() {
            return Err(format!("not all delivered: {report:?}").into());
        }
        Ok::<_, Box<dyn std::error::Error>>((secs, cpu))
    })?;
    println!(
        "{}",
        serde_json::json!({ "secs": secs, "cpu_secs": cpu, "vmhwm_kb": vmhwm_kb() })
    );
    Ok(())
}

struct Measure {
    secs: f64,
    cpu_secs: f64,
    vmhwm_kb: u64,
}

fn run_child(mut cmd: Command) -> Result<Measure, Box<dyn std::error::Error>> {
    let out = cmd.stderr(Stdio::inherit()).output()?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", out.status).into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().ok_or("no output")?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    Ok(Measure {
        secs: v["secs"].as_f64().ok_or("secs")?,
        cpu_secs: v["cpu_secs"].as_f64().ok_or("cpu_secs")?,
        vmhwm_kb: v["vmhwm_kb"].as_u64().ok_or("vmhwm_kb")?,
    })
}

/// `taskset -c 0 <program>` when taskset exists, so "one core" means one core.
fn pinned(program: &Path) -> Command {
    if Command::new("taskset").arg("--version").output().is_ok() {
        let mut c = Command::new("taskset");
        c.arg("-c").arg("0").arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn emulator_logs(endpoint: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "GET /_emulator/stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let body = resp.split("\r\n\r\n").nth(1).ok_or("no body")?;
    let v: serde_json::Value = serde_json::from_str(body)?;
    v["cls_logs"].as_u64().ok_or_else(|| "cls_logs".into())
}

fn python() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        bench.join("../scripts/interop/.venv/bin/python"),
        bench.join(".venv/bin/python"),
    ];
    for c in &candidates {
        let ok = Command::new(c)
            .args(["-c", "import tencentcloud.log.logclient"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return Ok(c.clone());
        }
    }
    let venv = bench.join(".venv");
    eprintln!("creating {} with {PY_SDK}", venv.display());
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()?;
    if !status.success() {
        return Err("python3 -m venv failed".into());
    }
    let py = venv.join("bin/python");
    let status = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            PY_SDK,
        ])
        .status()?;
    if !status.success() {
        return Err("pip install failed".into());
    }
    Ok(py)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn orchestrate(n: usize, reps: usize) -> Result<(), Box<dyn std::error::Error>> {
    let me = std::env::current_exe()?;
    let py = python()?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/cls_put_log_raw.py");
    let workload_bytes: usize = (0..n).map(|i| wire_bytes(&workload_log(i))).sum();

    let mut emu: Child = Command::new(&me)
        .arg("serve-emulator")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut first = String::new();
    BufReader::new(emu.stdout.take().ok_or("emulator stdout")?).read_line(&mut first)?;
    let endpoint = first.trim().to_string();
    eprintln!(
        "emulator at {endpoint}; {n} logs, {:.1} MB of encoded logs per run, {reps} runs each",
        workload_bytes as f64 / 1e6
    );

    let clients: [(&str, &str); 3] = [
        ("coscls Producer, 1 core (current-thread runtime)", "rust-1"),
        ("coscls Producer, all cores (2 worker threads)", "rust-all"),
        (
            "Python SDK put_log_raw, 4096 logs/request (1 core)",
            "python",
        ),
    ];
    let mut rows = Vec::new();
    for (label, kind) in clients {
        let mut secs = Vec::new();
        let mut cpu = Vec::new();
        let mut peak = 0;
        for rep in 0..reps {
            let topic = format!("{kind}-{rep}");
            let before = emulator_logs(&endpoint)?;
            let cmd = match kind {
                "python" => {
                    let mut c = pinned(&py);
                    c.arg(&script)
                        .arg(&endpoint)
                        .arg(&topic)
                        .arg(n.to_string())
                        .arg("4096")
                        .arg(DEFAULT_SECRET_ID)
                        .arg(DEFAULT_SECRET_KEY);
                    c
                }
                _ => {
                    let threads = if kind == "rust-1" { 1 } else { 2 };
                    let mut c = if threads == 1 {
                        pinned(&me)
                    } else {
                        Command::new(&me)
                    };
                    c.arg("rust-client")
                        .args(["--endpoint", &endpoint, "--topic", &topic])
                        .args(["--logs", &n.to_string(), "--threads", &threads.to_string()]);
                    c
                }
            };
            let m = run_child(cmd)?;
            let stored = emulator_logs(&endpoint)? - before;
            if stored != n as u64 {
                return Err(format!("{label}: the emulator stored {stored} of {n} logs").into());
            }
            eprintln!(
                "{label}: run {rep}: {:.3} s, client CPU {:.3} s, peak {} KiB",
                m.secs, m.cpu_secs, m.vmhwm_kb
            );
            secs.push(m.secs);
            cpu.push(m.cpu_secs);
            peak = peak.max(m.vmhwm_kb);
        }
        rows.push((label, median(secs), median(cpu), peak));
    }
    drop(emu.stdin.take());
    let _ = emu.wait();

    let py_rate = rows[2].1;
    println!("| client | logs/s | MB/s | client CPU per 1000 logs | peak RSS (VmHWM) | logs/s vs Python |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (label, secs, cpu, peak) in &rows {
        println!(
            "| {label} | {:.0} | {:.1} | {:.2} ms | {:.1} MiB | {:.1}× |",
            n as f64 / secs,
            workload_bytes as f64 / 1e6 / secs,
            cpu * 1e6 / n as f64,
            *peak as f64 / 1024.0,
            py_rate / secs
        );
    }
    Ok(())
}
