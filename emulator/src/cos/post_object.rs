//! PostObject (`POST /` with a `multipart/form-data` body): the browser
//! upload whose authority is a signed policy in the form instead of an
//! `Authorization` header (COS "POST Object", docs 436/14690).
//!
//! The signature, as the official Java SDK's `buildPostObjectSignature`
//! computes it: `SignKey = hex(HMAC-SHA1(SecretKey, q-key-time))`,
//! `StringToSign = hex(SHA1(policy JSON))` (the decoded policy text), and
//! `q-signature = hex(HMAC-SHA1(SignKey, StringToSign))`. The policy's
//! `expiration` and every condition in it are then checked against the
//! form: exact matches (`{"field": "value"}`, `["eq", "$field", "value"]`),
//! prefixes (`["starts-with", "$field", "prefix"]`) and the size range
//! (`["content-length-range", min, max]`).

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use sha1::{Digest as _, Sha1};

use super::errors::CosError;
use super::objects::MAX_SINGLE_PUT;
use super::xml::Doc;
use super::{
    empty_response, meta_from_headers, require_bucket, set_header, xml_response, CosRequest,
};
use crate::body::{self, Body};
use crate::state::State;
use crate::store::Object;

/// Room for the form fields around the file, on top of the largest object.
const FORM_OVERHEAD: u64 = 1 << 20;

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FormPart<'a> {
    pub(crate) name: String,
    pub(crate) filename: Option<String>,
    pub(crate) data: &'a [u8],
}

/// The `boundary` parameter of a `multipart/form-data` content type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// A `name="value"` parameter of a `Content-Disposition` line.
fn disposition_param(line: &str, name: &str) -> Option<String> {
    line.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Splits a `multipart/form-data` body into its parts (RFC 7578).
pub(crate) fn parse_form<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<FormPart<'a>>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut at = find(body, delimiter, 0).ok_or("the body has no boundary line")?;
    let mut parts = Vec::new();
    loop {
        at += delimiter.len();
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        if !rest.starts_with(b"\r\n") {
            return Err("a boundary line does not end with CRLF".into());
        }
        at += 2;
        let head_end = find(body, b"\r\n\r\n", at).ok_or("a part has no header end")?;
        let head = std::str::from_utf8(&body[at..head_end])
            .map_err(|_| "part headers are not UTF-8".to_string())?;
        let disposition = head
            .split("\r\n")
            .find(|l| {
                l.split_once(':')
                    .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case("content-disposition"))
            })
            .ok_or("a part has no Content-Disposition")?;
        let name = disposition_param(disposition, "name").ok_or("a part has no name")?;
        let filename = disposition_param(disposition, "filename");
        let data_start = head_end + 4;
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(delimiter);
        let data_end = find(body, &closing, data_start).ok_or("a part is not closed")?;
        parts.push(FormPart {
            name,
            filename,
            data: &body[data_start..data_end],
        });
        at = data_end + 2;
    }
}

type HmacSha1 = Hmac<Sha1>;

