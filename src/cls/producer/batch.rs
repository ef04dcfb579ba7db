//! A batch: the logs bound for one (topic, hash key), the memory they hold,
//! and the promise to report how it ended.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::Instant;

use super::result::{BatchOutcome, Callback, FailureReason, OutcomeSlot};
use crate::cls::proto::Log;

/// Where a batch goes; batches never mix keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct BatchKey {
    pub(crate) topic: Arc<str>,
    pub(crate) hash_key: Option<Arc<str>>,
}

/// Lifetime counters, shared by the producer and its batches.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) batches_delivered: AtomicU64,
    pub(crate) batches_failed: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) possibly_duplicated: AtomicU64,
}

/// Topics beyond this many are counted together under [`OTHER_TOPICS`], so
/// the `topic` label of the producer metrics stays bounded.
pub(crate) const MAX_TOPIC_LABELS: usize = 256;
/// The label of the topics past [`MAX_TOPIC_LABELS`].
pub(crate) const OTHER_TOPICS: &str = "_other";

/// Log counts of one topic.
#[derive(Debug, Default)]
pub(crate) struct TopicCounters {
    pub(crate) accepted: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) possibly_duplicated: AtomicU64,
}

/// A snapshot of [`TopicCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TopicCounts {
    pub(crate) accepted: u64,
    pub(crate) delivered: u64,
    pub(crate) failed: u64,
    pub(crate) refused: u64,
    pub(crate) possibly_duplicated: u64,
}

impl TopicCounters {
    pub(crate) fn snapshot(&self) -> TopicCounts {
        TopicCounts {
            accepted: self.accepted.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            possibly_duplicated: self.possibly_duplicated.load(Ordering::Relaxed),
        }
    }
}

/// Counters by topic. Looked up when a batch opens or a log is refused,
/// never per accepted log.
pub(crate) type TopicMap = Mutex<HashMap<Arc<str>, Arc<TopicCounters>>>;

pub(crate) fn lock_topics(map: &TopicMap) -> MutexGuard<'_, HashMap<Arc<str>, Arc<TopicCounters>>> {
    map.lock().unwrap_or_else(|p| p.into_inner())
}

/// The counters of `topic` (or of [`OTHER_TOPICS`] once the map is full).
pub(crate) fn topic_counters(map: &TopicMap, topic: &Arc<str>) -> Arc<TopicCounters> {
    let mut map = lock_topics(map);
    if let Some(c) = map.get(topic) {
        return c.clone();
    }
    let key: Arc<str> = if map.len() < MAX_TOPIC_LABELS {
        topic.clone()
    } else {
        Arc::from(OTHER_TOPICS)
    };
    map.entry(key).or_default().clone()
}

/// One accepted record on its way into a batch.
pub(crate) struct Pending {
    pub(crate) log: Log,
    pub(crate) wire: usize,
    pub(crate) content: usize,
    /// Exactly [`memory_bytes`](super::memory_bytes) of the log, from the memory cap.
    pub(crate) permit: OwnedSemaphorePermit,
    pub(crate) callback: Option<Callback>,
}

/// Reports a batch's outcome exactly once: to its callbacks, its receipts and
/// the counters, then returns its memory. Dropped unreported (the runtime
/// shut down), it reports [`FailureReason::Dropped`] rather than nothing.
pub(crate) struct Completer {
    pub(crate) id: u64,
    pub(crate) key: BatchKey,
    pub(crate) len: usize,
    permit: Option<OwnedSemaphorePermit>,
    callbacks: Vec<(u32, Callback)>,
    tx: Option<watch::Sender<OutcomeSlot>>,
    counters: Arc<Counters>,
    /// The counters of this batch's topic.
    pub(crate) topic: Arc<TopicCounters>,
}

