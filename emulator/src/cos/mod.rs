//! The COS XML API: classify a request, verify its signature, run it.

mod acl;
mod append;
mod bucket;
pub(crate) mod errors;
mod lifecycle;
mod listing;
mod multipart;
mod objects;
mod post_object;
mod restore;
mod setting;
mod tagging;
mod versioning;
pub(crate) mod xml;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::{self, Body};
use crate::routing::CosTarget;
use crate::state::State;
use crate::store::{ObjectMeta, Written};
use crate::verify::{self, AuthRequest, Verified};
use errors::CosError;

/// Owner id shown in listings.
pub(crate) const OWNER: &str = "qcs::cam::uin/100000000001:uin/100000000001";

/// Subresources the emulator does not implement; answered with 501.
const UNSUPPORTED_SUBRESOURCES: &[&str] = &[
    "cors",
    "policy",
    "website",
    "logging",
    "referer",
    "select",
    "symlink",
    "inventory",
    "replication",
    "encryption",
    "domain",
    "object-lock",
    "intelligenttiering",
    "origin",
    "accelerate",
    "notification",
    "retention",
    "legalhold",
];

/// The COS operations the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    ListBuckets,
    PutBucket,
    HeadBucket,
    DeleteBucket,
    ListObjects,
    ListMultipartUploads,
    DeleteMultipleObjects,
    PutObject,
    CopyObject,
    GetObject,
    HeadObject,
    DeleteObject,
    InitiateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    GetBucketAcl,
    PutBucketAcl,
    GetObjectAcl,
    PutObjectAcl,
    GetObjectTagging,
    PutObjectTagging,
    DeleteObjectTagging,
    GetBucketTagging,
    PutBucketTagging,
    DeleteBucketTagging,
    GetBucketLifecycle,
    PutBucketLifecycle,
    DeleteBucketLifecycle,
    GetBucketVersioning,
    PutBucketVersioning,
    ListObjectVersions,
    PostRestore,
    AppendObject,
    PostObject,
    Unsupported,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::ListBuckets => "ListBuckets",
            Op::PutBucket => "PutBucket",
            Op::HeadBucket => "HeadBucket",
            Op::DeleteBucket => "DeleteBucket",
            Op::ListObjects => "ListObjects",
            Op::ListMultipartUploads => "ListMultipartUploads",
            Op::DeleteMultipleObjects => "DeleteMultipleObjects",
            Op::PutObject => "PutObject",
            Op::CopyObject => "CopyObject",
            Op::GetObject => "GetObject",
            Op::HeadObject => "HeadObject",
            Op::DeleteObject => "DeleteObject",
            Op::InitiateMultipartUpload => "InitiateMultipartUpload",
            Op::UploadPart => "UploadPart",
            Op::UploadPartCopy => "UploadPartCopy",
            Op::CompleteMultipartUpload => "CompleteMultipartUpload",
            Op::AbortMultipartUpload => "AbortMultipartUpload",
            Op::ListParts => "ListParts",
            Op::GetBucketAcl => "GetBucketACL",
            Op::PutBucketAcl => "PutBucketACL",
            Op::GetObjectAcl => "GetObjectACL",
            Op::PutObjectAcl => "PutObjectACL",
            Op::GetObjectTagging => "GetObjectTagging",
            Op::PutObjectTagging => "PutObjectTagging",
            Op::DeleteObjectTagging => "DeleteObjectTagging",
            Op::GetBucketTagging => "GetBucketTagging",
            Op::PutBucketTagging => "PutBucketTagging",
            Op::DeleteBucketTagging => "DeleteBucketTagging",
            Op::GetBucketLifecycle => "GetBucketLifecycle",
            Op::PutBucketLifecycle => "PutBucketLifecycle",
            Op::DeleteBucketLifecycle => "DeleteBucketLifecycle",
            Op::GetBucketVersioning => "GetBucketVersioning",
            Op::PutBucketVersioning => "PutBucketVersioning",
            Op::ListObjectVersions => "ListObjectVersions",
            Op::PostRestore => "PostRestore",
            Op::AppendObject => "AppendObject",
            Op::PostObject => "PostObject",
            Op::Unsupported => "Unsupported",
        }
    }
}

fn has_param(query: &[(String, String)], name: &str) -> bool {
    query.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
}

