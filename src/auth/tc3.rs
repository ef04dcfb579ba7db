//! TC3-HMAC-SHA256, the signature of the TencentCloud API 3.0 (STS, CAM, CVM…;
//! not COS or CLS, which use `q-sign`).
//!
//! The steps follow the API 3.0 "Signature v3" page: a canonical request
//! (method, `/`, query, lower-cased sorted headers, signed-header list,
//! SHA-256 of the payload), a string to sign (`TC3-HMAC-SHA256`, timestamp,
//! `date/service/tc3_request`, SHA-256 of the canonical request), a key
//! derived by chaining HMAC-SHA256 over the UTC date, the service and
//! `tc3_request`, and the hex HMAC of the string to sign. Everything is pure:
//! the timestamp is an argument, so the page's worked example is a unit test.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::{Credentials, Error};

/// The algorithm name that starts the string to sign and `Authorization`.
pub const TC3_ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The `Content-Type` of a JSON API 3.0 call, exactly as signed and sent.
pub const TC3_JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The parts of an API 3.0 request that a TC3 signature covers.
///
/// `headers` are the headers to sign (at least `content-type` and `host`);
/// names and values are lower-cased and trimmed for the canonical form, as
/// the signature page prescribes.
#[derive(Debug, Clone, Copy)]
pub struct Tc3Request<'a> {
    /// `POST` or `GET`.
    pub method: &'a str,
    /// The URL-encoded query string (empty for `POST`).
    pub canonical_query: &'a str,
    /// The headers to sign.
    pub headers: &'a [(&'a str, &'a str)],
    /// The exact body bytes sent.
    pub payload: &'a [u8],
}

/// A TC3 signature with its intermediate strings, so a mismatch can be
/// diagnosed stage by stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tc3Signature {
    /// Step 1: the canonical request.
    pub canonical_request: String,
    /// `content-type;host…`, the signed header names.
    pub signed_headers: String,
    /// `date/service/tc3_request`.
    pub credential_scope: String,
    /// Step 2: the string to sign.
    pub string_to_sign: String,
    /// Step 3: the hex signature.
    pub signature: String,
    /// Step 4: the `Authorization` header value.
    pub authorization: String,
}

