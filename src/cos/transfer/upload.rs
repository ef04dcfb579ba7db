//! `upload_file` / `upload_stream`: split data into parts, upload them
//! concurrently with bounded memory, retry failed parts, complete in
//! order, verify the combined CRC-64, and abort the upload when they give
//! up (or keep it for a checkpointed rerun).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinSet;

use super::checkpoint::Journal;
use super::plan::{check_concurrency, choose_part_size, DEFAULT_CONCURRENCY};
use super::{Progress, ProgressCallback};
use crate::cos::crc64;
use crate::cos::limits::MAX_PARTS;
use crate::cos::{
    BucketName, Client, CompletedPart, Error, PutObjectOutput, PutOptions, UploadOutput,
};

/// Options of `upload_file` / `upload_stream`.
///
/// ```
/// use coscls::cos::UploadOptions;
/// let opts = UploadOptions::default()
///     .part_size(16 * 1024 * 1024)
///     .concurrency(8)
///     .on_progress(|p| println!("{} of {:?}", p.transferred, p.total));
/// assert_eq!(opts.concurrency, 8);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UploadOptions {
    /// Headers of the object.
    pub put: PutOptions,
    /// Part size; chosen from the size when `None` (8 MiB, doubled until
    /// 10 000 parts hold the object). Objects no larger than one part are
    /// sent with a single PutObject.
    pub part_size: Option<u64>,
    /// Parts uploaded at once; memory use is about `part_size × (concurrency + 1)`.
    pub concurrency: usize,
    /// Expected size of a stream, used to choose the part size.
    pub size_hint: Option<u64>,
    /// Called after every part.
    pub progress: Option<ProgressCallback>,
    /// Called with the upload id as soon as a multipart upload is started.
    /// Dropping the upload's future (a cancelled task, Ctrl-C) cannot abort
    /// the upload, so a caller that may stop early keeps the id to call
    /// `abort_multipart_upload` itself; otherwise the parts stay billed.
    pub on_started: Option<UploadStartedCallback>,
    /// Checkpoint file of a resumable `upload_file` (see
    /// [`checkpoint`](Self::checkpoint)); `None` keeps the default of
    /// aborting a failed upload.
    pub checkpoint: Option<PathBuf>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            put: PutOptions::default(),
            part_size: None,
            concurrency: DEFAULT_CONCURRENCY,
            size_hint: None,
            progress: None,
            on_started: None,
            checkpoint: None,
        }
    }
}

impl UploadOptions {
    /// Sets the object headers.
    pub fn put(mut self, put: PutOptions) -> Self {
        self.put = put;
        self
    }

    /// Sets the part size.
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = Some(bytes);
        self
    }

    /// Sets the number of parts in flight.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Sets the expected size of a stream.
    pub fn size_hint(mut self, bytes: u64) -> Self {
        self.size_hint = Some(bytes);
        self
    }

    /// Sets the progress callback.
    pub fn on_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ProgressCallback::new(f));
        self
    }

    /// Sets the callback given the upload id when a multipart upload starts
    /// (never called for an object sent with a single PutObject).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use coscls::cos::UploadOptions;
    /// let started: Arc<Mutex<Vec<String>>> = Arc::default();
    /// let ids = started.clone();
    /// let opts = UploadOptions::default().on_started(move |id| {
    ///     ids.lock().unwrap().push(id.to_string());
    /// });
    /// assert!(opts.on_started.is_some());
    /// ```
    pub fn on_started(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_started = Some(UploadStartedCallback(Arc::new(f)));
        self
    }

    /// Makes `upload_file` resumable through the checkpoint file at `path`
    /// (the Go SDK's `CheckPoint`). The upload id, part size, the source's
    /// size and modification time and every finished part (number, ETag,
    /// size, CRC-64) are recorded there, replaced atomically after each
    /// part (past 64 parts, after every 1/64 of them, and when the upload
    /// fails). A rerun with the same path continues the upload, reusing only
    /// the parts the server still lists with the recorded ETag and size and
    /// whose bytes in the file still have the recorded CRC-64; a changed
    /// source, another part size or an upload that no longer exists starts
    /// a new upload ([`ResumeOutcome::Restarted`](crate::cos::ResumeOutcome::Restarted)
    /// in [`UploadOutput::resume`](crate::cos::UploadOutput::resume)).
    ///
    /// A failed upload is then left open for the rerun instead of being
    /// aborted; one never rerun is found by
    /// [`Client::abort_stale_uploads`](crate::cos::Client::abort_stale_uploads).
    /// The checkpoint is removed when the upload completes. A file that is
    /// not a checkpoint, or one of another object, is an
    /// [`Error::InvalidInput`](crate::cos::Error::InvalidInput) and left alone.
    /// `upload_stream` refuses this option: a stream cannot be read again.
    ///
    /// ```
    /// use coscls::cos::UploadOptions;
    /// let opts = UploadOptions::default().checkpoint("/var/tmp/backup.tar.cp");
    /// assert!(opts.checkpoint.is_some());
    /// ```
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }
}

