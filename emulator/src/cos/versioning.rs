//! Bucket versioning: GET/PUT `/?versioning` and ListObjectVersions
//! (`GET /?versions`). How objects gain versions is the store's business
//! (`Store::put_checked`, `delete_latest`, `delete_version`).

use std::collections::BTreeSet;
use std::ops::Bound;

use http::Response;
use serde::Deserialize;

use super::errors::CosError;
use super::xml::{parse, Doc};
use super::{int_param, require_bucket, small_body, url_encoding, xml_response, CosRequest, OWNER};
use crate::body::Body;
use crate::canonical::path_encode;
use crate::state::State;
use crate::store::{Bucket, Object, Versioning};
use crate::time::iso8601;

/// `<VersioningConfiguration>` body of PUT Bucket versioning.
#[derive(Debug, Deserialize, PartialEq, Eq)]
struct VersioningConfiguration {
    #[serde(rename = "Status", default)]
    status: Option<String>,
}

/// The state a PUT body asks for (pure): `Enabled` or `Suspended`, exactly.
fn requested_state(body: &[u8]) -> Result<Versioning, CosError> {
    let doc: VersioningConfiguration = parse(body).map_err(CosError::malformed_xml)?;
    match doc.status.as_deref().map(str::trim) {
        Some("Enabled") => Ok(Versioning::Enabled),
        Some("Suspended") => Ok(Versioning::Suspended),
        Some(other) => Err(CosError::malformed_xml(format!(
            "Status must be Enabled or Suspended, got {other:?}"
        ))),
        None => Err(CosError::malformed_xml(
            "VersioningConfiguration needs a Status (Enabled or Suspended)",
        )),
    }
}

pub(crate) async fn put_versioning(
    state: &State,
    mut req: CosRequest,
) -> Result<Response<Body>, CosError> {
    require_bucket(state, &req)?;
    let body = small_body(&mut req, 64 << 10).await?;
    let wanted = requested_state(&body)?;
    state
        .store
        .set_versioning(req.bucket(), wanted)
        .map_err(CosError::from_store)?;
    Ok(super::empty_response(http::StatusCode::OK))
}

pub(crate) async fn get_versioning(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    let current = state
        .store
        .versioning(req.bucket())
        .map_err(CosError::from_store)?;
    let mut doc = Doc::new("VersioningConfiguration");
    match current {
        // A bucket that never had versioning answers without a Status (COS API 19888).
        Versioning::Off => {}
        Versioning::Enabled => {
            doc.el("Status", "Enabled");
        }
        Versioning::Suspended => {
            doc.el("Status", "Suspended");
        }
    }
    Ok(xml_response(doc.finish("VersioningConfiguration")))
}

/// What to list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VersionParams<'a> {
    pub(crate) prefix: &'a str,
    pub(crate) delimiter: Option<&'a str>,
    pub(crate) key_marker: &'a str,
    pub(crate) version_id_marker: &'a str,
    pub(crate) max_keys: usize,
}

/// One listed version or delete marker.
#[derive(Debug, Clone)]
pub(crate) struct Row<'a> {
    pub(crate) key: &'a str,
    pub(crate) id: &'a str,
    pub(crate) latest: bool,
    pub(crate) last_modified: i64,
    /// `None` for a delete marker.
    pub(crate) object: Option<&'a Object>,
}

/// One page of versions.
#[derive(Debug, Clone)]
pub(crate) struct VersionPage<'a> {
    pub(crate) rows: Vec<Row<'a>>,
    pub(crate) common_prefixes: Vec<String>,
    pub(crate) truncated: bool,
    /// `(NextKeyMarker, NextVersionIdMarker)` when truncated; the version
    /// marker is empty when the page ends with a common prefix.
    pub(crate) next: Option<(String, String)>,
}

