//! Delivers one sealed batch: waits for a send slot, encodes once, and hands
//! the body to the client's pipeline with the producer's retry policy and
//! `close`'s abort signal. The pipeline's schedule decides every attempt
//! (there is no second loop here); this file only turns how it ended into
//! the batch's outcome. Every batch ends reported.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::watch;

use super::batch::{Batch, BatchKey, TopicCounters};
use super::result::FailureReason;
use super::Shared;
use crate::cls::proto::{Log, LogGroup, LogGroupList};
use crate::cls::put_logs::{check_hash_key, EncodedBody};
use crate::cls::Error;
use crate::transport::retry::Stopped;

/// Resolves when `close` has given up on outstanding batches.
async fn aborted(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|a| *a).await.is_err() {
        // The producer is gone; nobody can abort any more.
        std::future::pending::<()>().await;
    }
}

pub(super) async fn deliver(shared: Arc<Shared>, batch: Batch) {
    let Batch {
        completer, logs, ..
    } = batch;
    let id = completer.id;
    let topic = completer.topic.clone();
    let (attempts, result) = run(&shared, id, completer.key.clone(), &topic, logs).await;
    completer.complete(attempts, result);
    shared.lock().inflight.remove(&id);
}

type Outcome = (u32, Result<Option<String>, (FailureReason, Vec<Log>)>);

async fn run(
    shared: &Shared,
    id: u64,
    key: BatchKey,
    topic: &TopicCounters,
    logs: Vec<Log>,
) -> Outcome {
    let mut abort = shared.abort.subscribe();
    let _slot = tokio::select! {
        biased;
        slot = shared.in_flight.clone().acquire_owned() => match slot {
            Ok(s) => s,
            Err(_) => return (0, Err((FailureReason::Dropped, logs))),
        },
        _ = aborted(&mut abort) => {
            let reason = FailureReason::Abandoned { last_error: None, request_in_flight: false };
            return (0, Err((reason, logs)));
        }
    };

    let list_len = logs.len();
    let list = LogGroupList::new(vec![shared.group(id, logs)]);
    let hash_key = match key.hash_key.as_deref().map(check_hash_key).transpose() {
        Ok(h) => h,
        Err(e) => {
            return (
                0,
                Err((FailureReason::Rejected(Arc::new(e)), take_logs(list))),
            )
        }
    };
    let body = match EncodedBody::encode(&list, shared.client.compression()) {
        Ok(b) => b,
        Err(e) => {
            return (
                0,
                Err((FailureReason::Rejected(Arc::new(e)), take_logs(list))),
            )
        }
    };
    drop(list);

    let len = list_len as u64;
    let sent = shared
        .client
        .send_encoded_until(
            &key.topic,
            hash_key,
            &body,
            &shared.config.retry,
            aborted(&mut abort),
            |err| {
                // Called once per resend: the one retry counter.
                shared.counters.retries.fetch_add(1, Ordering::Relaxed);
                if err.may_have_been_stored() {
                    topic.possibly_duplicated.fetch_add(len, Ordering::Relaxed);
                    shared
                        .counters
                        .possibly_duplicated
                        .fetch_add(len, Ordering::Relaxed);
                }
            },
        )
        .await;
    match sent {
        Ok((out, attempts)) => (attempts, Ok(out.request_id)),
        Err(Stopped::Failed { error, attempts }) => {
            let error = Arc::new(error);
            let reason = if error.retryable() {
                FailureReason::RetriesExhausted(error)
            } else {
                FailureReason::Rejected(error)
            };
            (attempts, Err((reason, recover(&body))))
        }
        Err(Stopped::Aborted {
            last_error,
            in_flight,
            attempts,
        }) => {
            let reason = FailureReason::Abandoned {
                last_error: last_error.map(Arc::new),
                request_in_flight: in_flight,
            };
            (attempts, Err((reason, recover(&body))))
        }
    }
}

fn take_logs(mut list: LogGroupList) -> Vec<Log> {
    list.log_group_list
        .pop()
        .map(|g: LogGroup| g.logs)
        .unwrap_or_default()
}

/// The logs of an encoded batch, to hand back to the caller on failure.
fn recover(body: &EncodedBody) -> Vec<Log> {
    match body.decode() {
        Ok(list) => take_logs(list),
        Err(e) => {
            // Our own encoding always decodes; if it ever does not, say so.
            let e: Error = e;
            tracing::error!(target: "coscls::producer", error = %e, "could not decode an undelivered CLS batch");
            Vec::new()
        }
    }
}