type HmacSha256 = Hmac<Sha256>;

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The UTC calendar date (`YYYY-MM-DD`) of a Unix timestamp: the credential
/// scope must use the UTC date, or signing fails every night around midnight
/// in zones ahead of UTC.
///
/// ```
/// assert_eq!(coscls::auth::tc3_utc_date(1551113065), "2019-02-25");
/// ```
pub fn tc3_utc_date(timestamp: u64) -> String {
    let (y, m, d) = civil_from_days(timestamp / 86_400);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`, restricted to days ≥ 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a civil date, `None` before 1970 or for a
/// month/day out of range.
pub(crate) fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || year < 1970 {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y % 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

/// Step 1: the canonical request and the signed-header list.
pub fn tc3_canonical_request(req: &Tc3Request<'_>) -> (String, String) {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_lowercase()))
        .collect();
    headers.sort();
    let mut canonical_headers = String::new();
    for (name, value) in &headers {
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(value);
        canonical_headers.push('\n');
    }
    let signed_headers = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical = format!(
        "{}\n/\n{}\n{}\n{}\n{}",
        req.method.to_ascii_uppercase(),
        req.canonical_query,
        canonical_headers,
        signed_headers,
        sha256_hex(req.payload),
    );
    (canonical, signed_headers)
}

/// Step 2: the string to sign.
pub fn tc3_string_to_sign(
    timestamp: u64,
    credential_scope: &str,
    canonical_request: &str,
) -> String {
    format!(
        "{TC3_ALGORITHM}\n{timestamp}\n{credential_scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// Step 3a: the derived signing key, `HMAC(HMAC(HMAC("TC3"+key, date),
/// service), "tc3_request")`. Exposed for the vector tests; never logged.
pub fn tc3_signing_key(secret_key: &str, date: &str, service: &str) -> [u8; 32] {
    let mut prefixed = Vec::with_capacity(3 + secret_key.len());
    prefixed.extend_from_slice(b"TC3");
    prefixed.extend_from_slice(secret_key.as_bytes());
    let secret_date = hmac_sha256(&prefixed, date.as_bytes());
    let secret_service = hmac_sha256(&secret_date, service.as_bytes());
    hmac_sha256(&secret_service, b"tc3_request")
}

/// Signs `req` for `service` (`sts`, `cvm`…) at `timestamp` (Unix seconds,
/// the value sent in `X-TC-Timestamp`).
///
/// ```
/// use coscls::auth::{tc3_sign, Tc3Request};
/// let headers = [("content-type", "application/json; charset=utf-8"), ("host", "sts.tencentcloudapi.com")];
/// let req = Tc3Request { method: "POST", canonical_query: "", headers: &headers, payload: b"{}" };
/// let sig = tc3_sign("AKIDexample", "secret", "sts", 1551113065, &req);
/// assert!(sig.authorization.starts_with(
///     "TC3-HMAC-SHA256 Credential=AKIDexample/2019-02-25/sts/tc3_request, SignedHeaders=content-type;host, Signature="));
/// ```
pub fn tc3_sign(
    secret_id: &str,
    secret_key: &str,
    service: &str,
    timestamp: u64,
    req: &Tc3Request<'_>,
) -> Tc3Signature {
    let date = tc3_utc_date(timestamp);
    let credential_scope = format!("{date}/{service}/tc3_request");
    let (canonical_request, signed_headers) = tc3_canonical_request(req);
    let string_to_sign = tc3_string_to_sign(timestamp, &credential_scope, &canonical_request);
    let key = tc3_signing_key(secret_key, &date, service);
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "{TC3_ALGORITHM} Credential={secret_id}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}"
    );
    Tc3Signature {
        canonical_request,
        signed_headers,
        credential_scope,
        string_to_sign,
        signature,
        authorization,
    }
}

/// One JSON API 3.0 call (`POST /`), as [`tc3_headers`] signs it.
#[derive(Debug, Clone, Copy)]
pub struct Tc3Call<'a> {
    /// The `Host` header: `sts.tencentcloudapi.com`, or `127.0.0.1:8080`
    /// for a stand-in.
    pub host: &'a str,
    /// The service in the credential scope (`sts`).
    pub service: &'a str,
    /// `X-TC-Action` (`AssumeRole`).
    pub action: &'a str,
    /// `X-TC-Version` (`2018-08-13`).
    pub version: &'a str,
    /// `X-TC-Region`, for regional APIs.
    pub region: Option<&'a str>,
    /// The JSON body, exactly as sent.
    pub payload: &'a [u8],
}

/// The headers of a signed JSON API 3.0 call: `Authorization`,
/// `Content-Type`, `Host`, `X-TC-Action`, `X-TC-Timestamp`, `X-TC-Version`,
/// `X-TC-Region` and, for temporary credentials, `X-TC-Token`.
///
/// `content-type`, `host` and `x-tc-action` are signed (the current
/// signature page's example), so a signature cannot be replayed for another
/// action.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the field when a header value would
/// be empty or hold control characters.
///
/// ```
/// use coscls::auth::{tc3_headers, Credentials, Tc3Call};
/// let creds = Credentials::new("AKIDexample", "secret").unwrap();
/// let call = Tc3Call { host: "sts.tencentcloudapi.com", service: "sts", action: "AssumeRole",
///                      version: "2018-08-13", region: Some("ap-guangzhou"), payload: b"{}" };
/// let headers = tc3_headers(&creds, &call, 1551113065).unwrap();
/// assert!(headers.iter().any(|(n, v)| *n == "X-TC-Timestamp" && v == "1551113065"));
/// ```
pub fn tc3_headers(
    credentials: &Credentials,
    call: &Tc3Call<'_>,
    timestamp: u64,
) -> Result<Vec<(&'static str, String)>, Error> {
    for (field, value) in [
        ("host", Some(call.host)),
        ("service", Some(call.service)),
        ("action", Some(call.action)),
        ("version", Some(call.version)),
        ("region", call.region),
    ] {
        if let Some(value) = value {
            check_header_value(field, value)?;
        }
    }
    let signed = [
        ("content-type", TC3_JSON_CONTENT_TYPE),
        ("host", call.host),
        ("x-tc-action", call.action),
    ];
    let req = Tc3Request {
        method: "POST",
        canonical_query: "",
        headers: &signed,
        payload: call.payload,
    };
    let sig = tc3_sign(
        credentials.secret_id(),
        credentials.secret_key().expose(),
        call.service,
        timestamp,
        &req,
    );
    let mut headers = vec![
        ("Authorization", sig.authorization),
        ("Content-Type", TC3_JSON_CONTENT_TYPE.to_string()),
        ("Host", call.host.to_string()),
        ("X-TC-Action", call.action.to_string()),
        ("X-TC-Timestamp", timestamp.to_string()),
        ("X-TC-Version", call.version.to_string()),
    ];
    if let Some(region) = call.region {
        headers.push(("X-TC-Region", region.to_string()));
    }
    if let Some(token) = credentials.session_token() {
        headers.push(("X-TC-Token", token.expose().to_string()));
    }
    Ok(headers)
}

fn check_header_value(field: &'static str, value: &str) -> Result<(), Error> {
    let reason = if value.is_empty() {
        "is empty"
    } else if value.chars().any(|c| c.is_control()) {
        "contains control characters"
    } else if value != value.trim() {
        "has leading or trailing whitespace"
    } else {
        return Ok(());
    };
    Err(Error::InvalidArgument {
        field,
        reason: reason.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of the TencentCloud API 3.0 "Signature v3" page
    /// (English edition, e.g. tencentcloud.com/document/api/614/42761):
    /// CVM DescribeInstances in ap-guangzhou at X-TC-Timestamp 1551113065,
    /// SecretKey `Gu5t9xGARNpq86cd98joQYCN3EXAMPLE`, signing
    /// `content-type;host`. Every intermediate value below is the page's.
    const DOC_PAYLOAD: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    const DOC_TS: u64 = 1551113065;

    #[test]
    fn english_signature_v3_page_example_step_by_step() {
        let headers = [
            ("Content-Type", TC3_JSON_CONTENT_TYPE),
            ("Host", "cvm.tencentcloudapi.com"),
        ];
        let req = Tc3Request {
            method: "POST",
            canonical_query: "",
            headers: &headers,
            payload: DOC_PAYLOAD.as_bytes(),
        };
        assert_eq!(
            sha256_hex(DOC_PAYLOAD.as_bytes()),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        let sig = tc3_sign(
            "AKID**********************0123456789EXAMPLE",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            "cvm",
            DOC_TS,
            &req,
        );
        assert_eq!(
            sig.canonical_request,
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\ncontent-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            sig.string_to_sign,
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(
            sig.authorization,
            "TC3-HMAC-SHA256 Credential=AKID**********************0123456789EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    /// The worked example of the Chinese "签名方法 v3" page
    /// (cloud.tencent.com/document/api/213/30654, current edition), which
    /// also signs `x-tc-action` (value lower-cased). The page prints the key
    /// masked as 32 `*`; that literal string is the key its figures were
    /// computed with: the page's derived SecretSigning
    /// (`b596b923…f5af`) and Signature both come out of it.
    #[test]
    fn chinese_signature_v3_page_example_with_x_tc_action() {
        let headers = [
            ("content-type", TC3_JSON_CONTENT_TYPE),
            ("host", "cvm.tencentcloudapi.com"),
            ("x-tc-action", "DescribeInstances"),
        ];
        let req = Tc3Request {
            method: "POST",
            canonical_query: "",
            headers: &headers,
            payload: DOC_PAYLOAD.as_bytes(),
        };
        let key = "*".repeat(32);
        assert_eq!(
            hex::encode(tc3_signing_key(&key, "2019-02-25", "cvm")),
            "b596b923aad85185e2d1f6659d2a062e0a86731226e021e61bfe06f7ed05f5af"
        );
        let sig = tc3_sign("AKID", &key, "cvm", DOC_TS, &req);
        assert_eq!(sig.signed_headers, "content-type;host;x-tc-action");
        assert!(sig
            .canonical_request
            .contains("\nx-tc-action:describeinstances\n\n"));
        assert_eq!(
            sig.string_to_sign,
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
        );
        assert_eq!(
            sig.signature,
            "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
        );
    }

    /// The page's warning: 1551113065 is 2019-02-26 00:44 in UTC+8 but the
    /// scope must say 2019-02-25. Also leap days and year ends, cross-checked
    /// against `httpdate`'s independent formatting.
    #[test]
    fn utc_date_matches_httpdate_across_edges() {
        assert_eq!(tc3_utc_date(DOC_TS), "2019-02-25");
        assert_eq!(tc3_utc_date(0), "1970-01-01");
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        for ts in [
            951_782_400u64, // 2000-02-29
            4_107_542_399,  // 2100-02-28 23:59:59
            4_107_542_400,  // 2100-03-01
            1_704_067_199,  // 2023-12-31 23:59:59
            1_709_164_800,  // 2024-02-29
            DOC_TS,
        ] {
            let http =
                httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(ts));
            // "Mon, 25 Feb 2019 16:44:25 GMT"
            let parts: Vec<&str> = http.split(' ').collect();
            let month = months.iter().position(|m| *m == parts[2]).unwrap() + 1;
            let expected = format!("{}-{month:02}-{}", parts[3], parts[1]);
            assert_eq!(tc3_utc_date(ts), expected, "{ts}");
            let (y, m, d) = civil_from_days(ts / 86_400);
            assert_eq!(days_from_civil(y, m, d), Some(ts / 86_400));
        }
        assert_eq!(days_from_civil(1969, 12, 31), None);
        assert_eq!(days_from_civil(2020, 13, 1), None);
    }

    #[test]
    fn headers_carry_token_and_sign_the_action() {
        let creds = Credentials::new("AKIDtmp", "k")
            .unwrap()
            .with_session_token("tok")
            .unwrap();
        let call = Tc3Call {
            host: "sts.tencentcloudapi.com",
            service: "sts",
            action: "AssumeRole",
            version: "2018-08-13",
            region: Some("ap-guangzhou"),
            payload: b"{}",
        };
        let h = tc3_headers(&creds, &call, DOC_TS).unwrap();
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("X-TC-Token"), Some("tok"));
        assert_eq!(get("X-TC-Region"), Some("ap-guangzhou"));
        assert!(get("Authorization")
            .unwrap()
            .contains("SignedHeaders=content-type;host;x-tc-action,"));
        let bad = Tc3Call {
            action: "Assume\nRole",
            ..call
        };
        let err = tc3_headers(&creds, &bad, DOC_TS).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid argument: action contains control characters"
        );
    }
}
