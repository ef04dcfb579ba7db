//! COS throughput against the coscls emulator: coscls vs OpenDAL's COS
//! service vs the official Python SDK vs raw reqwest (no SDK, the ceiling).
//!
//! ```text
//! cargo run --release --bin cos_throughput -- [--rounds N] [--small-count-1 N]
//!     [--small-count-64 N] [--big-mib N] [--skip-big] [--skip-python] [--json FILE]
//! ```
//!
//! Every measurement runs in its own child process (this binary re-executed
//! as `run CLIENT WORKLOAD …`, or `python/cos_ops.py`), which times itself
//! and reports its own peak RSS (`VmHWM`), so one client's memory never hides
//! another's. The emulator runs in a further child (`emulator [DATA_DIR]`):
//! in memory for the 4 KiB workloads, on a temporary data directory for the
//! 1 GiB ones so the object never sits in RAM. All traffic is loopback.
//!
//! Workloads: 4 KiB PutObject / GetObject at concurrency 1 and 64 (a fixed
//! number of requests after one untimed warm-up request per worker; client
//! order rotates between rounds, the median round is reported), then one
//! 1 GiB PutObject streamed from a generator and one 1 GiB GetObject streamed
//! into a sink per client. Python is found at `bench/.venv/bin/python`
//! (override with `COSCLS_BENCH_PYTHON`).
//!
//! Variants for `bench/same_run.sh`, set in a child's environment:
//! `COSCLS_BENCH_RAW_TIMEOUTS` gives raw reqwest the timeouts coscls has by
//! default (connect 5 s, read 30 s) through reqwest's own settings;
//! `COSCLS_BENCH_PLAIN_REQWEST` runs coscls on a default reqwest client (no
//! timeouts); `COSCLS_BENCH_NO_CRC` turns off coscls's CRC-64 check of
//! downloads; `COSCLS_BENCH_WORKERS` sets the child's tokio worker threads.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use coscls::auth::{sign, Credentials, KeyTime, SignableRequest, StaticProvider};
use coscls::cos::PutOptions;
use futures_util::{Stream, StreamExt};

const BUCKET: &str = "bench-1250000000";
const REGION: &str = "ap-guangzhou";
const SECRET_ID: &str = "AKIDbenchmark0000000001";
const SECRET_KEY: &str = "benchmark-secret-key-0001";
const SMALL: usize = 4096;
const CHUNK: usize = 1024 * 1024;
/// Objects `get/0 ..` that the GetObject workloads read (seeded by the driver).
const GET_KEYS: usize = 256;
/// PutObject workloads cycle over this many keys per client.
const PUT_KEYS: usize = 1000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("emulator") => serve_emulator(args.get(1).cloned()),
        Some("run") => run_child(&args[1..]),
        Some("seed") => match args.get(1) {
            Some(endpoint) => seed_gets(endpoint),
            None => Err("usage: seed ENDPOINT".into()),
        },
        _ => drive(&args),
    };
    if let Err(e) = result {
        eprintln!("cos_throughput: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------- workloads

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    PutSmall,
    GetSmall,
    PutBig,
    GetBig,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::PutSmall => "put_small",
            Workload::GetSmall => "get_small",
            Workload::PutBig => "put_big",
            Workload::GetBig => "get_big",
        }
    }

    fn parse(s: &str) -> Result<Self, BoxError> {
        Ok(match s {
            "put_small" => Workload::PutSmall,
            "get_small" => Workload::GetSmall,
            "put_big" => Workload::PutBig,
            "get_big" => Workload::GetBig,
            other => return Err(format!("unknown workload {other}").into()),
        })
    }

    fn big(self) -> bool {
        matches!(self, Workload::PutBig | Workload::GetBig)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientKind {
    Raw,
    Coscls,
    Opendal,
    Python,
}

impl ClientKind {
    const ALL: [ClientKind; 4] = [
        ClientKind::Raw,
        ClientKind::Coscls,
        ClientKind::Opendal,
        ClientKind::Python,
    ];

    fn name(self) -> &'static str {
        match self {
            ClientKind::Raw => "raw-reqwest",
            ClientKind::Coscls => "coscls",
            ClientKind::Opendal => "opendal",
            ClientKind::Python => "python-sdk",
        }
    }

    fn parse(s: &str) -> Result<Self, BoxError> {
        ClientKind::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown client {s}").into())
    }
}

