//! The `q-sign-algorithm=sha1` signature shared by COS and CLS
//! (docs/protocol/cos.md §1, docs/protocol/cls.md §3).
//!
//! Signing is a pure function of the credentials, the key-time window and the
//! request parts: no clock and no I/O inside, so it is tested stage by stage
//! against the vectors in `tests/data/vectors/`.

use std::borrow::Cow;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha1::{Digest, Sha1};

use super::encode::{encode_into, is_unreserved, uri_encode};
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

impl KeyTime {
    /// Appends `start;end` (what `Display` writes) without the formatting
    /// machinery: every signature writes it two or three times.
    pub(super) fn push_to(self, out: &mut String) {
        push_i64(out, self.start);
        out.push(';');
        push_i64(out, self.end);
    }
}

/// Appends the decimal form of `v`, as `Display` writes it.
fn push_i64(out: &mut String, v: i64) {
    // Written backwards into a buffer, then appended once.
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    // `unsigned_abs` holds every magnitude, `i64::MIN`'s included.
    let mut n = v.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push('-');
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// The parts of a request that a signature covers.
///
/// `path` is the *decoded* path (`/exampleobject(腾讯云)`), `params` the decoded
/// query pairs (a bare `?uploads` is `("uploads", "")`), and `headers` exactly
/// the headers to sign: pick them with [`HeaderRule`](super::HeaderRule).
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
/// the whole window (the Python SDK logs it, docs/protocol/cos.md §9).
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

pub(super) type HmacSha1 = Hmac<Sha1>;

fn new_mac(key: &[u8]) -> HmacSha1 {
    // HMAC accepts keys of any length, so this cannot fail.
    <HmacSha1 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// Appends the lower-case hex of `bytes` to `out`.
pub(super) fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(HEX_LOWER[(b >> 4) as usize] as char);
        out.push(HEX_LOWER[(b & 0x0f) as usize] as char);
    }
}

pub(super) const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// `SignKey = hex(HMAC-SHA1(SecretKey, KeyTime))`, never logged.
pub(crate) fn sign_key(secret_key: &str, key_time: KeyTime) -> String {
    let mut mac = new_mac(secret_key.as_bytes());
    let mut window = String::with_capacity(24);
    key_time.push_to(&mut window);
    mac.update(window.as_bytes());
    let mut hex = String::with_capacity(40);
    push_hex(&mut hex, &mac.finalize().into_bytes());
    hex
}

/// HMAC-SHA1 keyed with the SignKey: the part of a signature that depends
/// only on the secret and the window, ready to be cloned per request.
pub(super) fn sign_key_mac(secret_key: &str, key_time: KeyTime) -> HmacSha1 {
    new_mac(sign_key(secret_key, key_time).as_bytes())
}

/// The canonical form of a name: encoded, then lower-cased. Most names
/// (`host`, `content-type`, `partnumber`) are already canonical and borrowed.
fn canonical_name(name: &str) -> Cow<'_, str> {
    if name
        .bytes()
        .all(|b| is_unreserved(b) && !b.is_ascii_uppercase())
    {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(uri_encode(name).to_ascii_lowercase())
    }
}

/// Encodes, lower-cases and sorts pairs: appends `k=v&k=v` to `out` and
/// `k;k` to `names`.
pub(super) fn canonical_pairs(pairs: &[(&str, &str)], out: &mut String, names: &mut String) {
    // A request signs a handful of pairs: they are sorted on the stack, and
    // only an unusually long list goes to a Vec.
    const INLINE: usize = 8;
    let mut inline: [(Cow<'_, str>, &str); INLINE] = Default::default();
    let mut spilled: Vec<(Cow<'_, str>, &str)> = Vec::new();
    let sorted: &mut [(Cow<'_, str>, &str)] = if pairs.len() <= INLINE {
        for (slot, &(k, v)) in inline.iter_mut().zip(pairs) {
            *slot = (canonical_name(k), v);
        }
        &mut inline[..pairs.len()]
    } else {
        spilled.extend(pairs.iter().map(|&(k, v)| (canonical_name(k), v)));
        &mut spilled[..]
    };
    // Sorted by encoded name, then encoded value (only repeated names get
    // that far, so encoding for the comparison is rare).
    sorted.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| uri_encode(a.1).cmp(&uri_encode(b.1)))
    });
    for (i, (name, value)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('&');
            names.push(';');
        }
        out.push_str(name);
        out.push('=');
        encode_into(out, value, |_| false);
        names.push_str(name);
    }
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
    sign_with_mac(
        secret_id,
        sign_key_mac(secret_key, key_time),
        key_time,
        request,
    )
}