/// Which operation a request is (pure).
pub(crate) fn classify(
    method: &Method,
    target: &CosTarget,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Op {
    if UNSUPPORTED_SUBRESOURCES.iter().any(|s| has_param(query, s)) {
        return Op::Unsupported;
    }
    let Some(_) = &target.bucket else {
        return if method == Method::GET {
            Op::ListBuckets
        } else {
            Op::Unsupported
        };
    };
    let p = |name| has_param(query, name);
    if let Some(op) = classify_subresource(method, target.key.is_empty(), query) {
        return op;
    }
    if target.key.is_empty() {
        return match *method {
            Method::PUT if p("versioning") => Op::PutBucketVersioning,
            Method::GET if p("versioning") => Op::GetBucketVersioning,
            Method::GET if p("versions") => Op::ListObjectVersions,
            Method::PUT => Op::PutBucket,
            Method::HEAD => Op::HeadBucket,
            Method::DELETE => Op::DeleteBucket,
            Method::GET if p("uploads") => Op::ListMultipartUploads,
            Method::GET => Op::ListObjects,
            Method::POST if p("delete") => Op::DeleteMultipleObjects,
            Method::POST
                if headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(post_object::boundary)
                    .is_some() =>
            {
                Op::PostObject
            }
            _ => Op::Unsupported,
        };
    }
    match *method {
        Method::PUT if p("uploadid") || p("partnumber") => {
            if headers.contains_key("x-cos-copy-source") {
                Op::UploadPartCopy
            } else {
                Op::UploadPart
            }
        }
        Method::PUT if headers.contains_key("x-cos-copy-source") => Op::CopyObject,
        Method::PUT => Op::PutObject,
        Method::GET if p("uploadid") => Op::ListParts,
        Method::GET => Op::GetObject,
        Method::HEAD => Op::HeadObject,
        Method::DELETE if p("uploadid") => Op::AbortMultipartUpload,
        Method::DELETE => Op::DeleteObject,
        Method::POST if p("restore") => Op::PostRestore,
        Method::POST if p("append") => Op::AppendObject,
        Method::POST if p("uploads") => Op::InitiateMultipartUpload,
        Method::POST if p("uploadid") => Op::CompleteMultipartUpload,
        _ => Op::Unsupported,
    }
}

/// ACL, tagging and lifecycle requests, by sub-resource and method.
fn classify_subresource(method: &Method, bucket: bool, query: &[(String, String)]) -> Option<Op> {
    let p = |name| has_param(query, name);
    let op = if p("acl") {
        match (method, bucket) {
            (&Method::GET, true) => Op::GetBucketAcl,
            (&Method::PUT, true) => Op::PutBucketAcl,
            (&Method::GET, false) => Op::GetObjectAcl,
            (&Method::PUT, false) => Op::PutObjectAcl,
            _ => Op::Unsupported,
        }
    } else if p("tagging") {
        match (method, bucket) {
            (&Method::GET, true) => Op::GetBucketTagging,
            (&Method::PUT, true) => Op::PutBucketTagging,
            (&Method::DELETE, true) => Op::DeleteBucketTagging,
            (&Method::GET, false) => Op::GetObjectTagging,
            (&Method::PUT, false) => Op::PutObjectTagging,
            (&Method::DELETE, false) => Op::DeleteObjectTagging,
            _ => Op::Unsupported,
        }
    } else if p("lifecycle") && bucket {
        match *method {
            Method::GET => Op::GetBucketLifecycle,
            Method::PUT => Op::PutBucketLifecycle,
            Method::DELETE => Op::DeleteBucketLifecycle,
            _ => Op::Unsupported,
        }
    } else {
        return None;
    };
    Some(op)
}

/// A verified COS request.
#[derive(Debug)]
pub(crate) struct CosRequest {
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) target: CosTarget,
    pub(crate) body: Incoming,
    pub(crate) verified: Verified,
    /// Server time, Unix seconds.
    pub(crate) now: i64,
    /// Host the request was addressed to.
    pub(crate) host: String,
    /// Whether a corrupt-body fault applies to this response.
    pub(crate) corrupt: bool,
}

impl CosRequest {
    /// A query parameter, name matched case-insensitively.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn bucket(&self) -> &str {
        self.target.bucket.as_deref().unwrap_or_default()
    }

    pub(crate) fn key(&self) -> &str {
        &self.target.key
    }
}

