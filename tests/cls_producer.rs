//! The producer against the emulator: every accepted log arrives, batches
//! respect the service limits, the memory cap pushes back, faults lose
//! nothing, and `close` delivers everything or names what it could not.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use coscls::auth::Credentials;
use coscls::cls::limits::{self, MAX_GROUP_CONTENT_BYTES, MAX_LOGS_PER_GROUP, MAX_REQUEST_BYTES};
use coscls::cls::{Client, Error, FailureReason, Log, Producer, ProducerConfig, WhenFull};
use coscls::transport::retry::RetryPolicy;
use coscls_emulator::{Emulator, FaultConfig, ReceivedLog};

const ID: &str = "AKIDclsProducerTest";
const KEY: &str = "cls-producer-test-key";

async fn emulator() -> Emulator {
    Emulator::builder()
        .credentials(ID, KEY)
        .max_logs_per_topic(10_000_000)
        .start()
        .await
        .expect("emulator starts")
}

fn client(emu: &Emulator, key: &str) -> Client {
    Client::builder()
        .endpoint(emu.endpoint())
        .credentials(Credentials::new(ID, key).unwrap())
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(2)
                .with_backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
        .build()
        .expect("client")
}

fn config() -> ProducerConfig {
    ProducerConfig::default()
        .linger(Duration::from_millis(100))
        .retry(
            RetryPolicy::default()
                .with_max_attempts(50)
                .with_backoff(Duration::from_millis(5), Duration::from_millis(100)),
        )
}

/// A log with a sequence number and some varied, non-ASCII content.
fn numbered(i: usize) -> Log {
    Log::new(1_700_000_000_000 + i as i64)
        .field("seq", i.to_string())
        .field(
            "msg",
            format!("request {i} handled in {} µs ✓", i * 37 % 1000),
        )
        .field("pad", "x".repeat(i % 200))
}

fn as_log(r: &ReceivedLog) -> Log {
    let mut log = Log::new(r.time);
    for (k, v) in &r.contents {
        log.push(k.clone(), v.clone());
    }
    log
}

type Key = (i64, BTreeMap<String, String>);

fn key_of(log: &Log) -> Key {
    (
        log.time,
        log.contents
            .iter()
            .map(|c| (c.key.clone(), c.value.clone()))
            .collect(),
    )
}

fn keys(received: &[ReceivedLog]) -> Vec<Key> {
    let mut k: Vec<Key> = received.iter().map(|r| key_of(&as_log(r))).collect();
    k.sort();
    k
}

