//! Bucket and object ACLs (`?acl`): PUT with a canned ACL (`x-cos-acl`),
//! `x-cos-grant-*` headers or an `AccessControlPolicy` body; GET renders
//! owner and grants as COS does (the owner's `FULL_CONTROL` first, then
//! what the canned ACL implies, then the explicit grants).
//!
//! Signed requests are not checked against ACLs (every verified key acts as
//! the owner). Unsigned requests are, for reads, as COS documents them: an
//! anonymous GET/HEAD of an object passes when the object's ACL is
//! `public-read` or grants the AllUsers group READ; an object without an
//! ACL of its own (`default`) follows its bucket's, whose READ also lists
//! the bucket (GET Bucket). Everything else unsigned is 403 `AccessDenied`
//! ("Access Denied." for unsigned requests to what is not publicly
//! readable, COS's 403 troubleshooting page). Anonymous writes are refused
//! even on a `public-read-write` bucket.

use http::{HeaderMap, Response, StatusCode};
use serde::Deserialize;

use super::errors::CosError;
use super::setting::{self, Put, Slot};
use super::xml::{parse, Doc};
use super::{CosRequest, Op, OWNER};
use crate::body::Body;
use crate::routing::CosTarget;
use crate::state::State;
use crate::store::config::{StoredAcl, StoredGrant};

/// The group URI for everyone.
const ALL_USERS: &str = "http://cam.qcloud.com/groups/global/AllUsers";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// `(header, permission)` of the grant headers.
const GRANT_HEADERS: [(&str, &str); 5] = [
    ("x-cos-grant-read", "READ"),
    ("x-cos-grant-write", "WRITE"),
    ("x-cos-grant-read-acp", "READ_ACP"),
    ("x-cos-grant-write-acp", "WRITE_ACP"),
    ("x-cos-grant-full-control", "FULL_CONTROL"),
];

const BUCKET_CANNED: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
];
const OBJECT_CANNED: &[&str] = &[
    "default",
    "private",
    "public-read",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

/// A root account's UIN stands for `qcs::cam::uin/<uin>:uin/<uin>`.
fn normalise_account(id: &str) -> String {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        format!("qcs::cam::uin/{id}:uin/{id}")
    } else {
        id.to_string()
    }
}

/// Parses `id="…",uri="…"` of one grant header.
fn parse_grantees(
    header: &str,
    value: &str,
    permission: &str,
) -> Result<Vec<StoredGrant>, CosError> {
    let bad = || {
        CosError::invalid_argument(format!(
            "{header} must be a comma-separated list of id=\"…\" or uri=\"…\", got {value:?}"
        ))
    };
    let mut grants = Vec::new();
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (kind, quoted) = item.split_once('=').ok_or_else(bad)?;
        let inner = quoted
            .trim()
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .filter(|q| !q.is_empty() && !q.contains('"'))
            .ok_or_else(bad)?;
        let (grantee, group) = match kind.trim().to_ascii_lowercase().as_str() {
            "id" => (normalise_account(inner), false),
            "uri" => (inner.to_string(), true),
            _ => return Err(bad()),
        };
        grants.push(StoredGrant {
            permission: permission.to_string(),
            grantee,
            group,
        });
    }
    if grants.is_empty() {
        return Err(bad());
    }
    Ok(grants)
}