/// Everything about one request that the server already worked out.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) parts: http::request::Parts,
    pub(crate) body: Incoming,
    pub(crate) target: CosTarget,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) authority: String,
    pub(crate) op: Op,
    pub(crate) corrupt: bool,
}

/// Verifies and runs a COS request; errors become COS error answers.
pub(crate) async fn handle(state: &State, req: Prepared, request_id: &str) -> Response<Body> {
    let head = req.parts.method == Method::HEAD;
    let resource = format!("{}{}", req.authority, req.target.signed_path);
    let Prepared {
        parts,
        mut body,
        target,
        query,
        authority,
        op,
        corrupt,
    } = req;
    let now = state.now();
    if op == Op::PostObject {
        // The form carries its own signed policy instead of an Authorization.
        let request = CosRequest {
            method: parts.method,
            headers: parts.headers,
            query,
            target,
            body,
            verified: Verified::anonymous(),
            now,
            host: authority,
            corrupt,
        };
        return match post_object::post_object(state, request).await {
            Ok(resp) => resp,
            Err(e) => {
                if e.status == 403 {
                    state.count(|s| s.auth_failures += 1);
                }
                error_response(&e, &resource, request_id, head)
            }
        };
    }
    let auth = AuthRequest {
        method: parts.method.as_str(),
        signed_path: &target.signed_path,
        query: &query,
        headers: &parts.headers,
        authority: &authority,
        now,
        token_header: "x-cos-security-token",
        allow_query_auth: true,
    };
    let verified = match verify::verify(&auth, |id| state.keys.get(id).cloned()) {
        Ok(v) => v,
        // An unsigned read of what an ACL makes public.
        Err(verify::AuthError::Missing) if acl::anonymous_may_read(state, op, &target, &query) => {
            Verified::anonymous()
        }
        Err(e) => {
            state.count(|s| s.auth_failures += 1);
            body::drain(&mut body, DRAIN_LIMIT).await;
            return error_response(&CosError::from_auth(e), &resource, request_id, head);
        }
    };
    let request = CosRequest {
        method: parts.method,
        headers: parts.headers,
        query,
        target,
        body,
        verified,
        now,
        host: authority,
        corrupt,
    };
    let result = match op {
        Op::ListBuckets => bucket::list_buckets(state, request).await,
        Op::PutBucket => bucket::put_bucket(state, request).await,
        Op::HeadBucket => bucket::head_bucket(state, request).await,
        Op::DeleteBucket => bucket::delete_bucket(state, request).await,
        Op::ListObjects => bucket::list_objects(state, request).await,
        Op::DeleteMultipleObjects => bucket::delete_multiple(state, request).await,
        Op::ListMultipartUploads => multipart::list_uploads(state, request).await,
        Op::PutObject => objects::put_object(state, request).await,
        Op::CopyObject => objects::copy_object(state, request).await,
        Op::GetObject | Op::HeadObject => objects::get_object(state, request).await,
        Op::DeleteObject => objects::delete_object(state, request).await,
        Op::InitiateMultipartUpload => multipart::initiate(state, request).await,
        Op::UploadPart => multipart::upload_part(state, request).await,
        Op::UploadPartCopy => multipart::upload_part_copy(state, request).await,
        Op::CompleteMultipartUpload => multipart::complete(state, request).await,
        Op::AbortMultipartUpload => multipart::abort(state, request).await,
        Op::ListParts => multipart::list_parts(state, request).await,
        Op::GetBucketAcl => acl::get_bucket_acl(state, request).await,
        Op::PutBucketAcl => acl::put_bucket_acl(state, request).await,
        Op::GetObjectAcl => acl::get_object_acl(state, request).await,
        Op::PutObjectAcl => acl::put_object_acl(state, request).await,
        Op::GetObjectTagging => tagging::get_object_tagging(state, request).await,
        Op::PutObjectTagging => tagging::put_object_tagging(state, request).await,
        Op::DeleteObjectTagging => tagging::delete_object_tagging(state, request).await,
        Op::GetBucketTagging => tagging::get_bucket_tagging(state, request).await,
        Op::PutBucketTagging => tagging::put_bucket_tagging(state, request).await,
        Op::DeleteBucketTagging => tagging::delete_bucket_tagging(state, request).await,
        Op::GetBucketLifecycle => lifecycle::get_bucket_lifecycle(state, request).await,
        Op::PutBucketLifecycle => lifecycle::put_bucket_lifecycle(state, request).await,
        Op::DeleteBucketLifecycle => lifecycle::delete_bucket_lifecycle(state, request).await,
        Op::GetBucketVersioning => versioning::get_versioning(state, request).await,
        Op::PutBucketVersioning => versioning::put_versioning(state, request).await,
        Op::ListObjectVersions => versioning::list_versions(state, request).await,
        Op::PostRestore => restore::post_restore(state, request).await,
        Op::AppendObject => append::append_object(state, request).await,
        Op::PostObject => Err(CosError::internal("PostObject is answered above")),
        Op::Unsupported => {
            let mut request = request;
            body::drain(&mut request.body, DRAIN_LIMIT).await;
            let what = match UNSUPPORTED_SUBRESOURCES
                .iter()
                .find(|s| has_param(&request.query, s))
            {
                Some(sub) => format!("{} ?{sub}", request.method),
                None => format!("{} on this resource", request.method),
            };
            Err(CosError::not_implemented(&what))
        }
    };
    match result {
        Ok(resp) => resp,
        Err(e) => error_response(&e, &resource, request_id, head),
    }
}