/// The signature, given the HMAC already keyed with the SignKey.
pub(super) fn sign_with_mac(
    secret_id: &str,
    mut mac: HmacSha1,
    key_time: KeyTime,
    request: &SignableRequest<'_>,
) -> Signature {
    let mut http_string = String::with_capacity(
        request.method.len()
            + request.path.len()
            + 8
            + request
                .params
                .iter()
                .chain(request.headers)
                .map(|(k, v)| k.len() + v.len() * 3 / 2 + 2)
                .sum::<usize>(),
    );
    http_string.extend(request.method.chars().map(|c| c.to_ascii_lowercase()));
    http_string.push('\n');
    http_string.push_str(request.path);
    http_string.push('\n');
    let mut param_list = String::new();
    canonical_pairs(request.params, &mut http_string, &mut param_list);
    http_string.push('\n');
    let mut header_list = String::new();
    canonical_pairs(request.headers, &mut http_string, &mut header_list);
    http_string.push('\n');

    let mut window = String::with_capacity(24);
    key_time.push_to(&mut window);
    let mut string_to_sign = String::with_capacity(window.len() + 48);
    string_to_sign.push_str("sha1\n");
    string_to_sign.push_str(&window);
    string_to_sign.push('\n');
    push_hex(&mut string_to_sign, &Sha1::digest(http_string.as_bytes()));
    string_to_sign.push('\n');

    mac.update(string_to_sign.as_bytes());
    let mut signature = String::with_capacity(40);
    push_hex(&mut signature, &mac.finalize().into_bytes());

    let mut authorization = String::with_capacity(
        120 + secret_id.len() + 2 * window.len() + header_list.len() + param_list.len(),
    );
    for part in [
        "q-sign-algorithm=sha1&q-ak=",
        secret_id,
        "&q-sign-time=",
        &window,
        "&q-key-time=",
        &window,
        "&q-header-list=",
        &header_list,
        "&q-url-param-list=",
        &param_list,
        "&q-signature=",
        &signature,
    ] {
        authorization.push_str(part);
    }
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
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedAuthorization {
    /// `q-ak`.
    pub(crate) secret_id: String,
    /// `q-sign-time` (also required to equal `q-key-time`).
    pub(crate) key_time: KeyTime,
    /// `q-header-list` names, lower-case.
    pub(crate) header_list: Vec<String>,
    /// `q-url-param-list` names, lower-case.
    pub(crate) param_list: Vec<String>,
    /// `q-signature`.
    pub(crate) signature: String,
}

/// Parses an `Authorization` header (or the `q-*` query parameters of a
/// presigned URL joined with `&`). Returns a message naming the bad field.
/// Only tests read signatures back (the emulator has its own parser).
#[cfg(test)]
pub(crate) fn parse_authorization(value: &str) -> Result<ParsedAuthorization, String> {
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
        // docs/protocol/cos.md §2 doc_put_object_cjk_key, the published worked example.
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
    fn lower_case_happens_before_sorting() {
        // docs/protocol/cls.md §3: the Python SDK sorts by original case; we must not.
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

    /// The straightforward form of `canonical_pairs` (one `String` per
    /// pair), kept as the oracle for the in-place one.
    fn reference_pairs(pairs: &[(&str, &str)]) -> (String, String) {
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

    #[test]
    fn in_place_canonical_pairs_match_the_reference() {
        let cases: &[&[(&str, &str)]] = &[
            &[],
            &[("uploads", "")],
            &[("Host", "h"), ("content-type", "text/plain; charset=utf-8")],
            &[("X-Cos-Meta-Ä", "ü"), ("x-cos-meta-a b", "1 2"), ("a", "z")],
            &[("dup", "b+"), ("DUP", "a b"), ("dup", "a%"), ("Dup", "")],
            &[("prefix", "x"), ("prefix-longer", "y"), ("prefi", "z")],
        ];
        for pairs in cases {
            let (mut out, mut names) = (String::new(), String::new());
            canonical_pairs(pairs, &mut out, &mut names);
            assert_eq!((out, names), reference_pairs(pairs), "{pairs:?}");
        }
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
