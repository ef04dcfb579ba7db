//! What every response reader shares: error answers into
//! [`ServiceError`], header lookups, the CRC-64 checks, and the object
//! headers every GET, HEAD and PUT returns typed into [`ObjectMeta`].

use std::collections::BTreeMap;
use std::time::SystemTime;

use http::header::AsHeaderName;
use http::{HeaderMap, HeaderName, StatusCode};

use super::xml::{self, ErrorBody};
use super::{Error, ServiceError};
use crate::transport::ResponseBody;

/// Error bodies are small; anything larger is not a COS error document.
pub(crate) const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Bodies of successful XML answers (a 1000-key listing is ~500 KB).
pub(crate) const XML_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Turns a non-2xx response into a [`cos::Error`](Error), reading at most
/// 64 KiB of its body. HEAD answers and some proxies send no body; the code
/// is then derived from the status.
pub(crate) async fn parse_error(response: http::Response<ResponseBody>) -> Error {
    let (parts, body) = response.into_parts();
    let bytes = body.collect(ERROR_BODY_LIMIT).await.unwrap_or_default();
    service_error(parts.status, &parts.headers, &bytes)
}

/// Builds the service error of a response with `body` (possibly empty).
pub(crate) fn service_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed: Option<ErrorBody> = if xml::is_error_document(body) {
        xml::parse("error", body).ok()
    } else {
        None
    };
    let header_code = header(headers, "x-cos-error-code");
    let mut err = ServiceError {
        status: status.as_u16(),
        request_id: header(headers, X_COS_REQUEST_ID),
        trace_id: header(headers, "x-cos-trace-id"),
        server_date: header(headers, "date").and_then(|d| httpdate::parse_http_date(&d).ok()),
        ..Default::default()
    };
    match parsed {
        Some(body) => {
            err.code = body.code;
            err.message = body.message;
            err.resource = body.resource;
            err.string_to_sign = body.string_to_sign;
            err.format_string = body.format_string.map(|s| redact_format_string(&s));
            if err.request_id.is_none() {
                err.request_id = body.request_id;
            }
            if err.trace_id.is_none() {
                err.trace_id = body.trace_id;
            }
        }
        None => {
            let snippet = String::from_utf8_lossy(&body[..body.len().min(200)]);
            err.message = if snippet.trim().is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("no error body")
                    .to_string()
            } else {
                snippet.trim().to_string()
            };
        }
    }
    if err.code.is_empty() {
        err.code = header_code.unwrap_or_else(|| code_for_status(status).to_string());
    }
    Error::Service(Box::new(err))
}

/// The code COS would have sent for a body-less answer (the Python SDK's
/// convention for HEAD: `NoSuchResource` on 404).
fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        304 => "NotModified",
        400 => "BadRequest",
        401 | 403 => "AccessDenied",
        404 => "NoSuchResource",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        411 => "MissingContentLength",
        412 => "PreconditionFailed",
        416 => "InvalidRange",
        429 => "TooManyRequests",
        500 => "InternalError",
        501 => "NotImplemented",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        s if s >= 500 => "ServerError",
        _ => "UnknownError",
    }
}

/// The server echoes the signed headers in `FormatString`; blank out values
/// that are secrets (an STS token, an SSE-C key) so the error can be logged.
fn redact_format_string(s: &str) -> String {
    const SECRET: [&str; 3] = [
        "x-cos-security-token=",
        "x-cos-server-side-encryption-customer-key=",
        "x-ci-security-token=",
    ];
    s.split('\n')
        .map(|line| {
            line.split('&')
                .map(|pair| match SECRET.iter().find(|p| pair.starts_with(**p)) {
                    Some(prefix) => format!("{prefix}***"),
                    None => pair.to_string(),
                })
                .collect::<Vec<_>>()
                .join("&")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A header as a string, if present and text.
pub(crate) fn header(headers: &HeaderMap, name: impl AsHeaderName) -> Option<String> {
    header_str(headers, name).map(str::to_string)
}

/// A header as a borrowed, trimmed string, if present and text.
pub(crate) fn header_str(headers: &HeaderMap, name: impl AsHeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim_ascii)
}

// Names parsed at compile time, so a lookup does not parse and validate
// the name on every call, as a lookup by `&str` does.
const X_COS_HASH_CRC64ECMA: HeaderName = HeaderName::from_static("x-cos-hash-crc64ecma");
pub(crate) const X_COS_REQUEST_ID: HeaderName = HeaderName::from_static("x-cos-request-id");
pub(crate) const X_COS_VERSION_ID: HeaderName = HeaderName::from_static("x-cos-version-id");

/// `x-cos-hash-crc64ecma`: absent is `None` (objects from before COS had
/// CRCs), malformed is an error.
pub(crate) fn crc64_header(headers: &HeaderMap) -> Result<Option<u64>, Error> {
    crc64_value(header_str(headers, X_COS_HASH_CRC64ECMA))
}

/// The value of `x-cos-hash-crc64ecma`: absent or empty is `None`.
fn crc64_value(value: Option<&str>) -> Result<Option<u64>, Error> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => parse_crc(v).map(Some),
    }
}

