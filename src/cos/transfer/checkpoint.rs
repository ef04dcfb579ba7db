//! Checkpoint files of resumable transfers: what `upload_file` and
//! `download_file` record after each part when given
//! [`UploadOptions::checkpoint`](crate::cos::UploadOptions::checkpoint) /
//! [`DownloadOptions::checkpoint`](crate::cos::DownloadOptions::checkpoint), so
//! a rerun after a crash continues instead of starting from zero (the
//! semantics of the Go SDK's `CheckPoint` option).
//!
//! A checkpoint is a small JSON document (about 100 bytes a part), replaced
//! atomically (written to a temporary file next to it, renamed over it)
//! after every part (past 64 parts, after every 1/64 of them, see
//! [`save_every`]; and when the transfer fails), so a crashed process leaves either the previous or the
//! new version, never half of one. It is not synced to disk: a sync per
//! part would cost more than many parts take to send, and what a power
//! loss may leave (an empty file) is refused on the rerun, never trusted.
//! It holds no secret: bucket, key, upload id, part layout, ETags and
//! CRC-64s.
//!
//! Nothing in a checkpoint is trusted blindly on resume:
//! * **uploads**: the upload must still exist (ListParts), and a part is
//!   reused only when the server lists it with the recorded size and ETag
//!   *and* the CRC-64 of the file's bytes at that offset equals the
//!   recorded one (computed while the file is read again); any other part
//!   is sent again. A source whose size or modification time changed, or a
//!   different part size, starts a new upload (the old one is aborted).
//! * **downloads**: the object's ETag, size, last-modified time and CRC-64
//!   must equal the recorded ones (else the download starts over), the
//!   partial file must have the object's length, and each recorded range is
//!   read back from it and must have its recorded CRC-64; the remaining
//!   ranges are fetched pinned to the ETag with `If-Match`, and the whole
//!   file's CRC-64 is checked against the server's before it is renamed
//!   into place.
//!
//! A file that is not a checkpoint of this version, or a checkpoint of
//! another transfer (other bucket, key, direction or destination), is an
//! [`Error::InvalidInput`] naming the checkpoint: it is never overwritten,
//! since it may belong to a transfer still to be resumed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::cos::Error;
use crate::cos::{CompletedPart, PartInfo};

/// The `format` field of every checkpoint file.
const FORMAT: &str = "coscls-checkpoint";
/// The layout version; a file of another version is refused.
const VERSION: u32 = 1;

/// How a transfer given a checkpoint began.
///
/// ```
/// use coscls::cos::ResumeOutcome;
/// let outcome = ResumeOutcome::Resumed { reused_parts: 3, reused_bytes: 3 << 20 };
/// assert!(matches!(outcome, ResumeOutcome::Resumed { reused_parts: 3, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResumeOutcome {
    /// No checkpoint file existed: the transfer started from zero.
    Started,
    /// The checkpoint was verified and the transfer continued from it.
    Resumed {
        /// Parts (uploads) or ranges (downloads) not transferred again.
        reused_parts: u32,
        /// Bytes in them.
        reused_bytes: u64,
    },
    /// The checkpoint no longer applied and the transfer started over.
    Restarted {
        /// Why (the object or source file changed, the upload is gone…).
        reason: String,
    },
}

/// The identity of an upload's source file: its size and modification
/// time. A change of either makes a rerun start a new upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileIdentity {
    pub(crate) size: u64,
    /// Modification time, nanoseconds since the Unix epoch (`None` where
    /// the platform has none; the part CRCs still protect the bytes).
    pub(crate) mtime_ns: Option<u64>,
}

impl FileIdentity {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .and_then(|d| u64::try_from(d.as_nanos()).ok());
        FileIdentity {
            size: meta.len(),
            mtime_ns,
        }
    }
}

/// One part of an upload the checkpoint records as done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DonePart {
    pub(crate) number: u32,
    pub(crate) etag: String,
    pub(crate) size: u64,
    pub(crate) crc64: u64,
}

