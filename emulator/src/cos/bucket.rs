//! Bucket operations: PutBucket, HeadBucket, DeleteBucket, GET Bucket,
//! DeleteMultipleObjects, and GET Service.

use http::{Response, StatusCode};

use super::errors::CosError;
use super::listing::{list, ListParams};
use super::xml::{parse, DeleteRequest, Doc};
use super::{
    empty_response, int_param, require_bucket, set_header, small_body, url_encoding, xml_response,
    CosRequest, OWNER,
};
use crate::body::{self, Body};
use crate::canonical::path_encode;
use crate::state::State;
use crate::time::iso8601;

/// Most keys one DeleteMultipleObjects may name.
const MAX_DELETE_KEYS: usize = 1000;

/// GET Service, with the `region`, `tagkey`/`tagvalue`, `marker` and
/// `max-keys` filters of the official SDKs (every bucket lives in the
/// emulator's one region).
pub(crate) async fn list_buckets(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    let max_keys = int_param(&req, "max-keys", 2000, 1..=2000)? as usize;
    let marker = req.param("marker").unwrap_or_default();
    let region_ok = req
        .param("region")
        .is_none_or(|r| r.is_empty() || r == state.config.region);
    let tag = match (req.param("tagkey"), req.param("tagvalue")) {
        (Some(k), v) if !k.is_empty() => Some((k.to_string(), v.unwrap_or_default().to_string())),
        _ => None,
    };
    let mut doc = Doc::new("ListAllMyBucketsResult");
    doc.owner("Owner", OWNER).open("Buckets");
    let mut listed = 0;
    let mut truncated = false;
    let mut last: Option<String> = None;
    for (name, created) in state.store.buckets() {
        if !region_ok || name.as_str() <= marker {
            continue;
        }
        if let Some(tag) = &tag {
            let tags = state.store.bucket_config(&name).ok().and_then(|c| c.tags);
            if !tags.is_some_and(|t| t.contains(tag)) {
                continue;
            }
        }
        if listed == max_keys {
            truncated = true;
            break;
        }
        doc.open("Bucket")
            .el("Name", &name)
            .el("Location", &state.config.region)
            .el("CreationDate", iso8601(created))
            .el("BucketType", "cos")
            .close("Bucket");
        listed += 1;
        last = Some(name);
    }
    doc.close("Buckets");
    doc.el("IsTruncated", truncated);
    if truncated {
        if let Some(last) = &last {
            doc.el("NextMarker", last);
        }
    }
    Ok(xml_response(doc.finish("ListAllMyBucketsResult")))
}

pub(crate) async fn put_bucket(
    state: &State,
    mut req: CosRequest,
) -> Result<Response<Body>, CosError> {
    body::drain(&mut req.body, 1 << 20).await;
    if let Err(e) = coscls::cos::BucketName::parse(req.bucket()) {
        return Err(CosError::new(400, "InvalidBucketName", e.to_string()));
    }
    // Check the ACL and tags before the bucket exists, store them after.
    let acl = super::acl::acl_from_headers(&req.headers, false)?;
    let tags = super::tagging::tags_from_headers(&req.headers)?;
    state
        .store
        .create_bucket(req.bucket(), req.now)
        .map_err(CosError::from_store)?;
    if acl.is_some() || !tags.is_empty() {
        state
            .store
            .update_bucket_config(req.bucket(), |c| {
                c.acl = acl;
                c.tags = (!tags.is_empty()).then_some(tags);
            })
            .map_err(CosError::from_store)?;
    }
    let mut resp = empty_response(StatusCode::OK);
    set_header(&mut resp, "location", &format!("/{}", req.bucket()));
    Ok(resp)
}

pub(crate) async fn head_bucket(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    require_bucket(state, &req)?;
    let mut resp = empty_response(StatusCode::OK);
    set_header(&mut resp, "x-cos-bucket-region", &state.config.region);
    Ok(resp)
}

