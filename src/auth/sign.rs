//! The `q-sign-algorithm=sha1` signature shared by COS and CLS (cos.md §1, cls.md §3).
//!
//! Signing is a pure function of the credentials, the key-time window and the
//! request parts: no clock and no I/O inside, so it is tested stage by stage
//! against the vectors in `shared/vectors/`.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha1::{Digest, Sha1};

use super::encode::uri_encode;
use super::Credentials;

/// The validity window of a signature, Unix seconds (`q-sign-time` and `q-key-time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTime {
    /// First second the signature is valid.
    pub start: i64,
    /// Last second the signature is valid.
    pub end: i64,
}

impl KeyTime {
    /// A window from `start` to `end` (Unix seconds).
    pub fn new(start: i64, end: i64) -> Self {
        KeyTime { start, end }
    }
}

impl fmt::Display for KeyTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{};{}", self.start, self.end)
    }
}

/// The parts of a request that a signature covers.
///
/// `path` is the *decoded* path (`/exampleobject(腾讯云)`), `params` the decoded
/// query pairs (a bare `?uploads` is `("uploads", "")`), and `headers` exactly
/// the headers to sign: pick them with [`HeaderRule`].
#[derive(Debug, Clone, Copy)]
pub struct SignableRequest<'a> {
    /// HTTP method, any case.
    pub method: &'a str,
    /// Decoded request path, starting with `/`.
    pub path: &'a str,
    /// Decoded query parameters, all of which are signed.
    pub params: &'a [(&'a str, &'a str)],
    /// The headers to sign.
    pub headers: &'a [(&'a str, &'a str)],
}

/// A computed signature with the intermediate strings COS echoes back in a
/// `SignatureDoesNotMatch` error, so a mismatch can be diagnosed by diffing.
///
/// The derived SignKey is deliberately absent: it works as a password for
/// the whole window (the Python SDK logs it, cos.md §9).
#[derive(Clone, PartialEq, Eq)]
pub struct Signature {
    /// The `Authorization` header value.
    pub authorization: String,
    /// `lower(method)\npath\nparams\nheaders\n` (the server's `FormatString`).
    pub http_string: String,
    /// `sha1\nKeyTime\nsha1hex(HttpString)\n`.
    pub string_to_sign: String,
    /// `;`-joined signed header names (`q-header-list`).
    pub header_list: String,
    /// `;`-joined signed parameter names (`q-url-param-list`).
    pub param_list: String,
    /// The `q-signature` value.
    pub signature: String,
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The signature value authorises requests until the window closes;
        // the canonical strings are what a human needs to diagnose a mismatch.
        f.debug_struct("Signature")
            .field("http_string", &self.http_string)
            .field("string_to_sign", &self.string_to_sign)
            .field("header_list", &self.header_list)
            .field("param_list", &self.param_list)
            .finish_non_exhaustive()
    }
}

/// Which request headers a signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderRule {
    /// The official COS SDKs' filter (cos.md §1.2): the Python list plus the
    /// Go SDK's CORS pre-flight names, and every `x-cos-*` / `x-ci-*` header.
    /// It covers everything "strict signature mode" demands.
    Cos,
    /// What the official CLS SDKs sign: `content-type`, `content-md5`, `host`.
    Cls,
    /// Every header given (reqsign's behaviour; the doc vectors use it).
    All,
}

const COS_SIGNED_HEADERS: &[&str] = &[
    "access-control-request-headers",
    "access-control-request-method",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-length",
    "content-md5",
    "content-type",
    "expect",
    "expires",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-unmodified-since",
    "origin",
    "pic-operations",
    "range",
    "transfer-encoding",
];

impl HeaderRule {
    /// Whether a header of this name is signed under this rule.
    ///
    /// ```
    /// use coscls::auth::HeaderRule;
    /// assert!(HeaderRule::Cos.selects("X-Cos-Meta-Author"));
    /// assert!(!HeaderRule::Cos.selects("User-Agent"));
    /// assert!(!HeaderRule::Cls.selects("x-cls-compress-type"));
    /// ```
    pub fn selects(self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        match self {
            HeaderRule::All => true,
            HeaderRule::Cls => matches!(lower.as_str(), "content-type" | "content-md5" | "host"),
            HeaderRule::Cos => {
                COS_SIGNED_HEADERS.binary_search(&lower.as_str()).is_ok()
                    || lower.starts_with("x-cos-")
                    || lower.starts_with("x-ci-")
            }
        }
    }

    /// The headers of `all` that this rule signs, in their original order.
    pub fn select<'a>(self, all: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        all.iter()
            .copied()
            .filter(|(k, _)| self.selects(k))
            .collect()
    }
}

