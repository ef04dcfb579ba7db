//! Pure request builders: one function per COS operation, from validated
//! arguments to an unsigned [`PreparedRequest`]. No I/O, no clock; the
//! pipeline signs and sends what these return, once per attempt.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::options::{content_md5, header_value, CopyOptions, GetOptions, ListOptions, PutOptions};
use super::xml::{self, PartRef};
use super::{validate_key, BucketName, Endpoint, Error};
use crate::transport::{PreparedRequest, RequestBody};

/// Most keys one DeleteMultipleObjects request may name.
pub const MAX_DELETE_KEYS: usize = 1000;

const USER_AGENT: &str = concat!("coscls/", env!("CARGO_PKG_VERSION"));

/// The bucket a request is about and where it goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) endpoint: &'a Endpoint,
    pub(crate) bucket: &'a BucketName,
}

impl Target<'_> {
    pub(crate) fn build(
        &self,
        method: Method,
        key: &str,
        params: Vec<(String, String)>,
        mut headers: HeaderMap,
        body: RequestBody,
    ) -> Result<PreparedRequest, Error> {
        let borrowed: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let resolved = self.endpoint.object_url(self.bucket, key, &borrowed)?;
        // The host string becomes the header value without a copy.
        let host = HeaderValue::try_from(resolved.host).map_err(|_| {
            Error::invalid_input(
                "endpoint",
                &self.endpoint.service_url(),
                "does not make a valid Host",
            )
        })?;
        headers.insert(http::header::HOST, host);
        // Strict signature mode wants Content-Length signed on every write,
        // including empty ones (docs/protocol/cos.md §1.2).
        if !body.is_empty() || method == Method::PUT || method == Method::POST {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(USER_AGENT),
        );
        Ok(PreparedRequest {
            method,
            url: resolved.url,
            signed_path: resolved.signed_path,
            params,
            headers,
            body,
        })
    }

    pub(crate) fn object(
        &self,
        method: Method,
        key: &str,
        params: Vec<(String, String)>,
        headers: HeaderMap,
        body: RequestBody,
    ) -> Result<PreparedRequest, Error> {
        validate_key(key)?;
        self.build(method, key, params, headers, body)
    }
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A copy of `request` for another attempt; `None` for a streamed body.
pub(crate) fn try_clone(request: &PreparedRequest) -> Option<PreparedRequest> {
    Some(PreparedRequest {
        method: request.method.clone(),
        url: request.url.clone(),
        signed_path: request.signed_path.clone(),
        params: request.params.clone(),
        headers: request.headers.clone(),
        body: request.body.try_clone()?,
    })
}

/// PutObject: `PUT /<key>`.
pub(crate) fn put_object(
    t: Target<'_>,
    key: &str,
    body: RequestBody,
    opts: &PutOptions,
) -> Result<PreparedRequest, Error> {
    let mut headers = opts.object_headers()?;
    match &body {
        RequestBody::Bytes(b) => opts.transfer_headers(&mut headers, b)?,
        RequestBody::Empty => opts.transfer_headers(&mut headers, b"")?,
        RequestBody::Stream { .. } | RequestBody::Replayable { .. } => {
            if opts.content_md5 {
                return Err(Error::invalid_input(
                    "content_md5",
                    "true",
                    "needs the whole body up front; use an in-memory body or upload_stream (MD5 per part)",
                ));
            }
            let no_md5 = PutOptions {
                content_md5: false,
                traffic_limit: opts.traffic_limit,
                ..PutOptions::default()
            };
            no_md5.transfer_headers(&mut headers, b"")?;
        }
    }
    if body.len() > super::options::MAX_PART_SIZE {
        return Err(Error::invalid_input(
            "body",
            &format!("{} bytes", body.len()),
            "a single PutObject is limited to 5 GiB; use upload_file or upload_stream",
        ));
    }
    t.object(Method::PUT, key, vec![], headers, body)
}

