//! AppendObject: grows an appendable object from its end
//! (`POST /<key>?append&position=N`).
//!
//! Position 0 creates the object (its headers come from that first append);
//! every later append must name the object's current length, so a retried
//! append whose first attempt landed is refused (`AppendPositionErr`)
//! instead of writing the bytes twice. A PUT over an appendable object makes
//! it a normal one, which can no longer be appended to.

use bytes::Bytes;
use http::Method;
use md5::{Digest as _, Md5};

use crate::cos::request::Target;
use crate::cos::response::check_crc;
use crate::cos::response::{self, header, header_str, X_COS_REQUEST_ID};
use crate::cos::PutOptions;
use crate::cos::{crc64, Client, Error};
use crate::transport::{PreparedRequest, RequestBody};

/// Largest appendable object, and so largest append (5 GB, COS "APPEND Object").
pub const MAX_APPENDABLE_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// What AppendObject answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppendObjectOutput {
    /// `x-cos-next-append-position`: the object's length now, the position
    /// of the next append.
    pub next_position: u64,
    /// `x-cos-hash-crc64ecma` of the whole object after this append.
    pub crc64: Option<u64>,
    /// `ETag` of the object after this append.
    pub etag: Option<String>,
    /// `x-cos-request-id`.
    pub request_id: Option<String>,
}

/// AppendObject: `POST /<key>?append&position=N` with the object's headers.
pub(crate) fn append_request(
    t: Target<'_>,
    key: &str,
    position: u64,
    body: Bytes,
    opts: &PutOptions,
) -> Result<PreparedRequest, Error> {
    if body.is_empty() {
        return Err(Error::invalid_input(
            "body",
            "0 bytes",
            "an append must add at least one byte",
        ));
    }
    let end = position.checked_add(body.len() as u64);
    if end.is_none_or(|end| end > MAX_APPENDABLE_SIZE) {
        return Err(Error::invalid_input(
            "body",
            &format!("{} bytes at position {position}", body.len()),
            "an appendable object is at most 5 GiB",
        ));
    }
    let mut headers = opts.object_headers()?;
    opts.transfer_headers(&mut headers, &body)?;
    t.object(
        Method::POST,
        key,
        vec![
            ("append".to_string(), String::new()),
            ("position".to_string(), position.to_string()),
        ],
        headers,
        RequestBody::Bytes(body),
    )
}

/// Reads an AppendObject answer and checks it against what was sent: the
/// next position must be `position + len`, `x-cos-content-sha1` (which COS
/// fills with the hex MD5 of the appended bytes, as the Go SDK checks) must
/// match, and after a first append the object's CRC-64 is the body's.
pub(crate) fn parse_append(
    key: &str,
    position: u64,
    body: &[u8],
    headers: &http::HeaderMap,
    verify: bool,
) -> Result<AppendObjectOutput, Error> {
    let next = header_str(headers, "x-cos-next-append-position").ok_or_else(|| {
        Error::protocol(format!("AppendObject {key}: no x-cos-next-append-position"))
    })?;
    let next_position: u64 = next.parse().map_err(|_| {
        Error::protocol(format!(
            "AppendObject {key}: x-cos-next-append-position {next:?} is not a number"
        ))
    })?;
    let expected = position.saturating_add(body.len() as u64);
    if next_position != expected {
        return Err(Error::protocol(format!(
            "AppendObject {key}: appended {} bytes at {position} but the next position is {next_position}, not {expected}",
            body.len()
        )));
    }
    let out = AppendObjectOutput {
        next_position,
        crc64: response::crc64_header(headers)?,
        etag: header(headers, http::header::ETAG),
        request_id: header(headers, X_COS_REQUEST_ID),
    };
    if verify {
        if let Some(server) = header_str(headers, "x-cos-content-sha1") {
            let local = hex::encode(Md5::digest(body));
            if !server.eq_ignore_ascii_case(&local) {
                return Err(Error::protocol(format!(
                    "AppendObject {key}: the server received bytes whose MD5 is {server}, not {local}"
                )));
            }
        }
        if position == 0 {
            check_crc(
                format_args!("AppendObject {key}"),
                out.crc64,
                Some(crc64::checksum(body)),
            )?;
        }
    }
    Ok(out)
}

