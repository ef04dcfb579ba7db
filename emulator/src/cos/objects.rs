//! PutObject, GetObject / HeadObject, CopyObject, DeleteObject.

use http::{HeaderMap, Response, StatusCode};

use super::errors::CosError;
use super::xml::{bare_etag, Doc};
use super::{
    empty_response, meta_from_headers, receive, require_bucket, set_header, xml_response,
    CosRequest,
};
use crate::body::{self, Body};
use crate::canonical::{percent_decode, uri_encode};
use crate::routing::{bucket_from_host, is_ip_like};
use crate::state::State;
use crate::store::{Object, ObjectMeta};
use crate::time::{http_date, iso8601, unix};

/// Single-request object size limit (5 GB, docs/protocol/cos.md §4).
pub(crate) const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

pub(crate) async fn put_object(
    state: &State,
    mut req: CosRequest,
) -> Result<Response<Body>, CosError> {
    require_bucket(state, &req)?;
    if req.key().len() > 850 {
        return Err(CosError::new(
            400,
            "KeyTooLong",
            "Your key is too long (at most 850 bytes).",
        ));
    }
    let mut meta = meta_from_headers(&req.headers)?;
    let max = state.config.max_object_size.min(MAX_SINGLE_PUT);
    let written = receive(state, &mut req, max).await?;
    meta.size = written.len;
    meta.etag = format!("\"{}\"", hex::encode(written.md5));
    meta.crc64 = written.crc64;
    meta.last_modified = req.now;
    let etag = meta.etag.clone();
    let version = state
        .store
        .put_checked(
            req.bucket(),
            req.key(),
            Object {
                meta,
                blob: written.blob,
            },
            super::forbids_overwrite(&req),
        )
        .map_err(CosError::from_store)?;
    let mut resp = empty_response(StatusCode::OK);
    set_header(&mut resp, "etag", &etag);
    if let Some(v) = &version {
        set_header(&mut resp, "x-cos-version-id", v);
    }
    set_header(
        &mut resp,
        "x-cos-hash-crc64ecma",
        &written.crc64.to_string(),
    );
    Ok(resp)
}

/// DELETE without a version id removes the object, or on a versioned
/// bucket adds a delete marker; with `versionId` it removes that version
/// for good (a missing version, like a missing key, is not an error).
pub(crate) async fn delete_object(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    let deleted = match req.param("versionId").filter(|v| !v.is_empty()) {
        None => state
            .store
            .delete_latest(req.bucket(), req.key(), req.now)
            .map_err(CosError::from_store)?,
        Some(v) => state
            .store
            .delete_version(req.bucket(), req.key(), v)
            .map_err(CosError::from_store)?
            .unwrap_or_default(),
    };
    let mut resp = empty_response(StatusCode::NO_CONTENT);
    if deleted.delete_marker {
        set_header(&mut resp, "x-cos-delete-marker", "true");
    }
    if let Some(v) = &deleted.version_id {
        set_header(&mut resp, "x-cos-version-id", v);
    }
    Ok(resp)
}

/// The object a GET or HEAD addresses: the current one, or with
/// `versionId` that version. A delete marker where an object is asked for
/// answers 404 `NoSuchKey` (latest) or 405 `MethodNotAllowed` (by
/// version), with `x-cos-delete-marker: true`.
fn addressed_object(state: &State, req: &CosRequest) -> Result<Object, CosError> {
    match req.param("versionId").filter(|v| !v.is_empty()) {
        None => match state
            .store
            .get(req.bucket(), req.key())
            .map_err(CosError::from_store)?
        {
            Some(object) => Ok(object),
            None if state
                .store
                .latest_is_delete_marker(req.bucket(), req.key()) =>
            {
                Err(CosError::no_such_key().with_delete_marker())
            }
            None => Err(CosError::no_such_key()),
        },
        Some(v) => match state
            .store
            .get_version(req.bucket(), req.key(), v)
            .map_err(CosError::from_store)?
        {
            Some(version) => version.object.ok_or_else(|| {
                CosError::new(
                    405,
                    "MethodNotAllowed",
                    "The specified method is not allowed against this resource: the version is a delete marker.",
                )
                .with_delete_marker()
            }),
            None => Err(CosError::new(
                404,
                "NoSuchVersion",
                "The specified version does not exist.",
            )),
        },
    }
}