/// The state of a resumable upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UploadCheckpoint {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) upload_id: String,
    pub(crate) part_size: u64,
    pub(crate) source: FileIdentity,
    pub(crate) parts: Vec<DonePart>,
}

/// One byte range of a download the checkpoint records as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DoneRange {
    pub(crate) first: u64,
    pub(crate) last: u64,
    pub(crate) crc64: u64,
}

/// The state of a resumable download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DownloadCheckpoint {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) version_id: Option<String>,
    /// The destination file, as given.
    pub(crate) destination: PathBuf,
    pub(crate) etag: Option<String>,
    pub(crate) size: u64,
    /// Last-Modified, seconds since the Unix epoch.
    pub(crate) last_modified: Option<u64>,
    pub(crate) crc64: Option<u64>,
    pub(crate) part_size: u64,
    pub(crate) ranges: Vec<DoneRange>,
}

/// A checkpoint file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Checkpoint {
    Upload(UploadCheckpoint),
    Download(DownloadCheckpoint),
}

/// The file layout: format marker and version around the content.
#[derive(Debug, Deserialize)]
struct Document {
    format: String,
    version: u32,
    #[serde(flatten)]
    checkpoint: Checkpoint,
}

/// [`Document`] as written.
#[derive(Serialize)]
struct DocumentRef<'a> {
    format: &'a str,
    version: u32,
    #[serde(flatten)]
    checkpoint: &'a Checkpoint,
}

fn refused(path: &Path, reason: impl Into<String>) -> Error {
    Error::invalid_input("checkpoint", &path.display().to_string(), &reason.into())
}

/// Parses a checkpoint file's bytes (pure).
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<Checkpoint, Error> {
    let doc: Document = serde_json::from_slice(bytes).map_err(|e| {
        refused(
            path,
            format!("is not a coscls checkpoint ({e}); remove it to start the transfer over"),
        )
    })?;
    if doc.format != FORMAT || doc.version != VERSION {
        return Err(refused(
            path,
            format!(
                "is a {:?} checkpoint of version {}, not {FORMAT:?} version {VERSION}",
                doc.format, doc.version
            ),
        ));
    }
    Ok(doc.checkpoint)
}

/// Serialises a checkpoint (pure).
pub(crate) fn render(checkpoint: &Checkpoint) -> Result<Vec<u8>, Error> {
    let doc = DocumentRef {
        format: FORMAT,
        version: VERSION,
        checkpoint,
    };
    serde_json::to_vec(&doc)
        .map_err(|e| Error::protocol(format!("could not serialise a checkpoint: {e}")))
}

/// Reads the checkpoint at `path`; `None` when there is no file.
pub(crate) async fn load(path: &Path) -> Result<Option<Checkpoint>, Error> {
    match tokio::fs::read(path).await {
        Ok(bytes) => parse(path, &bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            context: format!("reading the checkpoint {}", path.display()),
            source,
        }),
    }
}

/// Replaces the checkpoint at `path` atomically: a temporary file next to
/// it is written and renamed over it.
pub(crate) async fn save(path: &Path, checkpoint: &Checkpoint) -> Result<(), Error> {
    let bytes = render(checkpoint)?;
    let path = path.to_path_buf();
    let io_error = |path: &Path, source| Error::Io {
        context: format!("writing the checkpoint {}", path.display()),
        source,
    };
    tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".{:08x}.tmp", fastrand::u32(..)));
        let temp = path.with_file_name(name);
        let written = (|| {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(&bytes)?;
            // Not synced: the rename is atomic against a crash of the
            // process, which is what a checkpoint is for. After a power
            // loss the file may be empty, which a rerun refuses by name;
            // wrong bytes cannot result, as everything reused is verified.
            std::fs::rename(&temp, &path)
        })();
        if written.is_err() {
            // Best effort: the error below is what matters.
            let _ = std::fs::remove_file(&temp);
        }
        written.map_err(|e| io_error(&path, e))
    })
    .await
    .map_err(|e| Error::protocol(format!("the checkpoint writer failed: {e}")))?
}