/// How much of an unread request body is drained before an early error.
pub(crate) const DRAIN_LIMIT: u64 = 64 << 20;

/// A COS error answer; HEAD answers carry no body.
pub(crate) fn error_response(
    e: &CosError,
    resource: &str,
    request_id: &str,
    head: bool,
) -> Response<Body> {
    let trace_id = format!("emu-{request_id}");
    let xml = e.xml(resource, request_id, &trace_id);
    let mut resp = Response::new(if head {
        body::empty()
    } else {
        body::full(xml.clone())
    });
    *resp.status_mut() =
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/xml"));
    if !head {
        h.insert("content-length", HeaderValue::from(xml.len()));
    }
    if let Ok(v) = HeaderValue::from_str(&trace_id) {
        h.insert("x-cos-trace-id", v);
    }
    if e.delete_marker {
        h.insert("x-cos-delete-marker", HeaderValue::from_static("true"));
    }
    resp
}

/// A 200 answer with an XML document.
pub(crate) fn xml_response(doc: String) -> Response<Body> {
    let len = doc.len();
    let mut resp = Response::new(body::full(doc));
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/xml"));
    h.insert("content-length", HeaderValue::from(len));
    resp
}

/// An empty answer with `status`.
pub(crate) fn empty_response(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = status;
    if status != StatusCode::NO_CONTENT {
        resp.headers_mut()
            .insert("content-length", HeaderValue::from(0));
    }
    resp
}

pub(crate) fn set_header(resp: &mut Response<Body>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// Standard headers stored with an object and echoed on GET.
const STORED_HEADERS: [&str; 5] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "STANDARD_IA",
    "ARCHIVE",
    "DEEP_ARCHIVE",
    "INTELLIGENT_TIERING",
    "MAZ_STANDARD",
    "MAZ_STANDARD_IA",
    "MAZ_INTELLIGENT_TIERING",
    "MAZ_ARCHIVE",
];

/// Maximum total size of `x-cos-meta-*` names and values (docs/protocol/cos.md §3).
const MAX_USER_META: usize = 2048;

