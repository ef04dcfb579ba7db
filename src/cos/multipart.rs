//! Multipart upload: the five API calls, and `upload_file` / `upload_stream`
//! that split data into parts, upload them concurrently with bounded
//! memory, retry failed parts, complete in order, verify the combined
//! CRC-64, and abort the upload when they give up.
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

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinSet;

use super::crc64;
use super::object::{check_crc, PutObjectOutput};
use super::ops::list::Markers;
use super::options::{
    check_concurrency, choose_part_size, Progress, PutOptions, UploadOptions, MAX_PARTS,
};
use super::request;
use super::response::{self, header};
use super::transfer::checkpoint::{Journal, ResumeOutcome};
use super::xml::{self, PartRef};
use super::{BucketName, Client, Error};

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
    /// How an upload given a [checkpoint](UploadOptions::checkpoint) began;
    /// `None` without one.
    pub resume: Option<ResumeOutcome>,
}

impl UploadOutput {
    /// The outcome of a transfer that fit one request (no parts).
    pub(super) fn single(
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

/// Options of [`Client::complete_multipart_upload_with`].
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

/// Pages `list_parts` reads at most: an upload has at most 10 000 parts,
/// and a truncated page holds at least one.
const MAX_LIST_PARTS_PAGES: u64 = 10_001;

/// Pages `list_multipart_uploads` reads at most (COS sends up to 1000
/// uploads per page).
const MAX_LIST_UPLOADS_PAGES: u64 = 100_000;

impl Client {
    /// Starts a multipart upload and returns its upload id. The object's
    /// headers (content type, metadata, class, encryption) are given here.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let b = "examplebucket-1250000000";
    /// let id = client.create_multipart_upload(b, "big.bin", &Default::default()).await?;
    /// let p1 = client.upload_part(b, "big.bin", &id, 1, vec![0u8; 1 << 20], &Default::default()).await?;
    /// let p2 = client.upload_part(b, "big.bin", &id, 2, vec![1u8; 10], &Default::default()).await?;
    /// client.complete_multipart_upload(b, "big.bin", &id, &[p1, p2]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        opts: &PutOptions,
    ) -> Result<String, Error> {
        let bucket = Self::bucket(bucket)?;
        self.initiate(&bucket, key, opts).await
    }

    pub(super) async fn initiate(
        &self,
        bucket: &BucketName,
        key: &str,
        opts: &PutOptions,
    ) -> Result<String, Error> {
        let started = SystemTime::now();
        let attempts = AtomicU32::new(0);
        let info = self.info("InitiateMultipartUpload", bucket).with_key(key);
        let result = self
            .operation(info, async {
                let req = request::initiate_multipart(self.target(bucket), key, opts)?;
                let response = self.send_counting(req, &attempts).await?;
                let (_, body) = response.into_parts();
                let body = body.collect(response::XML_BODY_LIMIT).await?;
                let result: xml::InitiateMultipartUploadResult =
                    xml::parse("InitiateMultipartUpload", &body)?;
                if result.upload_id.is_empty() {
                    return Err(Error::protocol(
                        "InitiateMultipartUpload returned no UploadId",
                    ));
                }
                Ok(result)
            })
            .await?;
        // Cleaning up after a retried initiate is not part of it: its own
        // operations (ListMultipartUploads, AbortMultipartUpload) follow.
        if attempts.load(Ordering::Relaxed) > 1 {
            self.abort_strays(bucket, key, &result.upload_id, started)
                .await;
        }
        Ok(result.upload_id)
    }

    /// Aborts uploads of `key` other than `ours` that a retried initiate may
    /// have created between `started` and now.
    async fn abort_strays(&self, bucket: &BucketName, key: &str, ours: &str, started: SystemTime) {
        let offset = self.clock_offset();
        let shift = |t: SystemTime, slack: i64| {
            let secs = offset + slack;
            if secs >= 0 {
                t + Duration::from_secs(secs as u64)
            } else {
                t - Duration::from_secs(secs.unsigned_abs())
            }
        };
        let (from, to) = (shift(started, -5), shift(SystemTime::now(), 5));
        let uploads = match self.list_uploads(bucket, Some(key)).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(target: "coscls::cos", error = %e, "could not list uploads to clean up after a retried initiate");
                return;
            }
        };
        for u in uploads {
            let in_window = u.initiated.is_some_and(|t| t >= from && t <= to);
            if u.key == key && u.upload_id != ours && in_window {
                tracing::info!(target: "coscls::cos", upload_id = %u.upload_id, "aborting an upload created by a retried initiate");
                if let Err(e) = self.abort(bucket, key, &u.upload_id).await {
                    tracing::warn!(target: "coscls::cos", error = %e, "aborting a stray upload failed");
                }
            }
        }
    }

    /// Uploads part `part_number` (1–10 000) of an upload and checks the
    /// server's CRC-64 of it. Re-uploading a part number replaces it. Every
    /// part but the last must be at least 1 MiB.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client, id: String) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::PutOptions;
    /// let part = client
    ///     .upload_part("examplebucket-1250000000", "big.bin", &id, 1, vec![0u8; 8 << 20], &PutOptions::default().with_content_md5())
    ///     .await?;
    /// println!("part {} has ETag {}", part.part_number, part.etag);
    /// # Ok(()) }
    /// ```
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: impl Into<Bytes>,
        opts: &PutOptions,
    ) -> Result<CompletedPart, Error> {
        let bucket = Self::bucket(bucket)?;
        self.upload_part_once(&bucket, key, upload_id, part_number, body.into(), opts)
            .await
    }

    async fn upload_part_once(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
        opts: &PutOptions,
    ) -> Result<CompletedPart, Error> {
        let crc = crc64::checksum(&body);
        let size = body.len() as u64;
        let info = self
            .info("UploadPart", bucket)
            .with_key(key)
            .with_upload_id(upload_id)
            .with_part_number(i64::from(part_number));
        self.operation(info, async {
            let req =
                request::upload_part(self.target(bucket), key, upload_id, part_number, body, opts)?;
            let response = self.send(req).await?;
            let h = response.headers();
            if self.verify_crc() {
                check_crc(
                    format_args!("UploadPart {key} part {part_number}"),
                    response::crc64_header(h)?,
                    Some(crc),
                )?;
            }
            let etag = header(h, http::header::ETAG).ok_or_else(|| {
                Error::protocol(format!("UploadPart {part_number} returned no ETag"))
            })?;
            Ok(CompletedPart {
                part_number,
                etag,
                size,
                crc64: crc,
            })
        })
        .await
    }

    /// Completes an upload from its parts (any order; they are sorted). The
    /// CRC-64 the server reports for the object is compared with the one
    /// combined from the parts. See the module notes on retrying it.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client, id: String, parts: Vec<coscls::cos::CompletedPart>) -> Result<(), coscls::cos::Error> {
    /// let out = client.complete_multipart_upload("examplebucket-1250000000", "big.bin", &id, &parts).await?;
    /// println!("{} bytes in {} parts, CRC {:?}", out.size, out.parts, out.crc64);
    /// # Ok(()) }
    /// ```
    pub async fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> Result<UploadOutput, Error> {
        let bucket = Self::bucket(bucket)?;
        self.complete(&bucket, key, upload_id, parts).await
    }

    /// [`complete_multipart_upload`](Self::complete_multipart_upload) with
    /// [`CompleteOptions`]: refuse to replace an existing object, or check
    /// the object's CRC-64 against a known value instead of the one
    /// combined from the parts (a copy whose parts' CRCs are not all known).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client, id: String, parts: Vec<coscls::cos::CompletedPart>) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::CompleteOptions;
    /// let opts = CompleteOptions::default().forbid_overwrite();
    /// match client.complete_multipart_upload_with("examplebucket-1250000000", "once.bin", &id, &parts, &opts).await {
    ///     Err(e) if e.code() == Some("FileAlreadyExists") => println!("someone else wrote it first"),
    ///     other => { other?; }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn complete_multipart_upload_with(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        opts: &CompleteOptions,
    ) -> Result<UploadOutput, Error> {
        let bucket = Self::bucket(bucket)?;
        let expected = match opts.expected_crc64 {
            Some(crc) => crc,
            None => combined_crc(parts),
        };
        self.complete_expecting(
            &bucket,
            key,
            upload_id,
            parts,
            Some(expected),
            opts.forbid_overwrite,
        )
        .await
    }

    pub(super) async fn complete(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> Result<UploadOutput, Error> {
        let expected = combined_crc(parts);
        self.complete_expecting(bucket, key, upload_id, parts, Some(expected), false)
            .await
    }

    /// Completes an upload and checks the object's CRC-64 against
    /// `expected` (the parts' combined CRC, or a copied source's); with
    /// `forbid_overwrite`, COS refuses to replace an existing object.
    pub(super) async fn complete_expecting(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        expected: Option<u64>,
        forbid_overwrite: bool,
    ) -> Result<UploadOutput, Error> {
        let info = self
            .info("CompleteMultipartUpload", bucket)
            .with_key(key)
            .with_upload_id(upload_id);
        self.operation(info, async {
            self.complete_inner(bucket, key, upload_id, parts, expected, forbid_overwrite)
                .await
        })
        .await
    }

    async fn complete_inner(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        expected: Option<u64>,
        forbid_overwrite: bool,
    ) -> Result<UploadOutput, Error> {
        let mut sorted: Vec<&CompletedPart> = parts.iter().collect();
        sorted.sort_by_key(|p| p.part_number);
        let refs: Vec<PartRef<'_>> = sorted
            .iter()
            .map(|p| PartRef {
                number: p.part_number,
                etag: &p.etag,
            })
            .collect();
        let mut req = request::complete_multipart(self.target(bucket), key, upload_id, &refs)?;
        if forbid_overwrite {
            req.headers.insert(
                http::HeaderName::from_static("x-cos-forbid-overwrite"),
                http::HeaderValue::from_static("true"),
            );
        }
        let size: u64 = sorted.iter().map(|p| p.size).sum();
        let what = format!("CompleteMultipartUpload {key}");
        let (parts_head, body) = match self.send_for_body(req).await {
            Ok(r) => r,
            Err(e) => {
                let retried = e.service().is_some_and(|s| s.attempts > 1);
                if e.code() == Some("NoSuchUpload") && retried {
                    // An earlier attempt may have completed it (module docs).
                    if let Ok(meta) = self.head_object(bucket.as_str(), key).await {
                        let same_crc = expected.is_none_or(|c| meta.crc64 == Some(c));
                        if same_crc && meta.content_length == size {
                            return Ok(UploadOutput {
                                etag: meta.etag,
                                crc64: meta.crc64,
                                version_id: meta.version_id,
                                parts: sorted.len() as u32,
                                size,
                                request_id: meta.request_id,
                                resume: None,
                            });
                        }
                    }
                }
                return Err(e);
            }
        };
        let result: xml::CompleteMultipartUploadResult =
            xml::parse("CompleteMultipartUpload", &body)?;
        let server_crc = match response::crc64_header(&parts_head.headers)? {
            Some(c) => Some(c),
            None => result
                .crc64
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(response::parse_crc)
                .transpose()?,
        };
        if self.verify_crc() {
            check_crc(format_args!("{what}"), server_crc, expected)?;
        }
        Ok(UploadOutput {
            etag: result
                .etag
                .or_else(|| header(&parts_head.headers, http::header::ETAG)),
            crc64: server_crc,
            version_id: header(&parts_head.headers, response::X_COS_VERSION_ID),
            parts: sorted.len() as u32,
            size,
            request_id: header(&parts_head.headers, response::X_COS_REQUEST_ID),
            resume: None,
        })
    }

    /// Abandons an upload and frees its parts.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let b = "examplebucket-1250000000";
    /// // Clean up everything a crashed process left behind.
    /// for u in client.list_multipart_uploads(b, None).await? {
    ///     client.abort_multipart_upload(b, &u.key, &u.upload_id).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), Error> {
        let bucket = Self::bucket(bucket)?;
        self.abort(&bucket, key, upload_id).await
    }

    pub(super) async fn abort(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &str,
    ) -> Result<(), Error> {
        let info = self
            .info("AbortMultipartUpload", bucket)
            .with_key(key)
            .with_upload_id(upload_id);
        self.operation(info, async {
            let req = request::abort_multipart(self.target(bucket), key, upload_id)?;
            self.send(req).await?;
            Ok(())
        })
        .await
    }

    /// The parts uploaded so far (all pages).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client, id: String) -> Result<(), coscls::cos::Error> {
    /// let parts = client.list_parts("examplebucket-1250000000", "big.bin", &id).await?;
    /// let done: u64 = parts.iter().map(|p| p.size).sum();
    /// println!("{done} bytes uploaded so far");
    /// # Ok(()) }
    /// ```
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<PartInfo>, Error> {
        let bucket = Self::bucket(bucket)?;
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        let mut markers = Markers::new("ListParts", MAX_LIST_PARTS_PAGES, None);
        loop {
            let info = self
                .info("ListParts", &bucket)
                .with_key(key)
                .with_upload_id(upload_id);
            // One operation per page request.
            let page: xml::ListPartsResult = self
                .operation(info, async {
                    let req = request::list_parts(
                        self.target(&bucket),
                        key,
                        upload_id,
                        marker.as_deref(),
                    )?;
                    let (_, body) = self.send_for_body(req).await?;
                    xml::parse("ListParts", &body)
                })
                .await?;
            out.extend(page.parts.into_iter().map(|p| PartInfo {
                part_number: p.part_number,
                etag: p.etag,
                size: p.size,
                last_modified: p.last_modified.as_deref().and_then(xml::parse_date),
            }));
            if !page.is_truncated {
                return Ok(out);
            }
            markers.next(page.next_part_number_marker.as_deref())?;
            marker = page.next_part_number_marker;
        }
    }

    /// Uploads in progress in `bucket`, optionally under `prefix` (all pages).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// for u in client.list_multipart_uploads("examplebucket-1250000000", Some("backups/")).await? {
    ///     println!("{} {} started {:?}", u.key, u.upload_id, u.initiated);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_multipart_uploads(
        &self,
        bucket: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<MultipartUploadInfo>, Error> {
        let bucket = Self::bucket(bucket)?;
        self.list_uploads(&bucket, prefix).await
    }

    pub(super) async fn list_uploads(
        &self,
        bucket: &BucketName,
        prefix: Option<&str>,
    ) -> Result<Vec<MultipartUploadInfo>, Error> {
        let mut out = Vec::new();
        let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
        let mut markers = Markers::new("ListMultipartUploads", MAX_LIST_UPLOADS_PAGES, None);
        loop {
            // One operation per page request.
            let page: xml::ListMultipartUploadsResult = self
                .operation(self.info("ListMultipartUploads", bucket), async {
                    let req = request::list_multipart_uploads(
                        self.target(bucket),
                        prefix,
                        key_marker.as_deref(),
                        id_marker.as_deref(),
                    )?;
                    let (_, body) = self.send_for_body(req).await?;
                    xml::parse("ListMultipartUploads", &body)
                })
                .await?;
            out.extend(page.uploads.into_iter().map(|u| MultipartUploadInfo {
                key: u.key,
                upload_id: u.upload_id,
                initiated: u.initiated.as_deref().and_then(xml::parse_date),
                storage_class: u.storage_class,
            }));
            let next = (page.next_key_marker, page.next_upload_id_marker);
            if !page.is_truncated {
                return Ok(out);
            }
            // The pair is the marker: one key may hold many uploads.
            let pair = next.0.as_deref().map(|key| match next.1.as_deref() {
                Some(id) => format!("{key} upload {id}"),
                None => key.to_string(),
            });
            markers.next(pair.as_deref())?;
            (key_marker, id_marker) = next;
        }
    }

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
        super::validate_key(key)?;
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
        super::validate_key(key)?;
        if let Some(checkpoint) = &opts.checkpoint {
            return Err(Error::invalid_input(
                "checkpoint",
                &checkpoint.display().to_string(),
                "needs upload_file: a stream cannot be read again to resume",
            ));
        }
        self.upload_reader(&bucket, key, reader, None, opts).await
    }

    pub(super) async fn upload_reader<R>(
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
    pub(super) async fn abort_quietly(&self, bucket: &BucketName, key: &str, upload_id: &str) {
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
    pub(super) async fn upload_parts<R>(
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

    /// Sends like `send`, counting the attempts the pipeline makes.
    async fn send_counting(
        &self,
        req: crate::transport::PreparedRequest,
        attempts: &AtomicU32,
    ) -> Result<http::Response<crate::transport::ResponseBody>, Error> {
        // `move`: the closure owns the request, so the future holds no
        // `&PreparedRequest` (not `Sync`: its body may be a stream) and
        // stays `Send`, as spawned tasks and `object_store` require.
        let build = move || {
            attempts.fetch_add(1, Ordering::Relaxed);
            request::try_clone(&req).ok_or_else(|| Error::protocol("initiate has no streamed body"))
        };
        self.inner
            .pipeline
            .execute(build, response::parse_error)
            .await
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