/// Removes the checkpoint of a finished transfer (a missing file is fine).
pub(crate) async fn remove(path: &Path) -> Result<(), Error> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            context: format!("removing the checkpoint {}", path.display()),
            source,
        }),
    }
}

/// The size of part `number` (1-based) of `total` bytes cut in
/// `part_size` pieces; `None` past the end (pure).
pub(crate) fn part_len(total: u64, part_size: u64, number: u32) -> Option<u64> {
    if part_size == 0 || number == 0 {
        return None;
    }
    let first = u64::from(number - 1).checked_mul(part_size)?;
    if first >= total {
        return None;
    }
    Some((total - first).min(part_size))
}

/// ETags compare without their quotes (ListParts and UploadPart may differ).
fn same_etag(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
}

impl UploadCheckpoint {
    /// Refuses a checkpoint of another object (pure).
    pub(crate) fn check_target(&self, path: &Path, bucket: &str, key: &str) -> Result<(), Error> {
        if self.bucket != bucket || self.key != key {
            return Err(refused(
                path,
                format!(
                    "records an upload to {}/{}, not {bucket}/{key}",
                    self.bucket, self.key
                ),
            ));
        }
        Ok(())
    }

    /// Why this checkpoint cannot be continued for a source of `source`
    /// with the requested part size, if it cannot (pure).
    pub(crate) fn restart_reason(
        &self,
        source: &FileIdentity,
        requested_part_size: Option<u64>,
    ) -> Option<String> {
        if self.source.size != source.size {
            return Some(format!(
                "the source file changed size ({} bytes, the checkpoint says {})",
                source.size, self.source.size
            ));
        }
        if self.source.mtime_ns != source.mtime_ns {
            return Some("the source file was modified since the checkpoint".into());
        }
        match requested_part_size {
            Some(p) if p != self.part_size => Some(format!(
                "the part size changed ({p} bytes, the checkpoint used {})",
                self.part_size
            )),
            _ => None,
        }
    }

    /// The recorded parts the server still holds as recorded: listed with
    /// the same number, ETag and the size the part layout gives (pure). Their
    /// CRC-64 is checked against the file's bytes when those are read.
    pub(crate) fn reusable(&self, listed: &[PartInfo]) -> BTreeMap<u32, CompletedPart> {
        let listed: BTreeMap<u32, &PartInfo> = listed.iter().map(|p| (p.part_number, p)).collect();
        self.parts
            .iter()
            .filter(|p| {
                part_len(self.source.size, self.part_size, p.number) == Some(p.size)
                    && listed
                        .get(&p.number)
                        .is_some_and(|l| l.size == p.size && same_etag(&l.etag, &p.etag))
            })
            .map(|p| {
                (
                    p.number,
                    CompletedPart::new(p.number, p.etag.clone(), p.size, p.crc64),
                )
            })
            .collect()
    }

    /// Records a part as done, replacing an earlier record of its number.
    pub(crate) fn record(&mut self, part: &CompletedPart) {
        self.parts.retain(|p| p.number != part.part_number);
        self.parts.push(DonePart {
            number: part.part_number,
            etag: part.etag.clone(),
            size: part.size,
            crc64: part.crc64,
        });
        self.parts.sort_by_key(|p| p.number);
    }
}

/// Records not yet written after which the checkpoint is written, when it
/// already holds `recorded` parts (pure): every part up to 64, then every
/// 1/64 of them. A file of n parts is about 100·n bytes, so writing it
/// after each of 10 000 parts would write about 5 GB; this way a crash
/// loses at most 1/64 of the parts done, and the writes stay about
/// 64·ln(n) in number.
pub(crate) fn save_every(recorded: usize) -> usize {
    (recorded / 64).max(1)
}