/// The ACL a request's `x-cos-acl` / `x-cos-grant-*` headers set, if any.
pub(crate) fn acl_from_headers(
    headers: &HeaderMap,
    for_object: bool,
) -> Result<Option<StoredAcl>, CosError> {
    fn text<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, CosError> {
        headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .map_err(|_| CosError::invalid_argument(format!("{name} must be ASCII")))
            })
            .transpose()
    }
    let canned = match text(headers, "x-cos-acl")? {
        None => None,
        Some(c) => {
            let allowed = if for_object {
                OBJECT_CANNED
            } else {
                BUCKET_CANNED
            };
            let c = c.trim();
            if !allowed.contains(&c) {
                return Err(CosError::invalid_argument(format!(
                    "x-cos-acl {c:?} is not one of {}",
                    allowed.join(", ")
                )));
            }
            Some(c.to_string())
        }
    };
    let mut grants = Vec::new();
    for (header, permission) in GRANT_HEADERS {
        if let Some(v) = text(headers, header)? {
            if for_object && permission == "WRITE" {
                return Err(CosError::invalid_argument(
                    "x-cos-grant-write does not apply to objects",
                ));
            }
            grants.extend(parse_grantees(header, v, permission)?);
        }
    }
    if canned.is_none() && grants.is_empty() {
        return Ok(None);
    }
    Ok(Some(StoredAcl { canned, grants }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PolicyXml {
    #[serde(rename = "Owner")]
    owner: Option<OwnerXml>,
    #[serde(rename = "AccessControlList")]
    list: ListXml,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OwnerXml {
    #[serde(rename = "ID")]
    id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListXml {
    #[serde(rename = "Grant")]
    grants: Vec<GrantXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GrantXml {
    #[serde(rename = "Grantee")]
    grantee: GranteeXml,
    #[serde(rename = "Permission")]
    permission: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GranteeXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "URI")]
    uri: Option<String>,
}

fn acl_from_body(data: &[u8], for_object: bool) -> Result<StoredAcl, CosError> {
    let doc: PolicyXml = parse(data).map_err(CosError::malformed_xml)?;
    let owner = doc
        .owner
        .ok_or_else(|| CosError::malformed_xml("an AccessControlPolicy needs an Owner"))?;
    if owner.id.trim() != OWNER {
        return Err(CosError::invalid_argument(format!(
            "the Owner ID {:?} is not the owner of the resource",
            owner.id
        )));
    }
    let mut grants = Vec::new();
    for g in doc.list.grants {
        let permission = g.permission.trim();
        if !GRANT_HEADERS.iter().any(|(_, p)| *p == permission)
            || (for_object && permission == "WRITE")
        {
            return Err(CosError::malformed_xml(format!(
                "the permission {permission:?} is not allowed here"
            )));
        }
        let (grantee, group) = match (g.grantee.id, g.grantee.uri) {
            (Some(id), _) if !id.trim().is_empty() => (normalise_account(id.trim()), false),
            (_, Some(uri)) if !uri.trim().is_empty() => (uri.trim().to_string(), true),
            _ => {
                return Err(CosError::malformed_xml(
                    "every Grantee needs an ID or a URI",
                ))
            }
        };
        // The owner's FULL_CONTROL is always there; a document read with
        // GET and sent back must not double it.
        if !group && grantee == OWNER && permission == "FULL_CONTROL" {
            continue;
        }
        grants.push(StoredGrant {
            permission: permission.to_string(),
            grantee,
            group,
        });
    }
    Ok(StoredAcl {
        canned: None,
        grants,
    })
}

/// The new ACL of a PUT `?acl`: a body wins over headers, as in COS.
fn parse_acl(data: &[u8], headers: &HeaderMap, for_object: bool) -> Result<StoredAcl, CosError> {
    if !data.is_empty() {
        return acl_from_body(data, for_object);
    }
    acl_from_headers(headers, for_object)?.ok_or_else(|| {
        CosError::invalid_request(
            "PUT ?acl needs x-cos-acl, an x-cos-grant-* header or an AccessControlPolicy body",
        )
    })
}

fn grant(doc: &mut Doc, grantee: &str, group: bool, permission: &str) {
    // The start tag carries the xsi:type attribute COS writes.
    doc.open("Grant").open(&format!(
        "Grantee xmlns:xsi=\"{XSI}\" xsi:type=\"{}\"",
        if group { "Group" } else { "CanonicalUser" }
    ));
    if group {
        doc.el("URI", grantee);
    } else {
        doc.el("ID", grantee).el("DisplayName", grantee);
    }
    doc.close("Grantee")
        .el("Permission", permission)
        .close("Grant");
}

/// The `AccessControlPolicy` answer for a stored ACL.
fn policy_doc(acl: Option<&StoredAcl>) -> String {
    let mut doc = Doc::new("AccessControlPolicy");
    doc.owner("Owner", OWNER).open("AccessControlList");
    grant(&mut doc, OWNER, false, "FULL_CONTROL");
    if let Some(acl) = acl {
        match acl.canned.as_deref() {
            Some("public-read") => grant(&mut doc, ALL_USERS, true, "READ"),
            Some("public-read-write") => {
                grant(&mut doc, ALL_USERS, true, "READ");
                grant(&mut doc, ALL_USERS, true, "WRITE");
            }
            _ => {}
        }
        for g in &acl.grants {
            grant(&mut doc, &g.grantee, g.group, &g.permission);
        }
    }
    doc.close("AccessControlList");
    doc.finish("AccessControlPolicy")
}

/// What an ACL says about anonymous reads: `Some(true)` when it is
/// `public-read`/`public-read-write` or grants the AllUsers group READ or
/// FULL_CONTROL, `None` when it defers to the bucket (an object's `default`
/// with no such grant), `Some(false)` otherwise (`private`,
/// `authenticated-read`, grants to accounts only).
fn public_read(acl: &StoredAcl) -> Option<bool> {
    let granted = acl.grants.iter().any(|g| {
        g.group
            && g.grantee == ALL_USERS
            && matches!(g.permission.as_str(), "READ" | "FULL_CONTROL")
    });
    match acl.canned.as_deref() {
        _ if granted => Some(true),
        Some("public-read" | "public-read-write") => Some(true),
        Some("default") => None,
        _ => Some(false),
    }
}

/// Whether an unsigned request may run as `op` on `target`: GET/HEAD of an
/// object whose own ACL (or, without one, its bucket's) is publicly
/// readable, or GET Bucket of a publicly readable bucket. A missing object
/// follows the bucket, so a readable bucket answers `NoSuchKey` and a
/// private one `AccessDenied`; a missing bucket is never readable.
pub(crate) fn anonymous_may_read(
    state: &State,
    op: Op,
    target: &CosTarget,
    query: &[(String, String)],
) -> bool {
    let Some(bucket) = target.bucket.as_deref() else {
        return false;
    };
    let Ok(config) = state.store.bucket_config(bucket) else {
        return false;
    };
    let bucket_readable = config.acl.as_ref().and_then(public_read) == Some(true);
    match op {
        Op::ListObjects => bucket_readable,
        Op::GetObject | Op::HeadObject => {
            let version = query
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("versionId"))
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty());
            let meta = match version {
                None => state.store.get(bucket, &target.key).ok().flatten(),
                Some(id) => state
                    .store
                    .get_version(bucket, &target.key, id)
                    .ok()
                    .flatten()
                    .and_then(|v| v.object),
            }
            .map(|o| o.meta);
            meta.as_ref()
                .and_then(|m| m.acl.as_ref())
                .and_then(public_read)
                .unwrap_or(bucket_readable)
        }
        _ => false,
    }
}

/// Largest `AccessControlPolicy` body read.
const ACL_BODY_LIMIT: usize = 64 << 10;

pub(crate) async fn put_bucket_acl(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    let put = Put {
        check: setting::no_check,
        limit: ACL_BODY_LIMIT,
        parse: |data: &[u8], headers: &HeaderMap| parse_acl(data, headers, false),
        slot: Slot::Bucket(|c, acl| c.acl = Some(acl)),
        status: StatusCode::OK,
    };
    setting::put(state, req, put).await
}

pub(crate) async fn get_bucket_acl(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    setting::get_bucket(state, &req, |c| Ok(policy_doc(c.acl.as_ref())))
}

pub(crate) async fn put_object_acl(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    let put = Put {
        check: setting::no_check,
        limit: ACL_BODY_LIMIT,
        parse: |data: &[u8], headers: &HeaderMap| {
            let acl = parse_acl(data, headers, true)?;
            // `default` is no ACL of its own.
            Ok((acl.canned.as_deref() != Some("default") || !acl.grants.is_empty()).then_some(acl))
        },
        slot: Slot::Object(|m, acl| m.acl = acl),
        status: StatusCode::OK,
    };
    setting::put(state, req, put).await
}

pub(crate) async fn get_object_acl(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    setting::get_object(state, &req, |m| policy_doc(m.acl.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let mut h = HeaderMap::new();
        assert_eq!(acl_from_headers(&h, false).unwrap(), None);
        h.insert("x-cos-acl", "public-read".parse().unwrap());
        h.insert(
            "x-cos-grant-read",
            "id=\"100000000011\", uri=\"http://cam.qcloud.com/groups/global/AllUsers\""
                .parse()
                .unwrap(),
        );
        let acl = acl_from_headers(&h, false).unwrap().unwrap();
        assert_eq!(acl.canned.as_deref(), Some("public-read"));
        assert_eq!(
            acl.grants[0].grantee,
            "qcs::cam::uin/100000000011:uin/100000000011"
        );
        assert!(acl.grants[1].group);
        h.insert("x-cos-acl", "default".parse().unwrap());
        assert_eq!(
            acl_from_headers(&h, false).unwrap_err().code,
            "InvalidArgument"
        );
        assert!(acl_from_headers(&h, true).is_ok());
        h.insert("x-cos-grant-read", "someone".parse().unwrap());
        assert_eq!(
            acl_from_headers(&h, true).unwrap_err().code,
            "InvalidArgument"
        );
        let mut w = HeaderMap::new();
        w.insert("x-cos-grant-write", "id=\"1\"".parse().unwrap());
        assert!(acl_from_headers(&w, false).is_ok());
        assert!(acl_from_headers(&w, true).is_err());
    }

    #[test]
    fn body_and_rendering() {
        let body = format!(
            "<AccessControlPolicy><Owner><ID>{OWNER}</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi=\"{XSI}\" xsi:type=\"Group\"><URI>{ALL_USERS}</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"
        );
        let acl = acl_from_body(body.as_bytes(), true).unwrap();
        assert_eq!(acl.grants.len(), 1);
        let doc = policy_doc(Some(&acl));
        assert!(
            doc.contains(&format!(
                "<URI>{ALL_USERS}</URI></Grantee><Permission>READ</Permission>"
            )),
            "{doc}"
        );
        assert!(doc.contains("<Permission>FULL_CONTROL</Permission>"));
        let stranger = body.replace(OWNER, "qcs::cam::uin/1:uin/1");
        assert_eq!(
            acl_from_body(stranger.as_bytes(), true).unwrap_err().code,
            "InvalidArgument"
        );
        assert_eq!(
            acl_from_body(b"<AccessControlPolicy>", true)
                .unwrap_err()
                .code,
            "MalformedXML"
        );
        let write = body.replace("READ", "WRITE");
        assert!(acl_from_body(write.as_bytes(), true).is_err());
        assert!(acl_from_body(write.as_bytes(), false).is_ok());
    }

    #[test]
    fn anonymous_reads_follow_canned_acls_and_all_users_grants() {
        let canned = |c: &str| StoredAcl {
            canned: Some(c.into()),
            grants: Vec::new(),
        };
        assert_eq!(public_read(&canned("public-read")), Some(true));
        assert_eq!(public_read(&canned("public-read-write")), Some(true));
        assert_eq!(public_read(&canned("private")), Some(false));
        assert_eq!(public_read(&canned("authenticated-read")), Some(false));
        assert_eq!(public_read(&canned("default")), None);
        let grant = |permission: &str, grantee: &str, group: bool| StoredAcl {
            canned: None,
            grants: vec![StoredGrant {
                permission: permission.into(),
                grantee: grantee.into(),
                group,
            }],
        };
        assert_eq!(public_read(&grant("READ", ALL_USERS, true)), Some(true));
        assert_eq!(
            public_read(&grant("FULL_CONTROL", ALL_USERS, true)),
            Some(true)
        );
        assert_eq!(
            public_read(&grant("READ_ACP", ALL_USERS, true)),
            Some(false)
        );
        assert_eq!(public_read(&grant("READ", OWNER, false)), Some(false));
        let mut private_but_granted = grant("READ", ALL_USERS, true);
        private_but_granted.canned = Some("private".into());
        assert_eq!(public_read(&private_but_granted), Some(true));
    }
}
