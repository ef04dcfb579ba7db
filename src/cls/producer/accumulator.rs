//! Open batches per (topic, hash key), and when to seal them.
//!
//! Pure bookkeeping: time is passed in, nothing is sent from here. A batch is
//! sealed when it reaches the configured count or bytes, when its linger
//! expires, or before a record that would push it past a service limit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::batch::{topic_counters, Batch, BatchKey, Counters, Pending, TopicMap};
use super::result::{OutcomeSlot, RecordId};
use crate::cls::limits::{MAX_GROUP_CONTENT_BYTES, MAX_LOGS_PER_GROUP, MAX_REQUEST_BYTES};

/// When batches are sealed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thresholds {
    pub(crate) max_logs: usize,
    pub(crate) max_bytes: usize,
    pub(crate) linger: Duration,
    /// Encoded bytes of a batch's group fields other than its logs.
    pub(crate) meta_bytes: usize,
}

impl Thresholds {
    /// Encoded size of a request carrying one group of `wire` bytes of logs.
    pub(crate) fn request_bytes(&self, wire: usize) -> usize {
        let group = wire + self.meta_bytes;
        1 + prost::length_delimiter_len(group) + group
    }
}

/// The result of appending one record.
#[derive(Debug)]
pub(crate) struct Appended {
    pub(crate) id: RecordId,
    pub(crate) rx: watch::Receiver<OutcomeSlot>,
    /// Batches sealed by this append (the previous one when the record did
    /// not fit, and/or the one it filled).
    pub(crate) sealed: Vec<Batch>,
    /// Whether a new batch was opened (its linger deadline is new).
    pub(crate) opened: bool,
}

#[derive(Debug)]
pub(crate) struct Accumulator {
    open: HashMap<BatchKey, Batch>,
    next_id: u64,
    thresholds: Thresholds,
    counters: Arc<Counters>,
    topics: Arc<TopicMap>,
}

impl Accumulator {
    pub(crate) fn new(
        thresholds: Thresholds,
        counters: Arc<Counters>,
        topics: Arc<TopicMap>,
    ) -> Self {
        Accumulator {
            open: HashMap::new(),
            next_id: 1,
            thresholds,
            counters,
            topics,
        }
    }

    /// Whether `record` can join `batch` without breaking a service limit.
    fn fits(&self, batch: &Batch, record: &Pending) -> bool {
        batch.len() < MAX_LOGS_PER_GROUP
            && batch.content_bytes + record.content <= MAX_GROUP_CONTENT_BYTES
            && self
                .thresholds
                .request_bytes(batch.wire_bytes + record.wire)
                <= MAX_REQUEST_BYTES
    }

    /// Adds `record` (which fits in an empty batch: the caller checked).
    pub(crate) fn append(&mut self, key: &BatchKey, record: Pending, now: Instant) -> Appended {
        let mut sealed = Vec::new();
        if let Some(batch) = self.open.get(key) {
            if !self.fits(batch, &record) {
                sealed.extend(self.open.remove(key));
            }
        }
        let mut opened = false;
        let batch = match self.open.get_mut(key) {
            Some(b) => b,
            None => {
                opened = true;
                let id = self.next_id;
                self.next_id += 1;
                let topic = topic_counters(&self.topics, &key.topic);
                let batch = Batch::new(id, key.clone(), now, self.counters.clone(), topic);
                self.open.entry(key.clone()).or_insert(batch)
            }
        };
        let index = batch.push(record);
        let id = RecordId {
            batch: batch.id(),
            index,
        };
        let rx = batch
            .completer
            .subscribe()
            .expect("an open batch has not reported");
        let t = &self.thresholds;
        if batch.len() >= t.max_logs || batch.wire_bytes >= t.max_bytes || t.linger.is_zero() {
            sealed.extend(self.open.remove(key));
        }
        Appended {
            id,
            rx,
            sealed,
            opened,
        }
    }

    /// When `batch`'s linger expires; `None` when that instant is beyond
    /// what `Instant` can represent (the batch then waits for count, bytes,
    /// flush or close). Validation keeps linger far below that bound.
    fn deadline_of(&self, batch: &Batch) -> Option<Instant> {
        batch.created.checked_add(self.thresholds.linger)
    }

    /// Seals the batches whose linger has expired.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Batch> {
        let due: Vec<BatchKey> = self
            .open
            .iter()
            .filter(|(_, b)| self.deadline_of(b).is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        let mut out: Vec<Batch> = due.iter().filter_map(|k| self.open.remove(k)).collect();
        out.sort_by_key(Batch::id);
        out
    }

    /// Seals every open batch (flush, close).
    pub(crate) fn take_all(&mut self) -> Vec<Batch> {
        let mut out: Vec<Batch> = self.open.drain().map(|(_, b)| b).collect();
        out.sort_by_key(Batch::id);
        out
    }

    /// The earliest linger deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.open.values().filter_map(|b| self.deadline_of(b)).min()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cls::limits::{content_bytes, wire_bytes};
    use crate::cls::proto::Log;
    use tokio::sync::Semaphore;

    struct Fixture {
        acc: Accumulator,
        memory: Arc<Semaphore>,
        now: Instant,
    }

    const CAP: usize = 64 << 20;

    fn fixture(max_logs: usize, max_bytes: usize, linger_ms: u64) -> Fixture {
        let t = Thresholds {
            max_logs,
            max_bytes,
            linger: Duration::from_millis(linger_ms),
            meta_bytes: 40,
        };
        Fixture {
            acc: Accumulator::new(t, Arc::new(Counters::default()), Default::default()),
            memory: Arc::new(Semaphore::new(CAP)),
            now: Instant::now(),
        }
    }