/// What one child reports.
#[derive(Debug, Clone, Copy)]
struct Sample {
    ops: u64,
    bytes: u64,
    secs: f64,
    /// User + system CPU of the client process during the timed section.
    cpu_secs: f64,
    vmhwm_kib: u64,
}

impl Sample {
    fn from_json(line: &str) -> Result<Self, BoxError> {
        let v: serde_json::Value = serde_json::from_str(line.trim())
            .map_err(|e| format!("bad child output {line:?}: {e}"))?;
        let num = |k: &str| {
            v[k].as_f64()
                .ok_or_else(|| format!("{k} missing in {line}"))
        };
        Ok(Sample {
            ops: num("ops")? as u64,
            bytes: num("bytes")? as u64,
            secs: num("secs")?,
            cpu_secs: num("cpu_secs")?,
            vmhwm_kib: num("vmhwm_kib")? as u64,
        })
    }

    fn to_json(self) -> String {
        serde_json::json!({
            "ops": self.ops, "bytes": self.bytes, "secs": self.secs, "cpu_secs": self.cpu_secs, "vmhwm_kib": self.vmhwm_kib
        })
        .to_string()
    }

    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.secs
    }

    fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / self.secs / 1e6
    }
}

/// CPU time (user + system, all threads) this process has used so far.
fn cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn vmhwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------- emulator child

/// Serves the embedded emulator until stdin closes; prints the endpoint first.
fn serve_emulator(data_dir: Option<String>) -> Result<(), BoxError> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut builder = coscls_emulator::Emulator::builder()
            .credentials(SECRET_ID, SECRET_KEY)
            .bucket(BUCKET);
        if let Some(dir) = data_dir {
            builder = builder.data_dir(dir);
        }
        let emu = builder.start().await?;
        println!("{}", emu.endpoint());
        std::io::stdout().flush()?;
        // Block (off the runtime) until the driver closes our stdin.
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin()
                .read_line(&mut sink)
                .map(|n| n > 0)
                .unwrap_or(false)
            {}
        })
        .await?;
        emu.shutdown().await;
        Ok(())
    })
}

struct EmulatorProcess {
    child: Child,
    endpoint: String,
}

impl EmulatorProcess {
    fn start(data_dir: Option<&std::path::Path>) -> Result<Self, BoxError> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("emulator");
        if let Some(dir) = data_dir {
            cmd.arg(dir);
        }
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("no emulator stdout")?).read_line(&mut line)?;
        let endpoint = line.trim().to_string();
        if !endpoint.starts_with("http://127.0.0.1:") {
            let _ = child.kill();
            return Err(format!("emulator did not report its endpoint: {line:?}").into());
        }
        Ok(EmulatorProcess { child, endpoint })
    }

    fn stop(mut self) -> Result<(), BoxError> {
        drop(self.child.stdin.take());
        self.child.wait()?;
        Ok(())
    }
}

// ---------------------------------------------------------------- clients (child side)

enum Client {
    Raw(RawClient),
    Coscls(coscls::cos::Client),
    Opendal(opendal::Operator),
}

struct RawClient {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    creds: Credentials,
}

impl RawClient {
    /// Signs by hand exactly what COS requires: host and content-length.
    fn authorization(&self, method: &str, key: &str, len: Option<u64>) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let len = len.map(|l| l.to_string());
        let mut headers = vec![("host", self.host.as_str())];
        if let Some(l) = &len {
            headers.push(("content-length", l.as_str()));
        }
        let path = format!("/{BUCKET}/{key}");
        sign(
            &self.creds,
            KeyTime::new(now - 60, now + 900),
            &SignableRequest {
                method,
                path: &path,
                params: &[],
                headers: &headers,
            },
        )
        .authorization
    }

    fn url(&self, key: &str) -> String {
        format!("{}/{BUCKET}/{key}", self.endpoint)
    }

    async fn put(&self, key: &str, len: u64, body: reqwest::Body) -> Result<(), BoxError> {
        let resp = self
            .http
            .put(self.url(key))
            .header("authorization", self.authorization("put", key, Some(len)))
            .header("content-length", len)
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let _ = resp.bytes().await?;
        if !status.is_success() {
            return Err(format!("raw PUT {key}: {status}").into());
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<reqwest::Response, BoxError> {
        let resp = self
            .http
            .get(self.url(key))
            .header("authorization", self.authorization("get", key, None))
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(format!("raw GET {key}: {}", resp.status()).into());
        }
        Ok(resp)
    }
}

fn credentials() -> Result<Credentials, BoxError> {
    Ok(Credentials::new(SECRET_ID, SECRET_KEY)?)
}