/// A checkpoint file, the state it holds, and how many records the file
/// lags behind.
#[derive(Debug)]
pub(crate) struct Journal {
    pub(crate) path: PathBuf,
    pub(crate) state: Checkpoint,
    pub(crate) unsaved: usize,
}

impl Journal {
    pub(crate) fn new(path: PathBuf, state: Checkpoint) -> Self {
        Journal {
            path,
            state,
            unsaved: 0,
        }
    }

    fn recorded(&self) -> usize {
        match &self.state {
            Checkpoint::Upload(u) => u.parts.len(),
            Checkpoint::Download(d) => d.ranges.len(),
        }
    }

    async fn saved_if_due(&mut self) -> Result<(), Error> {
        self.unsaved += 1;
        if self.unsaved >= save_every(self.recorded()) {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes the file now if it lags behind the state.
    pub(crate) async fn flush(&mut self) -> Result<(), Error> {
        if self.unsaved > 0 {
            save(&self.path, &self.state).await?;
            self.unsaved = 0;
        }
        Ok(())
    }

    /// Records a finished upload part (written when due, see [`save_every`]).
    pub(crate) async fn record_part(&mut self, part: &CompletedPart) -> Result<(), Error> {
        if let Checkpoint::Upload(state) = &mut self.state {
            state.record(part);
        }
        self.saved_if_due().await
    }

    /// Records a written download range (written when due).
    pub(crate) async fn record_range(&mut self, range: DoneRange) -> Result<(), Error> {
        if let Checkpoint::Download(state) = &mut self.state {
            state.record(range);
        }
        self.saved_if_due().await
    }

    /// Forgets every range (the partial file is written afresh) and writes
    /// the file.
    pub(crate) async fn clear(&mut self) -> Result<(), Error> {
        if let Checkpoint::Download(state) = &mut self.state {
            state.ranges.clear();
        }
        self.unsaved = 0;
        save(&self.path, &self.state).await
    }
}

/// What a download is about to fetch, to compare with a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectState {
    pub(crate) etag: Option<String>,
    pub(crate) size: u64,
    pub(crate) last_modified: Option<u64>,
    pub(crate) crc64: Option<u64>,
}

/// Seconds since the Unix epoch, as a checkpoint records times.
pub(crate) fn unix_secs(t: SystemTime) -> Option<u64> {
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

impl DownloadCheckpoint {
    /// Refuses a checkpoint of another download (pure).
    pub(crate) fn check_target(
        &self,
        path: &Path,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        destination: &Path,
    ) -> Result<(), Error> {
        if self.bucket != bucket || self.key != key || self.version_id.as_deref() != version_id {
            return Err(refused(
                path,
                format!(
                    "records a download of {}/{} (version {:?}), not {bucket}/{key} (version {version_id:?})",
                    self.bucket, self.key, self.version_id
                ),
            ));
        }
        if self.destination != destination {
            return Err(refused(
                path,
                format!(
                    "records a download into {}, not {}",
                    self.destination.display(),
                    destination.display()
                ),
            ));
        }
        Ok(())
    }

    /// Why this checkpoint cannot be continued for the object as it is now
    /// and the requested part size, if it cannot (pure).
    pub(crate) fn restart_reason(&self, now: &ObjectState, part_size: u64) -> Option<String> {
        if self.etag != now.etag
            || self.size != now.size
            || self.last_modified != now.last_modified
            || self.crc64 != now.crc64
        {
            return Some(format!(
                "the object changed since the checkpoint (ETag {:?}, {} bytes; the checkpoint has ETag {:?}, {} bytes)",
                now.etag, now.size, self.etag, self.size
            ));
        }
        if self.part_size != part_size {
            return Some(format!(
                "the part size changed ({part_size} bytes, the checkpoint used {})",
                self.part_size
            ));
        }
        None
    }

    /// The recorded ranges that are exactly ranges of `ranges` (the
    /// download's layout), by index, with their CRC-64 (pure). A recorded
    /// range of another layout is ignored (fetched again).
    pub(crate) fn done_by_index(&self, ranges: &[(u64, u64)]) -> BTreeMap<usize, DoneRange> {
        let index: BTreeMap<(u64, u64), usize> =
            ranges.iter().enumerate().map(|(i, r)| (*r, i)).collect();
        self.ranges
            .iter()
            .filter_map(|r| index.get(&(r.first, r.last)).map(|i| (*i, *r)))
            .collect()
    }

    /// Records a range as written, replacing an earlier record of it.
    pub(crate) fn record(&mut self, range: DoneRange) {
        self.ranges
            .retain(|r| (r.first, r.last) != (range.first, range.last));
        self.ranges.push(range);
        self.ranges.sort_by_key(|r| r.first);
    }
}

/// The ranges `first..=last` that cut `size` bytes in `part_size` pieces (pure).
pub(crate) fn ranges(size: u64, part_size: u64) -> Vec<(u64, u64)> {
    if part_size == 0 {
        return Vec::new();
    }
    (0..size.div_ceil(part_size))
        .map(|i| {
            let first = i * part_size;
            (first, (first + part_size).min(size) - 1)
        })
        .collect()
}

/// The file a resumable download writes before it is complete: next to
/// the destination, with a fixed suffix so a rerun finds it.
pub(crate) fn partial_path(destination: &Path) -> Option<PathBuf> {
    let mut name = destination.file_name()?.to_os_string();
    name.push(".coscls-partial");
    Some(destination.with_file_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload() -> UploadCheckpoint {
        UploadCheckpoint {
            bucket: "examplebucket-1250000000".into(),
            key: "big.bin".into(),
            upload_id: "id-1".into(),
            part_size: 4,
            source: FileIdentity {
                size: 10,
                mtime_ns: Some(7),
            },
            parts: vec![
                DonePart {
                    number: 1,
                    etag: "\"a\"".into(),
                    size: 4,
                    crc64: 11,
                },
                DonePart {
                    number: 3,
                    etag: "\"c\"".into(),
                    size: 2,
                    crc64: 33,
                },
            ],
        }
    }

    fn listed(number: u32, etag: &str, size: u64) -> PartInfo {
        PartInfo {
            part_number: number,
            etag: etag.into(),
            size,
            last_modified: None,
        }
    }

    fn download() -> DownloadCheckpoint {
        DownloadCheckpoint {
            bucket: "examplebucket-1250000000".into(),
            key: "big.bin".into(),
            version_id: None,
            destination: PathBuf::from("/tmp/big.bin"),
            etag: Some("\"e\"".into()),
            size: 10,
            last_modified: Some(100),
            crc64: Some(5),
            part_size: 4,
            ranges: vec![DoneRange {
                first: 4,
                last: 7,
                crc64: 9,
            }],
        }
    }

    #[test]
    fn round_trips_through_json_with_format_and_version() {
        let path = Path::new("cp.json");
        for cp in [
            Checkpoint::Upload(upload()),
            Checkpoint::Download(download()),
        ] {
            let bytes = render(&cp).unwrap();
            let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(json["format"], FORMAT);
            assert_eq!(json["version"], VERSION);
            assert_eq!(parse(path, &bytes).unwrap(), cp);
        }
    }

    #[test]
    fn garbage_and_other_versions_are_refused_by_name() {
        let path = Path::new("cp.json");
        for bytes in [
            &b"{not json"[..],
            b"",
            br#"{"format":"coscls-checkpoint","version":1,"kind":"teleport"}"#,
            br#"{"format":"other","version":1,"kind":"upload"}"#,
        ] {
            let err = parse(path, bytes).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidInput {
                        what: "checkpoint",
                        ..
                    }
                ),
                "{err}"
            );
        }
        let mut json: serde_json::Value =
            serde_json::from_slice(&render(&Checkpoint::Upload(upload())).unwrap()).unwrap();
        json["version"] = 2.into();
        let err = parse(path, json.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
    }

    #[test]
    fn part_lengths_follow_the_layout() {
        assert_eq!(part_len(10, 4, 1), Some(4));
        assert_eq!(part_len(10, 4, 3), Some(2));
        assert_eq!(part_len(10, 4, 4), None);
        assert_eq!(part_len(10, 4, 0), None);
        assert_eq!(part_len(10, 0, 1), None);
        assert_eq!(part_len(u64::MAX, 1 << 40, u32::MAX), None);
    }

    #[test]
    fn upload_of_another_object_is_refused() {
        let cp = upload();
        let path = Path::new("cp.json");
        assert!(cp
            .check_target(path, "examplebucket-1250000000", "big.bin")
            .is_ok());
        let err = cp
            .check_target(path, "examplebucket-1250000000", "other.bin")
            .unwrap_err();
        assert!(err.to_string().contains("other.bin"), "{err}");
    }

    #[test]
    fn upload_restarts_when_the_source_or_part_size_changes() {
        let cp = upload();
        let same = cp.source;
        assert_eq!(cp.restart_reason(&same, None), None);
        assert_eq!(cp.restart_reason(&same, Some(4)), None);
        let bigger = FileIdentity { size: 11, ..same };
        assert!(cp.restart_reason(&bigger, None).unwrap().contains("size"));
        let touched = FileIdentity {
            mtime_ns: Some(8),
            ..same
        };
        assert!(cp
            .restart_reason(&touched, None)
            .unwrap()
            .contains("modified"));
        assert!(cp
            .restart_reason(&same, Some(8))
            .unwrap()
            .contains("part size"));
    }

    #[test]
    fn only_parts_the_server_lists_as_recorded_are_reused() {
        let cp = upload();
        // Part 1 listed as recorded (quotes aside), part 3 with another ETag.
        let reused = cp.reusable(&[listed(1, "a", 4), listed(3, "\"x\"", 2)]);
        assert_eq!(reused.keys().copied().collect::<Vec<_>>(), vec![1]);
        assert_eq!(reused[&1].crc64, 11);
        // A listed size other than the recorded one is not reused.
        assert!(cp.reusable(&[listed(1, "\"a\"", 3)]).is_empty());
        // Nothing listed (a new upload id, say): nothing reused.
        assert!(cp.reusable(&[]).is_empty());
        // A recorded part whose size disagrees with the layout is not reused.
        let mut odd = upload();
        odd.parts[0].size = 3;
        assert!(odd.reusable(&[listed(1, "\"a\"", 3)]).is_empty());
    }

    #[test]
    fn recording_a_part_replaces_its_number() {
        let mut cp = upload();
        cp.record(&CompletedPart::new(3, "\"z\"", 2, 99));
        cp.record(&CompletedPart::new(2, "\"b\"", 4, 22));
        let numbers: Vec<(u32, &str)> = cp.parts.iter().map(|p| (p.number, &p.etag[..])).collect();
        assert_eq!(numbers, vec![(1, "\"a\""), (2, "\"b\""), (3, "\"z\"")]);
    }

    #[test]
    fn download_of_another_object_or_file_is_refused() {
        let cp = download();
        let path = Path::new("cp.json");
        let dest = Path::new("/tmp/big.bin");
        let b = "examplebucket-1250000000";
        assert!(cp.check_target(path, b, "big.bin", None, dest).is_ok());
        assert!(cp.check_target(path, b, "small.bin", None, dest).is_err());
        assert!(cp
            .check_target(path, b, "big.bin", Some("v2"), dest)
            .is_err());
        let err = cp
            .check_target(path, b, "big.bin", None, Path::new("/tmp/other"))
            .unwrap_err();
        assert!(err.to_string().contains("/tmp/other"), "{err}");
    }

    #[test]
    fn download_restarts_when_the_object_changes() {
        let cp = download();
        let now = ObjectState {
            etag: cp.etag.clone(),
            size: cp.size,
            last_modified: cp.last_modified,
            crc64: cp.crc64,
        };
        assert_eq!(cp.restart_reason(&now, 4), None);
        for changed in [
            ObjectState {
                etag: Some("\"f\"".into()),
                ..now.clone()
            },
            ObjectState {
                size: 11,
                ..now.clone()
            },
            ObjectState {
                last_modified: Some(101),
                ..now.clone()
            },
            ObjectState {
                crc64: None,
                ..now.clone()
            },
        ] {
            let reason = cp.restart_reason(&changed, 4).unwrap();
            assert!(reason.contains("object changed"), "{reason}");
        }
        assert!(cp.restart_reason(&now, 8).unwrap().contains("part size"));
    }

    #[test]
    fn recorded_ranges_map_onto_the_layout() {
        let layout = ranges(10, 4);
        assert_eq!(layout, vec![(0, 3), (4, 7), (8, 9)]);
        let mut cp = download();
        cp.record(DoneRange {
            first: 8,
            last: 9,
            crc64: 1,
        });
        // A range of another layout (a hand-edited file) is ignored.
        cp.record(DoneRange {
            first: 1,
            last: 3,
            crc64: 2,
        });
        let done = cp.done_by_index(&layout);
        assert_eq!(done.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(done[&1].crc64, 9);
        assert!(ranges(0, 4).is_empty());
        assert!(ranges(10, 0).is_empty());
    }

    #[test]
    fn checkpoints_are_written_after_each_part_then_every_sixty_fourth() {
        assert_eq!(save_every(0), 1);
        assert_eq!(save_every(64), 1);
        assert_eq!(save_every(128), 2);
        assert_eq!(save_every(10_000), 156);
    }

    #[tokio::test]
    async fn a_journal_writes_when_due_and_when_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.json");
        let mut cp = upload();
        cp.parts.clear();
        for n in 1..=128 {
            cp.record(&CompletedPart::new(n, "\"e\"", 4, u64::from(n)));
        }
        let mut journal = Journal::new(path.clone(), Checkpoint::Upload(cp));
        // 129 parts recorded: the file is due every second record.
        journal
            .record_part(&CompletedPart::new(129, "\"e\"", 4, 0))
            .await
            .unwrap();
        assert_eq!(load(&path).await.unwrap(), None, "not due yet");
        journal.flush().await.unwrap();
        assert_eq!(load(&path).await.unwrap().as_ref(), Some(&journal.state));
        journal
            .record_part(&CompletedPart::new(130, "\"e\"", 4, 0))
            .await
            .unwrap();
        journal
            .record_part(&CompletedPart::new(131, "\"e\"", 4, 0))
            .await
            .unwrap();
        assert_eq!(
            load(&path).await.unwrap().as_ref(),
            Some(&journal.state),
            "due"
        );
    }

    #[test]
    fn partial_file_sits_next_to_the_destination() {
        assert_eq!(
            partial_path(Path::new("/data/x.bin")),
            Some(PathBuf::from("/data/x.bin.coscls-partial"))
        );
        assert_eq!(partial_path(Path::new("/")), None);
    }

    #[tokio::test]
    async fn save_replaces_and_load_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.json");
        assert_eq!(load(&path).await.unwrap(), None);
        let mut cp = upload();
        save(&path, &Checkpoint::Upload(cp.clone())).await.unwrap();
        cp.record(&CompletedPart::new(2, "\"b\"", 4, 22));
        save(&path, &Checkpoint::Upload(cp.clone())).await.unwrap();
        assert_eq!(load(&path).await.unwrap(), Some(Checkpoint::Upload(cp)));
        // Only the checkpoint is left: the temporary files were renamed.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        remove(&path).await.unwrap();
        remove(&path).await.unwrap();
        assert_eq!(load(&path).await.unwrap(), None);
    }
}