/// GetObject: `GET /<key>` with range, conditions and `response-*` overrides.
pub(crate) fn get_object(
    t: Target<'_>,
    key: &str,
    opts: &GetOptions,
) -> Result<PreparedRequest, Error> {
    let headers = opts.headers(true)?;
    let params = opts
        .params()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    t.object(Method::GET, key, params, headers, RequestBody::Empty)
}

/// HeadObject: `HEAD /<key>`; ranges and `response-*` do not apply.
pub(crate) fn head_object(
    t: Target<'_>,
    key: &str,
    opts: &GetOptions,
) -> Result<PreparedRequest, Error> {
    let headers = opts.headers(false)?;
    let params = match &opts.version_id {
        Some(v) => params(&[("versionId", v)]),
        None => vec![],
    };
    t.object(Method::HEAD, key, params, headers, RequestBody::Empty)
}

/// DeleteObject: `DELETE /<key>[?versionId=]`.
pub(crate) fn delete_object(
    t: Target<'_>,
    key: &str,
    version_id: Option<&str>,
) -> Result<PreparedRequest, Error> {
    let params = match version_id {
        Some("") => return Err(Error::invalid_input("version id", "", "is empty")),
        Some(v) => params(&[("versionId", v)]),
        None => vec![],
    };
    t.object(
        Method::DELETE,
        key,
        params,
        HeaderMap::new(),
        RequestBody::Empty,
    )
}

/// DeleteMultipleObjects: `POST /?delete` with `Content-MD5` (required).
pub(crate) fn delete_objects(
    t: Target<'_>,
    objects: &[(&str, Option<&str>)],
    quiet: bool,
) -> Result<PreparedRequest, Error> {
    if objects.is_empty() {
        return Err(Error::invalid_input(
            "keys",
            "[]",
            "name at least one object to delete",
        ));
    }
    if objects.len() > MAX_DELETE_KEYS {
        return Err(Error::invalid_input(
            "keys",
            &format!("{} keys", objects.len()),
            "at most 1000 per request",
        ));
    }
    for (key, _) in objects {
        validate_key(key)?;
    }
    let body = Bytes::from(xml::delete_body(objects, quiet));
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert("content-md5", content_md5(&body));
    t.build(
        Method::POST,
        "",
        params(&[("delete", "")]),
        headers,
        RequestBody::Bytes(body),
    )
}

/// ListObjects (GET Bucket v1) with `encoding-type=url`, so any key survives the XML.
pub(crate) fn list_objects(t: Target<'_>, opts: &ListOptions) -> Result<PreparedRequest, Error> {
    let mut p: Vec<(String, String)> = Vec::new();
    if let Some(d) = &opts.delimiter {
        p.push(("delimiter".into(), d.clone()));
    }
    p.push(("encoding-type".into(), "url".into()));
    if let Some(m) = &opts.marker {
        p.push(("marker".into(), m.clone()));
    }
    if let Some(n) = opts.max_keys {
        if !(1..=1000).contains(&n) {
            return Err(Error::invalid_input(
                "max keys",
                &n.to_string(),
                "must be between 1 and 1000",
            ));
        }
        p.push(("max-keys".into(), n.to_string()));
    }
    if let Some(prefix) = &opts.prefix {
        p.push(("prefix".into(), prefix.clone()));
    }
    t.build(Method::GET, "", p, HeaderMap::new(), RequestBody::Empty)
}

/// InitiateMultipartUpload: `POST /<key>?uploads` with the object's headers.
pub(crate) fn initiate_multipart(
    t: Target<'_>,
    key: &str,
    opts: &PutOptions,
) -> Result<PreparedRequest, Error> {
    let headers = opts.object_headers()?;
    t.object(
        Method::POST,
        key,
        params(&[("uploads", "")]),
        headers,
        RequestBody::Empty,
    )
}

