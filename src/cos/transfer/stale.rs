//! `abort_stale_uploads`: find the multipart uploads a crashed or
//! abandoned transfer left open and abort the old ones, reporting exactly
//! what was aborted and what was not.

use std::time::{Duration, SystemTime};

use crate::cos::MultipartUploadInfo;
use crate::cos::{Client, Error};

/// What [`Client::abort_stale_uploads`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct StaleUploads {
    /// Uploads aborted by this call (COS confirmed each abort).
    pub aborted: Vec<MultipartUploadInfo>,
    /// Old uploads that were gone when their abort arrived (`NoSuchUpload`:
    /// completed or aborted by someone else meanwhile). Not aborted by this call.
    pub already_gone: Vec<MultipartUploadInfo>,
    /// Old uploads whose abort failed; they are still open.
    pub failed: Vec<StaleUploadFailure>,
    /// Uploads left alone: younger than the limit, or listed without an
    /// initiation time.
    pub kept: Vec<MultipartUploadInfo>,
}

/// An old upload [`Client::abort_stale_uploads`] could not abort.
#[derive(Debug)]
#[non_exhaustive]
pub struct StaleUploadFailure {
    /// The upload, still open.
    pub upload: MultipartUploadInfo,
    /// Why the abort failed.
    pub error: Error,
}

/// `now` shifted by `offset_secs` (the server's clock as the client knows it).
fn shifted(now: SystemTime, offset_secs: i64) -> Option<SystemTime> {
    let by = Duration::from_secs(offset_secs.unsigned_abs());
    if offset_secs >= 0 {
        now.checked_add(by)
    } else {
        now.checked_sub(by)
    }
}

/// Whether an upload initiated at `initiated` is older than `older_than`
/// at `server_now` (pure). An unknown initiation time is never old.
fn is_stale(initiated: Option<SystemTime>, server_now: SystemTime, older_than: Duration) -> bool {
    match (initiated, server_now.checked_sub(older_than)) {
        (Some(t), Some(cutoff)) => t < cutoff,
        _ => false,
    }
}

impl Client {
    /// Aborts the multipart uploads in `bucket` (under `prefix`, if given)
    /// initiated more than `older_than` ago, as a crash or an unresumed
    /// [checkpointed](crate::cos::UploadOptions::checkpoint) upload leaves them:
    /// their parts are billed as storage until aborted. Ages are measured
    /// on the server's clock (COS's `Initiated` times, against the local
    /// clock corrected by the offset learnt from COS, see
    /// [`clock_offset`](Self::clock_offset)).
    ///
    /// Every upload is listed first (all pages), then the old ones aborted
    /// one by one; the answer says which were aborted, which were already
    /// gone, which failed (with the error) and which were kept, so nothing
    /// is reported aborted that was not. Choose `older_than` well above
    /// your longest transfer: an upload still in progress elsewhere is
    /// indistinguishable from an abandoned one.
    ///
    /// # Errors
    ///
    /// An invalid bucket name ([`Error::InvalidInput`], before any request),
    /// or a failed ListMultipartUploads (nothing aborted then). Failed
    /// aborts are not errors: they are in [`StaleUploads::failed`].
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use std::time::Duration;
    /// let day = Duration::from_secs(86_400);
    /// let report = client
    ///     .abort_stale_uploads("examplebucket-1250000000", Some("backups/"), 7 * day)
    ///     .await?;
    /// for u in &report.aborted {
    ///     println!("aborted {} ({})", u.key, u.upload_id);
    /// }
    /// for f in &report.failed {
    ///     eprintln!("could not abort {}: {}", f.upload.key, f.error);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn abort_stale_uploads(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        older_than: Duration,
    ) -> Result<StaleUploads, Error> {
        let bucket = Self::bucket(bucket)?;
        let uploads = self.list_uploads(&bucket, prefix).await?;
        let mut report = StaleUploads::default();
        // The offset is read after listing, which may have corrected it.
        let server_now = shifted(SystemTime::now(), self.clock_offset());
        for upload in uploads {
            let stale = server_now.is_some_and(|now| is_stale(upload.initiated, now, older_than));
            if !stale {
                report.kept.push(upload);
                continue;
            }
            match self.abort(&bucket, &upload.key, &upload.upload_id).await {
                Ok(()) => report.aborted.push(upload),
                Err(e) if e.code() == Some("NoSuchUpload") => report.already_gone.push(upload),
                Err(error) => {
                    tracing::warn!(target: "coscls::cos", upload_id = %upload.upload_id, %error, "aborting a stale upload failed");
                    report.failed.push(StaleUploadFailure { upload, error });
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_is_strictly_older_than_the_limit() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = Duration::from_secs(3600);
        assert!(is_stale(Some(now - 2 * hour), now, hour));
        assert!(!is_stale(Some(now - hour), now, hour));
        assert!(!is_stale(Some(now), now, hour));
        // From the future (a skewed clock): not stale.
        assert!(!is_stale(Some(now + hour), now, hour));
        // No initiation time: never claimed stale.
        assert!(!is_stale(None, now, hour));
        // A limit reaching before the epoch: nothing is that old.
        assert!(!is_stale(Some(SystemTime::UNIX_EPOCH), now, Duration::MAX));
    }

    #[test]
    fn the_server_clock_is_the_local_one_shifted() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(shifted(now, 0), Some(now));
        assert_eq!(shifted(now, 10), Some(now + Duration::from_secs(10)));
        assert_eq!(shifted(now, -10), Some(now - Duration::from_secs(10)));
    }
}
