//! The XML bodies of the COS API (docs/protocol/cos.md §3, §5), parsed leniently: unknown
//! elements are ignored, missing ones default, and the spelling variants seen
//! in the official examples (`EncodingType` / `Encoding-type`, `Standard` /
//! `STANDARD`, ISO or asctime dates, entity-escaped ETags) are accepted.
//!
//! Request bodies are written by hand: they are tiny and their exact shape
//! matters more than generality.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quick_xml::escape::escape;
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
pub(crate) struct ListBucketResult {
    #[serde(rename = "Name")]
    pub(crate) name: String,
    #[serde(
        rename = "EncodingType",
        alias = "Encoding-type",
        alias = "Encoding-Type"
    )]
    pub(crate) encoding_type: Option<String>,
    #[serde(rename = "Prefix")]
    pub(crate) prefix: Option<String>,
    #[serde(rename = "Marker")]
    pub(crate) marker: Option<String>,
    #[serde(rename = "MaxKeys")]
    pub(crate) max_keys: Option<u32>,
    #[serde(rename = "Delimiter")]
    pub(crate) delimiter: Option<String>,
    #[serde(rename = "IsTruncated")]
    pub(crate) is_truncated: bool,
    #[serde(rename = "NextMarker")]
    pub(crate) next_marker: Option<String>,
    #[serde(rename = "Contents")]
    pub(crate) contents: Vec<ContentsXml>,
    #[serde(rename = "CommonPrefixes")]
    pub(crate) common_prefixes: Vec<CommonPrefixXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ContentsXml {
    #[serde(rename = "Key")]
    pub(crate) key: String,
    #[serde(rename = "LastModified")]
    pub(crate) last_modified: Option<String>,
    #[serde(rename = "ETag")]
    pub(crate) etag: Option<String>,
    #[serde(rename = "Size")]
    pub(crate) size: u64,
    #[serde(rename = "StorageClass")]
    pub(crate) storage_class: Option<String>,
    #[serde(rename = "Owner")]
    pub(crate) owner: Option<OwnerXml>,
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

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct InitiateMultipartUploadResult {
    #[serde(rename = "Bucket")]
    pub(crate) bucket: String,
    #[serde(rename = "Key")]
    pub(crate) key: String,
    #[serde(rename = "UploadId")]
    pub(crate) upload_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CompleteMultipartUploadResult {
    #[serde(rename = "Location")]
    pub(crate) location: Option<String>,
    #[serde(rename = "Bucket")]
    pub(crate) bucket: Option<String>,
    #[serde(rename = "Key")]
    pub(crate) key: Option<String>,
    #[serde(rename = "ETag")]
    pub(crate) etag: Option<String>,
    #[serde(rename = "CRC64", alias = "Crc64")]
    pub(crate) crc64: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CopyObjectResult {
    #[serde(rename = "ETag")]
    pub(crate) etag: Option<String>,
    #[serde(rename = "LastModified")]
    pub(crate) last_modified: Option<String>,
    #[serde(rename = "CRC64", alias = "Crc64")]
    pub(crate) crc64: Option<String>,
    #[serde(rename = "VersionId")]
    pub(crate) version_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DeleteResult {
    #[serde(rename = "Deleted")]
    pub(crate) deleted: Vec<DeletedXml>,
    #[serde(rename = "Error")]
    pub(crate) errors: Vec<DeleteErrorXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DeletedXml {
    #[serde(rename = "Key")]
    pub(crate) key: String,
    #[serde(rename = "VersionId")]
    pub(crate) version_id: Option<String>,
    #[serde(rename = "DeleteMarker")]
    pub(crate) delete_marker: Option<bool>,
    #[serde(rename = "DeleteMarkerVersionId")]
    pub(crate) delete_marker_version_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DeleteErrorXml {
    #[serde(rename = "Key")]
    pub(crate) key: String,
    #[serde(rename = "Code")]
    pub(crate) code: String,
    #[serde(rename = "Message")]
    pub(crate) message: String,
    #[serde(rename = "VersionId")]
    pub(crate) version_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ListPartsResult {
    #[serde(rename = "Bucket")]
    pub(crate) bucket: Option<String>,
    #[serde(rename = "Key")]
    pub(crate) key: Option<String>,
    #[serde(rename = "UploadId")]
    pub(crate) upload_id: Option<String>,
    #[serde(rename = "StorageClass")]
    pub(crate) storage_class: Option<String>,
    #[serde(rename = "NextPartNumberMarker")]
    pub(crate) next_part_number_marker: Option<String>,
    #[serde(rename = "IsTruncated")]
    pub(crate) is_truncated: bool,
    #[serde(rename = "Part")]
    pub(crate) parts: Vec<PartXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PartXml {
    #[serde(rename = "PartNumber")]
    pub(crate) part_number: u32,
    #[serde(rename = "LastModified")]
    pub(crate) last_modified: Option<String>,
    #[serde(rename = "ETag")]
    pub(crate) etag: String,
    #[serde(rename = "Size")]
    pub(crate) size: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ListMultipartUploadsResult {
    #[serde(rename = "IsTruncated")]
    pub(crate) is_truncated: bool,
    #[serde(rename = "NextKeyMarker")]
    pub(crate) next_key_marker: Option<String>,
    #[serde(rename = "NextUploadIdMarker")]
    pub(crate) next_upload_id_marker: Option<String>,
    #[serde(rename = "Upload")]
    pub(crate) uploads: Vec<UploadXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct UploadXml {
    #[serde(rename = "Key")]
    pub(crate) key: String,
    #[serde(rename = "UploadId", alias = "UploadID")]
    pub(crate) upload_id: String,
    #[serde(rename = "Initiated")]
    pub(crate) initiated: Option<String>,
    #[serde(rename = "StorageClass")]
    pub(crate) storage_class: Option<String>,
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

/// One part of a `CompleteMultipartUpload` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartRef<'a> {
    pub(crate) number: u32,
    pub(crate) etag: &'a str,
}

/// `<CompleteMultipartUpload>` with the parts in ascending order.
pub(crate) fn complete_multipart_body(parts: &[PartRef<'_>]) -> String {
    let mut out = String::with_capacity(64 + parts.len() * 80);
    out.push_str("<CompleteMultipartUpload>");
    for p in parts {
        out.push_str("<Part><PartNumber>");
        out.push_str(&p.number.to_string());
        out.push_str("</PartNumber><ETag>");
        out.push_str(&escape(p.etag));
        out.push_str("</ETag></Part>");
    }
    out.push_str("</CompleteMultipartUpload>");
    out
}

/// `<Delete>` for DeleteMultipleObjects.
pub(crate) fn delete_body(objects: &[(&str, Option<&str>)], quiet: bool) -> String {
    let mut out = String::with_capacity(64 + objects.len() * 64);
    out.push_str("<Delete><Quiet>");
    out.push_str(if quiet { "true" } else { "false" });
    out.push_str("</Quiet>");
    for (key, version) in objects {
        out.push_str("<Object><Key>");
        out.push_str(&escape(*key));
        out.push_str("</Key>");
        if let Some(v) = version {
            out.push_str("<VersionId>");
            out.push_str(&escape(*v));
            out.push_str("</VersionId>");
        }
        out.push_str("</Object>");
    }
    out.push_str("</Delete>");
    out
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
    fn list_bucket_result_with_interleaved_lists() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult>
  <Name>examplebucket-1250000000</Name>
  <EncodingType>url</EncodingType>
  <Prefix>photos%2F</Prefix>
  <Marker></Marker>
  <MaxKeys>1000</MaxKeys>
  <Delimiter>%2F</Delimiter>
  <IsTruncated>true</IsTruncated>
  <NextMarker>photos%2Fb%20c.jpg</NextMarker>
  <Contents>
    <Key>photos%2Fa.jpg</Key>
    <LastModified>2024-05-01T10:20:30.000Z</LastModified>
    <ETag>&quot;ee8de918d05640145b18f70f4c3aa602&quot;</ETag>
    <Size>1024</Size>
    <Owner><ID>1250000000</ID><DisplayName>1250000000</DisplayName></Owner>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <CommonPrefixes><Prefix>photos%2F2024%2F</Prefix></CommonPrefixes>
  <Contents>
    <Key>photos%2Fb%20c.jpg</Key>
    <ETag>"x"</ETag>
    <Size>7</Size>
  </Contents>
  <CommonPrefixes><Prefix>photos%2F2025%2F</Prefix></CommonPrefixes>
</ListBucketResult>"#;
        let r: ListBucketResult = parse("list", xml.as_bytes()).unwrap();
        assert!(r.is_truncated);
        assert_eq!(r.contents.len(), 2);
        assert_eq!(r.common_prefixes.len(), 2);
        assert_eq!(
            r.contents[0].etag.as_deref(),
            Some("\"ee8de918d05640145b18f70f4c3aa602\"")
        );
        assert_eq!(r.contents[0].size, 1024);
        assert_eq!(r.next_marker.as_deref(), Some("photos%2Fb%20c.jpg"));
        assert_eq!(r.encoding_type.as_deref(), Some("url"));
    }

    #[test]
    fn whitespace_in_keys_is_kept() {
        let xml = "<ListBucketResult><Contents><Key> a b </Key><Size>1</Size></Contents></ListBucketResult>";
        let r: ListBucketResult = parse("list", xml.as_bytes()).unwrap();
        assert_eq!(r.contents[0].key, " a b ");
    }

    #[test]
    fn empty_list_result() {
        let xml =
            "<ListBucketResult><Name>b-1</Name><IsTruncated>false</IsTruncated></ListBucketResult>";
        let r: ListBucketResult = parse("list", xml.as_bytes()).unwrap();
        assert!(r.contents.is_empty() && r.common_prefixes.is_empty() && !r.is_truncated);
    }

    #[test]
    fn list_parts_quirks_from_the_official_examples() {
        let xml = r#"<ListPartsResult>
  <Bucket>examplebucket-1250000000</Bucket>
  <Encoding-type>url</Encoding-type>
  <Key>exampleobject</Key>
  <UploadId>1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361</UploadId>
  <StorageClass>Standard</StorageClass>
  <PartNumberMarker>0</PartNumberMarker>
  <NextPartNumberMarker>2</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>1</PartNumber>
    <LastModified>Tue Jan 17 16:43:37 2017</LastModified>
    <ETag>&quot;aa259a62513358f69e98e72e59856d88&quot;</ETag>
    <Size>1048576</Size>
  </Part>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2020-03-25T10:07:01.000Z</LastModified>
    <ETag>"aa259a62513358f69e98e72e59856d88"</ETag>
    <Size>1048576</Size>
  </Part>
</ListPartsResult>"#;
        let r: ListPartsResult = parse("list parts", xml.as_bytes()).unwrap();
        assert_eq!(r.parts.len(), 2);
        assert_eq!(r.parts[0].etag, "\"aa259a62513358f69e98e72e59856d88\"");
        assert!(r
            .parts
            .iter()
            .all(|p| p.last_modified.as_deref().and_then(parse_date).is_some()));
        assert_eq!(r.next_part_number_marker.as_deref(), Some("2"));
    }

    #[test]
    fn multipart_and_copy_results() {
        let init: InitiateMultipartUploadResult = parse(
            "init",
            b"<InitiateMultipartUploadResult><Bucket>b-1</Bucket><Key>k</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>",
        )
        .unwrap();
        assert_eq!(init.upload_id, "u1");
        let done: CompleteMultipartUploadResult = parse(
            "complete",
            b"<CompleteMultipartUploadResult><Location>b-1.cos.r.myqcloud.com/k</Location><Bucket>b-1</Bucket><Key>k</Key><ETag>\"abc-2\"</ETag></CompleteMultipartUploadResult>",
        )
        .unwrap();
        assert_eq!(done.etag.as_deref(), Some("\"abc-2\""));
        let copy: CopyObjectResult = parse(
            "copy",
            b"<CopyObjectResult><ETag>\"e\"</ETag><LastModified>2024-01-01T00:00:00Z</LastModified><CRC64>123</CRC64><VersionId>v</VersionId></CopyObjectResult>",
        )
        .unwrap();
        assert_eq!(copy.crc64.as_deref(), Some("123"));
        assert_eq!(copy.version_id.as_deref(), Some("v"));
    }

    #[test]
    fn delete_result_with_both_outcomes() {
        let xml = "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code><Message>no</Message></Error><Deleted><Key>c</Key><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>v2</DeleteMarkerVersionId></Deleted></DeleteResult>";
        let r: DeleteResult = parse("delete", xml.as_bytes()).unwrap();
        assert_eq!(r.deleted.len(), 2);
        assert_eq!(r.errors[0].code, "AccessDenied");
        assert_eq!(r.deleted[1].delete_marker, Some(true));
    }

    #[test]
    fn bad_xml_is_a_protocol_error() {
        let e = parse::<ListBucketResult>(
            "ListObjects",
            b"<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
        )
        .unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e}");
        assert!(parse::<ListBucketResult>("ListObjects", &[0xff, 0xfe]).is_err());
    }

    #[test]
    fn request_bodies_are_escaped() {
        let body = complete_multipart_body(&[
            PartRef {
                number: 1,
                etag: "\"a\"",
            },
            PartRef {
                number: 2,
                etag: "\"b\"",
            },
        ]);
        assert_eq!(
            body,
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag></Part>\
             <Part><PartNumber>2</PartNumber><ETag>&quot;b&quot;</ETag></Part></CompleteMultipartUpload>"
        );
        let del = delete_body(&[("a&b<c>.txt", None), ("k", Some("v1"))], false);
        assert_eq!(
            del,
            "<Delete><Quiet>false</Quiet><Object><Key>a&amp;b&lt;c&gt;.txt</Key></Object>\
             <Object><Key>k</Key><VersionId>v1</VersionId></Object></Delete>"
        );
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
            let _ = parse::<ListBucketResult>("list", &body);
            let _ = parse::<ErrorBody>("error", &body);
            let _ = parse::<ListPartsResult>("parts", text.as_bytes());
            let _ = is_error_document(&body);
            let _ = parse_date(&text);
            let _ = crate::cos::response::ContentRange::parse(&text);
            let _ = crate::cos::response::service_error(http::StatusCode::BAD_REQUEST, &http::HeaderMap::new(), &body);
        }

        #[test]
        fn written_bodies_parse_back(keys in proptest::collection::vec("[^\\u{0}-\\u{1f}]{1,20}", 1..5)) {
            let objects: Vec<(&str, Option<&str>)> = keys.iter().map(|k| (k.as_str(), None)).collect();
            let body = delete_body(&objects, true);
            #[derive(Deserialize)]
            struct Obj { #[serde(rename = "Key")] key: String }
            #[derive(Deserialize)]
            struct Del { #[serde(rename = "Object")] objects: Vec<Obj> }
            let back: Del = quick_xml::de::from_str(&body).unwrap();
            let got: Vec<String> = back.objects.into_iter().map(|o| o.key).collect();
            proptest::prop_assert_eq!(got, keys);
        }
    }
}