/// The callback of [`UploadOptions::on_started`].
#[derive(Clone)]
pub struct UploadStartedCallback(Arc<dyn Fn(&str) + Send + Sync>);

impl UploadStartedCallback {
    pub(crate) fn call(&self, upload_id: &str) {
        (self.0)(upload_id)
    }
}

impl fmt::Debug for UploadStartedCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UploadStartedCallback")
    }
}

impl Client {
    /// Uploads a local file: one PutObject when it fits one part, else a
    /// concurrent multipart upload (see [`UploadOptions`]). Memory use is
    /// about `part_size × (concurrency + 1)` whatever the file size. If the
    /// file changes size while being read the upload is aborted.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::UploadOptions;
    /// let opts = UploadOptions::default()
    ///     .concurrency(8)
    ///     .on_progress(|p| eprintln!("{}/{:?}", p.transferred, p.total));
    /// let out = client.upload_file("examplebucket-1250000000", "backup.tar", "/tmp/backup.tar", &opts).await?;
    /// println!("{} parts, CRC {:?}", out.parts, out.crc64);
    /// # Ok(()) }
    /// ```
    pub async fn upload_file(
        &self,
        bucket: &str,
        key: &str,
        path: impl AsRef<Path>,
        opts: &UploadOptions,
    ) -> Result<UploadOutput, Error> {
        let path = path.as_ref();
        let bucket = Self::bucket(bucket)?;
        crate::cos::validate_key(key)?;
        if let Some(checkpoint) = &opts.checkpoint {
            return self
                .upload_file_resumable(&bucket, key, path, checkpoint, opts)
                .await;
        }
        let io = |what: &str| {
            let context = format!("{what} {}", path.display());
            move |source| Error::Io { context, source }
        };
        let file = tokio::fs::File::open(path).await.map_err(io("opening"))?;
        let size = file
            .metadata()
            .await
            .map_err(io("reading the size of"))?
            .len();
        self.upload_reader(&bucket, key, file, Some(size), opts)
            .await
    }

