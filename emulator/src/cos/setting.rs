//! The shape the ACL, tagging and lifecycle handlers share: a setting kept
//! in a bucket's configuration or in an object's metadata, replaced by a PUT
//! whose small body is parsed, cleared by a DELETE and rendered as XML by a
//! GET.
//!
//! Each handler supplies only what differs: its pre-check, body limit,
//! parser, the field it writes, its success status and its document.

use http::{HeaderMap, Response, StatusCode};

use super::errors::CosError;
use super::{empty_response, require_bucket, small_body, xml_response, CosRequest};
use crate::body::{self, Body};
use crate::state::State;
use crate::store::config::BucketConfig;
use crate::store::ObjectMeta;

/// Where a setting is written: the bucket's configuration, or the
/// metadata of the object the request names (which must exist).
pub(crate) enum Slot<T> {
    Bucket(fn(&mut BucketConfig, T)),
    Object(fn(&mut ObjectMeta, T)),
}

/// How one PUT of a setting is read and stored.
pub(crate) struct Put<T, P> {
    /// Runs after the bucket is known to exist, before the body is read
    /// (a `versionId` the emulator cannot honour, a missing `Content-MD5`).
    pub(crate) check: fn(&CosRequest) -> Result<(), CosError>,
    /// Largest body read; more is `XMLSizeLimit`.
    pub(crate) limit: usize,
    /// Turns the body (empty when none was sent) and the request headers into the value.
    pub(crate) parse: P,
    pub(crate) slot: Slot<T>,
    /// The status of the empty success answer (COS differs per operation).
    pub(crate) status: StatusCode,
}

/// No pre-check.
pub(crate) fn no_check(_: &CosRequest) -> Result<(), CosError> {
    Ok(())
}

/// PUT: refuses a missing bucket or a failed pre-check (draining the body
/// so the connection can be reused), reads and parses the body (its
/// `Content-MD5` checked when sent), stores the value, answers `status`.
pub(crate) async fn put<T, P>(
    state: &State,
    mut req: CosRequest,
    put: Put<T, P>,
) -> Result<Response<Body>, CosError>
where
    P: FnOnce(&[u8], &HeaderMap) -> Result<T, CosError>,
{
    if let Err(e) = require_bucket(state, &req).and_then(|()| (put.check)(&req)) {
        body::drain(&mut req.body, super::DRAIN_LIMIT).await;
        return Err(e);
    }
    let data = small_body(&mut req, put.limit).await?;
    let value = (put.parse)(&data, &req.headers)?;
    store(state, &req, put.slot, value)?;
    Ok(empty_response(put.status))
}

/// Writes `value` into its slot: `NoSuchBucket` when the bucket is gone,
/// `NoSuchKey` when an object slot's object does not exist.
pub(crate) fn store<T>(
    state: &State,
    req: &CosRequest,
    slot: Slot<T>,
    value: T,
) -> Result<(), CosError> {
    match slot {
        Slot::Bucket(set) => state
            .store
            .update_bucket_config(req.bucket(), |c| set(c, value))
            .map_err(CosError::from_store),
        Slot::Object(set) => {
            let found = state
                .store
                .update_object_meta(req.bucket(), req.key(), |m| set(m, value))
                .map_err(CosError::from_store)?;
            if found {
                Ok(())
            } else {
                Err(CosError::no_such_key())
            }
        }
    }
}

/// DELETE: [`store`]s the cleared value, answers 204.
pub(crate) fn delete(
    state: &State,
    req: &CosRequest,
    clear: Slot<()>,
) -> Result<Response<Body>, CosError> {
    store(state, req, clear, ())?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// GET of a bucket setting: `render` writes the document or says why there
/// is none (a 404 such as `NoSuchTagSet`).
pub(crate) fn get_bucket(
    state: &State,
    req: &CosRequest,
    render: impl FnOnce(BucketConfig) -> Result<String, CosError>,
) -> Result<Response<Body>, CosError> {
    let config = state
        .store
        .bucket_config(req.bucket())
        .map_err(CosError::from_store)?;
    render(config).map(xml_response)
}

/// GET of an object setting: `NoSuchKey` when the object does not exist.
pub(crate) fn get_object(
    state: &State,
    req: &CosRequest,
    render: impl FnOnce(&ObjectMeta) -> String,
) -> Result<Response<Body>, CosError> {
    let object = state
        .store
        .get(req.bucket(), req.key())
        .map_err(CosError::from_store)?
        .ok_or_else(CosError::no_such_key)?;
    Ok(xml_response(render(&object.meta)))
}