/// Whether the request asks not to replace an existing object
/// (`x-cos-forbid-overwrite: true`, case-insensitive).
pub(crate) fn forbids_overwrite(req: &CosRequest) -> bool {
    req.header("x-cos-forbid-overwrite")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Content type, stored headers, user metadata and storage class from request headers.
pub(crate) fn meta_from_headers(headers: &HeaderMap) -> Result<ObjectMeta, CosError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut user_meta = Vec::new();
    let mut meta_size = 0;
    for (name, value) in headers {
        let n = name.as_str();
        if let Some(suffix) = n.strip_prefix("x-cos-meta-") {
            if suffix.is_empty() {
                return Err(CosError::invalid_argument("x-cos-meta- needs a name"));
            }
            let v = value.to_str().map_err(|_| {
                CosError::invalid_argument(format!("{n} must be ASCII (percent-encode other text)"))
            })?;
            meta_size += n.len() + v.len();
            user_meta.push((n.to_string(), v.to_string()));
        }
    }
    if meta_size > MAX_USER_META {
        return Err(CosError::invalid_argument(format!(
            "user metadata is {meta_size} bytes; at most {MAX_USER_META} are allowed"
        )));
    }
    user_meta.sort();
    let storage_class = match text("x-cos-storage-class") {
        None => "STANDARD".to_string(),
        Some(c) => {
            let upper = c.to_ascii_uppercase();
            if !STORAGE_CLASSES.contains(&upper.as_str()) {
                return Err(CosError::new(
                    400,
                    "InvalidStorageClass",
                    format!("The storage class {c} is not supported."),
                ));
            }
            upper
        }
    };
    Ok(ObjectMeta {
        content_type: text("content-type")
            .unwrap_or("application/octet-stream")
            .to_string(),
        headers: STORED_HEADERS
            .iter()
            .filter_map(|h| text(h).map(|v| (h.to_string(), v.to_string())))
            .collect(),
        user_meta,
        storage_class,
        tags: tagging::tags_from_headers(headers)?,
        acl: acl::acl_from_headers(headers, true)?
            .filter(|a| a.canned.as_deref() != Some("default") || !a.grants.is_empty()),
        ..ObjectMeta::default()
    })
}

/// The declared body length: `Content-Length`, or `None` for chunked bodies.
pub(crate) fn declared_length(req: &CosRequest, max: u64) -> Result<Option<u64>, CosError> {
    let len = match req.header("content-length") {
        Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
            CosError::invalid_argument(format!("Content-Length {v:?} is not a number"))
        })?),
        None if req
            .header("transfer-encoding")
            .is_some_and(|t| t.to_ascii_lowercase().contains("chunked")) =>
        {
            None
        }
        None => {
            return Err(CosError::new(
                411,
                "MissingContentLength",
                "You must provide the Content-Length HTTP header.",
            ))
        }
    };
    if let Some(n) = len {
        if n > max {
            return Err(CosError::new(
                400,
                "EntityTooLarge",
                format!("Your proposed upload of {n} bytes exceeds the maximum allowed size of {max} bytes."),
            ));
        }
    }
    Ok(len)
}

