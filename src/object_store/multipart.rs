//! Multipart uploads (`MultipartUpload`, `MultipartStore`) and
//! `copy_if_not_exists` for [`CosStore`].
//!
//! A part's id carries its number, size, CRC-64 and ETag, so that
//! completing an upload checks the object's CRC-64 against the parts' like
//! [`cos::Client::complete_multipart_upload`] always does, whichever
//! process uploaded them.

use std::sync::{Arc, Mutex};

use ::object_store::multipart::{MultipartStore, PartId};
use ::object_store::path::Path;
use ::object_store::{
    MultipartId, MultipartUpload, PutMultipartOptions, PutPayload, PutResult, Result, UploadPart,
};
use async_trait::async_trait;
use bytes::Bytes;

use super::errors::{self, map};
use super::store::{put_result, write_options};
use super::CosStore;
use crate::cos::{self, CompleteOptions, CompletedPart, MAX_PARTS, MAX_PART_SIZE};

/// A part id: `<number>:<size>:<crc64>:<etag>` (pure).
fn encode_part(part: &CompletedPart) -> PartId {
    PartId {
        content_id: format!(
            "{}:{}:{}:{}",
            part.part_number, part.size, part.crc64, part.etag
        ),
    }
}

/// The part an id names; an id this store did not make is an error (pure).
fn decode_part(id: &PartId) -> Result<CompletedPart> {
    let bad = || errors::generic(format!("{:?} is not a CosStore part id", id.content_id));
    let mut fields = id.content_id.splitn(4, ':');
    let mut next = || fields.next().ok_or_else(bad);
    let number: u32 = next()?.parse().map_err(|_| bad())?;
    let size: u64 = next()?.parse().map_err(|_| bad())?;
    let crc64: u64 = next()?.parse().map_err(|_| bad())?;
    let etag = next()?;
    if etag.is_empty() {
        return Err(bad());
    }
    Ok(CompletedPart::new(number, etag, size, crc64))
}

/// COS's part number (1-based) of `object_store`'s part index (0-based),
/// at most [`MAX_PARTS`] (pure).
fn part_number(index: usize) -> Result<u32> {
    u32::try_from(index)
        .ok()
        .and_then(|i| i.checked_add(1))
        .filter(|n| *n <= MAX_PARTS)
        .ok_or_else(|| {
            errors::generic(format!(
                "part index {index}: COS allows at most {MAX_PARTS} parts"
            ))
        })
}

/// An upload in progress, shared with the part futures it hands out.
#[derive(Debug)]
struct Shared {
    store: CosStore,
    location: Path,
    key: String,
    upload_id: String,
    parts: Mutex<Vec<CompletedPart>>,
}

/// The `MultipartUpload` of [`CosStore::put_multipart_opts`]: parts are
/// UploadPart requests numbered in the order `put_part` is called, and may
/// run concurrently.
#[derive(Debug)]
pub(super) struct CosUpload {
    shared: Arc<Shared>,
    next_index: usize,
}

impl CosStore {
    /// Initiates a multipart upload of `location`.
    pub(super) async fn start_upload(
        &self,
        location: &Path,
        put: &cos::PutOptions,
    ) -> Result<CosUpload> {
        let key = self.key(location);
        let upload_id = self
            .client
            .create_multipart_upload(&self.bucket, &key, put)
            .await
            .map_err(|e| map(e, location.as_ref()))?;
        Ok(CosUpload {
            shared: Arc::new(Shared {
                store: self.clone(),
                location: location.clone(),
                key,
                upload_id,
                parts: Mutex::new(Vec::new()),
            }),
            next_index: 0,
        })
    }

    /// Uploads one part.
    async fn upload_part(
        &self,
        location: &Path,
        upload_id: &str,
        index: usize,
        data: PutPayload,
    ) -> Result<CompletedPart> {
        let number = part_number(index)?;
        let body: Bytes = data.into();
        self.client
            .upload_part(
                &self.bucket,
                &self.key(location),
                upload_id,
                number,
                body,
                &cos::PutOptions::default(),
            )
            .await
            .map_err(|e| map(e, location.as_ref()))
    }

    /// Completes an upload from `parts`. COS needs at least one part, so an
    /// upload with none gets one empty part (an empty object).
    async fn finish_upload(
        &self,
        location: &Path,
        upload_id: &str,
        mut parts: Vec<CompletedPart>,
        opts: &CompleteOptions,
    ) -> Result<PutResult> {
        if parts.is_empty() {
            parts.push(
                self.upload_part(location, upload_id, 0, PutPayload::new())
                    .await?,
            );
        }
        let out = self
            .client
            .complete_multipart_upload_with(
                &self.bucket,
                &self.key(location),
                upload_id,
                &parts,
                opts,
            )
            .await
            .map_err(|e| match opts.forbid_overwrite {
                true => errors::map_create(e, location.as_ref()),
                false => map(e, location.as_ref()),
            })?;
        Ok(put_result(out.etag, out.version_id))
    }