/// Groups what the emulator received by batch (`contextFlow` is unique per batch).
fn batches(received: &[ReceivedLog]) -> HashMap<String, Vec<&ReceivedLog>> {
    let mut out: HashMap<String, Vec<&ReceivedLog>> = HashMap::new();
    for r in received {
        out.entry(
            r.context_flow
                .clone()
                .expect("the producer sets contextFlow"),
        )
        .or_default()
        .push(r);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_log_is_stored_exactly_once_with_its_contents() {
    let emu = emulator().await;
    let cfg = config().batch_max_logs(500);
    let p = Producer::new(client(&emu, KEY), cfg).unwrap();
    let n = 20_000;
    let mut sent: BTreeMap<&str, Vec<Key>> = BTreeMap::new();
    let mut receipts = Vec::with_capacity(n);
    for i in 0..n {
        let topic = if i % 4 == 0 { "topic-b" } else { "topic-a" };
        let log = numbered(i);
        sent.entry(topic).or_default().push(key_of(&log));
        receipts.push(p.send(topic, log).await.unwrap());
    }
    let report = p.close(Duration::from_secs(60)).await;
    assert!(report.all_delivered(), "{report:?}");
    assert_eq!(report.accepted, n as u64);
    for r in receipts {
        r.await.unwrap();
    }
    for (topic, mut want) in sent {
        want.sort();
        assert_eq!(keys(&emu.cls_logs(topic)), want, "{topic}");
    }
    assert_eq!(emu.stats().cls_logs, n as u64);
    assert_eq!(p.stats().buffered_bytes, 0);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_stay_within_the_configured_and_the_service_limits() {
    let emu = emulator().await;
    // Thresholds at the service's maxima: only the hard limits split batches.
    let cfg = config()
        .batch_max_logs(MAX_LOGS_PER_GROUP)
        .batch_max_bytes(MAX_GROUP_CONTENT_BYTES)
        .linger(Duration::from_secs(3600))
        .memory_limit(64 << 20);
    let p = Producer::new(client(&emu, KEY), cfg).unwrap();
    // 30 values of 900 KiB (5 fit per 5 MiB group) and 25 000 tiny logs
    // (10 000 fit per group): both limits must split.
    let big = "b".repeat(900 * 1024);
    for i in 0..30 {
        p.send("big", Log::new(i).field("v", big.clone()))
            .await
            .unwrap();
    }
    for i in 0..25_000 {
        p.send("tiny", Log::new(i).field("k", "v")).await.unwrap();
    }
    let report = p.close(Duration::from_secs(60)).await;
    assert!(report.all_delivered(), "{report:?}");
    let stats = emu.stats();
    assert_eq!(stats.status(200), stats.requests, "no request was refused");

    let big_logs = emu.cls_logs("big");
    assert_eq!(big_logs.len(), 30);
    for batch in batches(&big_logs).values() {
        let content: usize = batch
            .iter()
            .map(|r| limits::content_bytes(&as_log(r)))
            .sum();
        let wire: usize = batch.iter().map(|r| limits::wire_bytes(&as_log(r))).sum();
        assert!(content <= MAX_GROUP_CONTENT_BYTES && wire < MAX_REQUEST_BYTES);
    }
    let tiny = emu.cls_logs("tiny");
    assert_eq!(tiny.len(), 25_000);
    let sizes: BTreeSet<usize> = batches(&tiny).values().map(Vec::len).collect();
    assert!(sizes.iter().all(|&s| s <= MAX_LOGS_PER_GROUP), "{sizes:?}");
    assert!(sizes.contains(&MAX_LOGS_PER_GROUP));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_refuses_or_blocks_and_frees_exactly_what_it_took() {
    let emu = emulator().await;
    // A slow server: the first batch's request is on the wire for 3 s.
    emu.set_faults(FaultConfig {
        latency: Duration::from_secs(3),
        ..Default::default()
    })
    .unwrap();
    let size = |i: usize| Producer::memory_bytes(&numbered(i));
    let ten: usize = (1000..1010).map(size).sum();
    let cfg = config()
        .memory_limit(ten)
        .batch_max_logs(5)
        .max_in_flight(1)
        .when_full(WhenFull::Block(Duration::from_secs(60)));
    let p = Producer::new(client(&emu, KEY), cfg).unwrap();
    let mut receipts = Vec::new();
    for i in 1000..1010 {
        receipts.push(p.try_send("t", numbered(i)).unwrap());
    }
    assert_eq!(p.stats().buffered_bytes, ten);
    match p.try_send("t", numbered(1010)) {
        Err(Error::BufferFull {
            requested, limit, ..
        }) => assert_eq!((requested, limit), (size(1010), ten)),
        other => panic!("expected BufferFull, got {other:?}"),
    }
    // `send` blocks until a delivered batch frees room, then is accepted.
    receipts.push(p.send("t", numbered(1010)).await.unwrap());
    emu.set_faults(FaultConfig::default()).unwrap();
    let report = p.close(Duration::from_secs(60)).await;
    assert!(report.all_delivered(), "{report:?}");
    assert_eq!(report.accepted, 11);
    assert_eq!(p.stats().refused, 1);
    assert_eq!(p.stats().buffered_bytes, 0);
    for r in receipts {
        r.await.unwrap();
    }
    assert_eq!(emu.cls_logs("t").len(), 11);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_server_errors_and_dropped_connections_lose_nothing() {
    let emu = emulator().await;
    // 40 batches per round, so each 30 % fault fires (1 - 0.7^40 > 0.999999).
    let cfg = config().batch_max_logs(50);
    let p = Producer::new(client(&emu, KEY), cfg).unwrap();
    let n = 6_000;
    let mut want = Vec::with_capacity(n);
    for round in 0..3 {
        emu.set_faults(match round {
            0 => FaultConfig {
                fail_next: 6,
                error_status: 429,
                error_rate: 0.3,
                ..Default::default()
            },
            1 => FaultConfig {
                error_rate: 0.3,
                error_status: 503,
                ..Default::default()
            },
            _ => FaultConfig {
                drop_rate: 0.3,
                ..Default::default()
            },
        })
        .unwrap();
        for i in round * 2000..(round + 1) * 2000 {
            let log = numbered(i);
            want.push(key_of(&log));
            p.send("t", log).await.unwrap();
        }
        p.flush().await;
    }
    let report = p.close(Duration::from_secs(60)).await;
    assert!(report.all_delivered(), "{report:?}");
    let stats = emu.stats();
    assert!(
        stats.injected_errors > 6 && stats.dropped_connections > 0,
        "{stats:?}"
    );

    // A dropped connection hides a stored batch from the client, which sends
    // it again: delivery is at least once. Every log is there; the only
    // copies are whole batches whose response was dropped.
    let received = emu.cls_logs("t");
    let mut unique = keys(&received);
    unique.dedup();
    want.sort();
    assert_eq!(unique, want);
    let per_batch = batches(&received);
    let mut resent = 0;
    for logs in per_batch.values() {
        let distinct: BTreeSet<Key> = logs.iter().map(|r| key_of(&as_log(r))).collect();
        assert_eq!(logs.len() % distinct.len(), 0, "only whole batches repeat");
        resent += logs.len() / distinct.len() - 1;
    }
    assert!(resent as u64 <= stats.dropped_connections);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_flushes_everything_still_lingering() {
    let emu = emulator().await;
    let cfg = config().linger(Duration::from_secs(3600));
    let p = Producer::new(client(&emu, KEY), cfg).unwrap();
    for i in 0..5000 {
        p.send(["a", "b", "c"][i % 3], numbered(i)).await.unwrap();
    }
    // ~1667 logs per topic: no batch reached 4096 logs or 512 KiB, none lingered out.
    assert_eq!(emu.stats().requests, 0);
    let report = p.close(Duration::from_secs(30)).await;
    assert!(report.all_delivered() && !report.timed_out, "{report:?}");
    let total: usize = ["a", "b", "c"].iter().map(|t| emu.cls_logs(t).len()).sum();
    assert_eq!(total, 5000);
    assert!(matches!(
        p.send("a", numbered(1)).await,
        Err(Error::ProducerClosed)
    ));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_names_exactly_the_logs_it_could_not_deliver() {
    let emu = emulator().await;
    emu.set_faults(FaultConfig {
        error_rate: 1.0,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    let cfg = config().batch_max_logs(100).retry(
        RetryPolicy::default()
            .with_max_attempts(u32::MAX)
            .with_backoff(Duration::from_millis(20), Duration::from_millis(200)),
    );
    let p = Producer::new(client(&emu, KEY), cfg).unwrap();
    let mut want = Vec::new();
    let mut receipts = Vec::new();
    for i in 0..450 {
        let log = numbered(i);
        want.push(key_of(&log));
        receipts.push(p.send("t", log).await.unwrap());
    }
    let report = p.close(Duration::from_secs(2)).await;
    assert!(report.timed_out);
    assert_eq!(
        (report.accepted, report.delivered, report.failed),
        (450, 0, 450)
    );
    let mut back: Vec<Key> = report
        .undelivered
        .iter()
        .flat_map(|b| b.logs.iter().map(key_of))
        .collect();
    back.sort();
    want.sort();
    assert_eq!(
        back, want,
        "the report hands back exactly the undelivered logs"
    );
    for b in &report.undelivered {
        assert!(
            matches!(b.reason, FailureReason::Abandoned { .. }),
            "{}",
            b.reason
        );
    }
    for r in receipts {
        let failed = r.await.unwrap_err();
        assert!(failed.log.is_some());
    }
    assert!(emu.cls_logs("t").is_empty());
    assert_eq!(p.stats().buffered_bytes, 0);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_signature_fails_the_batch_without_retrying() {
    let emu = emulator().await;
    let p = Producer::new(client(&emu, "wrong-key"), config()).unwrap();
    let receipt = p.send("t", numbered(1)).await.unwrap();
    let failed = receipt.await.unwrap_err();
    match &failed.reason {
        FailureReason::Rejected(e) => assert_eq!(e.code(), Some("Unauthorized")),
        other => panic!("expected Rejected, got {other}"),
    }
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.log.as_ref().map(key_of), Some(key_of(&numbered(1))));
    assert_eq!(emu.stats().requests, 1);
    let report = p.close(Duration::from_secs(5)).await;
    assert_eq!((report.accepted, report.failed), (1, 1));
    emu.shutdown().await;
}

/// A server clock 30 minutes ahead of or behind the host: the first upload is
/// refused as a signature-time failure, the client adopts the offset from the
/// response's `Date`, re-signs once, and every later request of that client
/// signs with the corrected clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_clock_half_an_hour_off_either_way_loses_nothing() {
    for offset in [1800, -1800] {
        let emu = emulator().await;
        emu.set_faults(FaultConfig {
            clock_offset_secs: offset,
            ..Default::default()
        })
        .unwrap();
        let cfg = config().batch_max_logs(100);
        let p = Producer::new(client(&emu, KEY), cfg).unwrap();
        // One batch first: it meets the skew alone, so exactly one 401 follows.
        p.send("t", numbered(0)).await.unwrap();
        let first = p.flush().await;
        assert!(first.failed.is_empty(), "offset {offset}: {first:?}");
        let n = 3_000;
        for i in 1..n {
            p.send("t", numbered(i)).await.unwrap();
        }
        let report = p.close(Duration::from_secs(60)).await;
        assert!(report.all_delivered(), "offset {offset}: {report:?}");
        let mut got = keys(&emu.cls_logs("t"));
        got.dedup();
        assert_eq!(got.len(), n, "offset {offset}");
        let stats = emu.stats();
        assert_eq!(stats.status(401), 1, "offset {offset}: {stats:?}");
        assert_eq!(stats.auth_failures, 1, "offset {offset}");
        emu.shutdown().await;
    }
}

/// Dropped connections (the upload took effect, its answer was lost) make
/// the producer send a batch again. The report counts the logs resent after
/// such an ambiguous failure, and the emulator's stored logs confirm it: the
/// copies beyond one per log are exactly that count, and the opt-in log id
/// tells the copies apart from distinct logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_report_the_duplicates_the_server_stored() {
    let emu = emulator().await;
    emu.set_faults(FaultConfig {
        drop_rate: 0.3,
        ..Default::default()
    })
    .unwrap();
    let cfg = config().batch_max_logs(50).log_id_field("log_id");
    let p = Producer::new(client(&emu, KEY), cfg).unwrap();
    let n = 3_000;
    for i in 0..n {
        p.send("t", numbered(i)).await.unwrap();
    }
    let report = p.close(Duration::from_secs(60)).await;
    assert!(report.all_delivered(), "{report:?}");
    assert!(emu.stats().dropped_connections > 0);
    assert!(report.possibly_duplicated > 0, "{report:?}");
    assert_eq!(report.possibly_duplicated, p.stats().possibly_duplicated);

    let stored = emu.cls_logs("t");
    let mut copies: HashMap<String, Vec<Key>> = HashMap::new();
    for r in &stored {
        let id = r
            .contents
            .iter()
            .find(|(k, _)| k.as_str() == "log_id")
            .map(|(_, v)| v.clone())
            .expect("every log carries its id");
        copies.entry(id).or_default().push(key_of(&as_log(r)));
    }
    assert_eq!(copies.len(), n, "one id per accepted log");
    for same in copies.values() {
        assert!(
            same.windows(2).all(|w| w[0] == w[1]),
            "copies are identical"
        );
    }
    let extra = (stored.len() - n) as u64;
    assert_eq!(
        extra, report.possibly_duplicated,
        "the duplicate count matches what the server stored"
    );
    emu.shutdown().await;
}

/// One schedule decides every attempt: a batch failing with 503 is sent
/// exactly `max_attempts` times in all (the client's own policy does not
/// multiply it), and each resend is counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_gets_exactly_the_attempts_of_the_producer_policy() {
    let emu = emulator().await;
    emu.set_faults(FaultConfig {
        error_rate: 1.0,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    let cfg = config().retry(
        RetryPolicy::default()
            .with_max_attempts(3)
            .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
    );
    let p = Producer::new(client(&emu, KEY), cfg).unwrap();
    let receipt = p.send("t", numbered(7)).await.unwrap();
    p.flush().await;
    let failed = receipt.await.unwrap_err();
    assert!(
        matches!(failed.reason, FailureReason::RetriesExhausted(_)),
        "{failed}"
    );
    assert_eq!(failed.attempts, 3);
    assert_eq!(emu.stats().requests, 3);
    let stats = p.stats();
    assert_eq!((stats.retries, stats.possibly_duplicated), (2, 0));
    emu.shutdown().await;
}

/// An unreachable CLS: the failure keeps its cause chain (the connection
/// error under the CLS error), and each level prints its own message only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_reported_with_its_cause() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::builder()
        .endpoint(format!("http://127.0.0.1:{port}"))
        .credentials(Credentials::new(ID, KEY).unwrap())
        .build()
        .unwrap();
    let cfg = config().retry(
        RetryPolicy::default()
            .with_max_attempts(2)
            .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
    );
    let p = Producer::new(client, cfg).unwrap();
    let receipt = p.send("t", numbered(1)).await.unwrap();
    let report = p.close(Duration::from_secs(30)).await;
    let failed = receipt.await.unwrap_err();

    let mut chain = Vec::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&failed);
    while let Some(c) = cause {
        chain.push(c.to_string());
        cause = c.source();
    }
    assert!(chain.len() >= 3, "{chain:#?}");
    assert!(chain[0].ends_with("retries exhausted"), "{chain:#?}");
    assert_eq!(chain[1], "CLS request failed");
    assert!(chain[2].starts_with("connection failed"), "{chain:#?}");
    for pair in chain.windows(2) {
        assert!(!pair[0].contains(&pair[1]), "printed twice: {chain:#?}");
    }
    let transport = std::error::Error::source(&failed)
        .and_then(|e| e.source())
        .and_then(|e| e.downcast_ref::<coscls::transport::Error>())
        .expect("the transport error is in the chain");
    assert_eq!(transport.kind(), coscls::transport::ErrorKind::Connect);

    let batch = &report.undelivered[0];
    assert!(std::error::Error::source(batch).is_some());
    assert!(batch.to_string().contains("retries exhausted"), "{batch}");
}
