//! Header serialisation shared by the operations that write objects
//! (PutObject, InitiateMultipartUpload, UploadPart, AppendObject, a
//! CopyObject that replaces metadata): [`PutOptions`] into headers, and the
//! checked header values every request builder uses. A bad value is an
//! [`Error::InvalidInput`] naming the field, before any network call.

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use md5::{Digest as _, Md5};

use super::limits::{MAX_METADATA_BYTES, TRAFFIC_LIMIT_RANGE};
use super::{Error, PutOptions, ServerSideEncryption};

impl PutOptions {
    /// The headers these options describe; `Content-MD5` and the traffic
    /// limit are per request and added by the caller.
    pub(crate) fn object_headers(&self) -> Result<HeaderMap, Error> {
        // Room for what the request adds later (host, length, agent,
        // authorization, trace context, the HTTP client's own), so the
        // map is not rehashed on the way.
        let mut h = HeaderMap::with_capacity(12);
        let standard = [
            (
                http::header::CONTENT_TYPE,
                "content type",
                &self.content_type,
            ),
            (
                http::header::CONTENT_DISPOSITION,
                "content disposition",
                &self.content_disposition,
            ),
            (
                http::header::CONTENT_ENCODING,
                "content encoding",
                &self.content_encoding,
            ),
            (
                http::header::CACHE_CONTROL,
                "cache control",
                &self.cache_control,
            ),
        ];
        for (name, what, value) in standard {
            if let Some(v) = value {
                h.insert(name, header_value(what, v)?);
            }
        }
        if let Some(t) = self.expires {
            h.insert(
                http::header::EXPIRES,
                header_value("expires", &httpdate::fmt_http_date(t))?,
            );
        }
        let mut meta_bytes = 0;
        for (name, value) in &self.metadata {
            let short = name.strip_prefix("x-cos-meta-").unwrap_or(name);
            if short.is_empty()
                || !short
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(Error::invalid_input(
                    "metadata name",
                    name,
                    "may contain only lower-case letters, digits and '-' (COS lower-cases names and rejects '_')",
                ));
            }
            let full = format!("x-cos-meta-{short}");
            meta_bytes += full.len() + value.len();
            let name = HeaderName::from_bytes(full.as_bytes())
                .map_err(|_| Error::invalid_input("metadata name", name, "is not a header name"))?;
            h.insert(name, header_value("metadata value", value)?);
        }
        if meta_bytes > MAX_METADATA_BYTES {
            return Err(Error::invalid_input(
                "metadata",
                &format!("{meta_bytes} bytes"),
                &format!("exceeds the {MAX_METADATA_BYTES}-byte limit (names and values together)"),
            ));
        }
        if let Some(class) = &self.storage_class {
            insert_static(
                &mut h,
                "x-cos-storage-class",
                header_value("storage class", class.as_str())?,
            );
        }
        match &self.encryption {
            None => {}
            Some(ServerSideEncryption::Cos) => insert_static(
                &mut h,
                "x-cos-server-side-encryption",
                HeaderValue::from_static("AES256"),
            ),
            Some(ServerSideEncryption::Kms { key_id, context }) => {
                insert_static(
                    &mut h,
                    "x-cos-server-side-encryption",
                    HeaderValue::from_static("cos/kms"),
                );
                if let Some(id) = key_id {
                    insert_static(
                        &mut h,
                        "x-cos-server-side-encryption-cos-kms-key-id",
                        header_value("KMS key id", id)?,
                    );
                }
                if let Some(ctx) = context {
                    insert_static(
                        &mut h,
                        "x-cos-server-side-encryption-context",
                        header_value("KMS context", ctx)?,
                    );
                }
            }
        }
        if let Some(key) = &self.customer_key {
            if self.encryption.is_some() {
                return Err(Error::invalid_input(
                    "encryption",
                    "SSE-C with SSE-COS/KMS",
                    "choose either a customer key or server-managed encryption",
                ));
            }
            key.apply(&mut h);
        }
        if !self.tags.is_empty() {
            super::validate_tags(&self.tags, super::MAX_OBJECT_TAGS)?;
            let pairs: Vec<(&str, &str)> = self
                .tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            insert_static(
                &mut h,
                "x-cos-tagging",
                header_value("tags", &super::query_string(&pairs))?,
            );
        }
        if self.forbid_overwrite {
            insert_static(
                &mut h,
                "x-cos-forbid-overwrite",
                HeaderValue::from_static("true"),
            );
        }
        for (name, value) in &self.extra_headers {
            let lower = name.to_ascii_lowercase();
            if !lower.starts_with("x-cos-") {
                return Err(Error::invalid_input(
                    "extra header",
                    name,
                    "only x-cos-* headers may be added; use the typed fields for standard ones",
                ));
            }
            let name = HeaderName::from_bytes(lower.as_bytes()).map_err(|_| {
                Error::invalid_input("extra header", &lower, "is not a header name")
            })?;
            h.insert(name, header_value("extra header value", value)?);
        }
        Ok(h)
    }

    /// Request headers for one body upload (PutObject or UploadPart).
    pub(crate) fn transfer_headers(&self, h: &mut HeaderMap, body: &[u8]) -> Result<(), Error> {
        if let Some(limit) = self.traffic_limit {
            insert_static(h, "x-cos-traffic-limit", traffic_limit(limit)?);
        }
        if self.content_md5 {
            h.insert("content-md5", content_md5(body));
        }
        Ok(())
    }
}