type HmacSha1 = Hmac<Sha1>;

fn hmac_hex(key: &[u8], msg: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha1 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(msg.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `SignKey = hex(HMAC-SHA1(SecretKey, KeyTime))`; exposed for the vector
/// tests and the emulator, never logged.
pub fn sign_key(secret_key: &str, key_time: KeyTime) -> String {
    hmac_hex(secret_key.as_bytes(), &key_time.to_string())
}

/// Encodes, lower-cases and sorts pairs: returns (`k=v&k=v`, `k;k`).
fn canonical_pairs(pairs: &[(&str, &str)]) -> (String, String) {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (uri_encode(k).to_ascii_lowercase(), uri_encode(v)))
        .collect();
    encoded.sort();
    let joined = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let names = encoded
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (joined, names)
}

/// Signs `request` for the window `key_time`.
///
/// ```
/// use coscls::auth::{sign, Credentials, KeyTime, SignableRequest};
/// let creds = Credentials::new("AKIDexample", "secret").unwrap();
/// let sig = sign(&creds, KeyTime::new(1700000000, 1700003600), &SignableRequest {
///     method: "GET",
///     path: "/photo.jpg",
///     params: &[],
///     headers: &[("Host", "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com")],
/// });
/// assert_eq!(sig.http_string, "get\n/photo.jpg\n\nhost=examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com\n");
/// assert!(sig.authorization.starts_with("q-sign-algorithm=sha1&q-ak=AKIDexample&q-sign-time=1700000000;1700003600"));
/// ```
pub fn sign(
    credentials: &Credentials,
    key_time: KeyTime,
    request: &SignableRequest<'_>,
) -> Signature {
    sign_with_key(
        credentials.secret_id(),
        credentials.secret_key().expose(),
        key_time,
        request,
    )
}

/// [`sign`] from raw strings, for servers that look the key up by SecretId.
pub fn sign_with_key(
    secret_id: &str,
    secret_key: &str,
    key_time: KeyTime,
    request: &SignableRequest<'_>,
) -> Signature {
    let (params, param_list) = canonical_pairs(request.params);
    let (headers, header_list) = canonical_pairs(request.headers);
    let http_string = format!(
        "{}\n{}\n{}\n{}\n",
        request.method.to_ascii_lowercase(),
        request.path,
        params,
        headers
    );
    let string_to_sign = format!(
        "sha1\n{key_time}\n{}\n",
        hex::encode(Sha1::digest(http_string.as_bytes()))
    );
    let signature = hmac_hex(sign_key(secret_key, key_time).as_bytes(), &string_to_sign);
    let authorization = format!(
        "q-sign-algorithm=sha1&q-ak={secret_id}&q-sign-time={key_time}&q-key-time={key_time}\
         &q-header-list={header_list}&q-url-param-list={param_list}&q-signature={signature}"
    );
    Signature {
        authorization,
        http_string,
        string_to_sign,
        header_list,
        param_list,
        signature,
    }
}

/// The fields of an `Authorization` value, as a server reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuthorization {
    /// `q-ak`.
    pub secret_id: String,
    /// `q-sign-time` (also required to equal `q-key-time`).
    pub key_time: KeyTime,
    /// `q-header-list` names, lower-case.
    pub header_list: Vec<String>,
    /// `q-url-param-list` names, lower-case.
    pub param_list: Vec<String>,
    /// `q-signature`.
    pub signature: String,
}

