//! Signature verification (pure): recompute the `q-sign-algorithm=sha1`
//! signature over exactly the headers and parameters the client listed,
//! taking their values from the request, and compare.
//!
//! The canonicaliser here is written from the protocol description (COS
//! "Request Signature", CLS "Signature"), not taken from the SDK, so that
//! the SDK's signer and this verifier check each other; the vectors test
//! feeds the published vectors to both. The steps:
//!
//! 1. `SignKey = hex(HMAC-SHA1(SecretKey, KeyTime))`, KeyTime the
//!    `start;end` text of `q-key-time`;
//! 2. every listed parameter and header becomes `lower(UrlEncode(name))=UrlEncode(value)`,
//!    sorted (by name, then value), joined with `&`;
//! 3. `HttpString = lower(method)\n<decoded path>\n<params>\n<headers>\n`;
//! 4. `StringToSign = sha1\n<q-sign-time>\n<hex(SHA1(HttpString))>\n`;
//! 5. `Signature = hex(HMAC-SHA1(SignKey as its 40 hex characters, StringToSign))`.

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha1::{Digest, Sha1};

use crate::canonical::uri_encode;

/// The `q-*` query fields of a presigned URL (form A); never signed themselves.
const QUERY_AUTH_FIELDS: [&str; 7] = [
    "q-sign-algorithm",
    "q-ak",
    "q-sign-time",
    "q-key-time",
    "q-header-list",
    "q-url-param-list",
    "q-signature",
];

/// A known SecretId's key and, for temporary credentials, the required token.
#[derive(Clone)]
pub(crate) struct KeyEntry {
    pub(crate) secret_key: String,
    pub(crate) token: Option<String>,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("temporary", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

/// What a request offers for verification.
#[derive(Debug)]
pub(crate) struct AuthRequest<'a> {
    pub(crate) method: &'a str,
    /// The decoded path the client should have signed.
    pub(crate) signed_path: &'a str,
    /// Decoded query pairs, in order.
    pub(crate) query: &'a [(String, String)],
    pub(crate) headers: &'a HeaderMap,
    /// The authority the request was sent to, used for a listed `host` when
    /// there is no Host header.
    pub(crate) authority: &'a str,
    /// The server's now, Unix seconds.
    pub(crate) now: i64,
    /// Header carrying the session token (`x-cos-security-token`, `x-cls-token`).
    pub(crate) token_header: &'static str,
    /// Whether the signature may travel in the query (COS presigned URLs).
    pub(crate) allow_query_auth: bool,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthError {
    /// No `Authorization` header (nor presigned query fields).
    Missing,
    /// The authorization could not be parsed.
    Malformed(String),
    /// The SecretId is not known.
    UnknownSecretId(String),
    /// The window has not started yet (the client clock is ahead).
    NotYetValid { start: i64, now: i64 },
    /// The window has ended.
    Expired { end: i64, now: i64 },
    /// Temporary credentials without their token.
    MissingToken,
    /// A token that does not belong to the SecretId.
    WrongToken,
    /// A header or parameter named in the lists is absent from the request;
    /// the canonical strings are computed with it empty.
    ListedButAbsent {
        what: String,
        string_to_sign: String,
        format_string: String,
    },
    /// The recomputed signature differs; the server's canonical strings.
    Mismatch {
        string_to_sign: String,
        format_string: String,
    },
}

/// A verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) secret_id: String,
    /// Signed via the query (presigned URL).
    pub(crate) presigned: bool,
    /// Lower-cased names of the signed parameters.
    pub(crate) signed_params: Vec<String>,
}

impl Verified {
    /// A request that carries no signature: a POST Object form (its policy
    /// is checked instead) or an unsigned read an ACL allows.
    pub(crate) fn anonymous() -> Self {
        Verified {
            secret_id: String::new(),
            presigned: false,
            signed_params: Vec::new(),
        }
    }
}

/// The authorization string: the header, the `q-*` query fields joined back
/// into one, or the merged `sign=` parameter.
fn find_authorization(req: &AuthRequest<'_>) -> Result<(String, bool), AuthError> {
    if let Some(v) = req.headers.get(http::header::AUTHORIZATION) {
        let s = v
            .to_str()
            .map_err(|_| AuthError::Malformed("Authorization is not ASCII".into()))?;
        return Ok((s.to_string(), false));
    }
    if !req.allow_query_auth {
        return Err(AuthError::Missing);
    }
    let get = |name: &str| req.query.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    if let Some(merged) = get("sign") {
        return Ok((merged.clone(), true));
    }
    if get("q-signature").is_some() {
        let joined = QUERY_AUTH_FIELDS
            .iter()
            .filter_map(|f| get(f).map(|v| format!("{f}={v}")))
            .collect::<Vec<_>>()
            .join("&");
        return Ok((joined, true));
    }
    Err(AuthError::Missing)
}

/// The fields of an `Authorization` value (or of the `q-*` query fields of a
/// presigned URL joined back into one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedAuthorization {
    /// `q-ak`.
    pub(crate) secret_id: String,
    /// `q-sign-time` as written (`start;end`); `q-key-time` must equal it.
    pub(crate) key_time: String,
    /// `q-sign-time`'s first second.
    pub(crate) start: i64,
    /// `q-sign-time`'s last second.
    pub(crate) end: i64,
    /// `q-header-list` names, lower-cased.
    pub(crate) header_list: Vec<String>,
    /// `q-url-param-list` names, lower-cased.
    pub(crate) param_list: Vec<String>,
    /// `q-signature`.
    pub(crate) signature: String,
}