/// Streams the request body into a new blob, checking length and `Content-MD5`.
pub(crate) async fn receive(
    state: &State,
    req: &mut CosRequest,
    max: u64,
) -> Result<Written, CosError> {
    let declared = declared_length(req, max)?;
    let expected_md5 = match req.header("content-md5") {
        None => None,
        Some(v) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .ok()
                .filter(|d| d.len() == 16)
                .ok_or_else(|| {
                    CosError::new(
                        400,
                        "InvalidDigest",
                        "The Content-MD5 you specified is not valid.",
                    )
                })?;
            Some(raw)
        }
    };
    let mut writer = state
        .store
        .writer()
        .await
        .map_err(|e| CosError::internal(format!("storage failed: {e}")))?;
    loop {
        let chunk = match body::next_chunk(&mut req.body).await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                writer.abandon().await;
                return Err(CosError::new(
                    400,
                    "IncompleteBody",
                    format!("The request body could not be read: {e}"),
                ));
            }
        };
        if writer.len() + chunk.len() as u64 > max {
            writer.abandon().await;
            return Err(CosError::new(
                400,
                "EntityTooLarge",
                format!("Your upload exceeds the maximum allowed size of {max} bytes."),
            ));
        }
        if let Err(e) = writer.write(&chunk).await {
            writer.abandon().await;
            return Err(CosError::internal(format!("storage failed: {e}")));
        }
    }
    if let Some(n) = declared {
        if writer.len() != n {
            let got = writer.len();
            writer.abandon().await;
            return Err(CosError::new(
                400,
                "IncompleteBody",
                format!("Content-Length is {n} but {got} bytes arrived."),
            ));
        }
    }
    let written = writer
        .finish()
        .await
        .map_err(|e| CosError::internal(format!("storage failed: {e}")))?;
    if let Some(md5) = expected_md5 {
        if md5 != written.md5 {
            state.store.discard(written.blob);
            return Err(CosError::new(
                400,
                "BadDigest",
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    Ok(written)
}

/// Reads a small XML request body, checking `Content-MD5` when present.
pub(crate) async fn small_body(
    req: &mut CosRequest,
    limit: usize,
) -> Result<bytes::Bytes, CosError> {
    use md5::{Digest as _, Md5};
    let data = body::collect(&mut req.body, limit)
        .await
        .map_err(|e| match e {
            body::ReadError::TooLarge => CosError::new(
                400,
                "XMLSizeLimit",
                format!("The XML body exceeds {limit} bytes."),
            ),
            body::ReadError::Transport(e) => CosError::new(
                400,
                "IncompleteBody",
                format!("The request body could not be read: {e}"),
            ),
        })?;
    if let Some(v) = req.header("content-md5") {
        let given = base64::engine::general_purpose::STANDARD
            .decode(v.trim())
            .ok();
        let actual: [u8; 16] = Md5::digest(&data).into();
        match given {
            Some(g) if g.len() == 16 => {
                if g != actual {
                    return Err(CosError::new(
                        400,
                        "BadDigest",
                        "The Content-MD5 you specified did not match what we received.",
                    ));
                }
            }
            _ => {
                return Err(CosError::new(
                    400,
                    "InvalidDigest",
                    "The Content-MD5 you specified is not valid.",
                ))
            }
        }
    }
    Ok(data)
}

/// Requires the bucket to exist.
pub(crate) fn require_bucket(state: &State, req: &CosRequest) -> Result<(), CosError> {
    if state.store.has_bucket(req.bucket()) {
        Ok(())
    } else {
        Err(CosError::no_such_bucket())
    }
}

/// Whether a listing asked for `encoding-type=url` (keys and prefixes
/// percent-encoded in the answer); any other non-empty value is refused.
pub(crate) fn url_encoding(req: &CosRequest) -> Result<bool, CosError> {
    match req.param("encoding-type") {
        None | Some("") => Ok(false),
        Some(t) if t.eq_ignore_ascii_case("url") => Ok(true),
        Some(t) => Err(CosError::invalid_argument(format!(
            "encoding-type must be url, got {t:?}"
        ))),
    }
}

/// Parses an integer query parameter within bounds.
pub(crate) fn int_param(
    req: &CosRequest,
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, CosError> {
    match req.param(name) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                CosError::invalid_argument(format!(
                    "{name} must be an integer from {} to {}, got {v:?}",
                    range.start(),
                    range.end()
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::Style;

    fn target(bucket: Option<&str>, key: &str) -> CosTarget {
        CosTarget {
            bucket: bucket.map(str::to_string),
            key: key.to_string(),
            signed_path: format!("/{key}"),
            style: Style::VirtualHosted,
        }
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn classification() {
        let h = HeaderMap::new();
        let b = Some("b-1");
        assert_eq!(
            classify(&Method::GET, &target(None, ""), &[], &h),
            Op::ListBuckets
        );
        assert_eq!(
            classify(&Method::GET, &target(b, ""), &[], &h),
            Op::ListObjects
        );
        assert_eq!(
            classify(&Method::GET, &target(b, ""), &q(&[("uploads", "")]), &h),
            Op::ListMultipartUploads
        );
        assert_eq!(
            classify(&Method::POST, &target(b, ""), &q(&[("delete", "")]), &h),
            Op::DeleteMultipleObjects
        );
        assert_eq!(
            classify(
                &Method::PUT,
                &target(b, "k"),
                &q(&[("partNumber", "1"), ("uploadId", "x")]),
                &h
            ),
            Op::UploadPart
        );
        assert_eq!(
            classify(&Method::POST, &target(b, "k"), &q(&[("uploads", "")]), &h),
            Op::InitiateMultipartUpload
        );
        assert_eq!(
            classify(&Method::POST, &target(b, "k"), &q(&[("uploadId", "x")]), &h),
            Op::CompleteMultipartUpload
        );
        assert_eq!(
            classify(
                &Method::DELETE,
                &target(b, "k"),
                &q(&[("uploadId", "x")]),
                &h
            ),
            Op::AbortMultipartUpload
        );
        assert_eq!(
            classify(&Method::GET, &target(b, "k"), &q(&[("uploadId", "x")]), &h),
            Op::ListParts
        );
        assert_eq!(
            classify(&Method::GET, &target(b, "k"), &q(&[("acl", "")]), &h),
            Op::GetObjectAcl
        );
        assert_eq!(
            classify(&Method::PUT, &target(b, ""), &q(&[("acl", "")]), &h),
            Op::PutBucketAcl
        );
        assert_eq!(
            classify(&Method::DELETE, &target(b, "k"), &q(&[("tagging", "")]), &h),
            Op::DeleteObjectTagging
        );
        assert_eq!(
            classify(&Method::PUT, &target(b, ""), &q(&[("tagging", "")]), &h),
            Op::PutBucketTagging
        );
        assert_eq!(
            classify(&Method::GET, &target(b, ""), &q(&[("lifecycle", "")]), &h),
            Op::GetBucketLifecycle
        );
        assert_eq!(
            classify(&Method::GET, &target(b, "k"), &q(&[("lifecycle", "")]), &h),
            Op::GetObject,
            "lifecycle is a bucket sub-resource"
        );
        assert_eq!(
            classify(&Method::POST, &target(b, ""), &q(&[("acl", "")]), &h),
            Op::Unsupported
        );
        let mut copy = HeaderMap::new();
        copy.insert(
            "x-cos-copy-source",
            "b-1.cos.x.myqcloud.com/a".parse().unwrap(),
        );
        assert_eq!(
            classify(&Method::PUT, &target(b, "k"), &[], &copy),
            Op::CopyObject
        );
        assert_eq!(
            classify(
                &Method::PUT,
                &target(b, "k"),
                &q(&[("partNumber", "1"), ("uploadId", "x")]),
                &copy
            ),
            Op::UploadPartCopy
        );
        assert_eq!(
            classify(&Method::HEAD, &target(b, "k"), &[], &h),
            Op::HeadObject
        );
        assert_eq!(
            classify(&Method::HEAD, &target(b, ""), &[], &h),
            Op::HeadBucket
        );
        assert_eq!(
            classify(&Method::PUT, &target(b, ""), &q(&[("versioning", "")]), &h),
            Op::PutBucketVersioning
        );
        assert_eq!(
            classify(&Method::GET, &target(b, ""), &q(&[("versioning", "")]), &h),
            Op::GetBucketVersioning
        );
        assert_eq!(
            classify(&Method::GET, &target(b, ""), &q(&[("versions", "")]), &h),
            Op::ListObjectVersions
        );
        assert_eq!(
            classify(&Method::POST, &target(b, "k"), &q(&[("restore", "")]), &h),
            Op::PostRestore
        );
        assert_eq!(
            classify(
                &Method::POST,
                &target(b, "k"),
                &q(&[("append", ""), ("position", "0")]),
                &h
            ),
            Op::AppendObject
        );
        let mut form = HeaderMap::new();
        form.insert(
            "content-type",
            "multipart/form-data; boundary=x".parse().unwrap(),
        );
        assert_eq!(
            classify(&Method::POST, &target(b, ""), &[], &form),
            Op::PostObject
        );
        assert_eq!(
            classify(&Method::POST, &target(b, ""), &[], &h),
            Op::Unsupported
        );
    }

    #[test]
    fn metadata_from_headers() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "text/plain".parse().unwrap());
        h.insert("x-cos-meta-author", "me".parse().unwrap());
        h.insert("cache-control", "no-cache".parse().unwrap());
        h.insert("x-cos-storage-class", "standard_ia".parse().unwrap());
        let m = meta_from_headers(&h).unwrap();
        assert_eq!(m.content_type, "text/plain");
        assert_eq!(
            m.user_meta,
            vec![("x-cos-meta-author".to_string(), "me".to_string())]
        );
        assert_eq!(
            m.headers,
            vec![("cache-control".to_string(), "no-cache".to_string())]
        );
        assert_eq!(m.storage_class, "STANDARD_IA");
        h.insert("x-cos-storage-class", "GOLD".parse().unwrap());
        assert_eq!(
            meta_from_headers(&h).unwrap_err().code,
            "InvalidStorageClass"
        );
        let mut big = HeaderMap::new();
        big.insert("x-cos-meta-big", "x".repeat(3000).parse().unwrap());
        assert_eq!(meta_from_headers(&big).unwrap_err().code, "InvalidArgument");
    }
}