/// The versions of a bucket in key order, newest first within a key,
/// after the marker pair (pure): with a version id marker, the listing
/// resumes after that version of `key_marker`; without one, after every
/// version of `key_marker`. A delimiter rolls keys up into common prefixes
/// as GET Bucket does (each counts once, and is never repeated).
pub(crate) fn page<'a>(b: &'a Bucket, p: VersionParams<'_>) -> VersionPage<'a> {
    let delimiter = p.delimiter.filter(|d| !d.is_empty());
    let start = if p.key_marker >= p.prefix && !p.key_marker.is_empty() {
        if p.version_id_marker.is_empty() {
            Bound::Excluded(p.key_marker)
        } else {
            Bound::Included(p.key_marker)
        }
    } else {
        Bound::Included(p.prefix)
    };
    let range = (start, Bound::Unbounded);
    let keys: BTreeSet<&str> = b
        .objects
        .range::<str, _>(range)
        .map(|(k, _)| k.as_str())
        .take_while(|k| k.starts_with(p.prefix))
        .chain(
            b.older
                .range::<str, _>(range)
                .map(|(k, _)| k.as_str())
                .take_while(|k| k.starts_with(p.prefix)),
        )
        .collect();
    let mut out = VersionPage {
        rows: Vec::new(),
        common_prefixes: Vec::new(),
        truncated: false,
        next: None,
    };
    let mut count = 0usize;
    let mut last_prefix: Option<&str> = None;
    'keys: for key in keys {
        let rolled = delimiter.and_then(|d| {
            key[p.prefix.len()..]
                .find(d)
                .map(|i| &key[..p.prefix.len() + i + d.len()])
        });
        if let Some(cp) = rolled {
            if cp <= p.key_marker || last_prefix == Some(cp) {
                continue;
            }
            if count == p.max_keys {
                out.truncated = true;
                break;
            }
            count += 1;
            out.common_prefixes.push(cp.to_string());
            out.next = Some((cp.to_string(), String::new()));
            last_prefix = Some(cp);
            continue;
        }
        let current = b.objects.get(key).map(|o| Row {
            key,
            id: o.version(),
            latest: true,
            last_modified: o.meta.last_modified,
            object: Some(o),
        });
        let older = b.older.get(key).into_iter().flatten().map(|v| Row {
            key,
            id: v.id.as_str(),
            latest: false,
            last_modified: v.last_modified,
            object: v.object.as_ref(),
        });
        let mut rows: Vec<Row<'a>> = current.into_iter().chain(older).collect();
        if let Some(first) = rows.first_mut() {
            first.latest = true;
        }
        let mut skip = 0;
        if key == p.key_marker && !p.version_id_marker.is_empty() {
            skip = rows
                .iter()
                .position(|r| r.id == p.version_id_marker)
                .map_or(rows.len(), |i| i + 1);
        }
        for row in rows.into_iter().skip(skip) {
            if count == p.max_keys {
                out.truncated = true;
                break 'keys;
            }
            count += 1;
            out.next = Some((row.key.to_string(), row.id.to_string()));
            out.rows.push(row);
        }
    }
    if !out.truncated {
        out.next = None;
    }
    out
}