impl Client {
    fn new(kind: ClientKind, endpoint: &str) -> Result<Self, BoxError> {
        let addr: SocketAddr = endpoint
            .strip_prefix("http://")
            .ok_or("endpoint must be http://")?
            .parse()?;
        Ok(match kind {
            ClientKind::Raw => Client::Raw(RawClient {
                http: if std::env::var_os("COSCLS_BENCH_RAW_TIMEOUTS").is_some() {
                    // Experiment: raw reqwest with the timeouts coscls sets
                    // by default (connect 5 s, read 30 s), by reqwest's own
                    // means.
                    reqwest::Client::builder()
                        .connect_timeout(std::time::Duration::from_secs(5))
                        .read_timeout(std::time::Duration::from_secs(30))
                        .build()?
                } else {
                    reqwest::Client::builder().build()?
                },
                endpoint: endpoint.to_string(),
                host: addr.to_string(),
                creds: credentials()?,
            }),
            ClientKind::Coscls => {
                let mut builder = coscls::cos::Client::builder()
                    .region(REGION)
                    .endpoint(endpoint)
                    .credentials(StaticProvider::new(credentials()?));
                // Experiment: the same client on a default reqwest::Client (no
                // connect/read timeouts), as raw-reqwest and OpenDAL use.
                if std::env::var_os("COSCLS_BENCH_PLAIN_REQWEST").is_some() {
                    builder = builder.transport(Arc::new(
                        coscls::transport::ReqwestTransport::from_client(
                            reqwest::Client::builder().build()?,
                        ),
                    ));
                }
                // Experiment: no CRC-64 check of downloads (raw reqwest and
                // OpenDAL check nothing).
                if std::env::var_os("COSCLS_BENCH_NO_CRC").is_some() {
                    builder = builder.disable_crc_check();
                }
                Client::Coscls(builder.build()?)
            }
            ClientKind::Opendal => {
                // OpenDAL's COS service always builds virtual-hosted URLs
                // (`http://{bucket}.{endpoint host}`); the emulator routes
                // `<bucket>.cos.<region>.<anything>` hosts, and reqwest's
                // resolver override sends that name to the emulator's port.
                let service_host = format!("cos.{REGION}.localhost");
                let bucket_host = format!("{BUCKET}.{service_host}");
                let http = reqwest::Client::builder()
                    .resolve(&bucket_host, addr)
                    .build()?;
                let builder = opendal::services::Cos::default()
                    .endpoint(&format!("http://{service_host}:{}", addr.port()))
                    .bucket(BUCKET)
                    .secret_id(SECRET_ID)
                    .secret_key(SECRET_KEY)
                    .disable_config_load();
                let op = opendal::Operator::new(builder)?;
                let ctx = opendal::OperationContext::new().with_http_transport(
                    opendal::HttpTransporter::new(
                        opendal_http_transport_reqwest::ReqwestTransport::new(http),
                    ),
                );
                Client::Opendal(op.with_context(ctx))
            }
            ClientKind::Python => return Err("python runs as its own script".into()),
        })
    }

    async fn put_small(&self, key: &str, body: Bytes) -> Result<u64, BoxError> {
        let len = body.len() as u64;
        match self {
            Client::Raw(raw) => raw.put(key, len, reqwest::Body::from(body)).await?,
            Client::Coscls(c) => {
                c.put_object(BUCKET, key, body).await?;
            }
            Client::Opendal(op) => {
                op.write(key, body).await?;
            }
        }
        Ok(len)
    }

    async fn get_small(&self, key: &str) -> Result<u64, BoxError> {
        let len = match self {
            Client::Raw(raw) => raw.get(key).await?.bytes().await?.len(),
            Client::Coscls(c) => c.get_object(BUCKET, key).await?.body.bytes().await?.len(),
            Client::Opendal(op) => op.read(key).await?.len(),
        };
        if len != SMALL {
            return Err(format!("GET {key}: {len} bytes, expected {SMALL}").into());
        }
        Ok(len as u64)
    }

    async fn put_big(&self, key: &str, size: u64) -> Result<u64, BoxError> {
        match self {
            Client::Raw(raw) => {
                raw.put(key, size, reqwest::Body::wrap_stream(generated(size)))
                    .await?
            }
            Client::Coscls(c) => {
                c.put_object_stream(BUCKET, key, size, generated(size), &PutOptions::default())
                    .await?;
            }
            Client::Opendal(op) => {
                // OpenDAL's streaming write: buffered into 8 MiB multipart parts.
                let mut w = op.writer_with(key).chunk(8 * CHUNK).await?;
                let mut chunks = Box::pin(generated(size));
                while let Some(chunk) = chunks.next().await {
                    w.write(chunk?).await?;
                }
                w.close().await?;
            }
        }
        Ok(size)
    }

