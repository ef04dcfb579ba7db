//! The XML shared by the COS operations (docs/protocol/cos.md §3, §5), parsed leniently: unknown
//! elements are ignored, missing ones default, and the spelling variants seen
//! in the official examples (`EncodingType` / `Encoding-type`, `Standard` /
//! `STANDARD`, ISO or asctime dates, entity-escaped ETags) are accepted.
//!
//! Each operation's own documents (results and request bodies, written by
//! hand: they are tiny and their exact shape matters more than generality)
//! live with the operation under `ops/`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::Error;

/// `<Error>`: the body of every COS error answer.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct ErrorBody {
    #[serde(rename = "Code")]
    pub(crate) code: String,
    #[serde(rename = "Message")]
    pub(crate) message: String,
    #[serde(rename = "Resource")]
    pub(crate) resource: Option<String>,
    #[serde(rename = "RequestId")]
    pub(crate) request_id: Option<String>,
    #[serde(rename = "TraceId")]
    pub(crate) trace_id: Option<String>,
    #[serde(rename = "StringToSign")]
    pub(crate) string_to_sign: Option<String>,
    #[serde(rename = "FormatString")]
    pub(crate) format_string: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OwnerXml {
    #[serde(rename = "ID")]
    pub(crate) id: Option<String>,
    #[serde(rename = "DisplayName")]
    pub(crate) display_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CommonPrefixXml {
    #[serde(rename = "Prefix")]
    pub(crate) prefix: String,
}

/// Parses a response body into `T`, naming the operation in the error.
pub(crate) fn parse<T: for<'de> Deserialize<'de>>(what: &str, body: &[u8]) -> Result<T, Error> {
    let text = std::str::from_utf8(body)
        .map_err(|e| protocol_error(format!("{what} response is not UTF-8"), e))?;
    quick_xml::de::from_str(text)
        .map_err(|e| protocol_error(format!("{what} response is not the expected XML"), e))
}

fn protocol_error(
    message: String,
    source: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Protocol {
        message,
        source: Some(Box::new(source)),
    }
}

/// Whether a 2xx body is really an `<Error>` document: CopyObject and
/// CompleteMultipartUpload can fail after the 200 status was sent (docs/protocol/cos.md §3).
pub(crate) fn is_error_document(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    // Skip the declaration and comments.
    while rest.starts_with("<?") || rest.starts_with("<!--") {
        let end = if rest.starts_with("<?") { "?>" } else { "-->" };
        match rest.find(end) {
            Some(i) => rest = rest[i + end.len()..].trim_start(),
            None => return false,
        }
    }
    rest.starts_with("<Error>") || rest.starts_with("<Error ")
}

/// Parses the dates COS writes: ISO 8601 (`2024-05-01T10:20:30.000Z`, with
/// or without fraction or offset) and the HTTP forms (RFC 1123, asctime as in
/// `Tue Jan 17 16:43:37 2017`). `None` when it is none of these.
pub(crate) fn parse_date(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    parse_iso8601(s).or_else(|| httpdate::parse_http_date(s).ok())
}

fn parse_iso8601(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut value = 0u32;
        for (i, c) in frac.bytes().take(digits).enumerate() {
            if i < 9 {
                value = value * 10 + u32::from(c - b'0');
            }
        }
        nanos = value * 10u32.pow(9 - digits.min(9) as u32);
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        "" | "Z" | "z" => 0,
        tz if tz.len() == 6
            && matches!(tz.as_bytes()[0], b'+' | b'-')
            && tz.as_bytes()[3] == b':' =>
        {
            let h: i64 = tz.get(1..3)?.parse().ok()?;
            let m: i64 = tz.get(4..6)?.parse().ok()?;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_from_the_docs() {
        let xml = r#"<?xml version='1.0' encoding='utf-8' ?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The specified key does not exist.</Message>
  <Resource>examplebucket-1250000000.cos.ap-beijing.myqcloud.com/exampleobject</Resource>
  <RequestId>NjQzZTMyYzBfODkxNGQ0OV8xNjYzXzQ5</RequestId>
  <TraceId>OGVmYzZiMmQ3YjExZjE0ZDQ4ZDc2</TraceId>
</Error>"#;
        let e: ErrorBody = parse("error", xml.as_bytes()).unwrap();
        assert_eq!(e.code, "NoSuchKey");
        assert_eq!(e.message, "The specified key does not exist.");
        assert_eq!(
            e.request_id.as_deref(),
            Some("NjQzZTMyYzBfODkxNGQ0OV8xNjYzXzQ5")
        );
        assert!(is_error_document(xml.as_bytes()));
        assert!(!is_error_document(
            b"<CopyObjectResult><ETag>x</ETag></CopyObjectResult>"
        ));
        assert!(!is_error_document(b""));
    }

    #[test]
    fn signature_mismatch_details_are_kept() {
        let xml = "<Error><Code>SignatureDoesNotMatch</Code><Message>m</Message>\
                   <StringToSign>sha1\n1;2\nabc\n</StringToSign><FormatString>get\n/k\n\nhost=h\n</FormatString></Error>";
        let e: ErrorBody = parse("error", xml.as_bytes()).unwrap();
        assert_eq!(e.string_to_sign.as_deref(), Some("sha1\n1;2\nabc\n"));
        assert_eq!(e.format_string.as_deref(), Some("get\n/k\n\nhost=h\n"));
    }

    #[test]
    fn dates() {
        let t = |s| parse_date(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("2024-05-01T10:20:30.000Z"), Some(1_714_558_830));
        assert_eq!(t("2024-05-01T18:20:30+08:00"), Some(1_714_558_830));
        assert_eq!(t("Wed, 01 May 2024 10:20:30 GMT"), Some(1_714_558_830));
        assert_eq!(t("Tue Jan 17 16:43:37 2017"), Some(1_484_671_417));
        assert_eq!(t("2000-02-29T00:00:00Z"), Some(951_782_400));
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-05-01T10:20:30.Z",
            "2024-05-01T10:20:30+8",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512), text in ".{0,64}") {
            let _ = parse::<crate::cos::ops::list::ListBucketResult>("list", &body);
            let _ = parse::<ErrorBody>("error", &body);
            let _ = parse::<crate::cos::ops::multipart::list::ListPartsResult>("parts", text.as_bytes());
            let _ = is_error_document(&body);
            let _ = parse_date(&text);
            let _ = crate::cos::ContentRange::parse(&text);
            let _ = crate::cos::response::service_error(http::StatusCode::BAD_REQUEST, &http::HeaderMap::new(), &body);
        }
    }
}