/// The seven `q-*` fields every `Authorization` carries, each exactly once.
/// Returns a message naming the missing, repeated or malformed field.
pub(crate) fn parse_authorization(value: &str) -> Result<ParsedAuthorization, String> {
    let mut fields: [Option<&str>; 7] = [None; 7];
    for part in value.split('&') {
        let (name, v) = part.split_once('=').unwrap_or((part, ""));
        let name = name.trim();
        // Unknown fields are ignored, as a server that may grow new ones would.
        if let Some(i) = QUERY_AUTH_FIELDS.iter().position(|f| *f == name) {
            if fields[i].replace(v.trim()).is_some() {
                return Err(format!("{name} appears more than once"));
            }
        }
    }
    let get = |name: &str| -> Result<&str, String> {
        QUERY_AUTH_FIELDS
            .iter()
            .position(|f| *f == name)
            .and_then(|i| fields[i])
            .ok_or_else(|| format!("missing {name}"))
    };
    if get("q-sign-algorithm")? != "sha1" {
        return Err("q-sign-algorithm must be sha1".into());
    }
    let key_time = get("q-sign-time")?;
    let (start, end) = key_time
        .split_once(';')
        .ok_or_else(|| "q-sign-time must be start;end".to_string())?;
    let seconds = |what: &str, text: &str| -> Result<i64, String> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("q-sign-time {what} is not a number of seconds"));
        }
        text.parse()
            .map_err(|_| format!("q-sign-time {what} is out of range"))
    };
    let (start, end) = (seconds("start", start)?, seconds("end", end)?);
    if get("q-key-time")? != key_time {
        return Err("q-key-time differs from q-sign-time".into());
    }
    let list = |name: &str| -> Result<Vec<String>, String> {
        Ok(get(name)?
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_lowercase)
            .collect())
    };
    Ok(ParsedAuthorization {
        secret_id: get("q-ak")?.to_string(),
        key_time: key_time.to_string(),
        start,
        end,
        header_list: list("q-header-list")?,
        param_list: list("q-url-param-list")?,
        signature: get("q-signature")?.to_string(),
    })
}

/// The server's side of one signature: the canonical strings COS echoes in
/// `SignatureDoesNotMatch` and the signature they give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Canonical {
    /// `HttpString`, the server's `FormatString`.
    pub(crate) http_string: String,
    /// `StringToSign`.
    pub(crate) string_to_sign: String,
    /// Lower-case hex HMAC-SHA1.
    pub(crate) signature: String,
}