    /// `copy_if_not_exists`: a server-side multipart copy completed with
    /// `x-cos-forbid-overwrite: true`, so the check and the write are one
    /// step on the server (no window for another writer between them). The
    /// copy keeps the source's content headers and metadata, like
    /// CopyObject's default `x-cos-metadata-directive: Copy`.
    pub(super) async fn copy_if_absent(&self, from: &Path, to: &Path) -> Result<()> {
        let (source_key, key) = (self.key(from), self.key(to));
        let source = self
            .client
            .head_object(&self.bucket, &source_key)
            .await
            .map_err(|e| map(e, from.as_ref()))?;
        let put = cos::PutOptions {
            content_type: source.content_type.clone(),
            content_disposition: source.content_disposition.clone(),
            content_encoding: source.content_encoding.clone(),
            cache_control: source.cache_control.clone(),
            metadata: source.metadata.clone(),
            ..cos::PutOptions::default()
        };
        let upload_id = self
            .client
            .create_multipart_upload(&self.bucket, &key, &put)
            .await
            .map_err(|e| map(e, to.as_ref()))?;
        let copied = self
            .copy_parts(from, &source_key, &key, &upload_id, source.content_length)
            .await;
        let mut opts = CompleteOptions::default().forbid_overwrite();
        // The parts' CRCs come from the server and may be missing; the
        // source's is the one the copy must have.
        opts.expected_crc64 = source.crc64;
        let done = match copied {
            Ok(parts) => self.finish_upload(to, &upload_id, parts, &opts).await,
            Err(e) => Err(e),
        };
        if done.is_err() {
            // Nothing is left to bill; a failed abort changes no answer.
            let _ = self
                .client
                .abort_multipart_upload(&self.bucket, &key, &upload_id)
                .await;
        }
        done.map(|_| ())
    }

    /// Copies `size` bytes of the source into parts of at most 5 GiB.
    async fn copy_parts(
        &self,
        from: &Path,
        source_key: &str,
        key: &str,
        upload_id: &str,
        size: u64,
    ) -> Result<Vec<CompletedPart>> {
        let mut parts = Vec::new();
        let mut first = 0u64;
        let mut number = 1u32;
        loop {
            // An empty source is copied as one part without a range.
            let range = if size == 0 {
                None
            } else {
                Some((first, first.saturating_add(MAX_PART_SIZE).min(size) - 1))
            };
            let part = self
                .client
                .upload_part_copy(
                    &self.bucket,
                    key,
                    upload_id,
                    number,
                    &self.bucket,
                    source_key,
                    range,
                    &cos::CopyOptions::default(),
                )
                .await
                .map_err(|e| map(e, from.as_ref()))?;
            parts.push(part);
            match range {
                Some((_, last)) if last + 1 < size => {
                    first = last + 1;
                    number += 1;
                }
                _ => return Ok(parts),
            }
        }
    }
}

#[async_trait]
impl MultipartUpload for CosUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let index = self.next_index;
        self.next_index += 1;
        let shared = self.shared.clone();
        Box::pin(async move {
            let part = shared
                .store
                .upload_part(&shared.location, &shared.upload_id, index, data)
                .await?;
            shared
                .parts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(part);
            Ok(())
        })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let s = &self.shared;
        let parts = s.parts.lock().unwrap_or_else(|e| e.into_inner()).clone();
        s.store
            .finish_upload(
                &s.location,
                &s.upload_id,
                parts,
                &CompleteOptions::default(),
            )
            .await
    }

    async fn abort(&mut self) -> Result<()> {
        let s = &self.shared;
        s.store
            .client
            .abort_multipart_upload(&s.store.bucket, &s.key, &s.upload_id)
            .await
            .map_err(|e| map(e, s.location.as_ref()))
    }
}

#[async_trait]
impl MultipartStore for CosStore {
    async fn create_multipart(&self, path: &Path) -> Result<MultipartId> {
        self.create_multipart_opts(path, PutMultipartOptions::default())
            .await
    }

    async fn create_multipart_opts(
        &self,
        path: &Path,
        opts: PutMultipartOptions,
    ) -> Result<MultipartId> {
        let put = write_options(&opts.attributes, &opts.tags)?;
        self.client
            .create_multipart_upload(&self.bucket, &self.key(path), &put)
            .await
            .map_err(|e| map(e, path.as_ref()))
    }

    async fn put_part(
        &self,
        path: &Path,
        id: &MultipartId,
        part_idx: usize,
        data: PutPayload,
    ) -> Result<PartId> {
        let part = self.upload_part(path, id, part_idx, data).await?;
        Ok(encode_part(&part))
    }

    async fn complete_multipart(
        &self,
        path: &Path,
        id: &MultipartId,
        parts: Vec<PartId>,
    ) -> Result<PutResult> {
        let parts = parts.iter().map(decode_part).collect::<Result<Vec<_>>>()?;
        self.finish_upload(path, id, parts, &CompleteOptions::default())
            .await
    }

    async fn abort_multipart(&self, path: &Path, id: &MultipartId) -> Result<()> {
        self.client
            .abort_multipart_upload(&self.bucket, &self.key(path), id)
            .await
            .map_err(|e| map(e, path.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_ids_round_trip() {
        let part = CompletedPart::new(7, "\"a:b\"", 5 << 20, 12345);
        let id = encode_part(&part);
        assert_eq!(decode_part(&id).unwrap(), part);
        for bad in ["", "1:2:3", "x:2:3:\"e\"", "1:2:3:", "1:-2:3:\"e\""] {
            let id = PartId {
                content_id: bad.to_string(),
            };
            assert!(decode_part(&id).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn part_numbers_are_one_based_and_bounded() {
        assert_eq!(part_number(0).unwrap(), 1);
        assert_eq!(part_number(9_999).unwrap(), 10_000);
        assert!(part_number(10_000).is_err());
        assert!(part_number(usize::MAX).is_err());
    }
}
