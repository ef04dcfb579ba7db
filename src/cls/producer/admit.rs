//! How a log gets into a producer: the checks that refuse it, the id field
//! stamped on it, the bytes of the memory cap it takes, and the open batch
//! it joins.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{watch, OwnedSemaphorePermit, TryAcquireError};
use tokio::time::Instant;

use super::batch::{BatchKey, Pending};
use super::result::{Callback, OutcomeSlot, Receipt, RecordId};
use super::{Destination, Producer, Shared, WhenFull};
use crate::cls::limits::{self, MAX_REQUEST_BYTES};
use crate::cls::proto::{Log, LogContent};
use crate::cls::put_logs::{check_hash_key, check_topic};
use crate::cls::Error;

/// Bytes of the memory cap a log takes while the producer holds it: what
/// its heap allocations really cost (the `Log`, its field array and each
/// key and value, each allocation rounded up as a general-purpose
/// allocator serves it: a header word, 16-byte granules, 32 bytes at least),
/// which also bounds its encoded and compressed forms once its batch is
/// sent. Counting only the bytes asked for left a log of short fields
/// costing about half again as much as it was charged.
///
pub(crate) fn memory_bytes(log: &Log) -> usize {
    std::mem::size_of::<Log>()
        + allocation_cost(
            log.contents
                .capacity()
                .saturating_mul(std::mem::size_of::<LogContent>()),
        )
        + log
            .contents
            .iter()
            .map(|c| allocation_cost(c.key.capacity()) + allocation_cost(c.value.capacity()))
            .sum::<usize>()
}

/// What an allocation of `bytes` takes from the heap: nothing for an empty
/// buffer, else the request plus an 8-byte header rounded up to 16 bytes,
/// at least 32 (glibc malloc's chunk layout; jemalloc and mimalloc size
/// classes are no larger for these sizes).
pub(super) fn allocation_cost(bytes: usize) -> usize {
    if bytes == 0 {
        0
    } else {
        bytes.saturating_add(8 + 15).max(32) & !15
    }
}

impl Producer {
    /// Bytes of the memory cap ([`ProducerConfig::memory_limit`](super::ProducerConfig::memory_limit))
    /// that `log` takes while a producer holds it: what its heap allocations
    /// cost, which also bounds its encoded and compressed forms.
    ///
    /// ```
    /// use coscls::cls::{limits, Log, Producer};
    /// let log = Log::new(1).field("level", "INFO").field("msg", "hello");
    /// assert!(Producer::memory_bytes(&log) > limits::wire_bytes(&log));
    /// ```
    pub fn memory_bytes(log: &Log) -> usize {
        memory_bytes(log)
    }

    /// Adds the [`ProducerConfig::log_id_field`] field, when configured.
    pub(super) fn stamp(&self, mut log: Log) -> Log {
        let shared = self.shared();
        if let Some(field) = &shared.config.log_id_field {
            let seq = shared.next_log_seq.fetch_add(1, Ordering::Relaxed);
            log.push(field.as_str(), format!("{:016X}-{seq}", shared.producer_id));
        }
        log
    }

    /// Checks the destination and the log; returns (wire bytes, content bytes).
    pub(super) fn admit(&self, dest: &Destination, log: &Log) -> Result<(usize, usize), Error> {
        let checked = (|| {
            check_topic(dest.topic())?;
            if let Some(k) = dest.hash_key() {
                check_hash_key(k)?;
            }
            limits::check_log(log)?;
            let wire = limits::wire_bytes(log);
            let shared = self.shared();
            if shared.thresholds.request_bytes(wire) > MAX_REQUEST_BYTES {
                return Err(Error::invalid_input(
                    "log",
                    format!("it encodes to {wire} bytes; one request carries at most {MAX_REQUEST_BYTES}"),
                ));
            }
            let memory = memory_bytes(log);
            if memory > shared.config.memory_limit {
                return Err(Error::invalid_input(
                    "log",
                    format!(
                        "it takes {memory} bytes of memory, more than the producer's memory_limit of {}",
                        shared.config.memory_limit
                    ),
                ));
            }
            Ok((wire, limits::content_bytes(log)))
        })();
        self.refused_if_err(checked)
    }

    pub(super) fn refused_if_err<T>(&self, r: Result<T, Error>) -> Result<T, Error> {
        if r.is_err() {
            self.shared()
                .counters
                .refused
                .fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    pub(super) fn full(&self, bytes: usize, waited: Duration) -> Error {
        Error::BufferFull {
            requested: bytes,
            limit: self.shared().config.memory_limit,
            waited,
        }
    }

    pub(super) fn try_reserve(&self, bytes: usize) -> Result<OwnedSemaphorePermit, Error> {
        let r = match self
            .shared()
            .memory
            .clone()
            .try_acquire_many_owned(bytes as u32)
        {
            Ok(p) => Ok(p),
            Err(TryAcquireError::Closed) => Err(Error::ProducerClosed),
            Err(TryAcquireError::NoPermits) => Err(self.full(bytes, Duration::ZERO)),
        };
        self.refused_if_err(r)
    }

    pub(super) async fn reserve(
        &self,
        bytes: usize,
        when_full: WhenFull,
    ) -> Result<OwnedSemaphorePermit, Error> {
        let timeout = match when_full {
            WhenFull::FailFast => return self.try_reserve(bytes),
            WhenFull::Block(t) => t,
        };
        // Fast path without a timer: room is usually there.
        match self
            .shared()
            .memory
            .clone()
            .try_acquire_many_owned(bytes as u32)
        {
            Ok(p) => return Ok(p),
            Err(TryAcquireError::Closed) => return self.refused_if_err(Err(Error::ProducerClosed)),
            Err(TryAcquireError::NoPermits) => {}
        }
        let started = Instant::now();
        let acquire = self
            .shared()
            .memory
            .clone()
            .acquire_many_owned(bytes as u32);
        let r = match tokio::time::timeout(timeout, acquire).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(Error::ProducerClosed),
            Err(_) => Err(self.full(bytes, started.elapsed())),
        };
        self.refused_if_err(r)
    }

    /// Queues an admitted log whose outcome goes to a [`Receipt`].
    pub(super) fn enqueue_for_receipt(
        &self,
        dest: Destination,
        log: Log,
        wire: usize,
        content: usize,
        permit: OwnedSemaphorePermit,
    ) -> Result<Receipt, Error> {
        let topic = dest.key.topic.clone();
        let (id, rx) = self.enqueue(dest.key, log, wire, content, permit, None)?;
        Ok(Receipt { id, topic, rx })
    }

    pub(super) fn enqueue(
        &self,
        key: BatchKey,
        log: Log,
        wire: usize,
        content: usize,
        permit: OwnedSemaphorePermit,
        callback: Option<Callback>,
    ) -> Result<(RecordId, watch::Receiver<OutcomeSlot>), Error> {
        let shared = self.shared();
        let record = Pending {
            log,
            wire,
            content,
            permit,
            callback,
        };
        let appended = {
            let mut state = shared.lock();
            if state.closed {
                drop(state);
                return self.refused_if_err(Err(Error::ProducerClosed));
            }
            shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
            let appended = state.acc.append(&key, record, Instant::now());
            Shared::register(&mut state, &appended.sealed);
            appended
        };
        if appended.opened {
            shared.wake.notify_one();
        }
        shared.dispatch(appended.sealed);
        Ok((appended.id, appended.rx))
    }
}