    /// Uploads everything `reader` yields, of unknown length, in parts (a
    /// single PutObject when it all fits in one part). Give
    /// [`UploadOptions::size_hint`] for streams over 80 GB so the part size
    /// can grow; without it at most 10 000 parts of `part_size` fit.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// // Any AsyncRead: a socket, a decompressor, a child process's stdout…
    /// let file = tokio::fs::File::open("/var/log/app.log").await.unwrap();
    /// let reader = tokio::io::BufReader::new(file);
    /// client.upload_stream("examplebucket-1250000000", "app.log", reader, &Default::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn upload_stream<R>(
        &self,
        bucket: &str,
        key: &str,
        reader: R,
        opts: &UploadOptions,
    ) -> Result<UploadOutput, Error>
    where
        R: AsyncRead + Unpin + Send,
    {
        let bucket = Self::bucket(bucket)?;
        crate::cos::validate_key(key)?;
        if let Some(checkpoint) = &opts.checkpoint {
            return Err(Error::invalid_input(
                "checkpoint",
                &checkpoint.display().to_string(),
                "needs upload_file: a stream cannot be read again to resume",
            ));
        }
        self.upload_reader(&bucket, key, reader, None, opts).await
    }

    pub(crate) async fn upload_reader<R>(
        &self,
        bucket: &BucketName,
        key: &str,
        mut reader: R,
        total: Option<u64>,
        opts: &UploadOptions,
    ) -> Result<UploadOutput, Error>
    where
        R: AsyncRead + Unpin + Send,
    {
        check_concurrency(opts.concurrency)?;
        let part_size = choose_part_size(total.or(opts.size_hint), opts.part_size)?;
        // Validate the headers before reading or sending anything.
        opts.put.object_headers()?;
        opts.put
            .transfer_headers(&mut http::HeaderMap::new(), b"")?;
        let report = |transferred| {
            if let Some(cb) = &opts.progress {
                cb.call(Progress { transferred, total });
            }
        };
        let first = read_part(&mut reader, part_size).await?;
        let second = if first.len() as u64 == part_size {
            read_part(&mut reader, part_size).await?
        } else {
            Bytes::new()
        };
        if second.is_empty() {
            check_total(total, first.len() as u64)?;
            let size = first.len() as u64;
            let out: PutObjectOutput = self
                .put_object_with(bucket.as_str(), key, first, &opts.put)
                .await?;
            report(size);
            return Ok(UploadOutput::single(
                out.etag,
                out.crc64,
                out.version_id,
                size,
                out.request_id,
            ));
        }
        let upload_id = self.initiate(bucket, key, &opts.put).await?;
        if let Some(started) = &opts.on_started {
            started.call(&upload_id);
        }
        let parts = match self
            .upload_parts(
                bucket,
                key,
                &upload_id,
                &mut reader,
                vec![first, second],
                part_size,
                total,
                opts,
                &BTreeMap::new(),
                None,
            )
            .await
        {
            Ok(parts) => parts,
            Err(e) => {
                self.abort_quietly(bucket, key, &upload_id).await;
                return Err(e);
            }
        };
        match self.complete(bucket, key, &upload_id, &parts).await {
            Ok(out) => Ok(out),
            // The upload did complete; there is nothing left to abort.
            Err(e @ Error::ChecksumMismatch { .. }) => Err(e),
            Err(e) => {
                self.abort_quietly(bucket, key, &upload_id).await;
                Err(e)
            }
        }
    }

    /// Gives up cleanly: parts left behind would be billed as storage.
    pub(crate) async fn abort_quietly(&self, bucket: &BucketName, key: &str, upload_id: &str) {
        if let Err(abort) = self.abort(bucket, key, upload_id).await {
            tracing::warn!(target: "coscls::cos", upload_id = %upload_id, error = %abort, "aborting the failed upload failed; a lifecycle rule will clean it up");
        }
    }

    /// Reads `reader` part by part (after the parts already read, `first`)
    /// and uploads the parts, `opts.concurrency` at a time. A part in
    /// `reuse` whose bytes have its recorded size and CRC-64 is taken as
    /// done without being sent; every finished part is recorded in
    /// `journal` (the checkpoint) before the next one is started.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn upload_parts<R>(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &str,
        reader: &mut R,
        first: Vec<Bytes>,
        part_size: u64,
        total: Option<u64>,
        opts: &UploadOptions,
        reuse: &BTreeMap<u32, CompletedPart>,
        mut journal: Option<&mut Journal>,
    ) -> Result<Vec<CompletedPart>, Error>
    where
        R: AsyncRead + Unpin + Send,
    {
        let mut pending: VecDeque<Bytes> = first.into_iter().collect();
        let mut tasks: JoinSet<Result<CompletedPart, Error>> = JoinSet::new();
        let mut done: Vec<CompletedPart> = Vec::new();
        let mut next_number = 1u32;
        let mut read_total = 0u64;
        let mut eof = false;
        let mut transferred = 0u64;
        loop {
            while tasks.len() < opts.concurrency && !eof {
                let data = match pending.pop_front() {
                    Some(d) => d,
                    None => read_part(reader, part_size).await?,
                };
                if data.is_empty() {
                    eof = true;
                    break;
                }
                if (data.len() as u64) < part_size {
                    eof = true;
                }
                if next_number > MAX_PARTS {
                    return Err(Error::invalid_input(
                        "stream",
                        &format!("more than {} bytes", u64::from(MAX_PARTS) * part_size),
                        "does not fit 10 000 parts; set a larger part_size or a size_hint",
                    ));
                }
                read_total += data.len() as u64;
                if let Some(part) = reuse
                    .get(&next_number)
                    .filter(|p| p.size == data.len() as u64 && p.crc64 == crc64::checksum(&data))
                {
                    next_number += 1;
                    transferred += part.size;
                    if let Some(cb) = &opts.progress {
                        cb.call(Progress { transferred, total });
                    }
                    done.push(part.clone());
                    continue;
                }
                let client = self.clone();
                let (bucket, key, upload_id, put) = (
                    bucket.clone(),
                    key.to_string(),
                    upload_id.to_string(),
                    opts.put.clone(),
                );
                let number = next_number;
                next_number += 1;
                tasks.spawn(async move {
                    // A part the server stored with a CRC-64 other than ours
                    // was damaged in transit: we still hold its bytes, so it
                    // is sent again under the client's retry policy, like a
                    // GET whose body disagrees with its CRC.
                    let policy = *client.inner.pipeline.retry_policy();
                    let mut attempt = 1u32;
                    loop {
                        match client
                            .upload_part_once(&bucket, &key, &upload_id, number, data.clone(), &put)
                            .await
                        {
                            Err(Error::ChecksumMismatch { .. }) if attempt < policy.max_attempts => {
                                tracing::warn!(target: "coscls::cos", part = number as i64, "part damaged in transit; sending it again");
                                tokio::time::sleep(policy.backoff(attempt)).await;
                                attempt += 1;
                                crate::instrument::record_checksum_retry(
                                    crate::instrument::Service::Cos,
                                    "UploadPart",
                                    attempt,
                                );
                            }
                            other => return other,
                        }
                    }
                });
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            let part =
                joined.map_err(|e| Error::protocol(format!("an upload task failed: {e}")))??;
            if let Some(journal) = journal.as_deref_mut() {
                journal.record_part(&part).await?;
            }
            transferred += part.size;
            if let Some(cb) = &opts.progress {
                cb.call(Progress { transferred, total });
            }
            done.push(part);
        }
        check_total(total, read_total)?;
        Ok(done)
    }
}