/// UploadPart: `PUT /<key>?partNumber=N&uploadId=ID`.
pub(crate) fn upload_part(
    t: Target<'_>,
    key: &str,
    upload_id: &str,
    part_number: u32,
    body: Bytes,
    opts: &PutOptions,
) -> Result<PreparedRequest, Error> {
    check_upload_id(upload_id)?;
    check_part_number(part_number)?;
    if body.len() as u64 > super::options::MAX_PART_SIZE {
        return Err(Error::invalid_input(
            "part",
            &format!("{} bytes", body.len()),
            "a part is at most 5 GiB",
        ));
    }
    let mut headers = HeaderMap::new();
    opts.transfer_headers(&mut headers, &body)?;
    if let Some(key) = &opts.customer_key {
        // SSE-C parts carry the key too.
        let sse = PutOptions {
            customer_key: Some(key.clone()),
            ..PutOptions::default()
        };
        headers.extend(sse.object_headers()?);
    }
    let n = part_number.to_string();
    t.object(
        Method::PUT,
        key,
        params(&[("partNumber", &n), ("uploadId", upload_id)]),
        headers,
        RequestBody::Bytes(body),
    )
}

/// CompleteMultipartUpload: `POST /<key>?uploadId=ID` with the part list.
pub(crate) fn complete_multipart(
    t: Target<'_>,
    key: &str,
    upload_id: &str,
    parts: &[PartRef<'_>],
) -> Result<PreparedRequest, Error> {
    check_upload_id(upload_id)?;
    if parts.is_empty() {
        return Err(Error::invalid_input(
            "parts",
            "[]",
            "a multipart upload needs at least one part",
        ));
    }
    if parts.windows(2).any(|w| w[0].number >= w[1].number) {
        return Err(Error::invalid_input(
            "parts",
            "part numbers",
            "must be strictly ascending",
        ));
    }
    let body = Bytes::from(xml::complete_multipart_body(parts));
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    t.object(
        Method::POST,
        key,
        params(&[("uploadId", upload_id)]),
        headers,
        RequestBody::Bytes(body),
    )
}

/// AbortMultipartUpload: `DELETE /<key>?uploadId=ID`.
pub(crate) fn abort_multipart(
    t: Target<'_>,
    key: &str,
    upload_id: &str,
) -> Result<PreparedRequest, Error> {
    check_upload_id(upload_id)?;
    t.object(
        Method::DELETE,
        key,
        params(&[("uploadId", upload_id)]),
        HeaderMap::new(),
        RequestBody::Empty,
    )
}

/// ListParts: `GET /<key>?uploadId=ID[&part-number-marker=M]`.
pub(crate) fn list_parts(
    t: Target<'_>,
    key: &str,
    upload_id: &str,
    marker: Option<&str>,
) -> Result<PreparedRequest, Error> {
    check_upload_id(upload_id)?;
    let mut p = params(&[("uploadId", upload_id)]);
    if let Some(m) = marker {
        p.push(("part-number-marker".into(), m.into()));
    }
    t.object(Method::GET, key, p, HeaderMap::new(), RequestBody::Empty)
}

/// ListMultipartUploads: `GET /?uploads&prefix=…`.
pub(crate) fn list_multipart_uploads(
    t: Target<'_>,
    prefix: Option<&str>,
    key_marker: Option<&str>,
    upload_id_marker: Option<&str>,
) -> Result<PreparedRequest, Error> {
    let mut p = params(&[("uploads", "")]);
    for (name, value) in [
        ("key-marker", key_marker),
        ("prefix", prefix),
        ("upload-id-marker", upload_id_marker),
    ] {
        if let Some(v) = value {
            p.push((name.into(), v.into()));
        }
    }
    t.build(Method::GET, "", p, HeaderMap::new(), RequestBody::Empty)
}

/// CopyObject: `PUT /<key>` with `x-cos-copy-source`.
pub(crate) fn copy_object(
    t: Target<'_>,
    key: &str,
    copy_source: &str,
    opts: &CopyOptions,
) -> Result<PreparedRequest, Error> {
    let mut headers = match &opts.replace_metadata {
        Some(put) => {
            let mut h = put.object_headers()?;
            h.insert(
                HeaderName::from_static("x-cos-metadata-directive"),
                HeaderValue::from_static("Replaced"),
            );
            h
        }
        None => {
            let mut h = HeaderMap::new();
            h.insert(
                HeaderName::from_static("x-cos-metadata-directive"),
                HeaderValue::from_static("Copy"),
            );
            h
        }
    };
    if let Some(class) = &opts.storage_class {
        headers.insert(
            HeaderName::from_static("x-cos-storage-class"),
            header_value("storage class", class.as_str())?,
        );
    }
    copy_source_headers(&mut headers, copy_source, opts)?;
    t.object(Method::PUT, key, vec![], headers, RequestBody::Empty)
}

/// `x-cos-copy-source` and the conditions and SSE-C key that apply to the
/// source, shared by CopyObject and UploadPartCopy.
fn copy_source_headers(
    headers: &mut HeaderMap,
    copy_source: &str,
    opts: &CopyOptions,
) -> Result<(), Error> {
    headers.insert(
        HeaderName::from_static("x-cos-copy-source"),
        header_value("copy source", copy_source)?,
    );
    for (name, value) in [
        ("x-cos-copy-source-if-match", &opts.source_if_match),
        (
            "x-cos-copy-source-if-none-match",
            &opts.source_if_none_match,
        ),
    ] {
        if let Some(v) = value {
            headers.insert(HeaderName::from_static(name), header_value(name, v)?);
        }
    }
    if let Some(k) = &opts.source_customer_key {
        let sse = PutOptions {
            customer_key: Some(k.clone()),
            ..PutOptions::default()
        };
        for (name, value) in sse.object_headers()? {
            if let Some(name) = name {
                let renamed = name.as_str().replace(
                    "x-cos-server-side-encryption-",
                    "x-cos-copy-source-server-side-encryption-",
                );
                if let Ok(n) = HeaderName::from_bytes(renamed.as_bytes()) {
                    headers.insert(n, value);
                }
            }
        }
    }
    Ok(())
}

/// UploadPartCopy: `PUT /<key>?partNumber=N&uploadId=ID` whose data is the
/// byte range `first..=last` of the copy source (the whole source when
/// `range` is `None`).
pub(crate) fn upload_part_copy(
    t: Target<'_>,
    key: &str,
    upload_id: &str,
    part_number: u32,
    copy_source: &str,
    range: Option<(u64, u64)>,
    opts: &CopyOptions,
) -> Result<PreparedRequest, Error> {
    check_upload_id(upload_id)?;
    check_part_number(part_number)?;
    let mut headers = HeaderMap::new();
    copy_source_headers(&mut headers, copy_source, opts)?;
    if let Some((first, last)) = range {
        if first > last || last - first >= super::options::MAX_PART_SIZE {
            return Err(Error::invalid_input(
                "copy source range",
                &format!("{first}-{last}"),
                "must be first <= last, at most 5 GiB",
            ));
        }
        headers.insert(
            HeaderName::from_static("x-cos-copy-source-range"),
            header_value("copy source range", &format!("bytes={first}-{last}"))?,
        );
    }
    let n = part_number.to_string();
    let params = params(&[("partNumber", &n), ("uploadId", upload_id)]);
    t.object(Method::PUT, key, params, headers, RequestBody::Empty)
}

fn check_part_number(part_number: u32) -> Result<(), Error> {
    if !(1..=super::options::MAX_PARTS).contains(&part_number) {
        return Err(Error::invalid_input(
            "part number",
            &part_number.to_string(),
            "must be between 1 and 10000",
        ));
    }
    Ok(())
}

/// PutBucket: `PUT /`, optionally with `x-cos-acl`.
pub(crate) fn put_bucket(t: Target<'_>, acl: Option<&str>) -> Result<PreparedRequest, Error> {
    let mut headers = HeaderMap::new();
    if let Some(acl) = acl {
        if !matches!(acl, "private" | "public-read" | "public-read-write") {
            return Err(Error::invalid_input(
                "bucket ACL",
                acl,
                "must be private, public-read or public-read-write",
            ));
        }
        headers.insert(
            HeaderName::from_static("x-cos-acl"),
            header_value("bucket ACL", acl)?,
        );
    }
    t.build(Method::PUT, "", vec![], headers, RequestBody::Empty)
}

/// HeadBucket: `HEAD /`.
pub(crate) fn head_bucket(t: Target<'_>) -> Result<PreparedRequest, Error> {
    t.build(
        Method::HEAD,
        "",
        vec![],
        HeaderMap::new(),
        RequestBody::Empty,
    )
}

/// DeleteBucket: `DELETE /`.
pub(crate) fn delete_bucket(t: Target<'_>) -> Result<PreparedRequest, Error> {
    t.build(
        Method::DELETE,
        "",
        vec![],
        HeaderMap::new(),
        RequestBody::Empty,
    )
}

fn check_upload_id(id: &str) -> Result<(), Error> {
    if id.is_empty() || id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid_input(
            "upload id",
            id,
            "is empty or contains whitespace",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::{Region, StorageClass};

    fn target_parts() -> (Endpoint, BucketName) {
        (
            Endpoint::for_region(&Region::parse("ap-guangzhou").unwrap()),
            BucketName::parse("examplebucket-1250000000").unwrap(),
        )
    }

    macro_rules! target {
        ($ep:expr, $b:expr) => {
            Target {
                endpoint: &$ep,
                bucket: &$b,
            }
        };
    }

    fn param<'a>(r: &'a PreparedRequest, name: &str) -> Option<&'a str> {
        r.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn put_object_special_key_is_encoded_once() {
        let (ep, b) = target_parts();
        let key = "dir/sub dir/文件 +!*'()~@$&=;:,.txt";
        let r = put_object(
            target!(ep, b),
            key,
            RequestBody::Bytes(Bytes::from_static(b"hi")),
            &PutOptions::default(),
        )
        .unwrap();
        assert_eq!(r.method, Method::PUT);
        // The wire path from docs/protocol/cos.md §2 (py_put_object_special_key).
        assert_eq!(
            r.url,
            "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/dir/sub%20dir/%E6%96%87%E4%BB%B6%20%2B%21%2A%27%28%29~%40%24%26%3D%3B%3A%2C.txt"
        );
        assert_eq!(r.signed_path, format!("/{key}"));
        assert_eq!(r.headers["content-length"], "2");
        assert_eq!(
            r.headers["host"],
            "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com"
        );
        assert!(r.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("coscls/"));
    }

    #[test]
    fn put_object_with_md5_and_class() {
        let (ep, b) = target_parts();
        let opts = PutOptions::default()
            .content_type("text/plain")
            .storage_class(StorageClass::STANDARD_IA)
            .with_content_md5();
        let r = put_object(
            target!(ep, b),
            "docs/report.txt",
            RequestBody::Bytes(Bytes::from_static(b"hello")),
            &opts,
        )
        .unwrap();
        assert_eq!(r.headers["content-md5"], "XUFAKrxLKna5cZ2REBfFkg==");
        assert_eq!(r.headers["x-cos-storage-class"], "STANDARD_IA");
        let empty = put_object(
            target!(ep, b),
            "e",
            RequestBody::Empty,
            &PutOptions::default(),
        )
        .unwrap();
        assert_eq!(
            empty.headers["content-length"], "0",
            "strict signature mode"
        );
    }

    #[test]
    fn streamed_put_rejects_md5() {
        let (ep, b) = target_parts();
        let stream = Box::pin(futures_util::stream::empty());
        let e = put_object(
            target!(ep, b),
            "k",
            RequestBody::Stream { len: 0, stream },
            &PutOptions::default().with_content_md5(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("content_md5"), "{e}");
    }

    #[test]
    fn get_object_params_and_range() {
        let (ep, b) = target_parts();
        let opts = GetOptions::default()
            .range(crate::cos::ByteRange::new(0, 9).unwrap())
            .version_id("v 1")
            .response_content_type("text/csv");
        let r = get_object(target!(ep, b), "a.csv", &opts).unwrap();
        assert_eq!(param(&r, "versionId"), Some("v 1"));
        assert_eq!(param(&r, "response-content-type"), Some("text/csv"));
        assert!(
            r.url
                .ends_with("?response-content-type=text%2Fcsv&versionId=v%201"),
            "{}",
            r.url
        );
        assert_eq!(r.headers["range"], "bytes=0-9");
        assert!(!r.headers.contains_key("content-length"));
        let h = head_object(target!(ep, b), "a.csv", &opts).unwrap();
        assert_eq!(h.method, Method::HEAD);
        assert!(!h.headers.contains_key("range"));
        assert_eq!(h.params.len(), 1);
    }

    #[test]
    fn multipart_requests() {
        let (ep, b) = target_parts();
        let t = target!(ep, b);
        let init = initiate_multipart(t, "v.mp4", &PutOptions::default().content_type("video/mp4"))
            .unwrap();
        assert_eq!(init.method, Method::POST);
        assert_eq!(param(&init, "uploads"), Some(""));
        assert_eq!(init.headers["content-length"], "0");
        let part = upload_part(
            t,
            "v.mp4",
            "up-1",
            3,
            Bytes::from_static(b"abc"),
            &PutOptions::default(),
        )
        .unwrap();
        assert_eq!(param(&part, "partNumber"), Some("3"));
        assert_eq!(param(&part, "uploadId"), Some("up-1"));
        assert!(upload_part(t, "v.mp4", "up-1", 0, Bytes::new(), &PutOptions::default()).is_err());
        assert!(upload_part(
            t,
            "v.mp4",
            "up-1",
            10_001,
            Bytes::new(),
            &PutOptions::default()
        )
        .is_err());
        assert!(upload_part(t, "v.mp4", "", 1, Bytes::new(), &PutOptions::default()).is_err());
        let parts = [
            PartRef {
                number: 1,
                etag: "\"a\"",
            },
            PartRef {
                number: 2,
                etag: "\"b\"",
            },
        ];
        let done = complete_multipart(t, "v.mp4", "up-1", &parts).unwrap();
        assert_eq!(done.headers["content-type"], "application/xml");
        let RequestBody::Bytes(body) = &done.body else {
            panic!("bytes body")
        };
        assert!(body.starts_with(b"<CompleteMultipartUpload><Part><PartNumber>1<"));
        let unordered = [
            PartRef {
                number: 2,
                etag: "\"a\"",
            },
            PartRef {
                number: 1,
                etag: "\"b\"",
            },
        ];
        assert!(complete_multipart(t, "v.mp4", "up-1", &unordered).is_err());
        assert!(complete_multipart(t, "v.mp4", "up-1", &[]).is_err());
        let abort = abort_multipart(t, "v.mp4", "up-1").unwrap();
        assert_eq!(abort.method, Method::DELETE);
        let lp = list_parts(t, "v.mp4", "up-1", Some("2")).unwrap();
        assert_eq!(param(&lp, "part-number-marker"), Some("2"));
        let lu = list_multipart_uploads(t, Some("v.mp4"), None, None).unwrap();
        assert_eq!(lu.signed_path, "/");
        assert_eq!(param(&lu, "prefix"), Some("v.mp4"));
    }

    #[test]
    fn delete_objects_has_md5_and_limits() {
        let (ep, b) = target_parts();
        let t = target!(ep, b);
        let r = delete_objects(t, &[("a", None), ("b", Some("v"))], true).unwrap();
        assert!(r.headers.contains_key("content-md5"));
        assert_eq!(param(&r, "delete"), Some(""));
        assert!(delete_objects(t, &[], true).is_err());
        let many: Vec<(&str, Option<&str>)> = vec![("k", None); 1001];
        assert!(delete_objects(t, &many, true).is_err());
        assert!(delete_objects(t, &[("/bad", None)], true).is_err());
    }

    #[test]
    fn list_objects_params() {
        let (ep, b) = target_parts();
        let t = target!(ep, b);
        let opts = ListOptions::default()
            .prefix("photos/2024 trip+x/")
            .delimiter("/")
            .max_keys(10);
        let r = list_objects(t, &opts).unwrap();
        assert!(
            r.url.contains("prefix=photos%2F2024%20trip%2Bx%2F"),
            "{}",
            r.url
        );
        assert_eq!(param(&r, "encoding-type"), Some("url"));
        assert_eq!(param(&r, "max-keys"), Some("10"));
        assert!(list_objects(t, &ListOptions::default().max_keys(0)).is_err());
        assert!(list_objects(t, &ListOptions::default().max_keys(1001)).is_err());
    }

    #[test]
    fn copy_and_bucket_requests() {
        let (ep, b) = target_parts();
        let t = target!(ep, b);
        let src = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/a%20b.txt";
        let r = copy_object(t, "c.txt", src, &CopyOptions::default()).unwrap();
        assert_eq!(r.headers["x-cos-copy-source"], src);
        assert_eq!(r.headers["x-cos-metadata-directive"], "Copy");
        let r = copy_object(
            t,
            "c.txt",
            src,
            &CopyOptions::default()
                .replace_metadata(PutOptions::default().content_type("text/csv")),
        )
        .unwrap();
        assert_eq!(r.headers["x-cos-metadata-directive"], "Replaced");
        assert_eq!(r.headers["content-type"], "text/csv");
        assert_eq!(put_bucket(t, Some("private")).unwrap().signed_path, "/");
        assert!(put_bucket(t, Some("everyone")).is_err());
        assert_eq!(head_bucket(t).unwrap().method, Method::HEAD);
        assert_eq!(delete_bucket(t).unwrap().method, Method::DELETE);
    }

    #[test]
    fn path_style_signs_the_bucket_in_the_path() {
        let ep = Endpoint::custom("http://127.0.0.1:9000").unwrap();
        let b = BucketName::parse("b-1").unwrap();
        let r = get_object(target!(ep, b), "a b", &GetOptions::default()).unwrap();
        assert_eq!(r.url, "http://127.0.0.1:9000/b-1/a%20b");
        assert_eq!(r.signed_path, "/b-1/a b");
        assert_eq!(r.headers["host"], "127.0.0.1:9000");
    }

    #[test]
    fn bad_keys_fail_before_any_request() {
        let (ep, b) = target_parts();
        for key in ["", "/x", "a/..", &"k".repeat(851)] {
            assert!(
                get_object(target!(ep, b), key, &GetOptions::default()).is_err(),
                "{key}"
            );
        }
    }

    #[test]
    fn clones_share_bytes_but_not_streams() {
        let (ep, b) = target_parts();
        let r = put_object(
            target!(ep, b),
            "k",
            RequestBody::Bytes(Bytes::from_static(b"x")),
            &PutOptions::default(),
        )
        .unwrap();
        assert!(try_clone(&r).is_some());
        let s = put_object(
            target!(ep, b),
            "k",
            RequestBody::Stream {
                len: 0,
                stream: Box::pin(futures_util::stream::empty()),
            },
            &PutOptions::default(),
        )
        .unwrap();
        assert!(try_clone(&s).is_none());
    }
}