pub(crate) async fn list_versions(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    let max_keys = int_param(&req, "max-keys", 1000, 0..=1000)? as usize;
    let prefix = req.param("prefix").unwrap_or_default();
    let delimiter = req.param("delimiter").filter(|d| !d.is_empty());
    let key_marker = req.param("key-marker").unwrap_or_default();
    let version_id_marker = req.param("version-id-marker").unwrap_or_default();
    if !version_id_marker.is_empty() && key_marker.is_empty() {
        return Err(CosError::invalid_argument(
            "A version-id-marker cannot be specified without a key-marker.",
        ));
    }
    let url = url_encoding(&req)?;
    let enc = |s: &str| if url { path_encode(s) } else { s.to_string() };
    let params = VersionParams {
        prefix,
        delimiter,
        key_marker,
        version_id_marker,
        max_keys,
    };
    let doc = state
        .store
        .with_bucket(req.bucket(), |bucket| {
            let page = page(bucket, params);
            let mut doc = Doc::new("ListVersionsResult");
            doc.el("Name", req.bucket());
            if url {
                doc.el("EncodingType", "url");
            }
            doc.el("Prefix", enc(prefix))
                .el("KeyMarker", enc(key_marker))
                .el("VersionIdMarker", version_id_marker)
                .el("MaxKeys", max_keys);
            if let Some(d) = delimiter {
                doc.el("Delimiter", enc(d));
            }
            doc.el("IsTruncated", page.truncated);
            if let Some((key, id)) = &page.next {
                doc.el("NextKeyMarker", enc(key))
                    .el("NextVersionIdMarker", id);
            }
            for row in &page.rows {
                let tag = if row.object.is_some() {
                    "Version"
                } else {
                    "DeleteMarker"
                };
                doc.open(tag)
                    .el("Key", enc(row.key))
                    .el("VersionId", row.id)
                    .el("IsLatest", row.latest)
                    .el("LastModified", iso8601(row.last_modified));
                if let Some(o) = row.object {
                    doc.el("ETag", &o.meta.etag)
                        .el("Size", o.meta.size)
                        .el("StorageClass", &o.meta.storage_class);
                }
                doc.owner("Owner", OWNER).close(tag);
            }
            for cp in &page.common_prefixes {
                doc.open("CommonPrefixes")
                    .el("Prefix", enc(cp))
                    .close("CommonPrefixes");
            }
            doc.finish("ListVersionsResult")
        })
        .map_err(CosError::from_store)?;
    Ok(xml_response(doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Blob, ObjectMeta, Version};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn obj(id: &str, t: i64) -> Object {
        Object {
            meta: ObjectMeta {
                version_id: Some(id.to_string()),
                last_modified: t,
                ..ObjectMeta::default()
            },
            blob: Blob::Memory(Arc::new(vec![])),
        }
    }

    fn older(id: &str, t: i64, marker: bool) -> Version {
        Version {
            id: id.to_string(),
            last_modified: t,
            object: (!marker).then(|| obj(id, t)),
        }
    }

    /// a: v3 (current), v2, v1; b: marker m2 (latest), v1b; d/x: v1
    fn bucket() -> Bucket {
        let mut objects = BTreeMap::new();
        objects.insert("a".to_string(), obj("v3", 3));
        objects.insert("d/x".to_string(), obj("dx", 1));
        let mut old = BTreeMap::new();
        old.insert(
            "a".to_string(),
            vec![older("v2", 2, false), older("v1", 1, false)],
        );
        old.insert(
            "b".to_string(),
            vec![older("m2", 2, true), older("v1b", 1, false)],
        );
        Bucket {
            objects,
            older: old,
            versioning: Versioning::Enabled,
            ..Bucket::default()
        }
    }

    fn params<'a>(km: &'a str, vm: &'a str, max: usize) -> VersionParams<'a> {
        VersionParams {
            prefix: "",
            delimiter: None,
            key_marker: km,
            version_id_marker: vm,
            max_keys: max,
        }
    }

    fn ids(p: &VersionPage<'_>) -> Vec<(String, bool, bool)> {
        p.rows
            .iter()
            .map(|r| (format!("{}:{}", r.key, r.id), r.latest, r.object.is_none()))
            .collect()
    }

    #[test]
    fn lists_newest_first_and_pages_by_marker_pair() {
        let b = bucket();
        let all = page(&b, params("", "", 1000));
        assert_eq!(
            ids(&all),
            vec![
                ("a:v3".to_string(), true, false),
                ("a:v2".to_string(), false, false),
                ("a:v1".to_string(), false, false),
                ("b:m2".to_string(), true, true),
                ("b:v1b".to_string(), false, false),
                ("d/x:dx".to_string(), true, false),
            ]
        );
        assert!(!all.truncated && all.next.is_none());
        // Walk two at a time and get the same sequence.
        let (mut km, mut vm) = (String::new(), String::new());
        let mut walked = Vec::new();
        for _ in 0..10 {
            let p = page(&b, params(&km, &vm, 2));
            walked.extend(ids(&p));
            match p.next {
                Some((k, v)) => (km, vm) = (k, v),
                None => break,
            }
        }
        assert_eq!(walked, ids(&all));
        // A key marker alone skips every version of that key.
        let p = page(&b, params("a", "", 1000));
        assert_eq!(ids(&p)[0].0, "b:m2");
        // An unknown version id skips the rest of that key too.
        let p = page(&b, params("a", "nope", 1000));
        assert_eq!(ids(&p)[0].0, "b:m2");
    }

    #[test]
    fn delimiter_rolls_up_once() {
        let b = bucket();
        let p = page(
            &b,
            VersionParams {
                delimiter: Some("/"),
                ..params("", "", 6)
            },
        );
        assert_eq!(p.common_prefixes, ["d/"]);
        assert_eq!(p.rows.len(), 5);
        assert!(!p.truncated);
        let p = page(
            &b,
            VersionParams {
                delimiter: Some("/"),
                ..params("b", "v1b", 1)
            },
        );
        assert_eq!(p.common_prefixes, ["d/"]);
        assert!(p.rows.is_empty());
    }

    #[test]
    fn put_body_must_name_a_known_state() {
        let ok = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
        assert_eq!(requested_state(ok).unwrap(), Versioning::Enabled);
        let ok = b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>";
        assert_eq!(requested_state(ok).unwrap(), Versioning::Suspended);
        for bad in [
            &b"<VersioningConfiguration><Status>Off</Status></VersioningConfiguration>"[..],
            b"<VersioningConfiguration></VersioningConfiguration>",
            b"<VersioningConfiguration>",
        ] {
            assert_eq!(requested_state(bad).unwrap_err().code, "MalformedXML");
        }
    }
}