pub(crate) fn parse_crc(v: &str) -> Result<u64, Error> {
    v.trim_ascii()
        .parse()
        .map_err(|_| Error::protocol(format!("x-cos-hash-crc64ecma {v:?} is not a decimal u64")))
}

/// What COS says about an object (HEAD, or the headers of a GET).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectMeta {
    /// Bytes in this response's body (the range for a ranged GET) or, for
    /// HEAD, in the object.
    pub content_length: u64,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `Expires`.
    pub expires: Option<String>,
    /// `ETag`, quoted as COS sends it. Not necessarily an MD5.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<SystemTime>,
    /// `x-cos-hash-crc64ecma` of the whole object.
    pub crc64: Option<u64>,
    /// `x-cos-version-id`.
    pub version_id: Option<String>,
    /// `x-cos-storage-class` (absent for STANDARD).
    pub storage_class: Option<String>,
    /// `x-cos-object-type` (`normal`, `appendable`).
    pub object_type: Option<String>,
    /// `x-cos-server-side-encryption`.
    pub server_side_encryption: Option<String>,
    /// `x-cos-restore` of an archived object: a restore under way or the
    /// restored copy's expiry (absent, or not understood, is `None`).
    pub restore: Option<super::RestoreStatus>,
    /// User metadata, names without the `x-cos-meta-` prefix.
    pub metadata: BTreeMap<String, String>,
    /// `x-cos-request-id`.
    pub request_id: Option<String>,
}

impl ObjectMeta {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Self, Error> {
        Ok(Self::from_checked(headers, BodyChecks::parse(headers)?))
    }

    /// The fields besides the two `checks` holds, which were parsed (and
    /// could fail) already; nothing else here can fail.
    pub(crate) fn from_checked(headers: &HeaderMap, checks: BodyChecks) -> Self {
        // One pass over the (few) response headers instead of a hashed
        // lookup per field; like `HeaderMap::get`, the first value of a
        // name wins, and a value that is not text counts as absent.
        let mut metadata = BTreeMap::new();
        let mut f = Fields::default();
        for (name, value) in headers {
            let name = name.as_str();
            if let Some(short) = name.strip_prefix("x-cos-meta-") {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                metadata.insert(short.to_string(), value);
                continue;
            }
            let slot = match name {
                "content-type" => &mut f.content_type,
                "content-disposition" => &mut f.content_disposition,
                "content-encoding" => &mut f.content_encoding,
                "cache-control" => &mut f.cache_control,
                "expires" => &mut f.expires,
                "etag" => &mut f.etag,
                "last-modified" => &mut f.last_modified,
                "x-cos-version-id" => &mut f.version_id,
                "x-cos-storage-class" => &mut f.storage_class,
                "x-cos-object-type" => &mut f.object_type,
                "x-cos-server-side-encryption" => &mut f.server_side_encryption,
                "x-cos-restore" => &mut f.restore,
                "x-cos-request-id" => &mut f.request_id,
                _ => continue,
            };
            if slot.is_none() {
                // HTTP's optional whitespace is ASCII only (RFC 9110 §5.6.3);
                // `str::trim` would decode characters to look for Unicode spaces.
                *slot = Some(value.to_str().ok().map(str::trim_ascii));
            }
        }
        let owned = |v: Option<Option<&str>>| v.flatten().map(str::to_string);
        ObjectMeta {
            content_length: checks.content_length.unwrap_or(0),
            content_type: owned(f.content_type),
            content_disposition: owned(f.content_disposition),
            content_encoding: owned(f.content_encoding),
            cache_control: owned(f.cache_control),
            expires: owned(f.expires),
            etag: owned(f.etag),
            last_modified: f
                .last_modified
                .flatten()
                .and_then(|d| httpdate::parse_http_date(d).ok()),
            crc64: checks.crc64,
            version_id: owned(f.version_id),
            storage_class: owned(f.storage_class),
            object_type: owned(f.object_type),
            server_side_encryption: owned(f.server_side_encryption),
            restore: f.restore.flatten().and_then(super::RestoreStatus::parse),
            metadata,
            request_id: owned(f.request_id),
        }
    }
}

