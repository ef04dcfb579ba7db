//! `download_file`: a HEAD for size, ETag and CRC-64, then concurrent ranged
//! GETs pinned to that ETag with `If-Match`, each written in place into a
//! temporary file next to the destination. A part whose body breaks off is
//! resumed from the byte it reached; every answer that breaks off or moves
//! the part on by no byte counts as a failed attempt under the client's
//! retry policy, so a misbehaving server cannot keep a part asking for ever.
//! The part CRCs are combined and compared with the object's; only a
//! complete, verified file is renamed into place, and the temporary file is
//! removed on any failure and when the caller drops the download.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio::task::JoinSet;

use crate::cos::crc64::{self, Crc64};
use crate::cos::response::check_crc;
use crate::cos::transfer::checkpoint::{
    self, Checkpoint, DoneRange, DownloadCheckpoint, Journal, ObjectState, ResumeOutcome,
};
use crate::cos::transfer::plan::{check_concurrency, DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE};
use crate::cos::transfer::{Progress, ProgressCallback};
use crate::cos::{ByteRange, CustomerKey, GetOptions};
use crate::cos::{Client, Error};
use crate::instrument::{self, Service};

/// Smallest ranged GET `download_file` accepts.
pub const MIN_DOWNLOAD_PART_SIZE: u64 = 64 * 1024;

/// What `download_file` wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadOutput {
    /// Bytes written.
    pub size: u64,
    /// ETag of the object read.
    pub etag: Option<String>,
    /// CRC-64 of the file; `Some` only when it was verified against the server's.
    pub crc64_verified: Option<u64>,
    /// Ranged GETs used.
    pub parts: u32,
    /// How a download given a [checkpoint](DownloadOptions::checkpoint)
    /// began; `None` without one.
    pub resume: Option<ResumeOutcome>,
}

/// Options of `download_file`.
///
/// ```
/// use coscls::cos::DownloadOptions;
/// let opts = DownloadOptions::default().part_size(4 * 1024 * 1024).concurrency(2);
/// assert_eq!(opts.concurrency, 2);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DownloadOptions {
    /// Bytes per ranged GET.
    pub part_size: u64,
    /// Ranged GETs at once.
    pub concurrency: usize,
    /// A specific version.
    pub version_id: Option<String>,
    /// SSE-C key.
    pub customer_key: Option<CustomerKey>,
    /// Called as bytes are written.
    pub progress: Option<ProgressCallback>,
    /// Checkpoint file of a resumable download (see
    /// [`checkpoint`](Self::checkpoint)).
    pub checkpoint: Option<PathBuf>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            part_size: DEFAULT_PART_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            version_id: None,
            customer_key: None,
            progress: None,
            checkpoint: None,
        }
    }
}

impl DownloadOptions {
    /// Sets the bytes per ranged GET.
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// Sets the number of ranged GETs in flight.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Downloads version `id`.
    pub fn version_id(mut self, id: impl Into<String>) -> Self {
        self.version_id = Some(id.into());
        self
    }

    /// Sets the SSE-C key the object was written with.
    pub fn customer_key(mut self, key: CustomerKey) -> Self {
        self.customer_key = Some(key);
        self
    }

    /// Sets the progress callback.
    pub fn on_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ProgressCallback::new(f));
        self
    }

    /// Makes the download resumable through the checkpoint file at `path`
    /// (the Go SDK's `CheckPoint`). The bytes go to `<destination>.coscls-partial`,
    /// which is kept when the download fails or is dropped, and the
    /// object's ETag, size, last-modified time and CRC-64, the part size and
    /// every range written (with its CRC-64) are recorded in the checkpoint,
    /// replaced atomically after each range (past 64 ranges, after every
    /// 1/64 of them, and when the download fails). A rerun with the same path
    /// reads back and checks the recorded ranges, fetches only the others
    /// (with `If-Match` on the ETag), and verifies the whole file's CRC-64
    /// before renaming it into place; an object that changed meanwhile
    /// starts the download over ([`ResumeOutcome::Restarted`](crate::cos::ResumeOutcome::Restarted)
    /// in [`DownloadOutput::resume`](crate::cos::DownloadOutput::resume)). The
    /// checkpoint is removed on success. A file that is not a checkpoint,
    /// or one of another download, is an
    /// [`Error::InvalidInput`](crate::cos::Error::InvalidInput) and left alone.
    ///
    /// ```
    /// use coscls::cos::DownloadOptions;
    /// let opts = DownloadOptions::default().checkpoint("/var/tmp/backup.tar.cp");
    /// assert!(opts.checkpoint.is_some());
    /// ```
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }
}

