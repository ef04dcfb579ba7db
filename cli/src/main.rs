//! `coscls`: put, get, list, remove and presign COS objects, and ship lines
//! of standard input to a CLS topic. Configuration comes from the same
//! environment variables as the SDK; `--endpoint` points it at the emulator.

mod args;
mod cos_url;
mod progress;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coscls::auth::EnvProvider;
use coscls::cls::{self, Log, LogContent, Producer, ProducerConfig};
use coscls::cos::{
    self, DownloadOptions, Endpoint, ListOptions, PresignOptions, PutOptions, UploadOptions,
};
use futures_util::TryStreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use args::{Command, Globals};
use cos_url::CosUrl;
use progress::Bar;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (globals, command) = match args::parse(&argv) {
        Ok(parsed) => parsed,
        Err(usage) => {
            eprintln!("coscls: {usage}");
            return ExitCode::from(2);
        }
    };
    match run(globals, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coscls: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn region(globals: &Globals) -> String {
    globals
        .region
        .clone()
        .or_else(|| std::env::var("COS_REGION").ok())
        .or_else(|| std::env::var("TENCENTCLOUD_REGION").ok())
        .unwrap_or_else(|| "ap-guangzhou".into())
}

fn cos_client(globals: &Globals) -> Result<cos::Client, BoxError> {
    let mut builder = cos::Client::builder()
        .region(region(globals))
        .credentials(EnvProvider::new());
    if let Some(url) = globals
        .endpoint
        .clone()
        .or_else(|| std::env::var("COSCLS_ENDPOINT").ok())
    {
        builder = builder.endpoint(Endpoint::custom(&url)?);
    }
    Ok(builder.build()?)
}

async fn run(globals: Globals, command: Command) -> Result<(), BoxError> {
    match command {
        Command::Help => {
            print!("{}", args::USAGE);
            Ok(())
        }
        Command::Put {
            source,
            dest,
            content_type,
        } => put(&globals, &source, &dest, content_type).await,
        Command::Get { source, dest } => get(&globals, &source, &dest).await,
        Command::Ls { url, recursive } => ls(&globals, &url, recursive).await,
        Command::Cp { source, dest } => {
            let client = cos_client(&globals)?;
            let out = client
                .copy(
                    &source.bucket,
                    source.require_key()?,
                    &dest.bucket,
                    dest.require_key()?,
                    &cos::CopyOptions::default(),
                )
                .await?;
            let how = match out.parts {
                0 => "in one request".to_string(),
                n => format!("in {n} parts"),
            };
            println!("copied {source} -> {dest} ({} bytes, {how})", out.size);
            Ok(())
        }
        Command::Rm { urls } => {
            let client = cos_client(&globals)?;
            for url in urls {
                client
                    .delete_object(&url.bucket, url.require_key()?)
                    .await?;
                println!("deleted {url}");
            }
            Ok(())
        }
        Command::Presign {
            url,
            expires,
            method,
        } => {
            let client = cos_client(&globals)?;
            let opts = if method == "PUT" {
                PresignOptions::put(expires)
            } else {
                PresignOptions::get(expires)
            };
            println!(
                "{}",
                client
                    .presigned_url(&url.bucket, url.require_key()?, &opts)
                    .await?
            );
            Ok(())
        }
        Command::Log { topic } => log_stdin(&globals, &topic).await,
    }
}

async fn put(
    globals: &Globals,
    source: &str,
    dest: &CosUrl,
    content_type: Option<String>,
) -> Result<(), BoxError> {
    let client = cos_client(globals)?;
    let key = dest.require_key()?;
    let mut put = PutOptions::default();
    if let Some(t) = content_type {
        put = put.content_type(t);
    }
    let bar = Bar::new(format!("put {dest}"), globals.quiet);
    let on_progress = {
        let bar = bar.clone();
        move |p: cos::Progress| bar.update(p.transferred, p.total)
    };
    let opts = UploadOptions::default().put(put).on_progress(on_progress);
    let out = if source == "-" {
        client
            .upload_stream(&dest.bucket, key, tokio::io::stdin(), &opts)
            .await?
    } else {
        client.upload_file(&dest.bucket, key, source, &opts).await?
    };
    bar.finish();
    println!(
        "uploaded {dest} ({} bytes, {} part(s))",
        out.size, out.parts
    );
    Ok(())
}

async fn get(globals: &Globals, source: &CosUrl, dest: &str) -> Result<(), BoxError> {
    let client = cos_client(globals)?;
    let key = source.require_key()?;
    if dest == "-" {
        let object = client.get_object(&source.bucket, key).await?;
        let mut stdout = tokio::io::stdout();
        object.body.write_to(&mut stdout).await?;
        stdout.flush().await?;
        return Ok(());
    }
    let bar = Bar::new(format!("get {source}"), globals.quiet);
    let on_progress = {
        let bar = bar.clone();
        move |p: cos::Progress| bar.update(p.transferred, p.total)
    };
    let out = client
        .download_file(
            &source.bucket,
            key,
            dest,
            &DownloadOptions::default().on_progress(on_progress),
        )
        .await?;
    bar.finish();
    eprintln!("downloaded {source} to {dest} ({} bytes)", out.size);
    Ok(())
}

async fn ls(globals: &Globals, url: &CosUrl, recursive: bool) -> Result<(), BoxError> {
    let client = cos_client(globals)?;
    let mut opts = ListOptions::default().prefix(url.key.clone());
    if !recursive {
        opts = opts.delimiter("/");
    }
    let mut pages = Box::pin(client.list_objects_stream(&url.bucket, opts));
    while let Some(page) = pages.try_next().await? {
        for dir in &page.common_prefixes {
            println!("{:>12}  cos://{}/{dir}", "DIR", url.bucket);
        }
        for o in &page.objects {
            println!("{:>12}  cos://{}/{}", o.size, url.bucket, o.key);
        }
    }
    Ok(())
}

async fn log_stdin(globals: &Globals, topic: &str) -> Result<(), BoxError> {
    let mut builder = cls::Client::builder()
        .region(region(globals))
        .credentials(EnvProvider::load()?);
    if let Some(url) = globals
        .cls_endpoint
        .clone()
        .or_else(|| std::env::var("CLS_ENDPOINT").ok())
    {
        builder = builder.endpoint(url);
    }
    let producer = Producer::new(builder.build()?, ProducerConfig::default())?;
    let destination = cls::Destination::new(Arc::<str>::from(topic));
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut receipts = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let log = Log {
            time,
            contents: vec![LogContent {
                key: "content".into(),
                value: line,
            }],
            collect_time: None,
        };
        receipts.push(producer.send(&destination, log).await?);
    }
    let report = producer.close(Duration::from_secs(60)).await;
    let mut failed = 0usize;
    for receipt in receipts {
        if let Err(e) = receipt.await {
            failed += 1;
            eprintln!("coscls: a log was not delivered: {e}");
        }
    }
    println!(
        "sent {} log(s) to topic {topic}, {} failed",
        report.delivered,
        failed.max(report.failed as usize)
    );
    if report.all_delivered() && failed == 0 {
        Ok(())
    } else {
        Err(format!(
            "{} of {} logs were not delivered",
            report.accepted - report.delivered,
            report.accepted
        )
        .into())
    }
}
