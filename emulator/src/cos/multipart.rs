//! Multipart uploads: Initiate, UploadPart, Complete, Abort, ListParts,
//! ListMultipartUploads.

use std::collections::BTreeMap;

use futures_util::StreamExt as _;
use http::{Response, StatusCode};
use md5::{Digest as _, Md5};

use super::errors::CosError;
use super::xml::{bare_etag, parse, CompletePart, CompleteRequest, Doc};
use super::{
    empty_response, int_param, meta_from_headers, receive, require_bucket, set_header, small_body,
    xml_response, CosRequest, OWNER,
};
use crate::body::Body;
use crate::state::State;
use crate::store::{crc64_combine, Object, Part, Written};
use crate::time::iso8601;

/// Largest part (5 GB) and most parts (docs/protocol/cos.md §4).
const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
const MAX_PARTS: u64 = 10_000;

fn upload_id(req: &CosRequest) -> Result<String, CosError> {
    match req.param("uploadId") {
        Some(id) if !id.is_empty() => Ok(id.to_string()),
        _ => Err(CosError::invalid_argument("uploadId must not be empty")),
    }
}

pub(crate) async fn initiate(
    state: &State,
    mut req: CosRequest,
) -> Result<Response<Body>, CosError> {
    require_bucket(state, &req)?;
    crate::body::drain(&mut req.body, 1 << 20).await;
    let meta = meta_from_headers(&req.headers)?;
    let id = state
        .store
        .create_upload(req.bucket(), req.key(), meta, req.now)
        .map_err(CosError::from_store)?;
    let mut doc = Doc::new("InitiateMultipartUploadResult");
    doc.el("Bucket", req.bucket())
        .el("Key", req.key())
        .el("UploadId", &id);
    Ok(xml_response(doc.finish("InitiateMultipartUploadResult")))
}

/// The part number and upload id of an UploadPart(Copy), checked.
fn part_target(state: &State, req: &CosRequest) -> Result<(u32, String), CosError> {
    if req.param("partNumber").is_none_or(str::is_empty) {
        return Err(CosError::invalid_argument("partNumber is required"));
    }
    let number = int_param(req, "partNumber", 0, 1..=MAX_PARTS)? as u32;
    let id = upload_id(req)?;
    if state.store.upload(&id, req.bucket(), req.key()).is_none() {
        return Err(CosError::no_such_upload());
    }
    Ok((number, id))
}

/// Stores `written` as part `number` and returns its ETag.
fn store_part(
    state: &State,
    id: &str,
    number: u32,
    written: Written,
    now: i64,
) -> Result<String, CosError> {
    let etag = format!("\"{}\"", hex::encode(written.md5));
    state
        .store
        .put_part(
            id,
            Part {
                number,
                etag: etag.clone(),
                size: written.len,
                crc64: written.crc64,
                md5: written.md5,
                last_modified: now,
                blob: written.blob,
            },
        )
        .map_err(CosError::from_store)?;
    Ok(etag)
}

pub(crate) async fn upload_part(
    state: &State,
    mut req: CosRequest,
) -> Result<Response<Body>, CosError> {
    require_bucket(state, &req)?;
    let (number, id) = match part_target(state, &req) {
        Ok(target) => target,
        Err(e) => {
            crate::body::drain(&mut req.body, super::DRAIN_LIMIT).await;
            return Err(e);
        }
    };
    let max = state.config.max_object_size.min(MAX_PART_SIZE);
    let written = receive(state, &mut req, max).await?;
    let crc = written.crc64;
    let etag = store_part(state, &id, number, written, req.now)?;
    let mut resp = empty_response(StatusCode::OK);
    set_header(&mut resp, "etag", &etag);
    set_header(&mut resp, "x-cos-hash-crc64ecma", &crc.to_string());
    Ok(resp)
}

