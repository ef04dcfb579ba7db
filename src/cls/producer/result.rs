//! What the caller learns about each accepted record: a [`Receipt`] (a
//! future) or a callback, and the reports of `flush` and `close`.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::watch;

use crate::cls::proto::Log;
use crate::cls::Error;

/// Identifies an accepted record: its batch and its position in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId {
    /// The batch (unique within a producer, increasing).
    pub batch: u64,
    /// The position in the batch.
    pub index: u32,
}

/// A record that CLS accepted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// Which record.
    pub record: RecordId,
    /// The topic it went to.
    pub topic: Arc<str>,
    /// `X-Cls-Requestid` of the request that carried it.
    pub request_id: Option<String>,
    /// HTTP attempts made for its batch (1 when the first one succeeded).
    pub attempts: u32,
}

/// Why a batch was not delivered.
///
/// Its message names the reason only; the error behind it, with its own
/// causes (a DNS or connection failure under a transport error), is its
/// [`source`](std::error::Error::source), so a chain printer shows each cause once.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FailureReason {
    /// CLS refused it with an error that no retry can fix (400, 401, 403…).
    Rejected(Arc<Error>),
    /// Every allowed attempt failed with a transient error; the last one.
    RetriesExhausted(Arc<Error>),
    /// `close` reached its deadline first. When `request_in_flight` is true a
    /// request was on the wire, so CLS may in fact have stored the logs.
    Abandoned {
        /// The error of the previous attempt, if any.
        last_error: Option<Arc<Error>>,
        /// Whether a request was cancelled mid-flight.
        request_in_flight: bool,
    },
    /// The runtime running the producer shut down before the batch finished.
    Dropped,
}

impl FailureReason {
    /// The last error CLS or the network returned for the batch, if any.
    pub fn last_error(&self) -> Option<&Arc<Error>> {
        match self {
            FailureReason::Rejected(e) | FailureReason::RetriesExhausted(e) => Some(e),
            FailureReason::Abandoned { last_error, .. } => last_error.as_ref(),
            FailureReason::Dropped => None,
        }
    }

    fn source_error(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.last_error()
            .map(|e| &**e as &(dyn std::error::Error + 'static))
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Rejected(_) => f.write_str("rejected"),
            FailureReason::RetriesExhausted(_) => f.write_str("retries exhausted"),
            FailureReason::Abandoned {
                request_in_flight, ..
            } => {
                f.write_str("abandoned at the close deadline")?;
                if *request_in_flight {
                    f.write_str(" with a request in flight (delivery unknown)")?;
                }
                Ok(())
            }
            FailureReason::Dropped => f.write_str("the producer's runtime shut down"),
        }
    }
}

impl std::error::Error for FailureReason {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source_error()
    }
}

/// A record that was accepted but not delivered.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FailedDelivery {
    /// Which record.
    pub record: RecordId,
    /// The topic it was for.
    pub topic: Arc<str>,
    /// HTTP attempts made for its batch.
    pub attempts: u32,
    /// Why; the error behind it is this failure's [`source`](std::error::Error::source).
    pub reason: FailureReason,
    /// The record itself, so the caller can keep it elsewhere (`None` only
    /// when the runtime shut down).
    pub log: Option<Log>,
}

impl fmt::Display for FailedDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record {}/{} for topic {} not delivered after {} attempt(s): {}",
            self.record.batch, self.record.index, self.topic, self.attempts, self.reason
        )
    }
}

impl std::error::Error for FailedDelivery {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.reason.source_error()
    }
}

/// A batch that was not delivered, with its logs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FailedBatch {
    /// Batch id (the `batch` of its [`RecordId`]s).
    pub batch: u64,
    /// Topic.
    pub topic: Arc<str>,
    /// Hash key, if the batch had one.
    pub hash_key: Option<Arc<str>>,
    /// HTTP attempts made.
    pub attempts: u32,
    /// Why; the error behind it is this failure's [`source`](std::error::Error::source).
    pub reason: FailureReason,
    /// The logs, in record-index order.
    pub logs: Vec<Log>,
}

impl fmt::Display for FailedBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "batch {} of {} log(s) for topic {} not delivered after {} attempt(s): {}",
            self.batch,
            self.logs.len(),
            self.topic,
            self.attempts,
            self.reason
        )
    }
}

impl std::error::Error for FailedBatch {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.reason.source_error()
    }
}

/// The outcome of a `flush`: every batch that held a record accepted before
/// the call, delivered or failed.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct FlushReport {
    /// Batches delivered.
    pub delivered_batches: u64,
    /// Logs delivered.
    pub delivered_logs: u64,
    /// Batches not delivered, with their logs.
    pub failed: Vec<FailedBatch>,
}

