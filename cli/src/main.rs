//! `coscls`: copy, move, list, remove, sync and presign COS objects, clean
//! up unfinished multipart uploads, and ship lines of standard input to a CLS
//! topic. Configuration comes from the same environment variables as the
//! SDK; `--endpoint` points it at the emulator.

mod cli;
mod commands;
mod interrupt;
mod location;
mod output;
mod progress;
mod transfer;

use std::fmt;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use coscls::auth::EnvProvider;
use coscls::cos;
use coscls::transport::retry::RetryPolicy;

use cli::{Cli, Command, Global};
use interrupt::Inflight;
use location::CosUrl;
use output::Out;
use progress::{Bars, Mode};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A command used wrongly in a way only known after parsing (a prefix
/// without `-r`, two local paths…): exit status 2, like clap's errors.
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

pub(crate) fn usage(message: impl Into<String>) -> BoxError {
    Box::new(Usage(message.into()))
}

/// What every command gets.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) global: Global,
    pub(crate) out: Out,
    pub(crate) bars: Bars,
    pub(crate) inflight: Inflight,
}

impl Ctx {
    pub(crate) fn region(&self) -> String {
        self.global
            .region
            .clone()
            .or_else(|| std::env::var("TENCENTCLOUD_REGION").ok())
            .unwrap_or_else(|| "ap-guangzhou".into())
    }

    fn retry_policy(&self) -> Option<RetryPolicy> {
        self.global.retries.map(|n| RetryPolicy {
            max_attempts: n.saturating_add(1),
            ..RetryPolicy::default()
        })
    }

    pub(crate) fn cos(&self) -> Result<cos::Client, BoxError> {
        let mut builder = cos::Client::builder()
            .region(self.region())
            .credentials(EnvProvider::new());
        if let Some(url) = &self.global.endpoint {
            builder = builder.endpoint(url);
        }
        if let Some(t) = self.global.timeout {
            builder = builder.connect_timeout(t).read_timeout(t);
        }
        if let Some(policy) = self.retry_policy() {
            builder = builder.retry_policy(policy);
        }
        Ok(builder.build()?)
    }

    pub(crate) fn cls(&self) -> Result<coscls::cls::Client, BoxError> {
        let mut builder = coscls::cls::Client::builder()
            .region(self.region())
            .credentials(EnvProvider::load()?);
        if let Some(url) = &self.global.cls_endpoint {
            builder = builder.endpoint(url.clone());
        }
        if let Some(t) = self.global.timeout {
            builder = builder.timeouts(coscls::transport::Timeouts {
                connect: t,
                read: t,
                ..Default::default()
            });
        }
        if let Some(policy) = self.retry_policy() {
            builder = builder.retry_policy(policy);
        }
        Ok(builder.build()?)
    }
}

/// The export pipeline to flush before exiting.
#[cfg(feature = "otlp")]
type TelemetryGuard = coscls::telemetry::TelemetryGuard;

/// Built without the `otlp` feature there is never a pipeline to flush.
#[cfg(not(feature = "otlp"))]
enum TelemetryGuard {}

#[cfg(not(feature = "otlp"))]
impl TelemetryGuard {
    fn shutdown(self) -> Result<(), std::convert::Infallible> {
        match self {}
    }
}

/// Exports spans and metrics when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (and
/// the `otlp` feature is on); otherwise logs to stderr at the `RUST_LOG`
/// level (warnings by default).
fn init_telemetry() -> Option<TelemetryGuard> {
    #[cfg(feature = "otlp")]
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some_and(|v| !v.is_empty()) {
        let mut builder = coscls::telemetry::Telemetry::builder()
            .log_to_stderr(std::env::var_os("RUST_LOG").is_some());
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            builder = builder.service_name("coscls-cli");
        }
        match builder.install() {
            Ok(guard) => return Some(guard),
            Err(e) => eprintln!("coscls: telemetry is off: {e}"),
        }
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Fails only if a subscriber is already installed, which then logs.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    None
}

fn report(e: &BoxError) -> ExitCode {
    let lines = output::error_lines(e.as_ref());
    let mut lines = lines.iter();
    if let Some(first) = lines.next() {
        eprintln!("coscls: {first}");
    }
    for cause in lines {
        eprintln!("  caused by: {cause}");
    }
    if e.is::<Usage>() {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

const INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    // Parsing first: `--help`, `--version` and usage errors need no runtime.
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("coscls: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async_main(cli));
    // Parts of an interrupted transfer may still be finishing: do not wait.
    runtime.shutdown_background();
    code
}

async fn async_main(cli: Cli) -> ExitCode {
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "coscls", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let telemetry = init_telemetry();
    let g = &cli.global;
    let bars = Bars::new(Mode::from_flags(g.quiet, g.progress, g.no_progress));
    let ctx = Ctx {
        out: Out::new(g.quiet, g.json, bars.multi()),
        global: cli.global.clone(),
        bars,
        inflight: Inflight::default(),
    };
    let work = Box::pin(commands::run(ctx.clone(), cli.command));
    // `work` moves into the select: on Ctrl-C it is dropped (its transfers
    // stop) before the clean-up starts.
    let finished = tokio::select! {
        result = work => Some(result),
        _ = tokio::signal::ctrl_c() => None,
    };
    let code = match finished {
        Some(Ok(())) => ExitCode::SUCCESS,
        Some(Err(e)) => report(&e),
        None => interrupted(&ctx).await,
    };
    if let Some(t) = telemetry {
        if let Err(e) = t.shutdown() {
            eprintln!("coscls: flushing telemetry: {e}");
        }
    }
    code
}

/// The first Ctrl-C: the command's future is already dropped (its parts
/// stop); abort the multipart uploads it left. A second Ctrl-C exits at once.
async fn interrupted(ctx: &Ctx) -> ExitCode {
    if let Some(bars) = ctx.bars.multi() {
        let _ = bars.clear();
    }
    let n = ctx.inflight.len();
    if n == 0 {
        eprintln!("coscls: interrupted");
        return ExitCode::from(INTERRUPTED);
    }
    eprintln!(
        "coscls: interrupted; aborting unfinished uploads of {n} transfer(s) (Ctrl-C again to exit at once)"
    );
    tokio::select! {
        (aborted, failures) = ctx.inflight.abort_all() => {
            for f in &failures {
                eprintln!("coscls: {f}");
            }
            eprintln!("coscls: aborted {aborted} multipart upload(s)");
        }
        _ = tokio::signal::ctrl_c() => {
            eprintln!("coscls: interrupted again; exiting without cleaning up (see `coscls multipart ls`)");
        }
    }
    ExitCode::from(INTERRUPTED)
}

/// Turns a 404 into one message whichever request met it: a GET says
/// `NoSuchKey`, a HEAD (download, stat) has no body and reads
/// `NoSuchResource`; the bucket's existence decides which one is true.
pub(crate) async fn explain(client: &cos::Client, url: &CosUrl, e: cos::Error) -> BoxError {
    if !e.is_not_found() {
        return e.into();
    }
    let no_bucket = match e.code() {
        Some("NoSuchBucket") => true,
        Some("NoSuchKey") => false,
        _ => matches!(client.bucket_exists(&url.bucket).await, Ok(false)),
    };
    if no_bucket {
        format!("cos://{}/: no such bucket (NoSuchBucket)", url.bucket).into()
    } else {
        format!("{url}: no such key (NoSuchKey)").into()
    }
}