impl Client {
    /// Appends `body` to the appendable object `key` at `position`, which
    /// must be the object's current length (0 creates it, with the headers
    /// of `opts`). Returns the position of the next append.
    ///
    /// Retries are safe: a retry of an append that already landed is
    /// refused with `AppendPositionErr` rather than appended twice;
    /// [`head_object`](Self::head_object)'s `content_length` then tells
    /// where the object ends.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request for a bad bucket or key,
    /// an empty body, or an object that would pass 5 GiB; service errors
    /// `AppendPositionErr` (409) when `position` is not the object's
    /// length, `ObjectNotAppendable` (409) for an object written by PUT or
    /// multipart upload.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::PutOptions;
    /// let bucket = "examplebucket-1250000000";
    /// let opts = PutOptions::default().content_type("text/plain");
    /// let first = client.append_object(bucket, "app.log", 0, "line 1\n", &opts).await?;
    /// let second = client
    ///     .append_object(bucket, "app.log", first.next_position, "line 2\n", &opts)
    ///     .await?;
    /// assert_eq!(second.next_position, 14);
    /// # Ok(()) }
    /// ```
    pub async fn append_object(
        &self,
        bucket: &str,
        key: &str,
        position: u64,
        body: impl Into<Bytes>,
        opts: &PutOptions,
    ) -> Result<AppendObjectOutput, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("AppendObject", &bucket).with_key(key), async {
            let body: Bytes = body.into();
            let build = || append_request(self.target(&bucket), key, position, body.clone(), opts);
            let response = self.send_rebuilding(build).await?;
            parse_append(key, position, &body, response.headers(), self.verify_crc())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::{BucketName, Endpoint, Region};
    use http::{HeaderMap, HeaderValue};

    #[test]
    fn request_shape_and_limits() {
        let ep = Endpoint::for_region(&Region::parse("ap-guangzhou").unwrap());
        let b = BucketName::parse("examplebucket-1250000000").unwrap();
        let t = Target {
            endpoint: &ep,
            bucket: &b,
        };
        let opts = PutOptions::default().content_type("text/plain");
        let r = append_request(t, "log", 7, Bytes::from_static(b"abc"), &opts).unwrap();
        assert_eq!(r.method, Method::POST);
        assert_eq!(
            r.params,
            vec![
                ("append".to_string(), String::new()),
                ("position".to_string(), "7".to_string())
            ]
        );
        assert_eq!(r.headers["content-type"], "text/plain");
        assert!(append_request(t, "log", 0, Bytes::new(), &opts).is_err());
        let e = append_request(
            t,
            "log",
            MAX_APPENDABLE_SIZE,
            Bytes::from_static(b"x"),
            &opts,
        )
        .unwrap_err();
        assert!(e.to_string().contains("5 GiB"), "{e}");
        assert!(append_request(t, "log", u64::MAX, Bytes::from_static(b"x"), &opts).is_err());
    }

    fn answer(next: &str, crc: Option<u64>, md5: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-cos-next-append-position",
            HeaderValue::from_str(next).unwrap(),
        );
        if let Some(c) = crc {
            h.insert(
                "x-cos-hash-crc64ecma",
                HeaderValue::from_str(&c.to_string()).unwrap(),
            );
        }
        if let Some(m) = md5 {
            h.insert("x-cos-content-sha1", HeaderValue::from_str(m).unwrap());
        }
        h
    }

    #[test]
    fn answers_are_checked() {
        let body = b"hello";
        let md5 = hex::encode(Md5::digest(body));
        let crc = crc64::checksum(body);
        let ok = parse_append("k", 0, body, &answer("5", Some(crc), Some(&md5)), true).unwrap();
        assert_eq!(ok.next_position, 5);
        assert_eq!(ok.crc64, Some(crc));
        // A later append's CRC covers the whole object: not compared.
        assert!(parse_append("k", 10, body, &answer("15", Some(1), Some(&md5)), true).is_ok());
        assert!(parse_append("k", 0, body, &answer("6", Some(crc), None), true).is_err());
        assert!(parse_append("k", 0, body, &answer("x", None, None), true).is_err());
        assert!(matches!(
            parse_append("k", 0, body, &answer("5", Some(crc ^ 1), None), true),
            Err(Error::ChecksumMismatch { .. })
        ));
        assert!(parse_append("k", 0, body, &answer("5", None, Some("00")), true).is_err());
        // Verification off: only the position is checked.
        assert!(parse_append("k", 0, body, &answer("5", Some(crc ^ 1), Some("00")), false).is_ok());
        assert!(parse_append("k", 0, body, &HeaderMap::new(), true).is_err());
    }
}
