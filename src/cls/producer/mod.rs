//! The batching producer (docs on [`Producer`]): admission in `admit.rs`,
//! batches in `accumulator.rs` and `batch.rs`, sending in `sender.rs`.

mod accumulator;
mod admit;
mod batch;
mod config;
mod destination;
mod metrics;
mod result;
mod sender;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use prost::Message;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;

pub(crate) use admit::memory_bytes;
pub use config::{ProducerConfig, WhenFull, MAX_CONFIG_DURATION};
pub use destination::Destination;
pub use metrics::{observe_producer, ProducerMetrics};
pub use result::{
    CloseReport, Delivery, FailedBatch, FailedDelivery, FailureReason, FlushReport, Receipt,
    RecordId,
};

use accumulator::{Accumulator, Thresholds};
pub(crate) use batch::TopicCounts;
use batch::{lock_topics, topic_counters, Batch, Counters, TopicMap};
use result::{BatchOutcome, OutcomeSlot};

use super::limits::MAX_REQUEST_BYTES;
use super::proto::{Log, LogGroup, LogTag};
use super::Client;
use super::Error;

/// A snapshot of a producer's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerStats {
    /// Logs accepted.
    pub accepted: u64,
    /// Logs delivered.
    pub delivered: u64,
    /// Logs accepted and then not delivered (each reported to its receipt/callback).
    pub failed: u64,
    /// Logs refused by `send`/`try_send` (buffer full, closed, invalid).
    pub refused: u64,
    /// Batches delivered.
    pub batches_delivered: u64,
    /// Batches failed.
    pub batches_failed: u64,
    /// HTTP retries of batches (every attempt after a batch's first).
    pub retries: u64,
    /// Logs sent again after an attempt that may have stored them: an upper
    /// bound on the extra copies CLS may hold (delivery is at least once).
    pub possibly_duplicated: u64,
    /// Bytes of the memory cap held by accepted, unfinished logs.
    pub buffered_bytes: usize,
}

/// The batching CLS producer. Cheap to clone; clones share the buffer.
///
/// [`Producer::send`] accepts a log into the open batch of its topic (and
/// hash key) and returns a [`Receipt`] that resolves when the batch is
/// delivered or has definitively failed. Batches are sealed by count, bytes
/// or linger time, sent by a bounded number of concurrent tasks, and retried
/// on 429, 5xx and network failures under one schedule
/// ([`ProducerConfig::retry`]).
///
/// Delivery is **at least once**. When an attempt fails in a way that may
/// have stored the batch anyway (the connection broke after the request was
/// sent, a timeout, a 500/502/504: [`Error::may_have_been_stored`]), the
/// batch is sent again and CLS can hold its logs twice; a batch abandoned by
/// `close` with a request in flight may be stored although it is reported
/// failed. Throttling (429), 503, refused connections and 4xx never store
/// anything. The logs resent after such an ambiguous failure are counted in
/// [`ProducerStats::possibly_duplicated`] and
/// [`CloseReport::possibly_duplicated`]; set
/// [`ProducerConfig::log_id_field`] to give each log an id that identifies
/// its copies downstream.
///
/// The memory cap is a semaphore of bytes: each log takes its encoded size
/// when accepted and gives it back when its outcome has been reported, so the
/// count cannot drift. When the cap is reached, `send` waits (up to a
/// timeout) or fails at once, per [`WhenFull`]; either way the caller is told.
///
/// [`Producer::flush`] and [`Producer::close`] deliver everything accepted
/// before them, or report exactly which batches (with their logs) were not.
///
/// ```no_run
/// # async fn demo(client: coscls::cls::Client) -> Result<(), Box<dyn std::error::Error>> {
/// use coscls::cls::{Producer, ProducerConfig};
/// use coscls::cls::Log;
/// use std::time::Duration;
///
/// let producer = Producer::new(client, ProducerConfig::default())?;
/// let receipt = producer.send("my-topic-id", Log::now().field("msg", "hello")).await?;
/// let report = producer.close(Duration::from_secs(30)).await;
/// assert!(report.all_delivered());
/// let delivery = receipt.await?;
/// println!("delivered in request {:?}", delivery.request_id);
/// # Ok(()) }
/// ```
///
/// Needs a Tokio runtime: [`Producer::new`] must run inside one, and the
/// producer's tasks run on it. `send` may then be called from any task;
/// [`try_send`](Self::try_send) from any thread.
///
/// Dropping the last clone without `close` still sends what is buffered (in
/// the background, while the runtime lives) and resolves every receipt.
#[derive(Clone)]
pub struct Producer {
    handle: Arc<Handle>,
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field(
                "id",
                &format_args!("{:016X}", self.handle.shared.producer_id),
            )
            .field("stats", &self.stats())
            .finish()
    }
}