/// UploadPartCopy: the part's bytes are a range of another object.
pub(crate) async fn upload_part_copy(
    state: &State,
    mut req: CosRequest,
) -> Result<Response<Body>, CosError> {
    require_bucket(state, &req)?;
    crate::body::drain(&mut req.body, super::DRAIN_LIMIT).await;
    let (number, id) = part_target(state, &req)?;
    let (_, _, src) = super::objects::copy_source(state, &req)?;
    let size = src.meta.size;
    let (first, len) = match req.header("x-cos-copy-source-range") {
        None => (0, size),
        Some(v) => parse_copy_range(v, size).ok_or_else(|| {
            CosError::invalid_argument(format!(
                "x-cos-copy-source-range {v:?} is not bytes=first-last within the source's {size} bytes"
            ))
        })?,
    };
    if len > MAX_PART_SIZE {
        return Err(CosError::new(
            400,
            "EntityTooLarge",
            "A part copied with UploadPartCopy is at most 5 GB.",
        ));
    }
    let failed = |e: std::io::Error| CosError::internal(format!("copying the range failed: {e}"));
    let mut data = src.blob.read(first, len).await.map_err(failed)?;
    let mut writer = state.store.writer().await.map_err(failed)?;
    while let Some(chunk) = data.next().await {
        writer
            .write(&chunk.map_err(failed)?)
            .await
            .map_err(failed)?;
    }
    let written = writer.finish().await.map_err(failed)?;
    let crc = written.crc64;
    let etag = store_part(state, &id, number, written, req.now)?;
    let mut doc = Doc::new("CopyPartResult");
    doc.el("ETag", &etag).el("LastModified", iso8601(req.now));
    let mut resp = xml_response(doc.finish("CopyPartResult"));
    set_header(&mut resp, "x-cos-hash-crc64ecma", &crc.to_string());
    Ok(resp)
}

/// `bytes=first-last` within an object of `size` bytes, as (first, length)
/// (pure); COS accepts only this one form for a copy range.
fn parse_copy_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let (first, last) = value.trim().strip_prefix("bytes=")?.split_once('-')?;
    let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
    (first <= last && last < size).then(|| (first, last - first + 1))
}

/// Checks a completion list against the stored parts (pure): ascending
/// numbers, known parts with matching ETags, and every part but the last at
/// least `min_part_size`.
pub(crate) fn check_completion<'a>(
    requested: &[CompletePart],
    stored: &'a BTreeMap<u32, Part>,
    min_part_size: u64,
) -> Result<Vec<&'a Part>, CosError> {
    if requested.is_empty() {
        return Err(CosError::malformed_xml(
            "CompleteMultipartUpload must name at least one part",
        ));
    }
    let mut previous = 0u32;
    for want in requested {
        if want.number <= previous {
            return Err(CosError::new(
                400,
                "InvalidPartOrder",
                format!(
                    "The list of parts was not in ascending order: part {} follows part {previous}.",
                    want.number
                ),
            ));
        }
        previous = want.number;
    }
    let mut out = Vec::with_capacity(requested.len());
    for want in requested {
        let part = stored
            .get(&want.number)
            .filter(|p| bare_etag(&p.etag) == bare_etag(&want.etag))
            .ok_or_else(|| {
                CosError::new(
                    400,
                    "InvalidPart",
                    format!(
                        "Part {} was not uploaded or its ETag {} does not match.",
                        want.number, want.etag
                    ),
                )
            })?;
        out.push(part);
    }
    if let Some(small) = out[..out.len() - 1].iter().find(|p| p.size < min_part_size) {
        return Err(CosError::new(
            400,
            "EntityTooSmall",
            format!(
                "Part {} is {} bytes; every part but the last must be at least {min_part_size} bytes.",
                small.number, small.size
            ),
        ));
    }
    Ok(out)
}

/// `"<md5 of the concatenated binary part MD5s>-<n>"`.
pub(crate) fn multipart_etag(md5s: &[[u8; 16]]) -> String {
    let mut h = Md5::new();
    for m in md5s {
        h.update(m);
    }
    format!("\"{}-{}\"", hex::encode(h.finalize()), md5s.len())
}