impl std::fmt::Debug for Completer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completer")
            .field("id", &self.id)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Completer {
    /// A receiver that sees the outcome.
    pub(crate) fn subscribe(&self) -> Option<watch::Receiver<OutcomeSlot>> {
        self.tx.as_ref().map(watch::Sender::subscribe)
    }

    /// Bytes of the memory cap this batch holds.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.permit.as_ref().map_or(0, |p| p.num_permits())
    }

    /// Reports the outcome: callbacks first, then the memory is returned and
    /// the counters updated, and last the receipts resolve, so a caller that
    /// awaited every receipt sees the memory and counters settled.
    pub(crate) fn complete(
        mut self,
        attempts: u32,
        result: Result<Option<String>, (FailureReason, Vec<Log>)>,
    ) -> Arc<BatchOutcome> {
        self.finish(attempts, result)
    }

    fn finish(
        &mut self,
        attempts: u32,
        result: Result<Option<String>, (FailureReason, Vec<Log>)>,
    ) -> Arc<BatchOutcome> {
        let ok = result.is_ok();
        let outcome = Arc::new(BatchOutcome {
            batch: self.id,
            topic: self.key.topic.clone(),
            hash_key: self.key.hash_key.clone(),
            attempts,
            len: self.len,
            result,
        });
        for (index, callback) in self.callbacks.drain(..) {
            let record = outcome.record(index);
            // A panicking callback must not keep the others from running.
            let _ = catch_unwind(AssertUnwindSafe(move || callback(record)));
        }
        self.permit = None;
        let n = self.len as u64;
        if ok {
            self.topic.delivered.fetch_add(n, Ordering::Relaxed);
            self.counters.delivered.fetch_add(n, Ordering::Relaxed);
            self.counters
                .batches_delivered
                .fetch_add(1, Ordering::Relaxed);
        } else {
            self.topic.failed.fetch_add(n, Ordering::Relaxed);
            self.counters.failed.fetch_add(n, Ordering::Relaxed);
            self.counters.batches_failed.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(tx) = self.tx.take() {
            tx.send_replace(Some(outcome.clone()));
        }
        outcome
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if self.tx.is_some() {
            self.finish(0, Err((FailureReason::Dropped, Vec::new())));
        }
    }
}

/// An open or sealed batch.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) completer: Completer,
    pub(crate) logs: Vec<Log>,
    pub(crate) wire_bytes: usize,
    pub(crate) content_bytes: usize,
    pub(crate) created: Instant,
}

impl Batch {
    pub(crate) fn new(
        id: u64,
        key: BatchKey,
        now: Instant,
        counters: Arc<Counters>,
        topic: Arc<TopicCounters>,
    ) -> Self {
        let (tx, _) = watch::channel(None);
        Batch {
            completer: Completer {
                id,
                key,
                len: 0,
                permit: None,
                callbacks: Vec::new(),
                tx: Some(tx),
                counters,
                topic,
            },
            logs: Vec::new(),
            wire_bytes: 0,
            content_bytes: 0,
            created: now,
        }
    }

    /// Adds a record; returns its index.
    pub(crate) fn push(&mut self, record: Pending) -> u32 {
        let index = self.logs.len() as u32;
        self.logs.push(record.log);
        self.wire_bytes += record.wire;
        self.content_bytes += record.content;
        let c = &mut self.completer;
        c.len += 1;
        c.topic.accepted.fetch_add(1, Ordering::Relaxed);
        match &mut c.permit {
            Some(p) => p.merge(record.permit),
            None => c.permit = Some(record.permit),
        }
        if let Some(cb) = record.callback {
            c.callbacks.push((index, cb));
        }
        index
    }

    pub(crate) fn id(&self) -> u64 {
        self.completer.id
    }

    pub(crate) fn len(&self) -> usize {
        self.logs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_past_the_label_cap_share_one_counter() {
        let map = TopicMap::default();
        for i in 0..MAX_TOPIC_LABELS {
            let t: Arc<str> = Arc::from(format!("topic-{i}"));
            topic_counters(&map, &t)
                .accepted
                .fetch_add(1, Ordering::Relaxed);
        }
        let again: Arc<str> = Arc::from("topic-0");
        topic_counters(&map, &again)
            .accepted
            .fetch_add(1, Ordering::Relaxed);
        for extra in ["late-a", "late-b"] {
            let t: Arc<str> = Arc::from(extra);
            topic_counters(&map, &t)
                .accepted
                .fetch_add(1, Ordering::Relaxed);
        }
        let map = lock_topics(&map);
        assert_eq!(map.len(), MAX_TOPIC_LABELS + 1);
        assert_eq!(map[&Arc::<str>::from("topic-0")].snapshot().accepted, 2);
        assert_eq!(map[&Arc::<str>::from(OTHER_TOPICS)].snapshot().accepted, 2);
    }
}