    async fn get_big(&self, key: &str) -> Result<u64, BoxError> {
        let mut n = 0u64;
        match self {
            Client::Raw(raw) => {
                let mut s = raw.get(key).await?.bytes_stream();
                while let Some(chunk) = s.next().await {
                    n += chunk?.len() as u64;
                }
            }
            Client::Coscls(c) => {
                let mut body = c.get_object(BUCKET, key).await?.body;
                while let Some(chunk) = body.next().await {
                    n += chunk?.len() as u64;
                }
            }
            Client::Opendal(op) => {
                let mut s = op.reader(key).await?.into_bytes_stream(..).await?;
                while let Some(chunk) = s.next().await {
                    n += chunk?.len() as u64;
                }
            }
        }
        Ok(n)
    }
}

/// `size` bytes as 1 MiB chunks that all share one buffer.
fn generated(size: u64) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let block = Bytes::from((0..CHUNK).map(|i| i as u8).collect::<Vec<u8>>());
    futures_util::stream::unfold(size, move |left| {
        let block = block.clone();
        async move {
            (left > 0).then(|| {
                let n = left.min(CHUNK as u64);
                (Ok(block.slice(..n as usize)), left - n)
            })
        }
    })
}

fn small_key(kind: ClientKind, workload: Workload, i: usize) -> String {
    match workload {
        Workload::PutSmall => format!("put/{}/{}", kind.name(), i % PUT_KEYS),
        _ => format!("get/{}", i % GET_KEYS),
    }
}

/// `run CLIENT WORKLOAD ENDPOINT COUNT CONCURRENCY SIZE`: one measurement.
fn run_child(args: &[String]) -> Result<(), BoxError> {
    let [client, workload, endpoint, count, concurrency, size] = args else {
        return Err("usage: run CLIENT WORKLOAD ENDPOINT COUNT CONCURRENCY SIZE".into());
    };
    let kind = ClientKind::parse(client)?;
    let workload = Workload::parse(workload)?;
    let (count, concurrency, size): (usize, usize, u64) =
        (count.parse()?, concurrency.parse()?, size.parse()?);
    // Experiment knob: the number of runtime worker threads (default: one per core).
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("COSCLS_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        builder.worker_threads(n);
    }
    let rt = builder.enable_all().build()?;
    let sample = rt.block_on(async {
        let client = Arc::new(Client::new(kind, endpoint)?);
        if workload.big() {
            let key = format!("big/{}", kind.name());
            let cpu = cpu_secs();
            let start = Instant::now();
            let n = match workload {
                Workload::PutBig => client.put_big(&key, size).await?,
                _ => client.get_big(&key).await?,
            };
            if n != size {
                return Err(format!("{}: moved {n} of {size} bytes", workload.name()).into());
            }
            return Ok::<_, BoxError>(Sample {
                ops: 1,
                bytes: n,
                secs: start.elapsed().as_secs_f64(),
                cpu_secs: cpu_secs() - cpu,
                vmhwm_kib: 0,
            });
        }
        let body = Bytes::from(vec![b'x'; SMALL]);
        let one = {
            let client = client.clone();
            move |i: usize| {
                let client = client.clone();
                let body = body.clone();
                async move {
                    let key = small_key(kind, workload, i);
                    match workload {
                        Workload::PutSmall => client.put_small(&key, body).await,
                        _ => client.get_small(&key).await,
                    }
                }
            }
        };
        // Warm-up: one request per worker opens the connections (untimed).
        let warm: Vec<_> = (0..concurrency).map(|i| tokio::spawn(one(i))).collect();
        for w in warm {
            w.await??;
        }
        let next = Arc::new(AtomicUsize::new(0));
        let cpu = cpu_secs();
        let start = Instant::now();
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let next = next.clone();
                let one = one.clone();
                tokio::spawn(async move {
                    let mut bytes = 0u64;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return Ok::<_, BoxError>(bytes);
                        }
                        bytes += one(i).await?;
                    }
                })
            })
            .collect();
        let mut bytes = 0;
        for w in workers {
            bytes += w.await??;
        }
        Ok(Sample {
            ops: count as u64,
            bytes,
            secs: start.elapsed().as_secs_f64(),
            cpu_secs: cpu_secs() - cpu,
            vmhwm_kib: 0,
        })
    })?;
    let sample = Sample {
        vmhwm_kib: vmhwm_kib(),
        ..sample
    };
    println!("{}", sample.to_json());
    Ok(())
}