/// The two headers a body is checked against as it arrives: its length and
/// the object's CRC-64. A malformed value is an error when the response
/// arrives, which leaves the rest of [`ObjectMeta`] free to be typed later,
/// or never, without a way to fail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BodyChecks {
    /// `Content-Length`, if sent.
    pub content_length: Option<u64>,
    /// `x-cos-hash-crc64ecma`, if sent and not empty.
    pub crc64: Option<u64>,
}

impl BodyChecks {
    pub(crate) fn parse(headers: &HeaderMap) -> Result<Self, Error> {
        let content_length =
            match header_str(headers, http::header::CONTENT_LENGTH) {
                Some(v) => Some(v.parse().map_err(|_| {
                    Error::protocol(format!("Content-Length {v:?} is not a number"))
                })?),
                None => None,
            };
        Ok(BodyChecks {
            content_length,
            crc64: crc64_header(headers)?,
        })
    }
}

/// The first value of each header `ObjectMeta::from_checked` reads: `None`
/// when the name was not seen, `Some(None)` when its first value is not text.
#[derive(Default)]
struct Fields<'a> {
    content_type: Option<Option<&'a str>>,
    content_disposition: Option<Option<&'a str>>,
    content_encoding: Option<Option<&'a str>>,
    cache_control: Option<Option<&'a str>>,
    expires: Option<Option<&'a str>>,
    etag: Option<Option<&'a str>>,
    last_modified: Option<Option<&'a str>>,
    version_id: Option<Option<&'a str>>,
    storage_class: Option<Option<&'a str>>,
    object_type: Option<Option<&'a str>>,
    server_side_encryption: Option<Option<&'a str>>,
    restore: Option<Option<&'a str>>,
    request_id: Option<Option<&'a str>>,
}