/// A resumable download's checkpoint and the ranges it lets this run skip.
#[derive(Debug)]
struct Resume {
    journal: Journal,
    /// Ranges already in the partial file, by index in the layout.
    done: BTreeMap<usize, DoneRange>,
}

/// Shared state of one download's parts.
#[derive(Debug)]
struct Job {
    client: Client,
    bucket: String,
    key: String,
    temp: PathBuf,
    etag: Option<String>,
    get: GetOptions,
    transferred: AtomicU64,
    total: u64,
    progress: Option<ProgressCallback>,
}

impl Job {
    fn advance(&self, n: u64) {
        let now = self.transferred.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(cb) = &self.progress {
            cb.call(Progress {
                transferred: now,
                total: Some(self.total),
            });
        }
    }

    /// Downloads bytes `first..=last` into the temp file at their offset,
    /// resuming after a broken body; returns the range's CRC-64.
    async fn part(self: Arc<Self>, first: u64, last: u64) -> Result<u64, Error> {
        let io = |what: &'static str| {
            let temp = self.temp.display().to_string();
            move |source| Error::Io {
                context: format!("{what} {temp}"),
                source,
            }
        };
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&self.temp)
            .await
            .map_err(io("opening"))?;
        let policy = *self.client.inner.pipeline.retry_policy();
        let mut crc = Crc64::new();
        let mut failures = 0u32;
        loop {
            let offset = first + crc.len();
            if offset > last {
                break;
            }
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(io("seeking in"))?;
            let mut opts = self.get.clone();
            opts.range = Some(ByteRange::new(offset, last)?);
            opts.if_match = self.etag.clone();
            let object = self
                .client
                .get_object_with(&self.bucket, &self.key, &opts)
                .await?;
            match object.content_range() {
                Some(r) if r.first == offset && r.last == last => {}
                other => {
                    return Err(Error::protocol(format!(
                        "GetObject {}: asked for bytes {offset}-{last}, got {other:?}",
                        self.key
                    )))
                }
            }
            let mut body = object.body;
            let mut broken = None;
            while let Some(chunk) = body.next().await {
                match chunk {
                    Ok(chunk) => {
                        file.write_all(&chunk).await.map_err(io("writing"))?;
                        crc.update(&chunk);
                        self.advance(chunk.len() as u64);
                    }
                    Err(e) => {
                        broken = Some(e);
                        break;
                    }
                }
            }
            let reached = first + crc.len();
            let failure = match broken {
                // A body that ended cleanly delivered all it announced; if it
                // moved the part on, carry on from there.
                None if reached > offset => continue,
                // An answer that moved nothing (an empty chunked 206, say) is
                // a failed attempt like a broken one: without this, a server
                // answering so would be asked again for ever.
                None => Error::protocol(format!(
                    "GetObject {}: bytes {offset}-{last} answered with no bytes",
                    self.key
                )),
                Some(e @ Error::Transport(_)) => e,
                Some(e) => return Err(e),
            };
            failures += 1;
            if failures >= policy.max_attempts {
                return Err(failure);
            }
            tracing::info!(target: "coscls::cos", offset = reached as i64, error = %failure, "download part made no progress or broke off; resuming");
            tokio::time::sleep(policy.backoff(failures)).await;
        }
        file.flush().await.map_err(io("flushing"))?;
        Ok(crc.value())
    }
}

