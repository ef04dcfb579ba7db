//! State shared by every connection: keys, store, faults, received logs, counters.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::faults::{Decision, FaultConfig};
use crate::store::Store;
use crate::time::unix;
use crate::verify::KeyEntry;

/// A log line the emulator received on `POST /structuredlog`, flattened for tests.
///
/// `contents` and `tags` are maps: a repeated key keeps its last value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedLog {
    /// `Log.time` as sent (the SDK's unit, normally milliseconds).
    pub time: i64,
    /// `Log.contents`.
    pub contents: BTreeMap<String, String>,
    /// `LogGroup.source`.
    pub source: Option<String>,
    /// `LogGroup.filename`.
    pub filename: Option<String>,
    /// `LogGroup.hostname`.
    pub hostname: Option<String>,
    /// `LogGroup.logTags`.
    pub tags: BTreeMap<String, String>,
    /// `LogGroup.contextFlow`.
    pub context_flow: Option<String>,
    /// `Log.collectTime`, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collect_time: Option<i64>,
}

/// Request counters, for tests that check how many attempts a client made.
///
/// Admin requests are not counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests received (COS and CLS).
    pub requests: u64,
    /// Requests per operation name (`PutObject`, `UploadPart`, `UploadLog`…).
    pub operations: BTreeMap<String, u64>,
    /// Responses per HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests refused by signature verification.
    pub auth_failures: u64,
    /// Failures injected by `error_rate` / `fail_next`.
    pub injected_errors: u64,
    /// Connections dropped by `drop_rate`.
    pub dropped_connections: u64,
    /// GET bodies altered by `corrupt_body_rate`.
    pub corrupted_bodies: u64,
    /// CLS log lines accepted.
    pub cls_logs: u64,
}

impl Stats {
    /// How many requests named `operation` arrived.
    pub fn operation(&self, operation: &str) -> u64 {
        self.operations.get(operation).copied().unwrap_or(0)
    }

    /// How many responses had `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }
}

/// Fixed settings.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) region: String,
    pub(crate) min_part_size: u64,
    pub(crate) max_object_size: u64,
    /// When set, only these CLS topics exist.
    pub(crate) topics: Option<BTreeSet<String>>,
    /// Received logs kept per topic (oldest dropped first).
    pub(crate) max_logs_per_topic: usize,
    /// When set, every PostRestore completes after this many seconds of
    /// the object clock instead of its tier's time.
    pub(crate) restore_delay_secs: Option<i64>,
}

/// Everything a request handler needs.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) keys: HashMap<String, KeyEntry>,
    pub(crate) store: Store,
    pub(crate) config: Config,
    faults: Mutex<FaultConfig>,
    logs: Mutex<BTreeMap<String, Vec<ReceivedLog>>>,
    stats: Mutex<Stats>,
    seq: AtomicU64,
    boot: u32,
    /// Seconds the object clock runs ahead of [`now`](Self::now).
    object_clock_offset: AtomicI64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    pub(crate) fn new(
        keys: HashMap<String, KeyEntry>,
        store: Store,
        config: Config,
        faults: FaultConfig,
    ) -> Self {
        State {
            keys,
            store,
            config,
            faults: Mutex::new(faults),
            logs: Mutex::new(BTreeMap::new()),
            stats: Mutex::new(Stats::default()),
            seq: AtomicU64::new(1),
            boot: fastrand::u32(..),
            object_clock_offset: AtomicI64::new(0),
        }
    }

    /// The server's now (Unix seconds), skewed by `clock_offset_secs`.
    /// The offset is validated before it is stored; the addition saturates
    /// all the same, so no stored value can make a request panic.
    pub(crate) fn now(&self) -> i64 {
        unix(SystemTime::now()).saturating_add(lock(&self.faults).clock_offset_secs)
    }

    /// The clock that archive restores and their expiry follow: [`now`](Self::now)
    /// plus what [`advance_object_clock`](Self::advance_object_clock) added,
    /// so a test can let days pass without touching signature checks.
    pub(crate) fn object_now(&self) -> i64 {
        self.now()
            .saturating_add(self.object_clock_offset.load(Ordering::Relaxed))
    }

    /// Moves the object clock forward by `secs` (saturating); returns the new offset.
    pub(crate) fn advance_object_clock(&self, secs: i64) -> i64 {
        let mut current = self.object_clock_offset.load(Ordering::Relaxed);
        loop {
            let next = current.saturating_add(secs.max(0));
            match self.object_clock_offset.compare_exchange(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(seen) => current = seen,
            }
        }
    }

    /// A unique request id.
    pub(crate) fn request_id(&self) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}{:012x}{:08x}", self.boot, n, fastrand::u32(..))
    }

    pub(crate) fn faults(&self) -> FaultConfig {
        lock(&self.faults).clone()
    }

    pub(crate) fn set_faults(&self, f: FaultConfig) {
        *lock(&self.faults) = f;
    }

    pub(crate) fn decide(&self) -> Decision {
        lock(&self.faults).decide()
    }

    pub(crate) fn stats(&self) -> Stats {
        lock(&self.stats).clone()
    }

    pub(crate) fn reset_stats(&self) {
        *lock(&self.stats) = Stats::default();
    }

    pub(crate) fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut lock(&self.stats));
    }

    pub(crate) fn add_logs(&self, topic: &str, logs: Vec<ReceivedLog>) {
        let n = logs.len() as u64;
        let mut all = lock(&self.logs);
        let list = all.entry(topic.to_string()).or_default();
        list.extend(logs);
        let max = self.config.max_logs_per_topic;
        if list.len() > max {
            let excess = list.len() - max;
            list.drain(..excess);
        }
        drop(all);
        self.count(|s| s.cls_logs += n);
    }

    pub(crate) fn logs(&self, topic: &str) -> Vec<ReceivedLog> {
        lock(&self.logs).get(topic).cloned().unwrap_or_default()
    }

    pub(crate) fn clear_logs(&self, topic: &str) {
        lock(&self.logs).remove(topic);
    }

    pub(crate) fn topics(&self) -> Vec<String> {
        lock(&self.logs).keys().cloned().collect()
    }
}
