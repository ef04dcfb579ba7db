//! Ship logs to CLS with the batching producer and the `tracing` layer.
//!
//! ```sh
//! cargo run --example cls_producer                  # offline, on the embedded emulator
//! CLS_TOPIC_ID=<topic id> COS_REGION=ap-guangzhou \
//!   TENCENTCLOUD_SECRET_ID=... TENCENTCLOUD_SECRET_KEY=... cargo run --example cls_producer
//! ```
//!
//! Against Tencent Cloud it reads the variables the quickstart and the CLI
//! read: `CLS_TOPIC_ID`, the region from `CLS_REGION` (else `COS_REGION`),
//! or a whole endpoint from `CLS_ENDPOINT`, and the credentials
//! (`TENCENTCLOUD_SECRET_ID` / `TENCENTCLOUD_SECRET_KEY`, plus
//! `TENCENTCLOUD_SESSION_TOKEN` for temporary credentials).

use std::time::Duration;

use coscls::auth::EnvProvider;
use coscls::cls::{Client, ClsLayer, Log, Producer, ProducerConfig};
use coscls_emulator::{Emulator, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Tencent Cloud when a topic is configured, else an in-process emulator.
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let (emulator, client, topic) = match env("CLS_TOPIC_ID") {
        Some(topic) => {
            let builder = match (env("CLS_ENDPOINT"), env("CLS_REGION").or(env("COS_REGION"))) {
                (Some(endpoint), _) => Client::builder().endpoint(endpoint),
                (None, Some(region)) => Client::builder().region(region),
                (None, None) => return Err("set CLS_REGION (or COS_REGION) or CLS_ENDPOINT".into()),
            };
            let client = builder.credentials(EnvProvider::load()?).build()?;
            (None, client, topic)
        }
        None => {
            let emu = Emulator::builder().start().await?;
            let client = Client::builder()
                .endpoint(emu.endpoint())
                .credentials(coscls::auth::Credentials::new(
                    DEFAULT_SECRET_ID,
                    DEFAULT_SECRET_KEY,
                )?)
                .build()?;
            (Some(emu), client, "example-topic".to_string())
        }
    };

    let producer = Producer::new(
        client,
        ProducerConfig::default().linger(Duration::from_millis(200)),
    )?;

    // 1. Explicit logs, each with a receipt that says whether it arrived.
    let mut receipts = Vec::new();
    for i in 0..1000 {
        let log = Log::now()
            .field("event", "order_placed")
            .field("order", i.to_string());
        receipts.push(producer.send(topic.as_str(), log).await?);
    }

    // 2. `tracing` events, shipped by the layer (here next to a console logger).
    let layer = ClsLayer::new(producer.clone(), topic.as_str());
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_filter(LevelFilter::INFO))
        .with(layer.clone())
        .init();
    tracing::info!(user = "alice", "signed in");
    tracing::warn!(latency_ms = 812, "slow checkout");

    // 3. Close: everything accepted is delivered, or the report says what was not.
    let report = producer.close(Duration::from_secs(30)).await;
    let mut delivered = 0;
    for receipt in receipts {
        if receipt.await.is_ok() {
            delivered += 1;
        }
    }
    println!(
        "accepted {} logs, delivered {}, failed {}; receipts ok: {delivered}; from tracing: {}",
        report.accepted,
        report.delivered,
        report.failed,
        layer.shipped()
    );
    for batch in &report.undelivered {
        println!(
            "not delivered: batch {} ({} logs): {}",
            batch.batch,
            batch.logs.len(),
            batch.reason
        );
    }
    if let Some(emu) = emulator {
        println!(
            "the emulator stored {} logs for {topic}",
            emu.cls_logs(&topic).len()
        );
        emu.shutdown().await;
    }
    Ok(())
}