/// Compares the server's CRC-64 with the local one when both exist.
/// `what` names the transfer in the error; it is only formatted on a
/// mismatch, so a successful check allocates nothing.
pub(crate) fn check_crc(
    what: std::fmt::Arguments<'_>,
    server: Option<u64>,
    local: Option<u64>,
) -> Result<(), Error> {
    match (server, local) {
        (Some(server), Some(computed)) if server != computed => Err(Error::ChecksumMismatch {
            what: what.to_string(),
            server,
            computed,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn xml_error_with_headers() {
        let h = headers(&[
            ("x-cos-request-id", "req-9"),
            ("date", "Wed, 01 May 2024 10:20:30 GMT"),
        ]);
        let body = b"<?xml version='1.0' encoding='utf-8' ?>\n<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the server's time is too large.</Message><RequestId>body-id</RequestId></Error>";
        let e = service_error(StatusCode::FORBIDDEN, &h, body);
        let s = e.service().unwrap();
        assert_eq!(s.code, "RequestTimeTooSkewed");
        assert_eq!(s.status, 403);
        assert_eq!(s.request_id.as_deref(), Some("req-9"), "header wins");
        assert!(s.server_date.is_some());
        assert!(s.is_clock_skew());
        use crate::transport::PipelineError;
        assert!(e.clock_skew_date().is_some());
    }

    #[test]
    fn body_less_answers_get_a_code_from_the_status() {
        let e = service_error(
            StatusCode::NOT_FOUND,
            &headers(&[("x-cos-request-id", "r")]),
            b"",
        );
        assert_eq!(e.code(), Some("NoSuchResource"));
        assert_eq!(e.status(), Some(404));
        assert_eq!(e.request_id(), Some("r"));
        let e = service_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &HeaderMap::new(),
            b"<html>busy</html>",
        );
        assert_eq!(e.code(), Some("ServiceUnavailable"));
        assert!(e.to_string().contains("busy"));
        let e = service_error(
            StatusCode::FORBIDDEN,
            &headers(&[("x-cos-error-code", "AccessDenied")]),
            b"",
        );
        assert_eq!(e.code(), Some("AccessDenied"));
    }

    #[test]
    fn secrets_in_the_echoed_format_string_are_redacted() {
        let body = "<Error><Code>SignatureDoesNotMatch</Code><Message>m</Message>\
            <FormatString>put\n/k\n\nhost=h&amp;x-cos-security-token=TOKEN&amp;x-cos-server-side-encryption-customer-key=KEY\n</FormatString></Error>";
        let e = service_error(StatusCode::FORBIDDEN, &HeaderMap::new(), body.as_bytes());
        let fs = e.service().unwrap().format_string.clone().unwrap();
        assert!(!fs.contains("TOKEN") && !fs.contains("KEY"), "{fs}");
        assert!(fs.contains("host=h"));
    }

    #[test]
    fn object_meta() {
        let h = headers(&[
            ("content-length", "42"),
            ("content-type", "text/plain"),
            ("etag", "\"abc\""),
            ("last-modified", "Wed, 01 May 2024 10:20:30 GMT"),
            ("x-cos-hash-crc64ecma", "13242225731321912570"),
            ("x-cos-meta-author", "alice"),
            ("x-cos-version-id", "v1"),
        ]);
        let m = ObjectMeta::from_headers(&h).unwrap();
        assert_eq!(m.content_length, 42);
        assert_eq!(m.crc64, Some(13242225731321912570));
        assert_eq!(m.metadata["author"], "alice");
        assert_eq!(m.version_id.as_deref(), Some("v1"));
        assert!(m.last_modified.is_some());
        let bad = headers(&[("x-cos-hash-crc64ecma", "-1")]);
        assert!(ObjectMeta::from_headers(&bad).is_err());
    }

    #[test]
    fn body_checks_parse_only_length_and_crc() {
        let none = BodyChecks::parse(&HeaderMap::new()).unwrap();
        assert_eq!(none, BodyChecks::default());
        let h = headers(&[
            ("content-length", " 42 "),
            ("x-cos-hash-crc64ecma", "7"),
            ("etag", "\"e\""),
        ]);
        let checks = BodyChecks::parse(&h).unwrap();
        assert_eq!((checks.content_length, checks.crc64), (Some(42), Some(7)));
        let m = ObjectMeta::from_checked(&h, checks);
        assert_eq!((m.content_length, m.crc64), (42, Some(7)));
        assert_eq!(m.etag.as_deref(), Some("\"e\""));
        assert_eq!(m, ObjectMeta::from_headers(&h).unwrap());
        let e = BodyChecks::parse(&headers(&[("content-length", "4x")])).unwrap_err();
        assert!(e.to_string().contains("Content-Length \"4x\""), "{e}");
        let e = BodyChecks::parse(&headers(&[("x-cos-hash-crc64ecma", "-1")])).unwrap_err();
        assert!(e.to_string().contains("x-cos-hash-crc64ecma"), "{e}");
    }

    #[test]
    fn object_meta_reads_the_first_value_like_header_map_get() {
        let h = headers(&[
            ("etag", " \"first\" "),
            ("etag", "\"second\""),
            ("x-cos-request-id", "r1"),
            ("x-cos-hash-crc64ecma", ""),
            ("cache-control", "no-cache"),
            ("x-cos-storage-class", "ARCHIVE"),
        ]);
        let m = ObjectMeta::from_headers(&h).unwrap();
        assert_eq!(m.etag.as_deref(), Some("\"first\""));
        assert_eq!(m.request_id.as_deref(), Some("r1"));
        assert_eq!(m.crc64, None, "an empty CRC header is absent");
        assert_eq!(m.cache_control.as_deref(), Some("no-cache"));
        assert_eq!(m.storage_class.as_deref(), Some("ARCHIVE"));
        assert_eq!(m.content_length, 0);
        let mut binary = HeaderMap::new();
        binary.append("content-type", HeaderValue::from_bytes(b"\xff").unwrap());
        binary.append("content-type", HeaderValue::from_static("text/plain"));
        assert_eq!(
            ObjectMeta::from_headers(&binary).unwrap().content_type,
            None
        );
        let bad_len = headers(&[("content-length", "x")]);
        assert!(ObjectMeta::from_headers(&bad_len).is_err());
    }
}