fn check_total(expected: Option<u64>, read: u64) -> Result<(), Error> {
    match expected {
        Some(size) if size != read => Err(Error::Io {
            context: format!(
                "the file changed while being uploaded: expected {size} bytes, read {read}"
            ),
            source: std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "size changed"),
        }),
        _ => Ok(()),
    }
}

/// Reads up to `size` bytes, fewer only at the end of the input.
async fn read_part<R: AsyncRead + Unpin>(reader: &mut R, size: u64) -> Result<Bytes, Error> {
    let mut buf = BytesMut::with_capacity(size as usize);
    while (buf.len() as u64) < size {
        let n = reader
            .read_buf(&mut buf)
            .await
            .map_err(|source| Error::Io {
                context: "reading the data to upload".into(),
                source,
            })?;
        if n == 0 {
            break;
        }
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn read_part_fills_parts_across_short_reads() {
        let data: Vec<u8> = (0..10u8).collect();
        // A reader that yields 3 bytes at a time.
        let (client, mut server) = tokio::io::duplex(3);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            server.write_all(&data).await.unwrap();
        });
        let mut reader = client;
        let a = read_part(&mut reader, 4).await.unwrap();
        let b = read_part(&mut reader, 4).await.unwrap();
        writer.await.unwrap();
        let c = read_part(&mut reader, 4).await.unwrap();
        let d = read_part(&mut reader, 4).await.unwrap();
        assert_eq!(
            (&a[..], &b[..], &c[..], d.len()),
            (&[0, 1, 2, 3][..], &[4, 5, 6, 7][..], &[8, 9][..], 0)
        );
    }

    #[test]
    fn total_check() {
        assert!(check_total(Some(3), 3).is_ok());
        assert!(check_total(None, 3).is_ok());
        assert!(matches!(check_total(Some(4), 3), Err(Error::Io { .. })));
    }
}
