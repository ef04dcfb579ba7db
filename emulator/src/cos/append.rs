//! AppendObject (`POST /<key>?append&position=N`): position 0 creates an
//! appendable object, every later append must name its current length.

use http::{Response, StatusCode};
use md5::{Digest as _, Md5};

use super::errors::CosError;
use super::objects::MAX_SINGLE_PUT;
use super::{empty_response, meta_from_headers, receive, require_bucket, set_header, CosRequest};
use crate::body::Body;
use crate::state::State;
use crate::store::{crc64_combine, Object};

/// Largest appendable object (COS "APPEND Object": appends up to 5 GB in all).
pub(crate) const MAX_APPENDABLE: u64 = MAX_SINGLE_PUT;

fn position(req: &CosRequest) -> Result<u64, CosError> {
    let raw = req.param("position").unwrap_or_default();
    raw.trim().parse::<u64>().map_err(|_| {
        CosError::invalid_argument(format!(
            "position must be a whole number of bytes, got {raw:?}."
        ))
    })
}

fn wrong_position(length: u64) -> CosError {
    CosError::new(
        409,
        "AppendPositionErr",
        // COS's code and wording (docs/protocol/cos.md §5 lists 409 AppendPositionErr).
        format!("Position not equal object length ({length} bytes)."),
    )
}

fn not_appendable() -> CosError {
    CosError::new(
        409,
        "ObjectNotAppendable",
        "The object was not written by AppendObject and cannot be appended to.",
    )
}

/// The ETag of an appendable object after an append: the MD5 of the
/// previous ETag and the new bytes' MD5, so it changes with every append
/// (COS does not document how it forms it).
fn next_etag(previous: &str, chunk_md5: &[u8; 16]) -> String {
    let mut h = Md5::new();
    h.update(previous.as_bytes());
    h.update(chunk_md5);
    format!("\"{}\"", hex::encode(h.finalize()))
}

type Checked = (Option<Object>, u64, crate::store::ObjectMeta);

/// What can be refused before the body is read: the position, whether the
/// object is appendable, the room left, the headers.
fn check_request(state: &State, req: &CosRequest) -> Result<Checked, CosError> {
    require_bucket(state, req)?;
    let pos = position(req)?;
    let existing = state
        .store
        .get(req.bucket(), req.key())
        .map_err(CosError::from_store)?;
    match &existing {
        Some(o) if !o.meta.appendable => return Err(not_appendable()),
        Some(o) if o.meta.size != pos => return Err(wrong_position(o.meta.size)),
        None if pos != 0 => return Err(wrong_position(0)),
        _ => {}
    }
    let max = state.config.max_object_size.min(MAX_APPENDABLE);
    let room = max.checked_sub(pos).filter(|r| *r > 0).ok_or_else(|| {
        CosError::new(
            400,
            "EntityTooLarge",
            format!("An appendable object is at most {max} bytes."),
        )
    })?;
    let meta = meta_from_headers(&req.headers)?;
    Ok((existing, room, meta))
}

pub(crate) async fn append_object(
    state: &State,
    mut req: CosRequest,
) -> Result<Response<Body>, CosError> {
    let checked = check_request(state, &req);
    let (existing, room, meta_headers) = match checked {
        Ok(c) => c,
        Err(e) => {
            // Refused before reading the body: drain it so the connection stays usable.
            crate::body::drain(&mut req.body, super::DRAIN_LIMIT).await;
            return Err(e);
        }
    };
    let written = receive(state, &mut req, room).await?;
    let chunk_md5 = written.md5;
    let (object, expected) = match existing {
        None => {
            let mut meta = meta_headers;
            meta.size = written.len;
            meta.etag = next_etag("", &chunk_md5);
            meta.crc64 = written.crc64;
            meta.last_modified = req.now;
            meta.appendable = true;
            (
                Object {
                    meta,
                    blob: written.blob,
                },
                None,
            )
        }
        Some(old) => {
            let blob = state
                .store
                .concat(vec![old.blob.clone(), written.blob.clone()])
                .await;
            state.store.discard(written.blob);
            let blob = blob.map_err(|e| CosError::internal(format!("appending failed: {e}")))?;
            let mut meta = old.meta.clone();
            meta.size = old.meta.size + written.len;
            meta.etag = next_etag(&old.meta.etag, &chunk_md5);
            meta.crc64 = crc64_combine(old.meta.crc64, written.crc64, written.len);
            meta.last_modified = req.now;
            (Object { meta, blob }, Some(old.meta.etag))
        }
    };
    let (size, etag, crc) = (
        object.meta.size,
        object.meta.etag.clone(),
        object.meta.crc64,
    );
    match expected {
        // Created at position 0: only if no one else created it meanwhile.
        None => {
            // The emulator does not version appendable objects: the version
            // id a versioned bucket would give is not reported.
            state
                .store
                .put_checked(req.bucket(), req.key(), object, true)
                .map_err(|e| match e {
                    crate::store::StoreError::ObjectExists => wrong_position(0),
                    e => CosError::from_store(e),
                })?;
        }
        Some(previous) => {
            let replaced = state
                .store
                .replace_if(req.bucket(), req.key(), &previous, object)
                .map_err(CosError::from_store)?;
            if !replaced {
                // Another append (or a PUT) got there first.
                let now = state
                    .store
                    .get(req.bucket(), req.key())
                    .map_err(CosError::from_store)?;
                return Err(match now {
                    Some(o) if !o.meta.appendable => not_appendable(),
                    Some(o) => wrong_position(o.meta.size),
                    None => wrong_position(0),
                });
            }
        }
    }
    let mut resp = empty_response(StatusCode::OK);
    set_header(&mut resp, "etag", &etag);
    set_header(&mut resp, "x-cos-next-append-position", &size.to_string());
    set_header(&mut resp, "x-cos-hash-crc64ecma", &crc.to_string());
    // What the Go SDK compares with the MD5 of the bytes it appended.
    set_header(&mut resp, "x-cos-content-sha1", &hex::encode(chunk_md5));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_change_with_every_append() {
        let a = next_etag("", &[1; 16]);
        let b = next_etag(&a, &[1; 16]);
        assert_ne!(a, b);
        assert!(a.starts_with('"') && a.ends_with('"') && a.len() == 34);
    }
}