fn hmac_sha1_hex(key: &[u8], message: &[u8]) -> String {
    // HMAC accepts keys of any length; the error branch cannot happen.
    match HmacSha1::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// `q-signature` of a policy (see the module documentation).
pub(crate) fn policy_signature(secret_key: &str, key_time: &str, policy: &[u8]) -> String {
    let sign_key = hmac_sha1_hex(secret_key.as_bytes(), key_time.as_bytes());
    let string_to_sign = hex::encode(Sha1::digest(policy));
    hmac_sha1_hex(sign_key.as_bytes(), string_to_sign.as_bytes())
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds of `2024-01-02T03:04:05[.fff]Z`.
pub(crate) fn parse_expiration(s: &str) -> Option<i64> {
    let s = s.trim().strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-');
    let (y, mo, da) = (d.next()?, d.next()?, d.next()?);
    if d.next().is_some() || y.len() != 4 || mo.len() != 2 || da.len() != 2 {
        return None;
    }
    let (y, mo, da): (i64, i64, i64) = (y.parse().ok()?, mo.parse().ok()?, da.parse().ok()?);
    let time = time.split_once('.').map_or(time, |(t, frac)| {
        if frac.bytes().all(|b| b.is_ascii_digit()) {
            t
        } else {
            ""
        }
    });
    let mut t = time.split(':');
    let (h, mi, se) = (t.next()?, t.next()?, t.next()?);
    if t.next().is_some() || h.len() != 2 || mi.len() != 2 || se.len() != 2 {
        return None;
    }
    let (h, mi, se): (i64, i64, i64) = (h.parse().ok()?, mi.parse().ok()?, se.parse().ok()?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Why a policy refuses a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PolicyError {
    /// Not JSON, or not the shape of a policy (400 `InvalidPolicyDocument`).
    Invalid(String),
    /// Past its `expiration` (403).
    Expired,
    /// A condition does not hold (403).
    Condition(String),
    /// The file is smaller than `content-length-range` allows (400).
    TooSmall { size: u64, min: u64 },
    /// The file is larger than `content-length-range` allows (400).
    TooLarge { size: u64, max: u64 },
}

impl PolicyError {
    fn into_cos(self) -> CosError {
        match self {
            PolicyError::Invalid(why) => {
                CosError::new(400, "InvalidPolicyDocument", format!("Invalid Policy: {why}"))
            }
            PolicyError::Expired => CosError::new(
                403,
                "AccessDenied",
                "Invalid according to Policy: Policy expired.",
            ),
            PolicyError::Condition(c) => CosError::new(
                403,
                "AccessDenied",
                format!("Invalid according to Policy: Policy Condition failed: {c}"),
            ),
            PolicyError::TooSmall { size, min } => CosError::new(
                400,
                "EntityTooSmall",
                format!("Your proposed upload of {size} bytes is smaller than the minimum of {min} bytes the policy allows."),
            ),
            PolicyError::TooLarge { size, max } => CosError::new(
                400,
                "EntityTooLarge",
                format!("Your proposed upload of {size} bytes exceeds the maximum of {max} bytes the policy allows."),
            ),
        }
    }
}

/// The value a condition on `field` is checked against: the form field of
/// that name (case-insensitive), the bucket for `bucket`, and the
/// `q-key-time` field for the policy's `q-sign-time`.
fn field_value<'a>(
    fields: &'a [(String, String)],
    bucket: &'a str,
    field: &str,
) -> Option<&'a str> {
    let field = field.strip_prefix('$').unwrap_or(field);
    if field.eq_ignore_ascii_case("bucket") {
        return Some(bucket);
    }
    let lookup = if field.eq_ignore_ascii_case("q-sign-time") {
        "q-key-time"
    } else {
        field
    };
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(lookup))
        .map(|(_, v)| v.as_str())
}

fn json_u64(v: &serde_json::Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Checks a decoded policy against the form fields, the bucket, the file
/// size and the object clock `now` (pure).
pub(crate) fn check_policy(
    policy: &[u8],
    fields: &[(String, String)],
    bucket: &str,
    size: u64,
    now: i64,
) -> Result<(), PolicyError> {
    let doc: serde_json::Value =
        serde_json::from_slice(policy).map_err(|e| PolicyError::Invalid(e.to_string()))?;
    let expiration = doc
        .get("expiration")
        .and_then(|v| v.as_str())
        .ok_or_else(|| PolicyError::Invalid("no expiration".into()))?;
    let expires = parse_expiration(expiration).ok_or_else(|| {
        PolicyError::Invalid(format!("expiration {expiration:?} is not ISO 8601 UTC"))
    })?;
    if now > expires {
        return Err(PolicyError::Expired);
    }
    let conditions = doc
        .get("conditions")
        .and_then(|v| v.as_array())
        .ok_or_else(|| PolicyError::Invalid("no conditions list".into()))?;
    for c in conditions {
        if let Some(map) = c.as_object() {
            for (name, want) in map {
                let want = want
                    .as_str()
                    .ok_or_else(|| PolicyError::Invalid(format!("condition {name} is not text")))?;
                if field_value(fields, bucket, name) != Some(want) {
                    return Err(PolicyError::Condition(format!(
                        "[\"eq\", \"${name}\", {want:?}]"
                    )));
                }
            }
            continue;
        }
        let list = c.as_array().ok_or_else(|| {
            PolicyError::Invalid(format!("condition {c} is neither an object nor a list"))
        })?;
        let op = list.first().and_then(|v| v.as_str()).unwrap_or_default();
        match (op.to_ascii_lowercase().as_str(), list.len()) {
            ("content-length-range", 3) => {
                let (Some(min), Some(max)) = (json_u64(&list[1]), json_u64(&list[2])) else {
                    return Err(PolicyError::Invalid(format!(
                        "{c}: the range is not two byte counts"
                    )));
                };
                if size < min {
                    return Err(PolicyError::TooSmall { size, min });
                }
                if size > max {
                    return Err(PolicyError::TooLarge { size, max });
                }
            }
            (kind @ ("eq" | "starts-with"), 3) => {
                let (Some(name), Some(want)) = (list[1].as_str(), list[2].as_str()) else {
                    return Err(PolicyError::Invalid(format!(
                        "{c}: field and value must be text"
                    )));
                };
                let got = field_value(fields, bucket, name);
                let holds = match (kind, got) {
                    ("eq", Some(g)) => g == want,
                    (_, Some(g)) => g.starts_with(want),
                    (_, None) => false,
                };
                if !holds {
                    return Err(PolicyError::Condition(c.to_string()));
                }
            }
            _ => return Err(PolicyError::Invalid(format!("unknown condition {c}"))),
        }
    }
    Ok(())
}

/// Form fields stored as object metadata, as the headers of a PUT.
fn meta_headers(fields: &[(String, String)]) -> Result<HeaderMap, CosError> {
    const STORED: [&str; 6] = [
        "content-type",
        "cache-control",
        "content-disposition",
        "content-encoding",
        "expires",
        "x-cos-storage-class",
    ];
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        let lower = name.to_ascii_lowercase();
        if STORED.contains(&lower.as_str()) || lower.starts_with("x-cos-meta-") {
            let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(lower.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                return Err(CosError::invalid_argument(format!(
                    "form field {name} is not a valid header"
                )));
            };
            headers.insert(n, v);
        }
    }
    Ok(headers)
}

fn signature_mismatch() -> CosError {
    CosError::new(
        403,
        "SignatureDoesNotMatch",
        "The q-signature form field does not match the policy signed with the q-ak's key and q-key-time.",
    )
}

/// Checks the form's signature fields: algorithm, known `q-ak`, the
/// `q-key-time` window, the session token of temporary credentials and
/// `q-signature` over the decoded policy. Returns the decoded policy.
fn verify_form(state: &State, fields: &[(String, String)], now: i64) -> Result<Vec<u8>, CosError> {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let missing = |name: &str| {
        CosError::new(
            403,
            "AccessDenied",
            format!("Access Denied: the form has no {name} field."),
        )
    };
    let algorithm = get("q-sign-algorithm").ok_or_else(|| missing("q-sign-algorithm"))?;
    if !algorithm.eq_ignore_ascii_case("sha1") {
        return Err(CosError::invalid_argument(format!(
            "q-sign-algorithm must be sha1, got {algorithm:?}"
        )));
    }
    let ak = get("q-ak").ok_or_else(|| missing("q-ak"))?;
    let key_time = get("q-key-time").ok_or_else(|| missing("q-key-time"))?;
    let signature = get("q-signature").ok_or_else(|| missing("q-signature"))?;
    let encoded = get("policy").ok_or_else(|| missing("policy"))?;
    let entry = state.keys.get(ak).ok_or_else(|| {
        CosError::new(
            403,
            "InvalidAccessKeyId",
            "The q-ak form field is not a known SecretId.",
        )
    })?;
    let window = key_time
        .split_once(';')
        .and_then(|(a, b)| Some((a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?)));
    let Some((start, end)) = window else {
        return Err(CosError::new(
            403,
            "AccessDenied",
            format!("q-key-time {key_time:?} is not <start>;<end>"),
        ));
    };
    if now > end {
        return Err(CosError::new(403, "AccessDenied", "Request has expired"));
    }
    if now < start {
        return Err(CosError::new(
            403,
            "RequestTimeTooSkewed",
            "The q-key-time window has not started yet.",
        ));
    }
    if let Some(token) = &entry.token {
        match get("x-cos-security-token") {
            Some(t) if constant_eq(t.as_bytes(), token.as_bytes()) => {}
            Some(_) => {
                return Err(CosError::new(
                    403,
                    "InvalidToken",
                    "The security token is not valid.",
                ))
            }
            None => return Err(missing("x-cos-security-token")),
        }
    }
    let policy = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| {
            CosError::new(
                400,
                "InvalidPolicyDocument",
                "The policy field is not base64.",
            )
        })?;
    let expected = policy_signature(&entry.secret_key, key_time, &policy);
    if !constant_eq(
        expected.as_bytes(),
        signature.trim().to_ascii_lowercase().as_bytes(),
    ) {
        return Err(signature_mismatch());
    }
    Ok(policy)
}