/// What a signature covers: the decoded path, and the parameters and
/// headers named in the lists with their decoded values (names as the
/// request wrote them; canonicalisation encodes and lower-cases them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signed<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) params: &'a [(String, String)],
    pub(crate) headers: &'a [(String, String)],
}

/// Computes the canonical strings and signature of `signed` for `secret_key`
/// over the window written `key_time` (`start;end`).
pub(crate) fn canonicalise(secret_key: &str, key_time: &str, signed: &Signed<'_>) -> Canonical {
    let sign_key = hex::encode(hmac_sha1(secret_key.as_bytes(), key_time.as_bytes()));
    let http_string = format!(
        "{}\n{}\n{}\n{}\n",
        signed.method.to_ascii_lowercase(),
        signed.path,
        canonical_pairs(signed.params),
        canonical_pairs(signed.headers),
    );
    let string_to_sign = format!(
        "sha1\n{key_time}\n{}\n",
        hex::encode(Sha1::digest(http_string.as_bytes()))
    );
    let signature = hex::encode(hmac_sha1(sign_key.as_bytes(), string_to_sign.as_bytes()));
    Canonical {
        http_string,
        string_to_sign,
        signature,
    }
}

/// `lower(UrlEncode(name))=UrlEncode(value)` pairs, sorted by name and then
/// value (a repeated header contributes one pair per value), joined with `&`.
fn canonical_pairs(pairs: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| (uri_encode(name).to_ascii_lowercase(), uri_encode(value)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so keying cannot fail; an empty MAC
    // would only make every signature mismatch.
    match <Hmac<Sha1> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Verifies `req` against the keys `lookup` knows.
pub(crate) fn verify(
    req: &AuthRequest<'_>,
    lookup: impl Fn(&str) -> Option<KeyEntry>,
) -> Result<Verified, AuthError> {
    let (raw, presigned) = find_authorization(req)?;
    let parsed = parse_authorization(&raw).map_err(AuthError::Malformed)?;
    let key = lookup(&parsed.secret_id)
        .ok_or_else(|| AuthError::UnknownSecretId(parsed.secret_id.clone()))?;
    let (start, end) = (parsed.start, parsed.end);
    if end < start {
        return Err(AuthError::Malformed(
            "q-sign-time ends before it starts".into(),
        ));
    }
    if req.now < start {
        return Err(AuthError::NotYetValid {
            start,
            now: req.now,
        });
    }
    if req.now > end {
        return Err(AuthError::Expired { end, now: req.now });
    }
    if let Some(expected) = &key.token {
        let offered = req
            .headers
            .get(req.token_header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| {
                req.allow_query_auth
                    .then(|| {
                        req.query
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(req.token_header))
                            .map(|(_, v)| v.clone())
                    })
                    .flatten()
            });
        match offered {
            None => return Err(AuthError::MissingToken),
            Some(t) if !constant_eq(t.as_bytes(), expected.as_bytes()) => {
                return Err(AuthError::WrongToken)
            }
            Some(_) => {}
        }
    }

    // Values of the listed headers, one per listing (a name listed twice takes
    // the header's first and second values, as the Go SDK signs them).
    let mut absent: Vec<String> = Vec::new();
    let mut headers: Vec<(String, String)> = Vec::new();
    for name in dedup_counts(&parsed.header_list) {
        let (name, count) = name;
        let mut values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if values.is_empty() && name == "host" && !req.authority.is_empty() {
            values.push(req.authority.to_string());
        }
        if values.len() < count {
            absent.push(format!("header {name}"));
            values.resize(count, String::new());
        }
        headers.extend(values.into_iter().take(count).map(|v| (name.clone(), v)));
    }
    // Parameters are matched by their canonical name; the request's own
    // (decoded) name goes into the pair, so it is encoded exactly once.
    let mut params: Vec<(String, String)> = Vec::new();
    for (name, count) in dedup_counts(&parsed.param_list) {
        let mut values: Vec<(String, String)> = req
            .query
            .iter()
            .filter(|(k, _)| uri_encode(k).to_ascii_lowercase() == name)
            .cloned()
            .collect();
        if values.len() < count {
            absent.push(format!("parameter {name}"));
            values.resize(count, (name.clone(), String::new()));
        }
        params.extend(values.into_iter().take(count));
    }
    let expected = canonicalise(
        &key.secret_key,
        &parsed.key_time,
        &Signed {
            method: req.method,
            path: req.signed_path,
            params: &params,
            headers: &headers,
        },
    );
    if !absent.is_empty() {
        return Err(AuthError::ListedButAbsent {
            what: format!(
                "{} listed in the signature but absent from the request",
                absent.join(", ")
            ),
            string_to_sign: expected.string_to_sign,
            format_string: expected.http_string,
        });
    }
    if !constant_eq(
        expected.signature.as_bytes(),
        parsed.signature.to_ascii_lowercase().as_bytes(),
    ) {
        return Err(AuthError::Mismatch {
            string_to_sign: expected.string_to_sign,
            format_string: expected.http_string,
        });
    }
    Ok(Verified {
        secret_id: parsed.secret_id,
        presigned,
        signed_params: parsed.param_list,
    })
}

/// Names in order of first appearance with how often each is listed.
fn dedup_counts(names: &[String]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for n in names {
        match out.iter_mut().find(|(m, _)| m == n) {
            Some((_, c)) => *c += 1,
            None => out.push((n.clone(), 1)),
        }
    }
    out
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    // The tests sign with the SDK: each accepted request is one the two
    // implementations agree on.
    use coscls::auth::{
        presign_url, sign_with_key, Credentials, KeyTime, PresignRequest, PresignStyle,
        SignableRequest,
    };
    use http::HeaderValue;

    const ID: &str = "AKIDtest";
    const KEY: &str = "test-secret";

    fn lookup(id: &str) -> Option<KeyEntry> {
        match id {
            ID => Some(KeyEntry {
                secret_key: KEY.into(),
                token: None,
            }),
            "AKIDsts" => Some(KeyEntry {
                secret_key: "sts-secret".into(),
                token: Some("tok".into()),
            }),
            _ => None,
        }
    }

    fn signed_headers(id: &str, key: &str, kt: KeyTime, extra: &[(&str, &str)]) -> HeaderMap {
        let mut pairs = vec![("host", "127.0.0.1:9000")];
        pairs.extend_from_slice(extra);
        let sig = sign_with_key(
            id,
            key,
            kt,
            &SignableRequest {
                method: "PUT",
                path: "/b-1/a b",
                params: &[("partNumber", "1")],
                headers: &pairs,
            },
        );
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h.insert("authorization", sig.authorization.parse().unwrap());
        h
    }

    fn request<'a>(
        headers: &'a HeaderMap,
        query: &'a [(String, String)],
        now: i64,
    ) -> AuthRequest<'a> {
        AuthRequest {
            method: "PUT",
            signed_path: "/b-1/a b",
            query,
            headers,
            authority: "127.0.0.1:9000",
            now,
            token_header: "x-cos-security-token",
            allow_query_auth: true,
        }
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_correct_signature_passes_and_unsigned_extras_are_ignored() {
        let mut h = signed_headers(ID, KEY, KeyTime::new(100, 200), &[("x-cos-meta-a", "1")]);
        h.insert("user-agent", "anything".parse().unwrap());
        let query = q(&[("partNumber", "1"), ("unsigned", "x")]);
        let v = verify(&request(&h, &query, 150), lookup).unwrap();
        assert_eq!(v.secret_id, ID);
        assert_eq!(v.signed_params, vec!["partnumber"]);
        assert!(!v.presigned);
    }

    #[test]
    fn tampering_a_signed_header_or_param_is_a_mismatch_with_canonical_strings() {
        let mut h = signed_headers(ID, KEY, KeyTime::new(100, 200), &[("x-cos-meta-a", "1")]);
        h.insert("x-cos-meta-a", "2".parse().unwrap());
        let query = q(&[("partNumber", "1")]);
        match verify(&request(&h, &query, 150), lookup) {
            Err(AuthError::Mismatch {
                string_to_sign,
                format_string,
            }) => {
                assert!(format_string.contains("x-cos-meta-a=2"), "{format_string}");
                assert!(string_to_sign.starts_with("sha1\n100;200\n"));
            }
            other => panic!("{other:?}"),
        }
        let h = signed_headers(ID, KEY, KeyTime::new(100, 200), &[]);
        let query = q(&[("partNumber", "2")]);
        assert!(matches!(
            verify(&request(&h, &query, 150), lookup),
            Err(AuthError::Mismatch { .. })
        ));
    }

    #[test]
    fn wrong_key_unknown_id_and_windows() {
        let query = q(&[("partNumber", "1")]);
        let h = signed_headers(ID, "wrong", KeyTime::new(100, 200), &[]);
        assert!(matches!(
            verify(&request(&h, &query, 150), lookup),
            Err(AuthError::Mismatch { .. })
        ));
        let h = signed_headers("AKIDnobody", KEY, KeyTime::new(100, 200), &[]);
        assert_eq!(
            verify(&request(&h, &query, 150), lookup),
            Err(AuthError::UnknownSecretId("AKIDnobody".into()))
        );
        let h = signed_headers(ID, KEY, KeyTime::new(100, 200), &[]);
        assert_eq!(
            verify(&request(&h, &query, 201), lookup),
            Err(AuthError::Expired { end: 200, now: 201 })
        );
        assert_eq!(
            verify(&request(&h, &query, 99), lookup),
            Err(AuthError::NotYetValid {
                start: 100,
                now: 99
            })
        );
        assert!(verify(&request(&h, &query, 200), lookup).is_ok());
    }

    #[test]
    fn a_listed_but_absent_header_is_refused() {
        let mut h = signed_headers(ID, KEY, KeyTime::new(100, 200), &[("x-cos-meta-a", "1")]);
        h.remove("x-cos-meta-a");
        let query = q(&[("partNumber", "1")]);
        assert!(matches!(
            verify(&request(&h, &query, 150), lookup),
            Err(AuthError::ListedButAbsent { what, format_string, .. })
                if what.contains("header x-cos-meta-a") && format_string.contains("x-cos-meta-a=\n")
        ));
        let h = signed_headers(ID, KEY, KeyTime::new(100, 200), &[]);
        assert!(matches!(
            verify(&request(&h, &[], 150), lookup),
            Err(AuthError::ListedButAbsent { what, .. }) if what.contains("parameter partnumber")
        ));
    }

    #[test]
    fn temporary_credentials_need_their_token() {
        let query = q(&[("partNumber", "1")]);
        let h = signed_headers("AKIDsts", "sts-secret", KeyTime::new(100, 200), &[]);
        assert_eq!(
            verify(&request(&h, &query, 150), lookup),
            Err(AuthError::MissingToken)
        );
        let mut h2 = h.clone();
        h2.insert("x-cos-security-token", "nope".parse().unwrap());
        assert_eq!(
            verify(&request(&h2, &query, 150), lookup),
            Err(AuthError::WrongToken)
        );
        // Unsigned token header (Java SDK style) is accepted.
        let mut h3 = h.clone();
        h3.insert("x-cos-security-token", "tok".parse().unwrap());
        assert!(verify(&request(&h3, &query, 150), lookup).is_ok());
        // Signed token header (Python/Go style).
        let h4 = signed_headers(
            "AKIDsts",
            "sts-secret",
            KeyTime::new(100, 200),
            &[("x-cos-security-token", "tok")],
        );
        assert!(verify(&request(&h4, &query, 150), lookup).is_ok());
    }

    fn presigned_query(style: PresignStyle, token: Option<&str>) -> Vec<(String, String)> {
        let mut creds = Credentials::new(
            if token.is_some() { "AKIDsts" } else { ID },
            if token.is_some() { "sts-secret" } else { KEY },
        )
        .unwrap();
        if let Some(t) = token {
            creds = creds.with_session_token(t).unwrap();
        }
        let url = presign_url(
            &creds,
            KeyTime::new(100, 200),
            &PresignRequest {
                method: "PUT",
                base_url: "http://127.0.0.1:9000",
                path: "/b-1/a b",
                params: &[("partNumber", "1")],
                headers: &[("Host", "127.0.0.1:9000")],
                style,
            },
        );
        let query = url.split_once('?').unwrap().1;
        crate::canonical::parse_query(query).unwrap()
    }

    #[test]
    fn presigned_urls_in_both_forms_verify() {
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:9000".parse().unwrap());
        for style in [PresignStyle::Query, PresignStyle::Merged] {
            let query = presigned_query(style, None);
            let v = verify(&request(&h, &query, 150), lookup).unwrap();
            assert!(v.presigned);
            let query = presigned_query(style, Some("tok"));
            assert!(
                verify(&request(&h, &query, 150), lookup).is_ok(),
                "{style:?}"
            );
            let mut tampered = presigned_query(style, None);
            tampered
                .iter_mut()
                .find(|(k, _)| k == "partNumber")
                .unwrap()
                .1 = "9".into();
            assert!(matches!(
                verify(&request(&h, &tampered, 150), lookup),
                Err(AuthError::Mismatch { .. })
            ));
        }
    }

    #[test]
    fn authorization_fields_are_each_required_once() {
        let good = "q-sign-algorithm=sha1&q-ak=AK&q-sign-time=1;2&q-key-time=1;2\
                    &q-header-list=Host;x-cos-a&q-url-param-list=&q-signature=ab";
        let p = parse_authorization(good).unwrap();
        assert_eq!((p.start, p.end, p.key_time.as_str()), (1, 2, "1;2"));
        assert_eq!(p.header_list, vec!["host", "x-cos-a"]);
        assert!(p.param_list.is_empty());
        for (bad, why) in [
            (good.replace("&q-ak=AK", ""), "missing q-ak"),
            (format!("{good}&q-ak=other"), "q-ak appears more than once"),
            (good.replace("sha1", "md5"), "must be sha1"),
            (good.replace("q-key-time=1;2", "q-key-time=1;3"), "differs"),
            (good.replace("=1;2", "=x;2"), "start is not a number"),
            (good.replace("=1;2", "=-1;2"), "start is not a number"),
            (
                good.replace("=1;2", "=1;99999999999999999999"),
                "out of range",
            ),
            (good.replace("=1;2", "=12"), "start;end"),
        ] {
            let e = parse_authorization(&bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn a_parameter_name_that_needs_encoding_is_encoded_once() {
        // The SDK signs `a%20b=1`; a verifier that encoded the already
        // canonical name again would compute `a%2520b=1` and refuse.
        let params = [("a b", "1")];
        let headers = [("host", "127.0.0.1:9000")];
        let sig = sign_with_key(
            ID,
            KEY,
            KeyTime::new(100, 200),
            &SignableRequest {
                method: "PUT",
                path: "/b-1/a b",
                params: &params,
                headers: &headers,
            },
        );
        assert!(sig.http_string.contains("\na%20b=1\n"), "{sig:?}");
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:9000".parse().unwrap());
        h.insert("authorization", sig.authorization.parse().unwrap());
        let query = q(&[("a b", "1")]);
        assert!(verify(&request(&h, &query, 150), lookup).is_ok());
    }

    #[test]
    fn missing_and_malformed() {
        let h = HeaderMap::new();
        assert_eq!(
            verify(&request(&h, &[], 1), lookup),
            Err(AuthError::Missing)
        );
        let mut h = HeaderMap::new();
        h.insert("authorization", "q-sign-algorithm=md5".parse().unwrap());
        assert!(matches!(
            verify(&request(&h, &[], 1), lookup),
            Err(AuthError::Malformed(_))
        ));
    }
}