impl Client {
    /// Downloads `key` into the file at `path` with concurrent ranged GETs
    /// (see [`DownloadOptions`]), verifying the whole file's CRC-64 when the
    /// server has one. The file appears only when complete and verified.
    ///
    /// A file whose CRC-64 disagrees (bytes damaged in transit) is fetched
    /// again, whole, pinned to the first ETag, under the client's retry
    /// policy: ranged answers carry no CRC of their own, so no single part
    /// can be trusted more than another. Each repair is a
    /// `checksum_mismatch_retry` event in the caller's span and a
    /// `coscls.client.retries` sample (`operation="GetObject"`,
    /// `reason="checksum_mismatch"`); when the attempts are spent the error
    /// is [`Error::ChecksumMismatch`] naming them, and no file is left.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::DownloadOptions;
    /// let out = client
    ///     .download_file("examplebucket-1250000000", "backup.tar", "/tmp/backup.tar", &DownloadOptions::default())
    ///     .await?;
    /// println!("{} bytes in {} parts, CRC {:?}", out.size, out.parts, out.crc64_verified);
    /// # Ok(()) }
    /// ```
    pub async fn download_file(
        &self,
        bucket: &str,
        key: &str,
        path: impl AsRef<Path>,
        opts: &DownloadOptions,
    ) -> Result<DownloadOutput, Error> {
        let path = path.as_ref();
        check_concurrency(opts.concurrency)?;
        if opts.part_size < MIN_DOWNLOAD_PART_SIZE {
            return Err(Error::invalid_input(
                "part size",
                &opts.part_size.to_string(),
                "must be at least 64 KiB for downloads",
            ));
        }
        let file_name = path.file_name().ok_or_else(|| {
            Error::invalid_input("path", &path.display().to_string(), "names no file")
        })?;
        // A checkpoint is checked before any request.
        let previous = match &opts.checkpoint {
            Some(cp_path) => {
                load_download_checkpoint(cp_path, bucket, key, opts.version_id.as_deref(), path)
                    .await?
            }
            None => None,
        };
        let get = GetOptions {
            version_id: opts.version_id.clone(),
            customer_key: opts.customer_key.clone(),
            ..GetOptions::default()
        };
        let meta = self.head_object_with(bucket, key, &get).await?;
        let size = meta.content_length;
        let (temp, mut temp_guard, mut resume) = match &opts.checkpoint {
            None => {
                let mut temp_name = file_name.to_os_string();
                temp_name.push(format!(".coscls-{:016x}.tmp", fastrand::u64(..)));
                let temp = path.with_file_name(temp_name);
                // Removes the temporary file on every way out but a
                // successful rename, including the caller dropping this
                // future (Ctrl-C).
                let guard = TempFile(Some(temp.clone()));
                (temp, guard, None)
            }
            Some(cp_path) => {
                // The partial file is kept on failure: it is what a rerun
                // continues from.
                let (temp, resume, outcome) = self
                    .prepare_resume(cp_path, bucket, key, path, &meta, opts, previous)
                    .await?;
                (temp, TempFile(None), Some((resume, outcome)))
            }
        };
        let job = Arc::new(Job {
            client: self.clone(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            temp: temp.clone(),
            etag: meta.etag.clone(),
            get,
            transferred: AtomicU64::new(0),
            total: size,
            progress: opts.progress.clone(),
        });
        // Ranged GETs carry no CRC of their own range, so a file whose
        // CRC-64 disagrees cannot say which part is damaged: it is fetched
        // whole again (still pinned to the ETag), as long as the retry
        // policy allows. Only verified bytes are renamed into place.
        let policy = *self.inner.pipeline.retry_policy();
        let mut attempt = 1u32;
        let result = loop {
            let into = self
                .download_into(&job, size, opts, resume.as_mut().map(|(r, _)| r))
                .await;
            let verified = match into {
                Ok(crc) if self.verify_crc() => {
                    check_crc(format_args!("download of {key}"), meta.crc64, Some(crc))
                        .map(|()| meta.crc64)
                }
                Ok(_) => Ok(None),
                Err(e) => Err(e),
            };
            match verified {
                Err(Error::ChecksumMismatch {
                    what,
                    server,
                    computed,
                }) => {
                    if attempt >= policy.max_attempts {
                        let what = if attempt > 1 {
                            format!("{what} after {attempt} attempts")
                        } else {
                            what
                        };
                        break Err(Error::ChecksumMismatch {
                            what,
                            server,
                            computed,
                        });
                    }
                    tokio::time::sleep(policy.backoff(attempt)).await;
                    attempt += 1;
                    instrument::record_checksum_retry(Service::Cos, "GetObject", attempt);
                    job.transferred.store(0, Ordering::Relaxed);
                    // No range can be trusted more than another: all are
                    // fetched again, and the checkpoint forgets them.
                    if let Some((r, _)) = resume.as_mut() {
                        r.done.clear();
                        r.journal.clear().await?;
                    }
                }
                Ok(v) => {
                    break tokio::fs::rename(&temp, path)
                        .await
                        .map(|()| v)
                        .map_err(|source| Error::Io {
                            context: format!("renaming the download to {}", path.display()),
                            source,
                        })
                }
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(crc64_verified) => {
                temp_guard.0 = None;
                let resume = match resume {
                    Some((r, outcome)) => {
                        checkpoint::remove(&r.journal.path).await?;
                        Some(outcome)
                    }
                    None => None,
                };
                Ok(DownloadOutput {
                    size,
                    etag: meta.etag,
                    crc64_verified,
                    parts: size.div_ceil(opts.part_size).max(1) as u32,
                    resume,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Fetches the ranges not in `resume` into the temporary file (created
    /// afresh unless `resume` holds ranges already in it), recording each
    /// finished range in the checkpoint; returns the file's CRC-64.
    async fn download_into(
        &self,
        job: &Arc<Job>,
        size: u64,
        opts: &DownloadOptions,
        mut resume: Option<&mut Resume>,
    ) -> Result<u64, Error> {
        let continuing = resume.as_ref().is_some_and(|r| !r.done.is_empty());
        if !continuing {
            let file = tokio::fs::File::create(&job.temp)
                .await
                .map_err(|source| Error::Io {
                    context: format!("creating {}", job.temp.display()),
                    source,
                })?;
            file.set_len(size).await.map_err(|source| Error::Io {
                context: format!("sizing {}", job.temp.display()),
                source,
            })?;
        }
        if size == 0 {
            return Ok(crc64::checksum(b""));
        }
        let ranges = checkpoint::ranges(size, opts.part_size);
        let mut crcs: Vec<Option<(u64, u64)>> = vec![None; ranges.len()];
        if let Some(r) = resume.as_ref() {
            for (index, done) in &r.done {
                if let Some(slot) = crcs.get_mut(*index) {
                    *slot = Some((done.crc64, done.last - done.first + 1));
                    job.advance(done.last - done.first + 1);
                }
            }
        }
        let mut tasks: JoinSet<(usize, Result<u64, Error>)> = JoinSet::new();
        let mut next = 0;
        let outcome = loop {
            while tasks.len() < opts.concurrency && next < ranges.len() {
                if crcs[next].is_some() {
                    next += 1;
                    continue;
                }
                let (first, last) = ranges[next];
                let job = job.clone();
                let index = next;
                tasks.spawn(async move { (index, job.part(first, last).await) });
                next += 1;
            }
            match tasks.join_next().await {
                None => break Ok(()),
                Some(Ok((index, Ok(crc)))) => {
                    let (first, last) = ranges[index];
                    crcs[index] = Some((crc, last - first + 1));
                    if let Some(r) = resume.as_deref_mut() {
                        let range = DoneRange {
                            first,
                            last,
                            crc64: crc,
                        };
                        r.done.insert(index, range);
                        if let Err(e) = r.journal.record_range(range).await {
                            break Err(e);
                        }
                    }
                }
                Some(Ok((_, Err(e)))) => break Err(e),
                Some(Err(e)) => break Err(Error::protocol(format!("a download task failed: {e}"))),
            }
        };
        // Stop the other parts before the caller removes the file.
        tasks.shutdown().await;
        if let Some(r) = resume {
            // What finished is written down even when the download stops here.
            if let Err(e) = r.journal.flush().await {
                tracing::warn!(target: "coscls::cos", error = %e, "could not update the checkpoint");
            }
        }
        outcome?;
        let parts: Option<Vec<(u64, u64)>> = crcs.into_iter().collect();
        let parts = parts.ok_or_else(|| Error::protocol("a download part is missing"))?;
        Ok(crc64::combine_all(parts))
    }
}

impl Client {
    /// Sets up a resumable download: the partial file and the checkpoint
    /// of this run, the ranges it may skip, and how it began.
    #[allow(clippy::too_many_arguments)]
    async fn prepare_resume(
        &self,
        cp_path: &Path,
        bucket: &str,
        key: &str,
        path: &Path,
        meta: &crate::cos::ObjectMeta,
        opts: &DownloadOptions,
        previous: Option<DownloadCheckpoint>,
    ) -> Result<(PathBuf, Resume, ResumeOutcome), Error> {
        let partial = checkpoint::partial_path(path).ok_or_else(|| {
            Error::invalid_input("path", &path.display().to_string(), "names no file")
        })?;
        let size = meta.content_length;
        let now = ObjectState {
            etag: meta.etag.clone(),
            size,
            last_modified: meta.last_modified.and_then(checkpoint::unix_secs),
            crc64: meta.crc64,
        };
        let layout = checkpoint::ranges(size, opts.part_size);
        let (done, outcome) = match previous {
            None => (BTreeMap::new(), ResumeOutcome::Started),
            Some(cp) => match cp.restart_reason(&now, opts.part_size) {
                Some(reason) => (BTreeMap::new(), ResumeOutcome::Restarted { reason }),
                None => {
                    let recorded = cp.done_by_index(&layout);
                    match verify_partial(&partial, size, recorded).await? {
                        Ok(done) => {
                            let outcome = ResumeOutcome::Resumed {
                                reused_parts: done.len() as u32,
                                reused_bytes: done.values().map(|r| r.last - r.first + 1).sum(),
                            };
                            (done, outcome)
                        }
                        Err(reason) => (BTreeMap::new(), ResumeOutcome::Restarted { reason }),
                    }
                }
            },
        };
        if let ResumeOutcome::Restarted { reason } = &outcome {
            tracing::warn!(target: "coscls::cos", key, %reason, "download checkpoint no longer applies; starting over");
        }
        let state = DownloadCheckpoint {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version_id: opts.version_id.clone(),
            destination: path.to_path_buf(),
            etag: now.etag,
            size,
            last_modified: now.last_modified,
            crc64: now.crc64,
            part_size: opts.part_size,
            ranges: done.values().copied().collect(),
        };
        let journal = Journal::new(cp_path.to_path_buf(), Checkpoint::Download(state));
        checkpoint::save(&journal.path, &journal.state).await?;
        Ok((partial, Resume { journal, done }, outcome))
    }
}

/// Reads the download checkpoint at `cp_path`, refusing one that is not a
/// checkpoint of this download.
async fn load_download_checkpoint(
    cp_path: &Path,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    destination: &Path,
) -> Result<Option<DownloadCheckpoint>, Error> {
    match checkpoint::load(cp_path).await? {
        None => Ok(None),
        Some(Checkpoint::Download(cp)) => {
            cp.check_target(cp_path, bucket, key, version_id, destination)?;
            Ok(Some(cp))
        }
        Some(Checkpoint::Upload(_)) => Err(Error::invalid_input(
            "checkpoint",
            &cp_path.display().to_string(),
            "records an upload, not a download",
        )),
    }
}

/// Keeps the recorded ranges whose bytes in the partial file still have
/// their recorded CRC-64: `Ok(Err(reason))` when the partial file is
/// missing or not `size` bytes long (the download starts over).
async fn verify_partial(
    partial: &Path,
    size: u64,
    recorded: BTreeMap<usize, DoneRange>,
) -> Result<Result<BTreeMap<usize, DoneRange>, String>, Error> {
    let partial = partial.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read as _, Seek as _};
        let io = |source| Error::Io {
            context: format!("reading the partial download {}", partial.display()),
            source,
        };
        let mut file = match std::fs::File::open(&partial) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Err(format!("the partial file {} is missing", partial.display())))
            }
            Err(e) => return Err(io(e)),
        };
        let len = file.metadata().map_err(io)?.len();
        if len != size {
            return Ok(Err(format!(
                "the partial file {} has {len} bytes, not {size}",
                partial.display()
            )));
        }
        let mut kept = BTreeMap::new();
        let mut buf = vec![0u8; 256 * 1024];
        for (index, range) in recorded {
            file.seek(std::io::SeekFrom::Start(range.first))
                .map_err(io)?;
            let mut crc = Crc64::new();
            let mut left = range.last - range.first + 1;
            while left > 0 {
                let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
                let n = file.read(&mut buf[..want]).map_err(io)?;
                if n == 0 {
                    break;
                }
                crc.update(&buf[..n]);
                left -= n as u64;
            }
            if left == 0 && crc.value() == range.crc64 {
                kept.insert(index, range);
            } else {
                tracing::info!(target: "coscls::cos", first = range.first as i64, "a recorded range of the partial download does not match its CRC-64; fetching it again");
            }
        }
        Ok(Ok(kept))
    })
    .await
    .map_err(|e| Error::protocol(format!("checking the partial download failed: {e}")))?
}

/// A download's temporary file, removed when dropped unless disarmed (set
/// to `None`) after the verified bytes were renamed into place.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Nothing to report to: the download already failed or was
            // dropped, and a file that is already gone is the goal.
            let _ = std::fs::remove_file(path);
        }
    }
}