pub(crate) async fn complete(
    state: &State,
    mut req: CosRequest,
) -> Result<Response<Body>, CosError> {
    require_bucket(state, &req)?;
    let id = upload_id(&req)?;
    let Some(upload) = state.store.upload(&id, req.bucket(), req.key()) else {
        crate::body::drain(&mut req.body, super::DRAIN_LIMIT).await;
        return Err(CosError::no_such_upload());
    };
    let data = small_body(&mut req, 4 << 20).await?;
    let doc: CompleteRequest = parse(&data).map_err(CosError::malformed_xml)?;
    let parts = check_completion(&doc.parts, &upload.parts, state.config.min_part_size)?;
    let size: u64 = parts.iter().map(|p| p.size).sum();
    if size > state.config.max_object_size {
        return Err(CosError::new(
            400,
            "EntityTooLarge",
            format!("The object would be {size} bytes, over the limit."),
        ));
    }
    let crc = parts
        .iter()
        .fold(0u64, |acc, p| crc64_combine(acc, p.crc64, p.size));
    let etag = multipart_etag(&parts.iter().map(|p| p.md5).collect::<Vec<_>>());
    let blob = state
        .store
        .concat(parts.iter().map(|p| p.blob.clone()).collect())
        .await
        .map_err(|e| CosError::internal(format!("assembling the object failed: {e}")))?;
    let mut meta = upload.meta.clone();
    meta.size = size;
    meta.etag = etag.clone();
    meta.crc64 = crc;
    meta.last_modified = req.now;
    let version = state
        .store
        .complete_upload(&id, Object { meta, blob }, super::forbids_overwrite(&req))
        .map_err(CosError::from_store)?;
    let mut doc = Doc::new("CompleteMultipartUploadResult");
    doc.el("Location", format!("{}/{}", req.host, req.key()))
        .el("Bucket", req.bucket())
        .el("Key", req.key())
        .el("ETag", &etag);
    let mut resp = xml_response(doc.finish("CompleteMultipartUploadResult"));
    set_header(&mut resp, "x-cos-hash-crc64ecma", &crc.to_string());
    if let Some(v) = &version {
        set_header(&mut resp, "x-cos-version-id", v);
    }
    Ok(resp)
}