/// Shuts the producer down when the last user handle goes away.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.shutdown();
    }
}

struct State {
    acc: Accumulator,
    /// Sealed batches not yet reported, by id.
    inflight: HashMap<u64, watch::Receiver<OutcomeSlot>>,
    closed: bool,
}

pub(crate) struct Shared {
    client: Client,
    config: ProducerConfig,
    producer_id: u64,
    thresholds: Thresholds,
    /// The group fields every batch carries.
    meta: LogGroup,
    state: Mutex<State>,
    memory: Arc<Semaphore>,
    in_flight: Arc<Semaphore>,
    counters: Arc<Counters>,
    /// The same counts by topic.
    topics: Arc<TopicMap>,
    /// The next log's sequence number for [`ProducerConfig::log_id_field`].
    next_log_seq: AtomicU64,
    /// Wakes the linger task when a batch opens or the producer closes.
    wake: Notify,
    /// Set by `close` at its deadline: outstanding batches give up.
    abort: watch::Sender<bool>,
    runtime: tokio::runtime::Handle,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated
        // in a way that loses records (each step is a move), so keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The group sent for batch `id`.
    fn group(&self, id: u64, logs: Vec<Log>) -> LogGroup {
        let mut group = self.meta.clone();
        group.logs = logs;
        if self.config.context_flow {
            group.context_flow = Some(context_flow(self.producer_id, id));
        }
        group
    }

    /// Registers sealed batches (under the lock, so flush sees them) …
    fn register(state: &mut State, batches: &[Batch]) {
        for b in batches {
            if let Some(rx) = b.completer.subscribe() {
                state.inflight.insert(b.id(), rx);
            }
        }
    }

    /// … and starts sending them (after the lock is released).
    fn dispatch(self: &Arc<Self>, batches: Vec<Batch>) {
        for batch in batches {
            self.runtime.spawn(sender::deliver(self.clone(), batch));
        }
    }

    /// Stops accepting, seals everything and lets it be delivered.
    fn shutdown(self: &Arc<Self>) -> Vec<watch::Receiver<OutcomeSlot>> {
        let (sealed, pending) = {
            let mut state = self.lock();
            state.closed = true;
            let sealed = state.acc.take_all();
            Shared::register(&mut state, &sealed);
            let pending: Vec<_> = state.inflight.values().cloned().collect();
            (sealed, pending)
        };
        self.memory.close();
        self.wake.notify_one();
        self.dispatch(sealed);
        pending
    }
}

fn context_flow(producer: u64, batch: u64) -> String {
    format!("{producer:016X}-{batch:016X}")
}

/// Seals batches whose linger expired; ends once the producer is closed and empty.
async fn linger_task(shared: Arc<Shared>) {
    loop {
        let next = {
            let state = shared.lock();
            if state.closed && state.acc.is_empty() {
                return;
            }
            state.acc.next_deadline()
        };
        match next {
            Some(deadline) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => {}
                    _ = shared.wake.notified() => {}
                }
            }
            None => shared.wake.notified().await,
        }
        let due = {
            let mut state = shared.lock();
            let due = state.acc.take_due(Instant::now());
            Shared::register(&mut state, &due);
            due
        };
        shared.dispatch(due);
    }
}

async fn outcome_of(mut rx: watch::Receiver<OutcomeSlot>) -> Option<Arc<BatchOutcome>> {
    match rx.wait_for(Option::is_some).await {
        Ok(slot) => slot.clone(),
        Err(_) => None,
    }
}