    fn key(topic: &str) -> BatchKey {
        BatchKey {
            topic: topic.into(),
            hash_key: None,
        }
    }

    impl Fixture {
        fn add(&mut self, topic: &str, log: Log) -> Appended {
            let wire = wire_bytes(&log);
            let record = Pending {
                content: content_bytes(&log),
                wire,
                permit: self
                    .memory
                    .clone()
                    .try_acquire_many_owned(wire as u32)
                    .unwrap(),
                log,
                callback: None,
            };
            self.acc.append(&key(topic), record, self.now)
        }

        fn held(&self) -> usize {
            CAP - self.memory.available_permits()
        }
    }

    fn log(value_len: usize) -> Log {
        Log::new(1).field("k", "v".repeat(value_len))
    }

    #[test]
    fn a_batch_is_sealed_at_the_count_threshold_and_topics_do_not_mix() {
        let mut f = fixture(3, 1 << 20, 1000);
        assert!(f.add("a", log(1)).opened);
        assert!(f.add("b", log(1)).opened);
        assert!(!f.add("a", log(1)).opened);
        let third = f.add("a", log(1));
        assert_eq!(third.id.index, 2);
        assert_eq!(third.sealed.len(), 1);
        let batch = &third.sealed[0];
        assert_eq!(batch.len(), 3);
        assert_eq!(&*batch.completer.key.topic, "a");
        // "b" is still open; the next "a" opens a new batch.
        assert!(f.add("a", log(1)).opened);
        assert_eq!(f.acc.take_all().len(), 2);
    }

    #[test]
    fn a_batch_is_sealed_once_it_reaches_the_byte_threshold() {
        let mut f = fixture(1000, 1000, 1000);
        let mut sealed = Vec::new();
        for _ in 0..10 {
            sealed.extend(f.add("a", log(300)).sealed);
        }
        // Each log is ~310 bytes: the 4th crosses 1000.
        assert!(sealed.iter().all(|b| b.len() == 4 && b.wire_bytes >= 1000));
        assert_eq!(sealed.len(), 2);
    }

    #[test]
    fn a_record_that_would_break_a_service_limit_seals_the_batch_first() {
        // Thresholds at the maximum: only the service limits seal.
        let mut f = fixture(MAX_LOGS_PER_GROUP, MAX_GROUP_CONTENT_BYTES, 1000);
        let big = 1 << 20; // 1 MiB values: 5 fit in a group's 5 MiB of content.
        let mut sealed = Vec::new();
        for _ in 0..5 {
            sealed.extend(f.add("a", log(big - 100)).sealed);
        }
        assert!(sealed.is_empty());
        let sixth = f.add("a", log(big - 100));
        assert_eq!(sixth.sealed.len(), 1, "the 6th MiB goes to a new batch");
        assert_eq!(sixth.sealed[0].len(), 5);
        assert!(sixth.sealed[0].content_bytes <= MAX_GROUP_CONTENT_BYTES);
        assert!(sixth.opened);
    }

    #[test]
    fn linger_expiry_seals_only_old_batches() {
        let mut f = fixture(100, 1 << 20, 100);
        f.add("a", log(1));
        f.now += Duration::from_millis(60);
        f.add("b", log(1));
        assert_eq!(
            f.acc.next_deadline(),
            Some(f.now + Duration::from_millis(40))
        );
        assert!(f.acc.take_due(f.now).is_empty());
        let due = f.acc.take_due(f.now + Duration::from_millis(40));
        assert_eq!(due.len(), 1);
        assert_eq!(&*due[0].completer.key.topic, "a");
        assert!(!f.acc.is_empty());
    }

    #[test]
    fn a_linger_beyond_what_an_instant_holds_never_expires_and_never_panics() {
        let mut f = fixture(100, 1 << 20, 0);
        f.acc.thresholds.linger = Duration::MAX;
        f.add("a", log(1));
        assert_eq!(f.acc.next_deadline(), None);
        assert!(f
            .acc
            .take_due(f.now + Duration::from_secs(86_400))
            .is_empty());
        assert_eq!(f.acc.take_all().len(), 1);
    }

    #[test]
    fn memory_is_held_by_batches_and_returned_exactly_on_completion() {
        let mut f = fixture(100, 1 << 20, 100);
        let mut expected = 0;
        for i in 0..50 {
            let l = log(i * 7);
            expected += wire_bytes(&l);
            f.add(if i % 2 == 0 { "a" } else { "b" }, l);
        }
        assert_eq!(f.held(), expected);
        let batches = f.acc.take_all();
        let held: usize = batches.iter().map(|b| b.completer.held_bytes()).sum();
        assert_eq!(held, expected);
        for b in batches {
            b.completer.complete(1, Ok(None));
        }
        assert_eq!(f.held(), 0);
    }

    #[test]
    fn a_dropped_batch_still_reports_and_frees_its_memory() {
        let mut f = fixture(100, 1 << 20, 100);
        let appended = f.add("a", log(10));
        drop(f.acc.take_all());
        assert_eq!(f.held(), 0);
        let outcome = appended.rx.borrow().clone().expect("reported");
        let failed = outcome.record(0).unwrap_err();
        assert!(matches!(
            failed.reason,
            crate::cls::producer::FailureReason::Dropped
        ));
    }
}