/// `base64(MD5(body))`, the `Content-MD5` header value.
pub(crate) fn content_md5(body: &[u8]) -> HeaderValue {
    let value = base64::engine::general_purpose::STANDARD.encode(Md5::digest(body));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(crate) fn traffic_limit(limit: u64) -> Result<HeaderValue, Error> {
    if !TRAFFIC_LIMIT_RANGE.contains(&limit) {
        return Err(Error::invalid_input(
            "traffic limit",
            &limit.to_string(),
            "must be between 819200 and 838860800 bit/s",
        ));
    }
    Ok(HeaderValue::from(limit))
}

pub(crate) fn insert_static(h: &mut HeaderMap, name: &'static str, value: HeaderValue) {
    h.insert(HeaderName::from_static(name), value);
}

/// A header value the signer can sign: printable ASCII (and tab), no line breaks.
pub(crate) fn header_value(what: &'static str, value: &str) -> Result<HeaderValue, Error> {
    if let Some(c) = value
        .chars()
        .find(|c| !(matches!(c, ' '..='~') || *c == '\t'))
    {
        return Err(Error::invalid_input(
            what,
            value,
            &format!(
                "contains {c:?}; header values must be printable ASCII (percent-encode other text)"
            ),
        ));
    }
    HeaderValue::from_str(value)
        .map_err(|_| Error::invalid_input(what, value, "is not a valid header value"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::{CustomerKey, StorageClass};

    #[test]
    fn put_headers() {
        let opts = PutOptions::default()
            .content_type("text/plain")
            .content_disposition("attachment; filename=\"p~*.txt\"")
            .metadata("author", "alice")
            .metadata("x-cos-meta-team", "infra")
            .storage_class(StorageClass::STANDARD_IA)
            .encryption(ServerSideEncryption::Kms {
                key_id: Some("kms-1".into()),
                context: None,
            });
        let h = opts.object_headers().unwrap();
        assert_eq!(h["content-type"], "text/plain");
        assert_eq!(h["x-cos-meta-author"], "alice");
        assert_eq!(h["x-cos-meta-team"], "infra");
        assert_eq!(h["x-cos-storage-class"], "STANDARD_IA");
        assert_eq!(h["x-cos-server-side-encryption"], "cos/kms");
        assert_eq!(h["x-cos-server-side-encryption-cos-kms-key-id"], "kms-1");
    }

    #[test]
    fn tags_and_md5() {
        let opts = PutOptions {
            tags: vec![("a b".into(), "1+1".into()), ("c".into(), "".into())],
            content_md5: true,
            traffic_limit: Some(819_200),
            ..Default::default()
        };
        let mut h = opts.object_headers().unwrap();
        assert_eq!(h["x-cos-tagging"], "a%20b=1%2B1&c=");
        opts.transfer_headers(&mut h, b"hello").unwrap();
        assert_eq!(h["content-md5"], "XUFAKrxLKna5cZ2REBfFkg==");
        assert_eq!(h["x-cos-traffic-limit"], "819200");
    }

    #[test]
    fn sse_c_headers_are_sensitive() {
        let opts = PutOptions {
            customer_key: Some(CustomerKey::new([1u8; 32])),
            ..Default::default()
        };
        let h = opts.object_headers().unwrap();
        assert_eq!(
            h["x-cos-server-side-encryption-customer-algorithm"],
            "AES256"
        );
        assert!(h["x-cos-server-side-encryption-customer-key"].is_sensitive());
        assert!(format!("{opts:?}").contains("redacted"));
        let both = PutOptions {
            encryption: Some(ServerSideEncryption::Cos),
            ..opts
        };
        assert!(both.object_headers().is_err());
    }

    #[test]
    fn invalid_options_are_named() {
        let cases: Vec<(PutOptions, &str)> = vec![
            (
                PutOptions::default().metadata("Author", "x"),
                "metadata name",
            ),
            (PutOptions::default().metadata("a_b", "x"), "metadata name"),
            (PutOptions::default().metadata("", "x"), "metadata name"),
            (
                PutOptions::default().metadata("a", "caf\u{e9}"),
                "metadata value",
            ),
            (
                PutOptions::default().metadata("a", "x\r\ny"),
                "metadata value",
            ),
            (
                PutOptions::default().metadata("a", "x".repeat(3000)),
                "metadata",
            ),
            (
                PutOptions::default().content_type("text/\u{1}"),
                "content type",
            ),
            (
                PutOptions {
                    traffic_limit: Some(1),
                    ..Default::default()
                },
                "traffic limit",
            ),
            (
                PutOptions {
                    tags: (0..11).map(|i| (i.to_string(), String::new())).collect(),
                    ..Default::default()
                },
                "tags",
            ),
            (
                PutOptions {
                    extra_headers: vec![("authorization".into(), "x".into())],
                    ..Default::default()
                },
                "extra header",
            ),
        ];
        for (opts, what) in cases {
            let r = opts
                .object_headers()
                .and_then(|mut h| opts.transfer_headers(&mut h, b""));
            match r {
                Err(Error::InvalidInput { what: got, .. }) => assert_eq!(got, what),
                other => panic!("{what}: {other:?}"),
            }
        }
    }
}