fn report(outcomes: Vec<Option<Arc<BatchOutcome>>>) -> FlushReport {
    let mut report = FlushReport::default();
    for outcome in outcomes.into_iter().flatten() {
        match outcome.failed_batch() {
            None => {
                report.delivered_batches += 1;
                report.delivered_logs += outcome.len as u64;
            }
            Some(failed) => report.failed.push(failed),
        }
    }
    report
}

impl Producer {
    /// Starts a producer sending through `client`. Must be called inside a
    /// Tokio runtime; fails on settings outside the service's limits.
    pub fn new(client: Client, config: ProducerConfig) -> Result<Self, Error> {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Producer("Producer::new must be called inside a Tokio runtime".into())
        })?;
        let producer_id = fastrand::u64(..);
        let meta = LogGroup {
            logs: Vec::new(),
            context_flow: None,
            filename: config.filename.clone(),
            source: config.source.clone(),
            log_tags: config
                .tags
                .iter()
                .map(|(k, v)| LogTag {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            hostname: config.hostname.clone(),
        };
        let mut sized = meta.clone();
        if config.context_flow {
            sized.context_flow = Some(context_flow(u64::MAX, u64::MAX));
        }
        let thresholds = Thresholds {
            max_logs: config.batch_max_logs,
            max_bytes: config.batch_max_bytes,
            linger: config.linger,
            meta_bytes: sized.encoded_len(),
        };
        if thresholds.request_bytes(0) >= MAX_REQUEST_BYTES {
            return Err(Error::invalid_input(
                "producer config",
                "source, file name, host name and tags leave no room for logs",
            ));
        }
        let counters = Arc::new(Counters::default());
        let topics = Arc::new(TopicMap::default());
        let shared = Arc::new(Shared {
            client,
            producer_id,
            thresholds,
            meta,
            state: Mutex::new(State {
                acc: Accumulator::new(thresholds, counters.clone(), topics.clone()),
                inflight: HashMap::new(),
                closed: false,
            }),
            memory: Arc::new(Semaphore::new(config.memory_limit)),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            counters,
            topics,
            next_log_seq: AtomicU64::new(0),
            wake: Notify::new(),
            abort: watch::channel(false).0,
            runtime: runtime.clone(),
            config,
        });
        runtime.spawn(linger_task(shared.clone()));
        Ok(Producer {
            handle: Arc::new(Handle { shared }),
        })
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// Accepts `log` for `destination`, waiting for room per the configured
    /// [`WhenFull`]. `Err` means the log was **not** accepted (invalid, too
    /// big, buffer full, closed); `Ok` means it will be delivered or reported
    /// failed through the returned [`Receipt`].
    pub async fn send(
        &self,
        destination: impl Into<Destination>,
        log: Log,
    ) -> Result<Receipt, Error> {
        let dest = destination.into();
        let topic = dest.key.topic.clone();
        let log = self.stamp(log);
        let r = async {
            let (wire, content) = self.admit(&dest, &log)?;
            let permit = self
                .reserve(memory_bytes(&log), self.shared().config.when_full)
                .await?;
            self.enqueue_for_receipt(dest, log, wire, content, permit)
        }
        .await;
        self.topic_refused_if_err(&topic, r)
    }

    /// Like [`send`](Self::send) but never waits: fails with
    /// [`Error::BufferFull`] when the cap is reached. Callable from any
    /// thread, including outside the runtime.
    pub fn try_send(
        &self,
        destination: impl Into<Destination>,
        log: Log,
    ) -> Result<Receipt, Error> {
        let dest = destination.into();
        let topic = dest.key.topic.clone();
        let log = self.stamp(log);
        let r = (|| {
            let (wire, content) = self.admit(&dest, &log)?;
            let permit = self.try_reserve(memory_bytes(&log))?;
            self.enqueue_for_receipt(dest, log, wire, content, permit)
        })();
        self.topic_refused_if_err(&topic, r)
    }

    /// Like [`send`](Self::send), reporting the outcome to `callback` instead
    /// of a receipt. The callback runs once, on the producer's runtime,
    /// before the record's memory is released; it is not called when this
    /// returns `Err` (the log was not accepted).
    pub async fn send_with_callback(
        &self,
        destination: impl Into<Destination>,
        log: Log,
        callback: impl FnOnce(Result<Delivery, FailedDelivery>) + Send + 'static,
    ) -> Result<RecordId, Error> {
        let dest = destination.into();
        let topic = dest.key.topic.clone();
        let log = self.stamp(log);
        let r = async {
            let (wire, content) = self.admit(&dest, &log)?;
            let permit = self
                .reserve(memory_bytes(&log), self.shared().config.when_full)
                .await?;
            let (id, _) = self.enqueue(
                dest.key,
                log,
                wire,
                content,
                permit,
                Some(Box::new(callback)),
            )?;
            Ok(id)
        }
        .await;
        self.topic_refused_if_err(&topic, r)
    }

    /// Counts a refusal under its topic (the producer-wide count is kept
    /// where the refusal happens).
    fn topic_refused_if_err<T>(&self, topic: &Arc<str>, r: Result<T, Error>) -> Result<T, Error> {
        if r.is_err() {
            topic_counters(&self.shared().topics, topic)
                .refused
                .fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// Per-topic log counts, for the `topic` label of the producer metrics.
    pub(crate) fn topic_counts(&self) -> Vec<(Arc<str>, TopicCounts)> {
        let topics = lock_topics(&self.shared().topics);
        topics
            .iter()
            .map(|(t, c)| (t.clone(), c.snapshot()))
            .collect()
    }

    /// Sends every open batch now and waits until each batch holding a log
    /// accepted before this call is delivered or has failed.
    pub async fn flush(&self) -> FlushReport {
        let shared = self.shared();
        let (sealed, pending) = {
            let mut state = shared.lock();
            let sealed = state.acc.take_all();
            Shared::register(&mut state, &sealed);
            let pending: Vec<_> = state.inflight.values().cloned().collect();
            (sealed, pending)
        };
        shared.dispatch(sealed);
        let mut outcomes = Vec::with_capacity(pending.len());
        for rx in pending {
            outcomes.push(outcome_of(rx).await);
        }
        report(outcomes)
    }

    /// Stops accepting (later sends fail with [`Error::ProducerClosed`],
    /// blocked ones wake with it), sends everything buffered, and keeps
    /// retrying until all is delivered or `timeout` passes. Then whatever is
    /// still outstanding is abandoned and listed in the report, with its logs.
    pub async fn close(&self, timeout: Duration) -> CloseReport {
        let shared = self.shared().clone();
        let deadline = Instant::now().checked_add(timeout);
        let pending = shared.shutdown();
        let wait_all = {
            let pending = pending.clone();
            async move {
                for rx in pending {
                    outcome_of(rx).await;
                }
            }
        };
        let timed_out = match deadline {
            Some(d) => tokio::time::timeout_at(d, wait_all).await.is_err(),
            None => {
                wait_all.await;
                false
            }
        };
        if timed_out {
            shared.abort.send_replace(true);
        }
        let mut outcomes = Vec::with_capacity(pending.len());
        for rx in pending {
            outcomes.push(outcome_of(rx).await);
        }
        let flushed = report(outcomes);
        let stats = self.stats();
        CloseReport {
            accepted: stats.accepted,
            delivered: stats.delivered,
            failed: stats.failed,
            possibly_duplicated: stats.possibly_duplicated,
            timed_out,
            undelivered: flushed.failed,
        }
    }

    /// The counters and the bytes buffered now.
    pub fn stats(&self) -> ProducerStats {
        let shared = self.shared();
        let c = &shared.counters;
        ProducerStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            batches_delivered: c.batches_delivered.load(Ordering::Relaxed),
            batches_failed: c.batches_failed.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            possibly_duplicated: c.possibly_duplicated.load(Ordering::Relaxed),
            buffered_bytes: shared
                .config
                .memory_limit
                .saturating_sub(shared.memory.available_permits()),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &ProducerConfig {
        &self.shared().config
    }
}

#[cfg(test)]
mod tests;
