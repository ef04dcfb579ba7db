//! Producer behaviour against an in-memory CLS (a mock `HttpSend`); the same
//! properties are checked against the emulator in `tests/cls_producer.rs`.

use super::admit::allocation_cost;
use super::*;
use crate::cls::limits::wire_bytes;
use crate::cls::test_support::{client, Fault, MockCls};
use crate::transport::retry::RetryPolicy;

fn config() -> ProducerConfig {
    ProducerConfig {
        batch_max_logs: 100,
        linger: Duration::from_millis(50),
        retry: RetryPolicy::default()
            .with_max_attempts(10)
            .with_backoff(Duration::from_millis(5), Duration::from_millis(50)),
        ..ProducerConfig::default()
    }
}

fn numbered(i: usize) -> Log {
    Log::new(1_700_000_000_000 + i as i64)
        .field("seq", i.to_string())
        .field("msg", format!("message number {i}"))
}

/// The sequence numbers received, sorted: concurrent batches and retries
/// may reorder batches (never the logs inside one).
fn seqs(logs: &[Log]) -> Vec<usize> {
    let mut s: Vec<usize> = logs
        .iter()
        .map(|l| l.contents[0].value.parse().unwrap())
        .collect();
    s.sort_unstable();
    s
}

#[tokio::test]
async fn a_linger_no_deadline_can_hold_is_refused_before_the_producer_starts() {
    // It used to pass validation and then panic in the linger task
    // ("overflow when adding duration to instant") while holding the lock.
    let mock = MockCls::new();
    let cfg = ProducerConfig {
        linger: Duration::MAX,
        ..config()
    };
    let err = Producer::new(client(&mock, 1), cfg).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("linger"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn every_accepted_log_arrives_once_in_order_per_topic() {
    let mock = MockCls::new();
    let p = Producer::new(client(&mock, 1), config()).unwrap();
    let mut receipts = Vec::new();
    for i in 0..3000 {
        let topic = ["t-a", "t-b", "t-c"][i % 3];
        receipts.push(p.send(topic, numbered(i)).await.unwrap());
    }
    let report = p.flush().await;
    assert!(report.failed.is_empty());
    for r in receipts {
        let d = r.await.unwrap();
        assert_eq!(d.request_id.as_deref(), Some("mock-req"));
    }
    for (k, topic) in ["t-a", "t-b", "t-c"].iter().enumerate() {
        let want: Vec<usize> = (0..3000).filter(|i| i % 3 == k).collect();
        assert_eq!(seqs(&mock.logs(topic)), want, "{topic}");
    }
    let stats = p.stats();
    assert_eq!(
        (stats.accepted, stats.delivered, stats.failed),
        (3000, 3000, 0)
    );
    assert_eq!(stats.buffered_bytes, 0);
}

#[tokio::test(start_paused = true)]
async fn batches_respect_count_bytes_and_linger() {
    let mock = MockCls::new();
    let cfg = ProducerConfig {
        batch_max_logs: 10,
        batch_max_bytes: 1000,
        linger: Duration::from_secs(5),
        ..config()
    };
    let p = Producer::new(client(&mock, 1), cfg).unwrap();
    // Log sizes vary from ~55 to ~250 bytes: short ones fill batches by
    // count, long ones by bytes.
    let padded = |i: usize| numbered(i).field("pad", "p".repeat((i % 100) * 2));
    let largest = (100..1100).map(|i| wire_bytes(&padded(i))).max().unwrap();
    for i in 100..1100 {
        p.send("t", padded(i)).await.unwrap();
    }
    p.flush().await;
    let (mut by_count, mut by_bytes) = (0, 0);
    for g in &mock.groups() {
        assert!(g.logs.len() <= 10);
        let wire: usize = g.logs.iter().map(wire_bytes).sum();
        assert!(wire < 1000 + largest, "{wire}");
        by_count += usize::from(g.logs.len() == 10 && wire < 1000);
        by_bytes += usize::from(wire >= 1000);
        assert!(g.context_flow.as_deref().is_some_and(|c| c.len() == 33));
    }
    assert!(by_count > 0 && by_bytes > 0, "{by_count} {by_bytes}");
    assert_eq!(seqs(&mock.logs("t")), (100..1100).collect::<Vec<_>>());

    // One lone log waits for its linger, then goes without a flush.
    let before = mock.groups().len();
    p.send("t", numbered(7)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        mock.groups().len(),
        before,
        "sent before its linger expired"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(mock.groups().len(), before + 1);
}

#[tokio::test(start_paused = true)]
async fn the_memory_cap_blocks_or_fails_fast_and_is_counted_exactly() {
    let mock = MockCls::new();
    mock.gate.send_replace(false); // the server holds every request
    let per_log = memory_bytes(&numbered(10));
    let cfg = ProducerConfig {
        memory_limit: per_log * 20,
        batch_max_logs: 5,
        when_full: WhenFull::Block(Duration::from_millis(300)),
        ..config()
    };
    let p = Producer::new(client(&mock, 1), cfg).unwrap();
    let mut receipts = Vec::new();
    for i in 10..30 {
        receipts.push(p.try_send("t", numbered(i)).unwrap());
    }
    assert_eq!(p.stats().buffered_bytes, per_log * 20);
    match p.try_send("t", numbered(30)) {
        Err(Error::BufferFull { requested, .. }) => assert_eq!(requested, per_log),
        other => panic!("expected BufferFull, got {other:?}"),
    }
    match p.send("t", numbered(30)).await {
        Err(Error::BufferFull { waited, .. }) => assert!(waited >= Duration::from_millis(300)),
        other => panic!("expected BufferFull after blocking, got {other:?}"),
    }
    assert_eq!(p.stats().refused, 2);

    // A blocked sender proceeds as soon as delivered batches free room.
    let blocked = {
        let p = p.clone();
        tokio::spawn(async move {
            let cfg_wait = WhenFull::Block(Duration::from_secs(3600));
            let permit = p.reserve(per_log, cfg_wait).await;
            permit.map(|_| ())
        })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!blocked.is_finished());
    mock.gate.send_replace(true);
    blocked.await.unwrap().unwrap();
    p.flush().await;
    for r in receipts {
        r.await.unwrap();
    }
    assert_eq!(seqs(&mock.logs("t")), (10..30).collect::<Vec<_>>());
    assert_eq!(p.stats().buffered_bytes, 0);
}

#[tokio::test(start_paused = true)]
async fn throttling_server_errors_and_resets_lose_nothing() {
    let mock = MockCls::new();
    mock.script(&[
        Fault::Status(429),
        Fault::Status(503),
        Fault::Reset,
        Fault::Status(500),
        Fault::Reset,
        Fault::Status(429),
    ]);
    // The client gives up at once; the producer's own loop must carry on.
    let p = Producer::new(client(&mock, 1), config()).unwrap();
    let mut receipts = Vec::new();
    for i in 0..500 {
        receipts.push(p.send("t", numbered(i)).await.unwrap());
    }
    let report = p.close(Duration::from_secs(60)).await;
    assert!(report.all_delivered(), "{report:?}");
    assert!(!report.timed_out);
    let mut attempts = 0;
    for r in receipts {
        attempts = attempts.max(r.await.unwrap().attempts);
    }
    assert!(attempts > 1);
    assert_eq!(seqs(&mock.logs("t")), (0..500).collect::<Vec<_>>());
    assert_eq!(p.stats().retries, 6);
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_fail_the_batch_and_hand_the_logs_back() {
    let mock = MockCls::new();
    mock.script(&[Fault::Status(403)]);
    let p = Producer::new(
        client(&mock, 3),
        ProducerConfig {
            batch_max_logs: 2,
            ..config()
        },
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    p.send_with_callback("t", numbered(1), move |r| tx.send(r).unwrap())
        .await
        .unwrap();
    let second = p.send("t", numbered(2)).await.unwrap();
    let failed = second.await.unwrap_err();
    assert!(matches!(&failed.reason, FailureReason::Rejected(e) if e.code() == Some("E403")));
    assert_eq!(failed.log, Some(numbered(2)));
    assert_eq!(failed.attempts, 1, "a 403 is not retried");
    let first = rx.try_recv().expect("callback ran").unwrap_err();
    assert_eq!(first.log, Some(numbered(1)));
    assert_eq!(mock.requests.load(Ordering::SeqCst), 1);
    let s = p.stats();
    assert_eq!(
        (s.accepted, s.delivered, s.failed, s.buffered_bytes),
        (2, 0, 2, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn close_delivers_everything_buffered() {
    let mock = MockCls::new();
    let cfg = ProducerConfig {
        linger: Duration::from_secs(3600),
        batch_max_logs: 1000,
        ..config()
    };
    let p = Producer::new(client(&mock, 1), cfg).unwrap();
    for i in 0..2500 {
        p.send(if i % 2 == 0 { "x" } else { "y" }, numbered(i))
            .await
            .unwrap();
    }
    let report = p.close(Duration::from_secs(10)).await;
    assert!(report.all_delivered() && report.undelivered.is_empty());
    assert_eq!(report.accepted, 2500);
    assert_eq!(mock.logs("x").len() + mock.logs("y").len(), 2500);
    assert!(matches!(
        p.send("x", numbered(0)).await,
        Err(Error::ProducerClosed)
    ));
    assert!(matches!(
        p.try_send("x", numbered(0)),
        Err(Error::ProducerClosed)
    ));
}

#[tokio::test(start_paused = true)]
async fn close_reports_exactly_what_it_could_not_deliver() {
    let mock = MockCls::new();
    *mock.always.lock().unwrap() = Some(Fault::Status(503));
    let cfg = ProducerConfig {
        batch_max_logs: 10,
        retry: RetryPolicy::default()
            .with_max_attempts(1000)
            .with_backoff(Duration::from_millis(100), Duration::from_secs(1)),
        ..config()
    };
    let p = Producer::new(client(&mock, 1), cfg).unwrap();
    let mut receipts = Vec::new();
    for i in 0..95 {
        receipts.push(p.send("t", numbered(i)).await.unwrap());
    }
    let report = p.close(Duration::from_secs(5)).await;
    assert!(report.timed_out);
    assert_eq!(
        (report.accepted, report.delivered, report.failed),
        (95, 0, 95)
    );
    assert_eq!(report.undelivered.len(), 10);
    let mut back: Vec<Log> = Vec::new();
    for b in &report.undelivered {
        assert!(
            matches!(b.reason, FailureReason::Abandoned { .. }),
            "{}",
            b.reason
        );
        back.extend(b.logs.iter().cloned());
    }
    back.sort_by_key(|l| l.time);
    assert_eq!(seqs(&back), (0..95).collect::<Vec<_>>());
    for r in receipts {
        assert!(r.await.unwrap_err().log.is_some());
    }
    assert_eq!(p.stats().buffered_bytes, 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_producer_still_delivers_and_resolves_receipts() {
    let mock = MockCls::new();
    let cfg = ProducerConfig {
        linger: Duration::from_secs(3600),
        ..config()
    };
    let p = Producer::new(client(&mock, 1), cfg).unwrap();
    let r = p.send("t", numbered(1)).await.unwrap();
    drop(p);
    assert!(r.await.is_ok());
    assert_eq!(seqs(&mock.logs("t")), vec![1]);
}

#[tokio::test(start_paused = true)]
async fn hash_keys_split_batches_and_travel_as_headers() {
    let mock = MockCls::new();
    let p = Producer::new(client(&mock, 1), config()).unwrap();
    let a = Destination::new("t").hashed_by("a");
    let b = Destination::new("t").with_hash_key("0123456789abcdef0123456789abcdef");
    p.send(&a, numbered(1)).await.unwrap();
    p.send(&b, numbered(2)).await.unwrap();
    p.send(&a, numbered(3)).await.unwrap();
    p.flush().await;
    let got = mock.received.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    for (_, hash, group) in got {
        let s = seqs(&group.logs);
        match hash.as_deref() {
            Some("0123456789abcdef0123456789abcdef") => assert_eq!(s, vec![2]),
            Some(h) => {
                assert_eq!(Some(h), a.hash_key());
                assert_eq!(s, vec![1, 3]);
            }
            None => panic!("missing hash key"),
        }
    }
    assert!(p
        .send(Destination::new("t").with_hash_key("bad key"), numbered(4))
        .await
        .is_err());
}

#[tokio::test]
async fn oversized_and_invalid_logs_are_refused_up_front() {
    let mock = MockCls::new();
    let cfg = ProducerConfig {
        memory_limit: 1000,
        ..config()
    };
    let p = Producer::new(client(&mock, 1), cfg).unwrap();
    let too_big_for_cap = Log::new(1).field("k", "x".repeat(2000));
    assert!(matches!(
        p.try_send("t", too_big_for_cap),
        Err(Error::InvalidInput { .. })
    ));
    let too_big_value = Log::new(1).field("k", "x".repeat((1 << 20) + 1));
    assert!(p.try_send("t", too_big_value).is_err());
    assert!(p.try_send("", numbered(1)).is_err());
    assert_eq!(p.stats().refused, 3);
    assert_eq!(p.stats().accepted, 0);
}

#[test]
fn a_producer_needs_a_runtime() {
    let mock = MockCls::new();
    let err = Producer::new(client(&mock, 1), config()).unwrap_err();
    assert!(err.to_string().contains("Tokio runtime"));
}

#[tokio::test(start_paused = true)]
async fn log_counts_are_kept_by_topic() {
    let mock = MockCls::new();
    let p = Producer::new(client(&mock, 1), config()).unwrap();
    for i in 0..5 {
        p.send(if i < 3 { "a" } else { "b" }, numbered(i))
            .await
            .unwrap();
    }
    // A value over 1 MiB is refused before it is accepted.
    let huge = Log::new(1).field("v", "x".repeat((1 << 20) + 1));
    assert!(p.send("b", huge).await.is_err());
    assert!(p.flush().await.failed.is_empty());
    let mut counts = p.topic_counts();
    counts.sort_by(|x, y| x.0.cmp(&y.0));
    let view: Vec<(&str, u64, u64, u64)> = counts
        .iter()
        .map(|(t, c)| (&**t, c.accepted, c.delivered, c.refused))
        .collect();
    assert_eq!(view, vec![("a", 3, 3, 0), ("b", 2, 2, 1)]);
    p.close(Duration::from_secs(1)).await;
}

#[test]
fn the_memory_charge_covers_what_each_allocation_costs() {
    assert_eq!(allocation_cost(0), 0);
    assert_eq!(allocation_cost(1), 32);
    assert_eq!(allocation_cost(24), 32);
    assert_eq!(allocation_cost(25), 48);
    assert_eq!(allocation_cost(usize::MAX), usize::MAX & !15);
    // Five short fields: ten small strings and one array, each charged as a
    // heap chunk, not as the few bytes it holds.
    let log = numbered(3).field("a", "b").field("c", "d").field("e", "f");
    let asked: usize = log
        .contents
        .iter()
        .map(|c| c.key.capacity() + c.value.capacity())
        .sum();
    assert!(memory_bytes(&log) >= std::mem::size_of::<Log>() + 10 * 32 + asked);
}