// ---------------------------------------------------------------- driver

struct Options {
    rounds: usize,
    count_1: usize,
    count_64: usize,
    big_mib: u64,
    skip_big: bool,
    skip_python: bool,
    /// The Python SDK is ~10x slower; it runs this fraction of the requests.
    python_scale: f64,
    json: Option<PathBuf>,
}

fn parse_options(args: &[String]) -> Result<Options, BoxError> {
    let mut o = Options {
        rounds: 3,
        count_1: 2000,
        count_64: 20000,
        big_mib: 1024,
        skip_big: false,
        skip_python: false,
        python_scale: 0.25,
        json: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => o.rounds = value()?.parse()?,
            "--small-count-1" => o.count_1 = value()?.parse()?,
            "--small-count-64" => o.count_64 = value()?.parse()?,
            "--big-mib" => o.big_mib = value()?.parse()?,
            "--skip-big" => o.skip_big = true,
            "--skip-python" => o.skip_python = true,
            "--python-scale" => o.python_scale = value()?.parse()?,
            "--json" => o.json = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                println!(
                    "see the doc comment of bench/src/bin/cos_throughput.rs and BENCHMARKS.md"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    Ok(o)
}

fn python_path() -> PathBuf {
    std::env::var_os("COSCLS_BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python")))
}

fn measure(
    kind: ClientKind,
    workload: Workload,
    endpoint: &str,
    count: usize,
    concurrency: usize,
    size: u64,
) -> Result<Sample, BoxError> {
    let rest = [
        endpoint.to_string(),
        count.to_string(),
        concurrency.to_string(),
        size.to_string(),
    ];
    let mut cmd = if kind == ClientKind::Python {
        let mut cmd = Command::new(python_path());
        cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/python/cos_ops.py"))
            .arg(endpoint)
            .arg(BUCKET)
            .arg(workload.name())
            .args(&rest[1..])
            .env("BENCH_SECRET_ID", SECRET_ID)
            .env("BENCH_SECRET_KEY", SECRET_KEY);
        cmd
    } else {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["run", kind.name(), workload.name()]).args(&rest);
        cmd
    };
    let out = cmd.stderr(Stdio::inherit()).output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{} {} failed ({}): {stdout}",
            kind.name(),
            workload.name(),
            out.status
        )
        .into());
    }
    Sample::from_json(stdout.lines().last().unwrap_or(""))
}

fn seed_gets(endpoint: &str) -> Result<(), BoxError> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let client = Client::new(ClientKind::Coscls, endpoint)?;
        let body = Bytes::from(vec![b'g'; SMALL]);
        for i in 0..GET_KEYS {
            client.put_small(&format!("get/{i}"), body.clone()).await?;
        }
        Ok(())
    })
}

struct Row {
    label: String,
    client: ClientKind,
    samples: Vec<Sample>,
    big: bool,
}

impl Row {
    fn rate(s: &Sample, big: bool) -> f64 {
        if big {
            s.mb_per_sec()
        } else {
            s.ops_per_sec()
        }
    }

    /// The median round by rate.
    fn median(&self) -> Sample {
        let mut v = self.samples.clone();
        v.sort_by(|a, b| Row::rate(a, self.big).total_cmp(&Row::rate(b, self.big)));
        v[v.len() / 2]
    }
}