pub(crate) async fn post_object(
    state: &State,
    mut req: CosRequest,
) -> Result<Response<Body>, CosError> {
    if let Err(e) = require_bucket(state, &req) {
        body::drain(&mut req.body, super::DRAIN_LIMIT).await;
        return Err(e);
    }
    let Some(boundary) = req.header("content-type").and_then(boundary) else {
        body::drain(&mut req.body, super::DRAIN_LIMIT).await;
        return Err(CosError::invalid_argument(
            "POST Object needs Content-Type: multipart/form-data; boundary=…",
        ));
    };
    let max_object = state.config.max_object_size.min(MAX_SINGLE_PUT);
    // The emulator buffers the form; COS streams it.
    let limit = usize::try_from(max_object.saturating_add(FORM_OVERHEAD)).unwrap_or(usize::MAX);
    let data = body::collect(&mut req.body, limit)
        .await
        .map_err(|e| match e {
            body::ReadError::TooLarge => CosError::new(
                400,
                "EntityTooLarge",
                format!("The form exceeds the {max_object}-byte object limit."),
            ),
            body::ReadError::Transport(e) => CosError::new(
                400,
                "IncompleteBody",
                format!("The request body could not be read: {e}"),
            ),
        })?;
    let parts = parse_form(&data, &boundary).map_err(|why| {
        CosError::new(
            400,
            "MalformedPOSTRequest",
            format!("The form is malformed: {why}."),
        )
    })?;
    // Fields before the file; COS ignores what follows it.
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut file = None;
    for part in &parts {
        if part.name == "file" {
            file = Some(part);
            break;
        }
        let value = String::from_utf8(part.data.to_vec()).map_err(|_| {
            CosError::invalid_argument(format!("form field {} is not UTF-8", part.name))
        })?;
        fields.push((part.name.clone(), value));
    }
    let file = file.ok_or_else(|| {
        CosError::new(
            400,
            "MalformedPOSTRequest",
            "The form has no file field (it must come last).",
        )
    })?;
    let now = state.now();
    let policy = verify_form(state, &fields, now)?;
    let size = file.data.len() as u64;
    check_policy(&policy, &fields, req.bucket(), size, now).map_err(PolicyError::into_cos)?;
    if size > max_object {
        return Err(CosError::new(
            400,
            "EntityTooLarge",
            format!("Your proposed upload of {size} bytes exceeds the maximum allowed size of {max_object} bytes."),
        ));
    }
    let raw_key = fields
        .iter()
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.clone())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| CosError::invalid_argument("The form has no key field."))?;
    let key = match &file.filename {
        Some(name) => raw_key.replace("${filename}", name),
        None => raw_key,
    };
    if key.len() > 850 {
        return Err(CosError::new(
            400,
            "KeyTooLong",
            "Your key is too long (at most 850 bytes).",
        ));
    }
    let mut meta = meta_from_headers(&meta_headers(&fields)?)?;
    let mut writer = state
        .store
        .writer()
        .await
        .map_err(|e| CosError::internal(format!("storage failed: {e}")))?;
    if let Err(e) = writer.write(file.data).await {
        writer.abandon().await;
        return Err(CosError::internal(format!("storage failed: {e}")));
    }
    let written = writer
        .finish()
        .await
        .map_err(|e| CosError::internal(format!("storage failed: {e}")))?;
    meta.size = written.len;
    meta.etag = format!("\"{}\"", hex::encode(written.md5));
    meta.crc64 = written.crc64;
    meta.last_modified = req.now;
    let etag = meta.etag.clone();
    let forbid = fields.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("x-cos-forbid-overwrite") && v.trim().eq_ignore_ascii_case("true")
    });
    state
        .store
        .put_checked(
            req.bucket(),
            &key,
            Object {
                meta,
                blob: written.blob,
            },
            forbid,
        )
        .map_err(CosError::from_store)?;
    let location = format!(
        "http://{}/{}",
        req.host,
        crate::canonical::path_encode(&key)
    );
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let mut resp = if let Some(redirect) = field("success_action_redirect") {
        let sep = if redirect.contains('?') { '&' } else { '?' };
        let target = format!(
            "{redirect}{sep}bucket={}&key={}&etag={}",
            crate::canonical::uri_encode(req.bucket()),
            crate::canonical::uri_encode(&key),
            crate::canonical::uri_encode(&etag)
        );
        let mut r = empty_response(StatusCode::SEE_OTHER);
        set_header(&mut r, "location", &target);
        r
    } else {
        match field("success_action_status").as_deref() {
            Some("200") => empty_response(StatusCode::OK),
            Some("201") => {
                let mut doc = Doc::new("PostResponse");
                doc.el("Location", &location)
                    .el("Bucket", req.bucket())
                    .el("Key", &key)
                    .el("ETag", &etag);
                let mut r = xml_response(doc.finish("PostResponse"));
                *r.status_mut() = StatusCode::CREATED;
                r
            }
            _ => empty_response(StatusCode::NO_CONTENT),
        }
    };
    set_header(&mut resp, "etag", &etag);
    set_header(
        &mut resp,
        "x-cos-hash-crc64ecma",
        &written.crc64.to_string(),
    );
    if resp.headers().get("location").is_none() {
        set_header(&mut resp, "location", &location);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----abc").as_deref(),
            Some("----abc")
        );
        assert_eq!(
            boundary("Multipart/Form-Data;boundary=\"x y\"").as_deref(),
            Some("x y")
        );
        assert_eq!(boundary("application/xml"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn forms() {
        let body = b"preamble\r\n--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\na/${filename}\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\nline1\r\nline2\r\n--XX--\r\n";
        let parts = parse_form(body, "XX").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "key");
        assert_eq!(parts[0].data, b"a/${filename}");
        assert_eq!(parts[1].filename.as_deref(), Some("f.txt"));
        assert_eq!(parts[1].data, b"line1\r\nline2");
        assert!(parse_form(
            b"--XX\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv",
            "XX"
        )
        .is_err());
        assert!(parse_form(b"no boundary", "XX").is_err());
        assert!(parse_form(b"--XX\r\nX: y\r\n\r\nv\r\n--XX--", "XX").is_err());
    }

    #[test]
    fn expirations() {
        assert_eq!(parse_expiration("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_expiration("2023-11-14T22:13:20.000Z"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_expiration("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_expiration("2023-11-14 22:13:20Z"), None);
        assert_eq!(parse_expiration("2023-13-14T22:13:20Z"), None);
        assert_eq!(parse_expiration("2023-11-14T22:13:20"), None);
        assert_eq!(parse_expiration("2023-11-14T22:13:20.x0Z"), None);
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn policies() {
        let policy = br#"{"expiration":"2023-11-14T22:13:20.000Z","conditions":[{"bucket":"b-1"},["starts-with","$key","up/"],["content-length-range",1,10],{"q-sign-time":"1;2"},["eq","$Content-Type","text/plain"]]}"#;
        let ok = fields(&[
            ("key", "up/a"),
            ("q-key-time", "1;2"),
            ("Content-Type", "text/plain"),
        ]);
        let now = 1_700_000_000;
        assert_eq!(check_policy(policy, &ok, "b-1", 5, now), Ok(()));
        assert_eq!(
            check_policy(policy, &ok, "b-1", 5, now + 1),
            Err(PolicyError::Expired)
        );
        assert!(matches!(
            check_policy(policy, &ok, "b-2", 5, now),
            Err(PolicyError::Condition(_))
        ));
        let other_key = fields(&[
            ("key", "down/a"),
            ("q-key-time", "1;2"),
            ("Content-Type", "text/plain"),
        ]);
        assert!(matches!(
            check_policy(policy, &other_key, "b-1", 5, now),
            Err(PolicyError::Condition(_))
        ));
        assert_eq!(
            check_policy(policy, &ok, "b-1", 0, now),
            Err(PolicyError::TooSmall { size: 0, min: 1 })
        );
        assert_eq!(
            check_policy(policy, &ok, "b-1", 11, now),
            Err(PolicyError::TooLarge { size: 11, max: 10 })
        );
        let no_type = fields(&[("key", "up/a"), ("q-key-time", "1;2")]);
        assert!(matches!(
            check_policy(policy, &no_type, "b-1", 5, now),
            Err(PolicyError::Condition(_))
        ));
        assert!(matches!(
            check_policy(b"{", &ok, "b-1", 5, now),
            Err(PolicyError::Invalid(_))
        ));
        let weird =
            br#"{"expiration":"2023-11-14T22:13:20.000Z","conditions":[["matches","$key","x"]]}"#;
        assert!(matches!(
            check_policy(weird, &ok, "b-1", 5, now),
            Err(PolicyError::Invalid(_))
        ));
    }

    #[test]
    fn signature_matches_the_documented_steps() {
        // Computed outside this crate (Python hmac/hashlib): SignKey =
        // HMAC-SHA1("secret", "1;2") hex, StringToSign = SHA1("{}") hex,
        // Signature = HMAC-SHA1(SignKey, StringToSign) hex.
        assert_eq!(
            policy_signature("secret", "1;2", b"{}"),
            "ae7afae3a5f261e573ecbea3d6ea1de44af7f11d"
        );
        assert_ne!(
            policy_signature("secret", "1;3", b"{}"),
            policy_signature("secret", "1;2", b"{}")
        );
    }
}