impl FlushReport {
    /// Logs not delivered.
    pub fn failed_logs(&self) -> u64 {
        self.failed.iter().map(|b| b.logs.len() as u64).sum()
    }
}

/// The outcome of `close`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CloseReport {
    /// Lifetime count of logs accepted by `send`/`try_send`.
    pub accepted: u64,
    /// Lifetime count of logs delivered.
    pub delivered: u64,
    /// Lifetime count of logs failed (each was reported to its receipt or callback).
    pub failed: u64,
    /// Lifetime count of logs sent again after an attempt that may have
    /// stored them (see [`Error::may_have_been_stored`]): an upper bound on
    /// the copies CLS may hold beyond one per delivered log. Delivery is at
    /// least once; de-duplicate downstream with
    /// [`ProducerConfig::log_id_field`](super::ProducerConfig::log_id_field).
    pub possibly_duplicated: u64,
    /// Whether the deadline passed and outstanding batches were abandoned.
    pub timed_out: bool,
    /// The batches pending when `close` began that were not delivered,
    /// with their logs: exactly what this close could not deliver.
    pub undelivered: Vec<FailedBatch>,
}

impl CloseReport {
    /// True when every accepted log over the producer's life was delivered
    /// (at least once: see [`possibly_duplicated`](Self::possibly_duplicated)).
    pub fn all_delivered(&self) -> bool {
        self.failed == 0 && self.delivered == self.accepted
    }

    /// Logs in [`undelivered`](Self::undelivered).
    pub fn undelivered_logs(&self) -> u64 {
        self.undelivered.iter().map(|b| b.logs.len() as u64).sum()
    }
}

/// How a batch ended; shared by all its receipts.
#[derive(Debug)]
pub(crate) struct BatchOutcome {
    pub(crate) batch: u64,
    pub(crate) topic: Arc<str>,
    pub(crate) hash_key: Option<Arc<str>>,
    pub(crate) attempts: u32,
    pub(crate) len: usize,
    /// `Ok(request id)` or the reason with the logs.
    pub(crate) result: Result<Option<String>, (FailureReason, Vec<Log>)>,
}

impl BatchOutcome {
    pub(crate) fn record(&self, index: u32) -> Result<Delivery, FailedDelivery> {
        let record = RecordId {
            batch: self.batch,
            index,
        };
        match &self.result {
            Ok(request_id) => Ok(Delivery {
                record,
                topic: self.topic.clone(),
                request_id: request_id.clone(),
                attempts: self.attempts,
            }),
            Err((reason, logs)) => Err(FailedDelivery {
                record,
                topic: self.topic.clone(),
                attempts: self.attempts,
                reason: reason.clone(),
                log: logs.get(index as usize).cloned(),
            }),
        }
    }

    pub(crate) fn failed_batch(&self) -> Option<FailedBatch> {
        let (reason, logs) = self.result.as_ref().err()?;
        Some(FailedBatch {
            batch: self.batch,
            topic: self.topic.clone(),
            hash_key: self.hash_key.clone(),
            attempts: self.attempts,
            reason: reason.clone(),
            logs: logs.clone(),
        })
    }
}

pub(crate) type OutcomeSlot = Option<Arc<BatchOutcome>>;

/// Resolves to the outcome of one accepted record.
///
/// Await it (`receipt.await`) or poll it with [`try_result`](Self::try_result).
/// Dropping a receipt does not cancel anything.
#[derive(Debug)]
pub struct Receipt {
    pub(crate) id: RecordId,
    pub(crate) topic: Arc<str>,
    pub(crate) rx: watch::Receiver<OutcomeSlot>,
}

impl Receipt {
    /// The record this receipt is for.
    pub fn id(&self) -> RecordId {
        self.id
    }

    /// The outcome if the batch has finished.
    pub fn try_result(&self) -> Option<Result<Delivery, FailedDelivery>> {
        let slot = self.rx.borrow();
        slot.as_ref().map(|o| o.record(self.id.index))
    }

    async fn wait(mut self) -> Result<Delivery, FailedDelivery> {
        let outcome = match self.rx.wait_for(Option::is_some).await {
            Ok(slot) => slot.clone(),
            Err(_) => None,
        };
        match outcome {
            Some(o) => o.record(self.id.index),
            None => Err(FailedDelivery {
                record: self.id,
                topic: self.topic,
                attempts: 0,
                reason: FailureReason::Dropped,
                log: None,
            }),
        }
    }
}

impl IntoFuture for Receipt {
    type Output = Result<Delivery, FailedDelivery>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.wait())
    }
}

/// A per-record completion callback, run once on the producer's runtime.
/// It should be quick: it runs before the batch's memory is released.
pub(crate) type Callback = Box<dyn FnOnce(Result<Delivery, FailedDelivery>) + Send + 'static>;
