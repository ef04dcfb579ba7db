//! The multipart API, one call per operation: InitiateMultipartUpload,
//! UploadPart, CompleteMultipartUpload and AbortMultipartUpload
//! (`upload.rs`), ListParts and ListMultipartUploads (`list.rs`). The
//! transfer managers built on them (`upload_file`, `upload_stream`) are
//! `transfer/upload.rs`.
//!
//! # Retrying the non-idempotent steps
//!
//! * **InitiateMultipartUpload** (POST) is retried like any request: a retry
//!   after a lost response creates a second, empty upload. It holds no parts
//!   and so no storage, but it would linger in ListMultipartUploads; so when
//!   the initiate needed more than one attempt, the uploads of the same key
//!   initiated during that call (by the server's clock, a few seconds of
//!   slack) other than the one returned are aborted. The residual risk is
//!   another client initiating an upload of the *same key* in the same
//!   seconds; a bucket lifecycle rule "abort incomplete multipart uploads"
//!   is the backstop.
//! * **UploadPart** is idempotent: a part number uploaded again replaces
//!   the earlier data. Parts are in-memory `Bytes`, so the pipeline retries
//!   them, and a part whose CRC-64 the server reports differently is sent
//!   again (up to three times).
//! * **CompleteMultipartUpload** (POST) is retried by the pipeline only when
//!   no answer arrived or the answer was a 5xx/429/RequestTimeout: COS
//!   completes an upload once for a given part list, so a repeat either
//!   completes it or finds it already completed. The latter answers 404
//!   `NoSuchUpload`; then (and only after more than one attempt) the object
//!   is checked with a HEAD, and accepted when its CRC-64 equals the one
//!   combined from the parts. A 200 whose body is an `<Error>` is a failure.

pub(crate) mod list;
mod upload;

use std::time::SystemTime;

use crate::cos::crc64;
use crate::cos::limits::MAX_PARTS;
use crate::cos::{Error, ResumeOutcome};

/// One uploaded part, as CompleteMultipartUpload needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompletedPart {
    /// Part number, 1 to 10 000.
    pub part_number: u32,
    /// The part's ETag.
    pub etag: String,
    /// Bytes in the part.
    pub size: u64,
    /// CRC-64 of the part's bytes (computed locally; the server's agreed).
    pub crc64: u64,
}

impl CompletedPart {
    /// A part known from elsewhere (a ListParts answer, a checkpoint).
    pub fn new(part_number: u32, etag: impl Into<String>, size: u64, crc64: u64) -> Self {
        CompletedPart {
            part_number,
            etag: etag.into(),
            size,
            crc64,
        }
    }
}

/// What CompleteMultipartUpload (or a whole `upload_*`) produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadOutput {
    /// ETag of the object.
    pub etag: Option<String>,
    /// CRC-64 of the object as the server reports it (verified).
    pub crc64: Option<u64>,
    /// Version id on a versioned bucket.
    pub version_id: Option<String>,
    /// Parts used; 0 when the data fit a single PutObject.
    pub parts: u32,
    /// Bytes uploaded.
    pub size: u64,
    /// `x-cos-request-id` of the final request.
    pub request_id: Option<String>,
    /// How an upload given a [checkpoint](crate::cos::UploadOptions::checkpoint) began;
    /// `None` without one.
    pub resume: Option<ResumeOutcome>,
}

impl UploadOutput {
    /// The outcome of a transfer that fit one request (no parts).
    pub(crate) fn single(
        etag: Option<String>,
        crc64: Option<u64>,
        version_id: Option<String>,
        size: u64,
        request_id: Option<String>,
    ) -> Self {
        UploadOutput {
            etag,
            crc64,
            version_id,
            parts: 0,
            size,
            request_id,
            resume: None,
        }
    }
}

/// A part listed by ListParts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartInfo {
    /// Part number.
    pub part_number: u32,
    /// ETag.
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was uploaded.
    pub last_modified: Option<SystemTime>,
}

/// An upload in progress, listed by ListMultipartUploads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MultipartUploadInfo {
    /// The key being uploaded.
    pub key: String,
    /// The upload id.
    pub upload_id: String,
    /// When it was initiated (server clock).
    pub initiated: Option<SystemTime>,
    /// Storage class.
    pub storage_class: Option<String>,
}

/// Options of [`Client::complete_multipart_upload_with`](crate::cos::Client::complete_multipart_upload_with).
///
/// ```
/// use coscls::cos::CompleteOptions;
/// let opts = CompleteOptions::default().forbid_overwrite().expected_crc64(42);
/// assert!(opts.forbid_overwrite);
/// assert_eq!(opts.expected_crc64, Some(42));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompleteOptions {
    /// Refuse to replace an existing object (`x-cos-forbid-overwrite:
    /// true`): COS then answers 409 `FileAlreadyExists` and the upload
    /// stays open. COS honours it only on buckets that have never had
    /// versioning enabled (Complete Multipart Upload,
    /// <https://cloud.tencent.com/document/product/436/7742>).
    pub forbid_overwrite: bool,
    /// The CRC-64 the object must have; when `None`, the one combined from
    /// the parts' CRCs.
    pub expected_crc64: Option<u64>,
}

impl CompleteOptions {
    /// Sets [`forbid_overwrite`](Self::forbid_overwrite).
    pub fn forbid_overwrite(mut self) -> Self {
        self.forbid_overwrite = true;
        self
    }

    /// Sets [`expected_crc64`](Self::expected_crc64).
    pub fn expected_crc64(mut self, crc: u64) -> Self {
        self.expected_crc64 = Some(crc);
        self
    }
}

/// The CRC-64 of the object the parts make, in part-number order (pure).
fn combined_crc(parts: &[CompletedPart]) -> u64 {
    let mut sorted: Vec<&CompletedPart> = parts.iter().collect();
    sorted.sort_by_key(|p| p.part_number);
    crc64::combine_all(sorted.iter().map(|p| (p.crc64, p.size)))
}

pub(crate) fn check_part_number(part_number: u32) -> Result<(), Error> {
    if !(1..=MAX_PARTS).contains(&part_number) {
        return Err(Error::invalid_input(
            "part number",
            &part_number.to_string(),
            "must be between 1 and 10000",
        ));
    }
    Ok(())
}

pub(crate) fn check_upload_id(id: &str) -> Result<(), Error> {
    if id.is_empty() || id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid_input(
            "upload id",
            id,
            "is empty or contains whitespace",
        ));
    }
    Ok(())
}