/// Parses an `Authorization` header (or the `q-*` query parameters of a
/// presigned URL joined with `&`). Returns a message naming the bad field.
///
/// ```
/// use coscls::auth::parse_authorization;
/// let p = parse_authorization("q-sign-algorithm=sha1&q-ak=AK&q-sign-time=1;2&q-key-time=1;2&q-header-list=host&q-url-param-list=&q-signature=ab").unwrap();
/// assert_eq!(p.header_list, vec!["host"]);
/// assert!(parse_authorization("q-ak=AK").is_err());
/// ```
pub fn parse_authorization(value: &str) -> Result<ParsedAuthorization, String> {
    let mut fields = std::collections::HashMap::new();
    for part in value.split('&') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        fields.insert(k.trim(), v.trim());
    }
    let get = |name: &str| {
        fields
            .get(name)
            .copied()
            .ok_or_else(|| format!("missing {name}"))
    };
    if get("q-sign-algorithm")? != "sha1" {
        return Err("q-sign-algorithm must be sha1".into());
    }
    let parse_time = |name: &str| -> Result<KeyTime, String> {
        let raw = get(name)?;
        let (s, e) = raw
            .split_once(';')
            .ok_or_else(|| format!("{name} must be start;end"))?;
        let s = s
            .parse()
            .map_err(|_| format!("{name} start is not a number"))?;
        let e = e
            .parse()
            .map_err(|_| format!("{name} end is not a number"))?;
        Ok(KeyTime::new(s, e))
    };
    let key_time = parse_time("q-sign-time")?;
    if parse_time("q-key-time")? != key_time {
        return Err("q-key-time differs from q-sign-time".into());
    }
    let list = |name: &str| -> Result<Vec<String>, String> {
        Ok(get(name)?
            .split(';')
            .filter(|s| !s.is_empty())
            .map(|s| s.to_ascii_lowercase())
            .collect())
    };
    Ok(ParsedAuthorization {
        secret_id: get("q-ak")?.to_string(),
        key_time,
        header_list: list("q-header-list")?,
        param_list: list("q-url-param-list")?,
        signature: get("q-signature")?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_example_reproduces() {
        // cos.md §2 doc_put_object_cjk_key, the published worked example.
        let creds = Credentials::new(
            "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q",
            "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz",
        )
        .unwrap();
        let kt = KeyTime::new(1557989151, 1557996351);
        assert_eq!(
            sign_key(creds.secret_key().expose(), kt),
            "eb2519b498b02ac213cb1f3d1a3d27a3b3c9bc5f"
        );
        let headers = [
            ("Date", "Thu, 16 May 2019 06:45:51 GMT"),
            (
                "Host",
                "examplebucket-1250000000.cos.ap-beijing.myqcloud.com",
            ),
            ("Content-Type", "text/plain"),
            ("Content-Length", "13"),
            ("Content-MD5", "mQ/fVh815F3k6TAUm8m0eg=="),
            ("x-cos-acl", "private"),
            ("x-cos-grant-read", "uin=\"100000000011\""),
        ];
        let sig = sign(
            &creds,
            kt,
            &SignableRequest {
                method: "PUT",
                path: "/exampleobject(腾讯云)",
                params: &[],
                headers: &headers,
            },
        );
        assert_eq!(sig.signature, "3b8851a11a569213c17ba8fa7dcf2abec6935172");
        assert_eq!(
            sig.header_list,
            "content-length;content-md5;content-type;date;host;x-cos-acl;x-cos-grant-read"
        );
    }

    #[test]
    fn cos_rule_matches_the_sdk_lists() {
        for signed in [
            "Host",
            "content-type",
            "Content-Length",
            "x-cos-security-token",
            "X-CI-Foo",
            "Range",
            "If-Match",
        ] {
            assert!(HeaderRule::Cos.selects(signed), "{signed}");
        }
        for unsigned in [
            "Date",
            "User-Agent",
            "Accept",
            "Connection",
            "Authorization",
            "traceparent",
        ] {
            assert!(!HeaderRule::Cos.selects(unsigned), "{unsigned}");
        }
        let mut sorted = COS_SIGNED_HEADERS.to_vec();
        sorted.sort();
        assert_eq!(
            sorted, COS_SIGNED_HEADERS,
            "binary_search needs a sorted list"
        );
    }

    #[test]
    fn lower_case_happens_before_sorting() {
        // cls.md §3: the Python SDK sorts by original case; we must not.
        let sig = sign_with_key(
            "id",
            "key",
            KeyTime::new(1, 2),
            &SignableRequest {
                method: "POST",
                path: "/",
                params: &[],
                headers: &[("HOST", "h"), ("content-type", "t")],
            },
        );
        assert_eq!(sig.header_list, "content-type;host");
    }

    #[test]
    fn debug_hides_the_signature_value() {
        let sig = sign_with_key(
            "id",
            "key",
            KeyTime::new(1, 2),
            &SignableRequest {
                method: "GET",
                path: "/",
                params: &[],
                headers: &[],
            },
        );
        assert!(!format!("{sig:?}").contains(&sig.signature));
    }

    #[test]
    fn parse_round_trips_sign() {
        let sig = sign_with_key(
            "AKID",
            "key",
            KeyTime::new(10, 20),
            &SignableRequest {
                method: "GET",
                path: "/k",
                params: &[("uploadId", "x")],
                headers: &[("Host", "h")],
            },
        );
        let parsed = parse_authorization(&sig.authorization).unwrap();
        assert_eq!(parsed.secret_id, "AKID");
        assert_eq!(parsed.key_time, KeyTime::new(10, 20));
        assert_eq!(parsed.param_list, vec!["uploadid"]);
        assert_eq!(parsed.signature, sig.signature);
    }
}