pub(crate) async fn abort(state: &State, req: CosRequest) -> Result<Response<Body>, CosError> {
    require_bucket(state, &req)?;
    let id = upload_id(&req)?;
    state
        .store
        .abort_upload(&id, req.bucket(), req.key())
        .map_err(CosError::from_store)?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

pub(crate) async fn list_parts(state: &State, req: CosRequest) -> Result<Response<Body>, CosError> {
    require_bucket(state, &req)?;
    let id = upload_id(&req)?;
    let upload = state
        .store
        .upload(&id, req.bucket(), req.key())
        .ok_or_else(CosError::no_such_upload)?;
    let max = int_param(&req, "max-parts", 1000, 1..=1000)? as usize;
    let marker = int_param(&req, "part-number-marker", 0, 0..=MAX_PARTS)? as u32;
    let after: Vec<&Part> = upload.parts.range(marker + 1..).map(|(_, p)| p).collect();
    let truncated = after.len() > max;
    let page = &after[..after.len().min(max)];
    let mut doc = Doc::new("ListPartsResult");
    doc.el("Bucket", req.bucket())
        .el("Key", req.key())
        .el("UploadId", &id)
        .owner("Initiator", OWNER)
        .owner("Owner", OWNER)
        .el("StorageClass", &upload.meta.storage_class)
        .el("PartNumberMarker", marker)
        .el(
            "NextPartNumberMarker",
            page.last().map_or(marker, |p| p.number),
        )
        .el("MaxParts", max)
        .el("IsTruncated", truncated);
    for p in page {
        doc.open("Part")
            .el("PartNumber", p.number)
            .el("LastModified", iso8601(p.last_modified))
            .el("ETag", &p.etag)
            .el("Size", p.size)
            .close("Part");
    }
    Ok(xml_response(doc.finish("ListPartsResult")))
}

pub(crate) async fn list_uploads(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    require_bucket(state, &req)?;
    let prefix = req.param("prefix").unwrap_or_default();
    let key_marker = req.param("key-marker").unwrap_or_default();
    let id_marker = req.param("upload-id-marker").unwrap_or_default();
    let max = int_param(&req, "max-uploads", 1000, 1..=1000)? as usize;
    let bucket = req.bucket();
    let mut uploads: Vec<(String, String, String, i64)> = state.store.with_uploads(|all| {
        all.values()
            .filter(|u| u.bucket == bucket && u.key.starts_with(prefix))
            .filter(|u| {
                key_marker.is_empty()
                    || u.key.as_str() > key_marker
                    || (u.key == key_marker && !id_marker.is_empty() && u.id.as_str() > id_marker)
            })
            .map(|u| {
                (
                    u.key.clone(),
                    u.id.clone(),
                    u.meta.storage_class.clone(),
                    u.initiated,
                )
            })
            .collect()
    });
    uploads.sort();
    let truncated = uploads.len() > max;
    uploads.truncate(max);
    let mut doc = Doc::new("ListMultipartUploadsResult");
    doc.el("Bucket", bucket)
        .el("Prefix", prefix)
        .el("KeyMarker", key_marker)
        .el("UploadIdMarker", id_marker)
        .el("MaxUploads", max)
        .el("IsTruncated", truncated);
    if truncated {
        if let Some((k, id, _, _)) = uploads.last() {
            doc.el("NextKeyMarker", k).el("NextUploadIdMarker", id);
        }
    }
    for (key, id, class, initiated) in &uploads {
        doc.open("Upload")
            .el("Key", key)
            .el("UploadId", id)
            .el("StorageClass", class)
            .owner("Initiator", OWNER)
            .owner("Owner", OWNER)
            .el("Initiated", iso8601(*initiated))
            .close("Upload");
    }
    Ok(xml_response(doc.finish("ListMultipartUploadsResult")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_ranges() {
        assert_eq!(parse_copy_range("bytes=0-9", 10), Some((0, 10)));
        assert_eq!(parse_copy_range("bytes=5-5", 10), Some((5, 1)));
        for bad in [
            "bytes=0-10",
            "bytes=5-4",
            "bytes=-5",
            "bytes=3-",
            "0-1",
            "bytes=a-b",
        ] {
            assert_eq!(parse_copy_range(bad, 10), None, "{bad}");
        }
    }
    use crate::store::Blob;
    use std::sync::Arc;

    fn part(number: u32, size: u64) -> Part {
        Part {
            number,
            etag: format!("\"e{number}\""),
            size,
            crc64: 0,
            md5: [number as u8; 16],
            last_modified: 0,
            blob: Blob::Memory(Arc::new(vec![])),
        }
    }

    fn want(number: u32, etag: &str) -> CompletePart {
        CompletePart {
            number,
            etag: etag.into(),
        }
    }

    #[test]
    fn completion_rules() {
        let stored: BTreeMap<u32, Part> = [part(1, 10), part(2, 10), part(3, 2)]
            .into_iter()
            .map(|p| (p.number, p))
            .collect();
        let ok = check_completion(
            &[want(1, "e1"), want(2, "\"e2\""), want(3, "e3")],
            &stored,
            10,
        )
        .unwrap();
        assert_eq!(ok.len(), 3);
        let code = |r: Result<Vec<&Part>, CosError>| r.unwrap_err().code;
        assert_eq!(
            code(check_completion(
                &[want(2, "e2"), want(1, "e1")],
                &stored,
                1
            )),
            "InvalidPartOrder"
        );
        assert_eq!(
            code(check_completion(
                &[want(1, "e1"), want(1, "e1")],
                &stored,
                1
            )),
            "InvalidPartOrder"
        );
        assert_eq!(
            code(check_completion(&[want(1, "bad")], &stored, 1)),
            "InvalidPart"
        );
        assert_eq!(
            code(check_completion(&[want(4, "e4")], &stored, 1)),
            "InvalidPart"
        );
        // Only the last part may be small.
        assert!(check_completion(&[want(3, "e3")], &stored, 100).is_ok());
        assert_eq!(
            code(check_completion(
                &[want(1, "e1"), want(2, "e2")],
                &stored,
                11
            )),
            "EntityTooSmall"
        );
        assert_eq!(code(check_completion(&[], &stored, 1)), "MalformedXML");
    }

    #[test]
    fn multipart_etag_shape() {
        let e = multipart_etag(&[[1; 16], [2; 16]]);
        assert!(e.starts_with('"') && e.ends_with("-2\""), "{e}");
        assert_eq!(e.len(), 2 + 32 + 2);
    }
}