pub(crate) async fn delete_bucket(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    state
        .store
        .delete_bucket(req.bucket())
        .map_err(CosError::from_store)?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

pub(crate) async fn list_objects(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    let max_keys = int_param(&req, "max-keys", 1000, 0..=1000)? as usize;
    let prefix = req.param("prefix").unwrap_or_default();
    let delimiter = req.param("delimiter").filter(|d| !d.is_empty());
    let marker = req.param("marker").unwrap_or_default();
    let url = url_encoding(&req)?;
    let enc = |s: &str| if url { path_encode(s) } else { s.to_string() };
    let params = ListParams {
        prefix,
        delimiter,
        marker,
        max_keys,
    };
    let doc = state
        .store
        .with_bucket(req.bucket(), |bucket| {
            let page = list(&bucket.objects, params);
            let mut doc = Doc::new("ListBucketResult");
            doc.el("Name", req.bucket());
            if url {
                doc.el("EncodingType", "url");
            }
            doc.el("Prefix", enc(prefix))
                .el("Marker", enc(marker))
                .el("MaxKeys", max_keys);
            if let Some(d) = delimiter {
                doc.el("Delimiter", enc(d));
            }
            doc.el("IsTruncated", page.truncated);
            if let Some(next) = &page.next_marker {
                doc.el("NextMarker", enc(next));
            }
            for cp in &page.common_prefixes {
                doc.open("CommonPrefixes")
                    .el("Prefix", enc(cp))
                    .close("CommonPrefixes");
            }
            for (key, object) in &page.contents {
                doc.open("Contents")
                    .el("Key", enc(key))
                    .el("LastModified", iso8601(object.meta.last_modified))
                    .el("ETag", &object.meta.etag)
                    .el("Size", object.meta.size)
                    .owner("Owner", OWNER)
                    .el("StorageClass", &object.meta.storage_class)
                    .close("Contents");
            }
            doc.finish("ListBucketResult")
        })
        .map_err(CosError::from_store)?;
    Ok(xml_response(doc))
}

pub(crate) async fn delete_multiple(
    state: &State,
    mut req: CosRequest,
) -> Result<Response<Body>, CosError> {
    require_bucket(state, &req)?;
    if req.header("content-md5").is_none() {
        body::drain(&mut req.body, super::DRAIN_LIMIT).await;
        return Err(CosError::invalid_request(
            "Missing required header for this request: Content-MD5",
        ));
    }
    let data = small_body(&mut req, 2 << 20).await?;
    let doc: DeleteRequest = parse(&data).map_err(CosError::malformed_xml)?;
    if doc.objects.is_empty() || doc.objects.len() > MAX_DELETE_KEYS {
        return Err(CosError::malformed_xml(format!(
            "a Delete request names 1 to {MAX_DELETE_KEYS} objects, this one names {}",
            doc.objects.len()
        )));
    }
    let mut out = Doc::new("DeleteResult");
    for entry in &doc.objects {
        let outcome = match entry.version_id.as_deref().filter(|v| !v.is_empty()) {
            None => state.store.delete_latest(req.bucket(), &entry.key, req.now),
            Some(v) => state
                .store
                .delete_version(req.bucket(), &entry.key, v)
                .map(|d| {
                    d.unwrap_or(crate::store::Deleted {
                        delete_marker: false,
                        version_id: Some(v.to_string()),
                    })
                }),
        };
        match outcome {
            Ok(deleted) => {
                if !doc.quiet {
                    out.open("Deleted").el("Key", &entry.key);
                    if let Some(v) = &entry.version_id {
                        out.el("VersionId", v);
                        if deleted.delete_marker {
                            out.el("DeleteMarker", "true");
                        }
                    } else if deleted.delete_marker {
                        out.el("DeleteMarker", "true");
                        if let Some(m) = &deleted.version_id {
                            out.el("DeleteMarkerVersionId", m);
                        }
                    }
                    out.close("Deleted");
                }
            }
            Err(e) => {
                let e = CosError::from_store(e);
                out.open("Error")
                    .el("Key", &entry.key)
                    .el("Code", e.code)
                    .el("Message", &e.message)
                    .close("Error");
            }
        }
    }
    Ok(xml_response(out.finish("DeleteResult")))
}
