//! Uploads in flight, so that Ctrl-C can abort them: dropping an upload's
//! future stops its parts but cannot tell COS, and parts left behind are
//! billed as storage until someone aborts the upload.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use coscls::cos;

/// How far back of our own start time an upload found by listing may have
/// been initiated and still be ours: the server stamps it to the second and
/// its clock may differ slightly from ours.
const CLOCK_SLACK: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Entry {
    client: cos::Client,
    bucket: String,
    key: String,
    upload_id: Option<String>,
    started: SystemTime,
    may_be_multipart: bool,
}

#[derive(Debug, Default)]
struct State {
    next: u64,
    uploads: HashMap<u64, Entry>,
}

/// The registry of uploads (and server-side copies) in progress.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inflight(Arc<Mutex<State>>);

/// One registered transfer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

impl Inflight {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not stop the clean-up.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a transfer to `bucket/key` about to start. When it is
    /// large enough to become a multipart upload but is interrupted before
    /// its upload id is known, the clean-up looks the upload up by key.
    pub(crate) fn begin(
        &self,
        client: &cos::Client,
        bucket: &str,
        key: &str,
        may_be_multipart: bool,
    ) -> Ticket {
        let mut state = self.lock();
        let ticket = state.next;
        state.next = state.next.wrapping_add(1);
        state.uploads.insert(
            ticket,
            Entry {
                client: client.clone(),
                bucket: bucket.to_string(),
                key: key.to_string(),
                upload_id: None,
                started: SystemTime::now(),
                may_be_multipart,
            },
        );
        Ticket(ticket)
    }

    /// The `on_started` callback of the transfer: records its upload id.
    pub(crate) fn recorder(&self, ticket: Ticket) -> impl Fn(&str) + Send + Sync + 'static {
        let this = self.clone();
        move |id: &str| {
            if let Some(e) = this.lock().uploads.get_mut(&ticket.0) {
                e.upload_id = Some(id.to_string());
            }
        }
    }

    /// The transfer returned (done, or failed and cleaned up by the SDK).
    /// Not called when its future is dropped by Ctrl-C: the entry must stay
    /// for [`abort_all`](Self::abort_all).
    pub(crate) fn end(&self, ticket: Ticket) {
        self.lock().uploads.remove(&ticket.0);
    }

    /// How many transfers are registered.
    pub(crate) fn len(&self) -> usize {
        self.lock().uploads.len()
    }

    /// Aborts every registered upload; returns (aborted, failures).
    pub(crate) async fn abort_all(&self) -> (usize, Vec<String>) {
        let entries: Vec<Entry> = self.lock().uploads.drain().map(|(_, e)| e).collect();
        let mut aborted = 0;
        let mut failures = Vec::new();
        for e in entries {
            let ids = match (&e.upload_id, e.may_be_multipart) {
                (Some(id), _) => vec![id.clone()],
                (None, false) => continue,
                // Interrupted while the upload was being created: look for
                // an upload of exactly this key started since we began.
                (None, true) => match e
                    .client
                    .list_multipart_uploads(&e.bucket, Some(&e.key))
                    .await
                {
                    Ok(list) => {
                        let since = e.started.checked_sub(CLOCK_SLACK).unwrap_or(e.started);
                        list.into_iter()
                            .filter(|u| u.key == e.key && u.initiated.is_some_and(|t| t >= since))
                            .map(|u| u.upload_id)
                            .collect()
                    }
                    Err(err) => {
                        failures.push(format!(
                            "listing the uploads of cos://{}/{}: {err}",
                            e.bucket, e.key
                        ));
                        continue;
                    }
                },
            };
            for id in ids {
                match e
                    .client
                    .abort_multipart_upload(&e.bucket, &e.key, &id)
                    .await
                {
                    Ok(()) => aborted += 1,
                    // Finished or aborted between the interrupt and now.
                    Err(err) if err.is_not_found() => {}
                    Err(err) => failures.push(format!(
                        "aborting upload {id} of cos://{}/{}: {err} (see `coscls multipart ls`)",
                        e.bucket, e.key
                    )),
                }
            }
        }
        (aborted, failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_record_ids_and_end() {
        let client = cos::Client::builder()
            .region("ap-guangzhou")
            .build()
            .unwrap();
        let inflight = Inflight::default();
        let a = inflight.begin(&client, "b-1", "a", true);
        let b = inflight.begin(&client, "b-1", "b", false);
        inflight.recorder(a)("upload-1");
        assert_eq!(inflight.len(), 2);
        inflight.end(b);
        assert_eq!(inflight.len(), 1);
        let state = inflight.lock();
        assert_eq!(state.uploads[&a.0].upload_id.as_deref(), Some("upload-1"));
    }
}