fn drive(args: &[String]) -> Result<(), BoxError> {
    let o = parse_options(args)?;
    let python = !o.skip_python && python_path().exists();
    if !o.skip_python && !python {
        eprintln!(
            "note: {} not found, skipping the Python SDK (see BENCHMARKS.md)",
            python_path().display()
        );
    }
    let clients: Vec<ClientKind> = ClientKind::ALL
        .into_iter()
        .filter(|c| python || *c != ClientKind::Python)
        .collect();
    let mut rows: Vec<Row> = Vec::new();
    let mut record = |label: &str, client: ClientKind, big: bool, s: Sample| {
        eprintln!(
            "  {label:<22} {:<12} {:>10.1} {}  CPU {:>6.1} s  peak RSS {:.1} MiB",
            client.name(),
            Row::rate(&s, big),
            if big { "MB/s " } else { "ops/s" },
            s.cpu_secs,
            s.vmhwm_kib as f64 / 1024.0
        );
        match rows
            .iter_mut()
            .find(|r| r.label == label && r.client == client)
        {
            Some(r) => r.samples.push(s),
            None => rows.push(Row {
                label: label.to_string(),
                client,
                samples: vec![s],
                big,
            }),
        }
    };

    let emu = EmulatorProcess::start(None)?;
    eprintln!("emulator (in memory) at {}", emu.endpoint);
    seed_gets(&emu.endpoint)?;
    let small = [
        (Workload::PutSmall, 1, o.count_1),
        (Workload::GetSmall, 1, o.count_1),
        (Workload::PutSmall, 64, o.count_64),
        (Workload::GetSmall, 64, o.count_64),
    ];
    for round in 0..o.rounds {
        eprintln!("round {}/{}", round + 1, o.rounds);
        for (workload, conc, count) in small {
            let label = format!(
                "{} 4KiB c={conc}",
                workload.name().trim_end_matches("_small")
            );
            for k in 0..clients.len() {
                let client = clients[(k + round) % clients.len()];
                let count = if client == ClientKind::Python {
                    ((count as f64 * o.python_scale) as usize).max(conc)
                } else {
                    count
                };
                let s = measure(client, workload, &emu.endpoint, count, conc, SMALL as u64)?;
                record(&label, client, false, s);
            }
        }
    }
    emu.stop()?;

    if !o.skip_big {
        let dir = tempfile::tempdir()?;
        let emu = EmulatorProcess::start(Some(dir.path()))?;
        eprintln!(
            "emulator (data dir {}) at {}",
            dir.path().display(),
            emu.endpoint
        );
        let size = o.big_mib * 1024 * 1024;
        for &client in &clients {
            for workload in [Workload::PutBig, Workload::GetBig] {
                let label = format!(
                    "{} {} MiB",
                    workload.name().trim_end_matches("_big"),
                    o.big_mib
                );
                let s = measure(client, workload, &emu.endpoint, 1, 1, size)?;
                record(&label, client, true, s);
            }
        }
        emu.stop()?;
    }

    print_table(&rows, &o);
    if let Some(path) = &o.json {
        let json: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "workload": r.label, "client": r.client.name(),
                    "samples": r.samples.iter().map(|s| serde_json::from_str::<serde_json::Value>(&s.to_json()).unwrap_or_default()).collect::<Vec<_>>(),
                })
            })
            .collect();
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    Ok(())
}

fn print_table(rows: &[Row], o: &Options) {
    println!(
        "\n4 KiB: median of {} round(s), {} requests at c=1, {} at c=64 (Python SDK: x{}); \
         big: one run each. CPU = client process user+system time per request (4 KiB) \
         or per GB moved (big).\n",
        o.rounds, o.count_1, o.count_64, o.python_scale
    );
    println!(
        "| workload | client | rate | vs raw reqwest | client CPU | vs raw | peak RSS (VmHWM) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let mut labels: Vec<&str> = Vec::new();
    for r in rows {
        if !labels.contains(&r.label.as_str()) {
            labels.push(&r.label);
        }
    }
    for label in labels {
        let of = |c: ClientKind| rows.iter().find(|r| r.label == label && r.client == c);
        let raw = of(ClientKind::Raw).map(|r| r.median());
        for c in ClientKind::ALL {
            let Some(r) = of(c) else { continue };
            let m = r.median();
            let rate = Row::rate(&m, r.big);
            let unit = if r.big { "MB/s" } else { "ops/s" };
            let cpu = |s: &Sample| {
                if r.big {
                    s.cpu_secs / (s.bytes as f64 / 1e9)
                } else {
                    s.cpu_secs / s.ops as f64 * 1e6
                }
            };
            let cpu_unit = if r.big { "s/GB" } else { "µs/op" };
            let ratio = raw
                .map(|raw| format!("{:.2}", rate / Row::rate(&raw, r.big)))
                .unwrap_or_default();
            let cpu_ratio = raw
                .map(|raw| format!("{:.2}", cpu(&m) / cpu(&raw)))
                .unwrap_or_default();
            println!(
                "| {label} | {} | {rate:.1} {unit} | {ratio} | {:.1} {cpu_unit} | {cpu_ratio} | {:.1} MiB |",
                c.name(),
                cpu(&m),
                m.vmhwm_kib as f64 / 1024.0
            );
        }
    }
}