/// A `Range` header resolved against an object size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeSpec {
    /// No usable range: send everything.
    Whole,
    /// Inclusive first and last byte.
    Part(u64, u64),
    /// Cannot be satisfied (416).
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-`, `bytes=-n`. Syntax COS would ignore
/// (other units, several ranges, garbage) yields [`RangeSpec::Whole`].
pub(crate) fn parse_range(value: &str, size: u64) -> RangeSpec {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeSpec::Whole;
    };
    if spec.contains(',') {
        return RangeSpec::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return RangeSpec::Whole;
        };
        if n == 0 || size == 0 {
            return RangeSpec::Unsatisfiable;
        }
        return RangeSpec::Part(size.saturating_sub(n), size - 1);
    }
    let Ok(first) = a.parse::<u64>() else {
        return RangeSpec::Whole;
    };
    let last = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(l) if l >= first => l,
            _ => return RangeSpec::Whole,
        }
    };
    if first >= size {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Part(first, last.min(size - 1))
}

/// The outcome of `If-*` preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precondition {
    Proceed,
    NotModified,
    Failed,
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').any(|t| {
        let t = t.trim();
        t == "*" || bare_etag(t.strip_prefix("W/").unwrap_or(t)) == bare_etag(etag)
    })
}

fn header_date(value: Option<&str>) -> Option<i64> {
    value
        .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
        .map(unix)
}

/// Evaluates conditions in RFC 7232 order, with header names given so the
/// same logic serves `If-*` and `x-cos-copy-source-If-*`.
pub(crate) fn evaluate(
    get: impl Fn(&str) -> Option<String>,
    prefix: &str,
    etag: &str,
    last_modified: i64,
) -> Precondition {
    let h = |name: &str| get(&format!("{prefix}{name}"));
    if let Some(m) = h("if-match") {
        if !etag_matches(&m, etag) {
            return Precondition::Failed;
        }
    } else if let Some(since) = header_date(h("if-unmodified-since").as_deref()) {
        if last_modified > since {
            return Precondition::Failed;
        }
    }
    if let Some(m) = h("if-none-match") {
        if etag_matches(&m, etag) {
            return Precondition::NotModified;
        }
    } else if let Some(since) = header_date(h("if-modified-since").as_deref()) {
        if last_modified <= since {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

fn header_getter(headers: &HeaderMap) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

const RESPONSE_OVERRIDES: [(&str, &str); 6] = [
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

fn object_headers(resp: &mut Response<Body>, meta: &ObjectMeta, object_now: i64) {
    set_header(resp, "content-type", &meta.content_type);
    set_header(resp, "etag", &meta.etag);
    set_header(resp, "last-modified", &http_date(meta.last_modified));
    set_header(resp, "accept-ranges", "bytes");
    set_header(resp, "x-cos-hash-crc64ecma", &meta.crc64.to_string());
    let kind = if meta.appendable {
        "appendable"
    } else {
        "normal"
    };
    set_header(resp, "x-cos-object-type", kind);
    if let Some(v) = &meta.version_id {
        set_header(resp, "x-cos-version-id", v);
    }
    if let Some(restore) = super::restore::restore_header(meta, object_now) {
        set_header(resp, "x-cos-restore", &restore);
    }
    if meta.storage_class != "STANDARD" {
        set_header(resp, "x-cos-storage-class", &meta.storage_class);
    }
    for (k, v) in meta.headers.iter().chain(&meta.user_meta) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
}

pub(crate) async fn get_object(state: &State, req: CosRequest) -> Result<Response<Body>, CosError> {
    let head = req.method == http::Method::HEAD;
    let object = addressed_object(state, &req)?;
    let meta = &object.meta;
    let object_now = state.object_now();
    if !head {
        super::restore::check_readable(meta, object_now)?;
    }
    match evaluate(
        header_getter(&req.headers),
        "",
        &meta.etag,
        meta.last_modified,
    ) {
        Precondition::Failed => {
            return Err(CosError::new(
                412,
                "PreconditionFailed",
                "At least one of the preconditions you specified did not hold.",
            ))
        }
        Precondition::NotModified => {
            let mut resp = Response::new(body::empty());
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            set_header(&mut resp, "etag", &meta.etag);
            set_header(&mut resp, "last-modified", &http_date(meta.last_modified));
            return Ok(resp);
        }
        Precondition::Proceed => {}
    }
    for (param, _) in &req.query {
        let lower = param.to_ascii_lowercase();
        if lower.starts_with("response-")
            && !req
                .verified
                .signed_params
                .contains(&uri_encode(&lower).to_ascii_lowercase())
        {
            return Err(CosError::new(
                403,
                "AccessDenied",
                format!("The {param} parameter must be signed."),
            ));
        }
    }
    let size = meta.size;
    let range = req
        .header("range")
        .map(|r| parse_range(r, size))
        .unwrap_or(RangeSpec::Whole);
    let (status, start, len) = match range {
        RangeSpec::Whole => (StatusCode::OK, 0, size),
        RangeSpec::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        RangeSpec::Unsatisfiable => {
            return Err(CosError::new(
                416,
                "InvalidRange",
                format!("The requested range is not satisfiable (object size {size})."),
            ))
        }
    };
    let body = if head || len == 0 {
        body::empty()
    } else {
        let stream = object
            .blob
            .read(start, len)
            .await
            .map_err(|e| CosError::internal(format!("reading the object failed: {e}")))?;
        let b = body::stream(stream);
        if req.corrupt {
            state.count(|s| s.corrupted_bodies += 1);
            body::corrupt(b)
        } else {
            b
        }
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    object_headers(&mut resp, meta, object_now);
    resp.headers_mut()
        .insert("content-length", http::HeaderValue::from(len));
    if status == StatusCode::PARTIAL_CONTENT {
        set_header(
            &mut resp,
            "content-range",
            &format!("bytes {}-{}/{}", start, start + len - 1, size),
        );
    }
    for (param, header) in RESPONSE_OVERRIDES {
        if let Some(v) = req.param(param) {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(header.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                resp.headers_mut().insert(name, value);
            }
        }
    }
    Ok(resp)
}

/// Bucket and key named by `x-cos-copy-source`:
/// `<bucket>.cos.<region>.<domain>/<encoded key>[?versionId=]`, or path-style
/// `[<host>]/<bucket>/<encoded key>`.
pub(crate) fn parse_copy_source(value: &str) -> Option<(String, String)> {
    let v = value.trim();
    let v = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"))
        .unwrap_or(v);
    let v = v.split_once('?').map_or(v, |(p, _)| p);
    parse_copy_path(v)
}

/// The `versionId` of an `x-cos-copy-source`, when it names one.
pub(crate) fn copy_source_version(value: &str) -> Option<String> {
    let (_, query) = value.trim().split_once('?')?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "versionId" && !v.is_empty()).then(|| percent_decode(v, false))?
    })
}

fn parse_copy_path(v: &str) -> Option<(String, String)> {
    let (host, path) = v.split_once('/')?;
    let path = percent_decode(path, false)?;
    match bucket_from_host(host) {
        Some(bucket) if !is_ip_like(host) => (!path.is_empty()).then(|| (bucket.to_string(), path)),
        _ => {
            let (bucket, key) = path.split_once('/')?;
            (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_string(), key.to_string()))
        }
    }
}

/// The object named by `x-cos-copy-source`, once its `x-cos-copy-source-If-*`
/// conditions hold: the source of CopyObject and UploadPartCopy.
pub(crate) fn copy_source(
    state: &State,
    req: &CosRequest,
) -> Result<(String, String, Object), CosError> {
    let source = req
        .header("x-cos-copy-source")
        .unwrap_or_default()
        .to_string();
    let (src_bucket, src_key) = parse_copy_source(&source).ok_or_else(|| {
        CosError::new(
            400,
            "InvalidCopySource",
            format!("x-cos-copy-source {source:?} is not <bucket>.cos.<region>.myqcloud.com/<key>"),
        )
    })?;
    let src = match copy_source_version(&source) {
        None => state
            .store
            .get(&src_bucket, &src_key)
            .map_err(CosError::from_store)?
            .ok_or_else(CosError::no_such_key)?,
        Some(v) => state
            .store
            .get_version(&src_bucket, &src_key, &v)
            .map_err(CosError::from_store)?
            .and_then(|version| version.object)
            .ok_or_else(|| {
                CosError::new(
                    404,
                    "NoSuchVersion",
                    "The specified version of the copy source does not exist.",
                )
            })?,
    };
    super::restore::check_readable(&src.meta, state.object_now())?;
    match evaluate(
        header_getter(&req.headers),
        "x-cos-copy-source-",
        &src.meta.etag,
        src.meta.last_modified,
    ) {
        Precondition::Proceed => {}
        _ => {
            return Err(CosError::new(
                412,
                "PreconditionFailed",
                "At least one of the copy-source preconditions did not hold.",
            ))
        }
    }
    Ok((src_bucket, src_key, src))
}

pub(crate) async fn copy_object(
    state: &State,
    mut req: CosRequest,
) -> Result<Response<Body>, CosError> {
    require_bucket(state, &req)?;
    crate::body::drain(&mut req.body, super::DRAIN_LIMIT).await;
    let (src_bucket, src_key, src) = copy_source(state, &req)?;
    let directive = req
        .header("x-cos-metadata-directive")
        .unwrap_or("Copy")
        .to_string();
    let mut meta = match directive.to_ascii_lowercase().as_str() {
        "copy" => {
            let mut m = src.meta.clone();
            if req.header("x-cos-storage-class").is_some() {
                m.storage_class = meta_from_headers(&req.headers)?.storage_class;
            }
            m
        }
        "replaced" => meta_from_headers(&req.headers)?,
        _ => {
            return Err(CosError::invalid_argument(format!(
                "x-cos-metadata-directive must be Copy or Replaced, got {directive:?}"
            )))
        }
    };
    if src_bucket == req.bucket()
        && src_key == req.key()
        && directive.eq_ignore_ascii_case("copy")
        && req.header("x-cos-storage-class").is_none()
    {
        return Err(CosError::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself \
             without changing the object's metadata or storage class.",
        ));
    }
    if src.meta.size > MAX_SINGLE_PUT {
        return Err(CosError::invalid_request(
            "The source is larger than 5 GB; copy it with UploadPartCopy.",
        ));
    }
    let blob = state
        .store
        .duplicate(&src.blob)
        .await
        .map_err(|e| CosError::internal(format!("copying failed: {e}")))?;
    // A copy is a new object: not appendable, never restored.
    meta.restore = None;
    meta.appendable = false;
    meta.size = src.meta.size;
    meta.etag = src.meta.etag.clone();
    meta.crc64 = src.meta.crc64;
    meta.last_modified = req.now;
    let (etag, crc, modified) = (meta.etag.clone(), meta.crc64, meta.last_modified);
    let version = state
        .store
        .put(req.bucket(), req.key(), Object { meta, blob })
        .map_err(CosError::from_store)?;
    let mut doc = Doc::new("CopyObjectResult");
    doc.el("ETag", &etag)
        .el("LastModified", iso8601(modified))
        .el("CRC64", crc);
    if let Some(v) = &version {
        doc.el("VersionId", v);
    }
    let mut resp = xml_response(doc.finish("CopyObjectResult"));
    set_header(&mut resp, "x-cos-hash-crc64ecma", &crc.to_string());
    if let Some(v) = &version {
        set_header(&mut resp, "x-cos-version-id", v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-4", 10), RangeSpec::Part(0, 4));
        assert_eq!(parse_range("bytes=5-", 10), RangeSpec::Part(5, 9));
        assert_eq!(parse_range("bytes=-3", 10), RangeSpec::Part(7, 9));
        assert_eq!(parse_range("bytes=-30", 10), RangeSpec::Part(0, 9));
        assert_eq!(parse_range("bytes=8-100", 10), RangeSpec::Part(8, 9));
        assert_eq!(parse_range("bytes=10-", 10), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-2", 10), RangeSpec::Whole);
        assert_eq!(parse_range("bytes=0-1,3-4", 10), RangeSpec::Whole);
        assert_eq!(parse_range("items=0-1", 10), RangeSpec::Whole);
    }

    #[test]
    fn preconditions() {
        let etag = "\"abc\"";
        let h = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let t = 1_700_000_000;
        assert_eq!(evaluate(h(&[]), "", etag, t), Precondition::Proceed);
        assert_eq!(
            evaluate(h(&[("if-match", "\"abc\"")]), "", etag, t),
            Precondition::Proceed
        );
        assert_eq!(
            evaluate(h(&[("if-match", "\"x\", \"abc\"")]), "", etag, t),
            Precondition::Proceed
        );
        assert_eq!(
            evaluate(h(&[("if-match", "\"x\"")]), "", etag, t),
            Precondition::Failed
        );
        assert_eq!(
            evaluate(h(&[("if-none-match", "abc")]), "", etag, t),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(h(&[("if-none-match", "*")]), "", etag, t),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(
                h(&[("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT")]),
                "",
                etag,
                t
            ),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(
                h(&[("if-modified-since", "Tue, 14 Nov 2023 22:13:19 GMT")]),
                "",
                etag,
                t
            ),
            Precondition::Proceed
        );
        assert_eq!(
            evaluate(
                h(&[("if-unmodified-since", "Tue, 14 Nov 2023 22:13:19 GMT")]),
                "",
                etag,
                t
            ),
            Precondition::Failed
        );
        assert_eq!(
            evaluate(
                h(&[("x-cos-copy-source-if-match", "\"x\"")]),
                "x-cos-copy-source-",
                etag,
                t
            ),
            Precondition::Failed
        );
    }

    #[test]
    fn copy_sources() {
        assert_eq!(
            parse_copy_source("b-1.cos.ap-guangzhou.myqcloud.com/dir/a%20b.txt"),
            Some(("b-1".into(), "dir/a b.txt".into()))
        );
        assert_eq!(
            parse_copy_source("b-1.cos.ap-guangzhou.myqcloud.com/k?versionId=x"),
            Some(("b-1".into(), "k".into()))
        );
        assert_eq!(
            parse_copy_source("127.0.0.1:9000/b-1/k%2B1"),
            Some(("b-1".into(), "k+1".into()))
        );
        assert_eq!(
            parse_copy_source("/b-1/k"),
            Some(("b-1".into(), "k".into()))
        );
        assert_eq!(
            copy_source_version("b-1.cos.ap-guangzhou.myqcloud.com/k?versionId=a%2Bb").as_deref(),
            Some("a+b")
        );
        assert_eq!(copy_source_version("b-1.cos.x.y/k"), None);
        assert_eq!(copy_source_version("b-1.cos.x.y/k?versionId="), None);
        assert_eq!(parse_copy_source("nonsense"), None);
        assert_eq!(parse_copy_source("b-1.cos.x.y/"), None);
    }
}
