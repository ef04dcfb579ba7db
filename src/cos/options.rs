//! What a caller can ask of an operation: content headers, metadata, storage
//! class, encryption, ranges, conditions, transfer tuning. Every option is
//! checked when the request is built, before any network call, and a bad one
//! is an [`Error::InvalidInput`] naming the field.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use md5::{Digest as _, Md5};

use super::{Error, Region};

/// The most metadata COS stores per object, names and values together (docs/protocol/cos.md §3).
pub const MAX_METADATA_BYTES: usize = 2048;
/// Smallest part of a multipart upload except the last (1 MiB).
pub const MIN_PART_SIZE: u64 = 1024 * 1024;
/// Largest part of a multipart upload and largest single PUT (5 GiB).
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Most parts in one multipart upload.
pub const MAX_PARTS: u32 = 10_000;
/// Part size used unless the object is so large that 10 000 parts would not
/// hold it: big enough that a part's request overhead is negligible, small
/// enough that `part size × concurrency` stays modest in memory.
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;
/// Parts in flight at once by default.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// `x-cos-traffic-limit` bounds, in bit/s (docs/protocol/cos.md §3).
pub const TRAFFIC_LIMIT_RANGE: std::ops::RangeInclusive<u64> = 819_200..=838_860_800;

/// A COS storage class. The common ones are constants; others (new classes,
/// multi-AZ variants) can be named with [`StorageClass::new`].
///
/// ```
/// use coscls::cos::StorageClass;
/// assert_eq!(StorageClass::STANDARD_IA.as_str(), "STANDARD_IA");
/// assert!(StorageClass::new("MAZ_STANDARD").is_ok());
/// assert!(StorageClass::new("standard ia").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StorageClass(Cow<'static, str>);

impl StorageClass {
    /// Standard storage (the default).
    pub const STANDARD: StorageClass = StorageClass(Cow::Borrowed("STANDARD"));
    /// Infrequent access.
    pub const STANDARD_IA: StorageClass = StorageClass(Cow::Borrowed("STANDARD_IA"));
    /// Intelligent tiering.
    pub const INTELLIGENT_TIERING: StorageClass =
        StorageClass(Cow::Borrowed("INTELLIGENT_TIERING"));
    /// Archive (restore before reading).
    pub const ARCHIVE: StorageClass = StorageClass(Cow::Borrowed("ARCHIVE"));
    /// Deep archive (restore before reading).
    pub const DEEP_ARCHIVE: StorageClass = StorageClass(Cow::Borrowed("DEEP_ARCHIVE"));

    /// Any class name: upper-case letters, digits and `_`.
    pub fn new(name: &str) -> Result<Self, Error> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(Error::invalid_input(
                "storage class",
                name,
                "must be upper-case letters, digits and '_', e.g. STANDARD_IA",
            ));
        }
        Ok(StorageClass(Cow::Owned(name.to_string())))
    }

    /// The wire name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StorageClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Server-side encryption with keys COS or KMS manage.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerSideEncryption {
    /// SSE-COS: `x-cos-server-side-encryption: AES256`.
    Cos,
    /// SSE-KMS: `cos/kms`, with an optional key id and a base64 JSON
    /// encryption context.
    Kms {
        /// The KMS key id; the account's default key when `None`.
        key_id: Option<String>,
        /// Base64 of a JSON object bound to the key use.
        context: Option<String>,
    },
}

/// A 256-bit customer-provided key (SSE-C). It is sent with every request
/// that writes or reads the object and never printed.
///
/// ```
/// use coscls::cos::CustomerKey;
/// let key = CustomerKey::new([7u8; 32]);
/// assert!(!format!("{key:?}").contains('7'));
/// assert!(CustomerKey::from_slice(&[0u8; 16]).is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CustomerKey([u8; 32]);

impl CustomerKey {
    /// Wraps a 32-byte key.
    pub fn new(key: [u8; 32]) -> Self {
        CustomerKey(key)
    }

    /// A key from a slice, which must be exactly 32 bytes.
    pub fn from_slice(key: &[u8]) -> Result<Self, Error> {
        let key: [u8; 32] = key.try_into().map_err(|_| {
            Error::invalid_input(
                "customer key",
                &format!("{} bytes", key.len()),
                "must be exactly 32 bytes (AES-256)",
            )
        })?;
        Ok(CustomerKey(key))
    }

    fn apply(&self, headers: &mut HeaderMap) {
        let b64 = base64::engine::general_purpose::STANDARD;
        let md5 = b64.encode(Md5::digest(self.0));
        insert_static(
            headers,
            "x-cos-server-side-encryption-customer-algorithm",
            HeaderValue::from_static("AES256"),
        );
        let mut key = HeaderValue::from_str(&b64.encode(self.0))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        key.set_sensitive(true);
        insert_static(headers, "x-cos-server-side-encryption-customer-key", key);
        if let Ok(v) = HeaderValue::from_str(&md5) {
            insert_static(headers, "x-cos-server-side-encryption-customer-key-md5", v);
        }
    }
}

impl fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomerKey(** redacted **)")
    }
}

/// Headers of an object write: PutObject, InitiateMultipartUpload, and a
/// CopyObject that replaces the metadata.
///
/// ```
/// use coscls::cos::{PutOptions, StorageClass};
/// let opts = PutOptions::default()
///     .content_type("text/plain; charset=utf-8")
///     .metadata("author", "alice")
///     .storage_class(StorageClass::STANDARD_IA);
/// assert_eq!(opts.metadata["author"], "alice");
/// ```
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    /// `Content-Type`; COS guesses nothing, so set it for browsers.
    pub content_type: Option<String>,
    /// `Content-Disposition`, e.g. `attachment; filename="report.pdf"`
    /// (non-ASCII names go in `filename*=UTF-8''…`).
    pub content_disposition: Option<String>,
    /// `Content-Encoding`, e.g. `gzip` for a pre-compressed body.
    pub content_encoding: Option<String>,
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `Expires`.
    pub expires: Option<SystemTime>,
    /// User metadata, names without the `x-cos-meta-` prefix: lower-case
    /// letters, digits and `-`; values printable ASCII; 2 KB in total.
    pub metadata: BTreeMap<String, String>,
    /// Storage class; the bucket's default when `None`.
    pub storage_class: Option<StorageClass>,
    /// SSE-COS or SSE-KMS.
    pub encryption: Option<ServerSideEncryption>,
    /// SSE-C key.
    pub customer_key: Option<CustomerKey>,
    /// Object tags (`x-cos-tagging`), at most 10.
    pub tags: Vec<(String, String)>,
    /// Bandwidth cap in bit/s (`x-cos-traffic-limit`), 819 200 to 838 860 800.
    pub traffic_limit: Option<u64>,
    /// Send `Content-MD5` so COS rejects a body damaged in transit (`BadDigest`).
    /// Costs one MD5 pass over the data; only for in-memory bodies and parts.
    pub content_md5: bool,
    /// Refuse to overwrite an existing object (`x-cos-forbid-overwrite: true`).
    pub forbid_overwrite: bool,
    /// Further `x-cos-*` headers (ACL, grants…) sent as given.
    pub extra_headers: Vec<(String, String)>,
}

impl PutOptions {
    /// Sets `Content-Type`.
    pub fn content_type(mut self, value: impl Into<String>) -> Self {
        self.content_type = Some(value.into());
        self
    }

    /// Sets `Content-Disposition`.
    pub fn content_disposition(mut self, value: impl Into<String>) -> Self {
        self.content_disposition = Some(value.into());
        self
    }

    /// Adds one `x-cos-meta-<name>` entry.
    pub fn metadata(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(name.into(), value.into());
        self
    }

    /// Sets the storage class.
    pub fn storage_class(mut self, class: StorageClass) -> Self {
        self.storage_class = Some(class);
        self
    }

    /// Sets server-side encryption.
    pub fn encryption(mut self, sse: ServerSideEncryption) -> Self {
        self.encryption = Some(sse);
        self
    }

    /// Asks for `Content-MD5` to be sent.
    pub fn with_content_md5(mut self) -> Self {
        self.content_md5 = true;
        self
    }

    /// The headers these options describe; `Content-MD5` and the traffic
    /// limit are per request and added by the caller.
    pub(crate) fn object_headers(&self) -> Result<HeaderMap, Error> {
        let mut h = HeaderMap::new();
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

fn insert_static(h: &mut HeaderMap, name: &'static str, value: HeaderValue) {
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

/// Which bytes of an object to read.
///
/// ```
/// use coscls::cos::ByteRange;
/// assert_eq!(ByteRange::new(0, 99).unwrap().header(), "bytes=0-99");
/// assert_eq!(ByteRange::from(100).header(), "bytes=100-");
/// assert_eq!(ByteRange::last(10).unwrap().header(), "bytes=-10");
/// assert!(ByteRange::new(5, 4).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `first..=last`.
    Inclusive {
        /// First byte.
        first: u64,
        /// Last byte, inclusive.
        last: u64,
    },
    /// From `first` to the end.
    From(u64),
    /// The last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Bytes `first..=last`; `first` must not exceed `last`.
    pub fn new(first: u64, last: u64) -> Result<Self, Error> {
        if first > last {
            return Err(Error::invalid_input(
                "range",
                &format!("{first}-{last}"),
                "the first byte is after the last",
            ));
        }
        Ok(ByteRange::Inclusive { first, last })
    }

    /// From `first` to the end of the object.
    pub fn from(first: u64) -> Self {
        ByteRange::From(first)
    }

    /// The last `n` bytes (`n > 0`).
    pub fn last(n: u64) -> Result<Self, Error> {
        if n == 0 {
            return Err(Error::invalid_input(
                "range",
                "-0",
                "a suffix range needs at least one byte",
            ));
        }
        Ok(ByteRange::Suffix(n))
    }

    /// The `Range` header value.
    pub fn header(&self) -> String {
        match self {
            ByteRange::Inclusive { first, last } => format!("bytes={first}-{last}"),
            ByteRange::From(first) => format!("bytes={first}-"),
            ByteRange::Suffix(n) => format!("bytes=-{n}"),
        }
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        match *self {
            ByteRange::Inclusive { first, last } => ByteRange::new(first, last).map(|_| ()),
            ByteRange::Suffix(n) => ByteRange::last(n).map(|_| ()),
            ByteRange::From(_) => Ok(()),
        }
    }
}

/// Options of GetObject and HeadObject.
///
/// ```
/// use coscls::cos::{ByteRange, GetOptions};
/// let opts = GetOptions::default()
///     .range(ByteRange::new(0, 1023).unwrap())
///     .response_content_type("application/octet-stream");
/// assert!(opts.range.is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct GetOptions {
    /// Part of the object to read (GetObject only).
    pub range: Option<ByteRange>,
    /// A specific version of a versioned object.
    pub version_id: Option<String>,
    /// Only if the ETag matches (`If-Match`), else 412.
    pub if_match: Option<String>,
    /// Only if the ETag differs (`If-None-Match`), else 304.
    pub if_none_match: Option<String>,
    /// Only if modified since (`If-Modified-Since`), else 304.
    pub if_modified_since: Option<SystemTime>,
    /// Only if not modified since (`If-Unmodified-Since`), else 412.
    pub if_unmodified_since: Option<SystemTime>,
    /// Override the `Content-Type` of the response (signed `response-content-type`).
    pub response_content_type: Option<String>,
    /// Override `Content-Disposition`.
    pub response_content_disposition: Option<String>,
    /// Override `Cache-Control`.
    pub response_cache_control: Option<String>,
    /// Override `Content-Encoding`.
    pub response_content_encoding: Option<String>,
    /// Override `Content-Language`.
    pub response_content_language: Option<String>,
    /// Override `Expires`.
    pub response_expires: Option<String>,
    /// SSE-C key the object was written with.
    pub customer_key: Option<CustomerKey>,
    /// Bandwidth cap in bit/s.
    pub traffic_limit: Option<u64>,
}

impl GetOptions {
    /// Reads only `range`.
    pub fn range(mut self, range: ByteRange) -> Self {
        self.range = Some(range);
        self
    }

    /// Reads version `id`.
    pub fn version_id(mut self, id: impl Into<String>) -> Self {
        self.version_id = Some(id.into());
        self
    }

    /// Requires the ETag to be `etag`.
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }

    /// Sets `response-content-type`.
    pub fn response_content_type(mut self, value: impl Into<String>) -> Self {
        self.response_content_type = Some(value.into());
        self
    }

    pub(crate) fn params(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        let overrides = [
            ("response-cache-control", &self.response_cache_control),
            (
                "response-content-disposition",
                &self.response_content_disposition,
            ),
            ("response-content-encoding", &self.response_content_encoding),
            ("response-content-language", &self.response_content_language),
            ("response-content-type", &self.response_content_type),
            ("response-expires", &self.response_expires),
        ];
        for (name, value) in overrides {
            if let Some(v) = value {
                p.push((name, v.clone()));
            }
        }
        if let Some(v) = &self.version_id {
            p.push(("versionId", v.clone()));
        }
        p
    }

    pub(crate) fn headers(&self, with_range: bool) -> Result<HeaderMap, Error> {
        let mut h = HeaderMap::new();
        if let (true, Some(r)) = (with_range, &self.range) {
            r.check()?;
            h.insert(http::header::RANGE, header_value("range", &r.header())?);
        }
        if let Some(v) = &self.if_match {
            h.insert(http::header::IF_MATCH, header_value("if-match", v)?);
        }
        if let Some(v) = &self.if_none_match {
            h.insert(
                http::header::IF_NONE_MATCH,
                header_value("if-none-match", v)?,
            );
        }
        if let Some(t) = self.if_modified_since {
            h.insert(
                http::header::IF_MODIFIED_SINCE,
                header_value("if-modified-since", &httpdate::fmt_http_date(t))?,
            );
        }
        if let Some(t) = self.if_unmodified_since {
            h.insert(
                http::header::IF_UNMODIFIED_SINCE,
                header_value("if-unmodified-since", &httpdate::fmt_http_date(t))?,
            );
        }
        if let Some(key) = &self.customer_key {
            key.apply(&mut h);
        }
        if let Some(limit) = self.traffic_limit {
            insert_static(&mut h, "x-cos-traffic-limit", traffic_limit(limit)?);
        }
        if let Some(v) = &self.version_id {
            if v.is_empty() {
                return Err(Error::invalid_input("version id", v, "is empty"));
            }
        }
        Ok(h)
    }
}

/// Options of CopyObject.
///
/// ```
/// use coscls::cos::{CopyOptions, PutOptions};
/// // Copy and replace the metadata at the same time.
/// let opts = CopyOptions::default().replace_metadata(PutOptions::default().content_type("text/csv"));
/// assert!(opts.replace_metadata.is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// Region of the source bucket; the client's region when `None`.
    pub source_region: Option<Region>,
    /// Copy this version of the source.
    pub source_version_id: Option<String>,
    /// Replace the metadata (`x-cos-metadata-directive: Replaced`) with
    /// these headers instead of copying the source's.
    pub replace_metadata: Option<PutOptions>,
    /// Storage class of the copy (when the metadata is copied).
    pub storage_class: Option<StorageClass>,
    /// Only if the source ETag matches (`x-cos-copy-source-If-Match`).
    pub source_if_match: Option<String>,
    /// Only if the source ETag differs.
    pub source_if_none_match: Option<String>,
    /// SSE-C key of the source object.
    pub source_customer_key: Option<CustomerKey>,
    /// [`Client::copy`](super::Client::copy): sources larger than this are
    /// copied in parts (UploadPartCopy); 5 GiB, the CopyObject limit, when
    /// `None`.
    pub multipart_threshold: Option<u64>,
    /// Part size of a multipart copy; chosen like an upload's when `None`.
    pub part_size: Option<u64>,
    /// Parts copied at once; [`DEFAULT_CONCURRENCY`] when `None`.
    pub concurrency: Option<usize>,
    /// The source's size: [`Client::copy`](super::Client::copy) learns it
    /// with a HEAD in its own region, and needs it given for a source in
    /// another region.
    pub source_size: Option<u64>,
}

impl CopyOptions {
    /// Copies sources larger than `bytes` in parts (at most 5 GiB).
    pub fn multipart_threshold(mut self, bytes: u64) -> Self {
        self.multipart_threshold = Some(bytes);
        self
    }

    /// Part size of a multipart copy (1 MiB to 5 GiB).
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = Some(bytes);
        self
    }

    /// Parts copied at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n);
        self
    }

    /// The size of the source, when the caller knows it.
    pub fn source_size(mut self, bytes: u64) -> Self {
        self.source_size = Some(bytes);
        self
    }

    /// Replaces the metadata with `opts`.
    pub fn replace_metadata(mut self, opts: PutOptions) -> Self {
        self.replace_metadata = Some(opts);
        self
    }
}

/// Options of one ListObjects page.
///
/// ```
/// use coscls::cos::ListOptions;
/// let opts = ListOptions::default().prefix("photos/").delimiter("/");
/// assert_eq!(opts.prefix.as_deref(), Some("photos/"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Group keys sharing a prefix up to this delimiter into `common_prefixes`.
    pub delimiter: Option<String>,
    /// Start after this key.
    pub marker: Option<String>,
    /// Keys per page, 1 to 1000 (COS default 1000).
    pub max_keys: Option<u32>,
}

impl ListOptions {
    /// Sets the prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Sets the delimiter.
    pub fn delimiter(mut self, delimiter: impl Into<String>) -> Self {
        self.delimiter = Some(delimiter.into());
        self
    }

    /// Sets the page size.
    pub fn max_keys(mut self, n: u32) -> Self {
        self.max_keys = Some(n);
        self
    }
}

/// How far a transfer has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes confirmed so far.
    pub transferred: u64,
    /// Total bytes, when known.
    pub total: Option<u64>,
}

/// A progress callback; called from the transfer's tasks, so keep it quick.
#[derive(Clone)]
pub struct ProgressCallback(Arc<dyn Fn(Progress) + Send + Sync>);

impl ProgressCallback {
    /// Wraps a closure.
    pub fn new(f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        ProgressCallback(Arc::new(f))
    }

    pub(crate) fn call(&self, p: Progress) {
        (self.0)(p)
    }
}

impl fmt::Debug for ProgressCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressCallback")
    }
}

/// Options of `upload_file` / `upload_stream`.
///
/// ```
/// use coscls::cos::UploadOptions;
/// let opts = UploadOptions::default()
///     .part_size(16 * 1024 * 1024)
///     .concurrency(8)
///     .on_progress(|p| println!("{} of {:?}", p.transferred, p.total));
/// assert_eq!(opts.concurrency, 8);
/// ```
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Headers of the object.
    pub put: PutOptions,
    /// Part size; chosen from the size when `None` (8 MiB, doubled until
    /// 10 000 parts hold the object). Objects no larger than one part are
    /// sent with a single PutObject.
    pub part_size: Option<u64>,
    /// Parts uploaded at once; memory use is about `part_size × (concurrency + 1)`.
    pub concurrency: usize,
    /// Expected size of a stream, used to choose the part size.
    pub size_hint: Option<u64>,
    /// Called after every part.
    pub progress: Option<ProgressCallback>,
    /// Called with the upload id as soon as a multipart upload is started.
    /// Dropping the upload's future (a cancelled task, Ctrl-C) cannot abort
    /// the upload, so a caller that may stop early keeps the id to call
    /// `abort_multipart_upload` itself; otherwise the parts stay billed.
    pub on_started: Option<UploadStartedCallback>,
    /// Checkpoint file of a resumable `upload_file` (see
    /// [`checkpoint`](Self::checkpoint)); `None` keeps the default of
    /// aborting a failed upload.
    pub checkpoint: Option<PathBuf>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            put: PutOptions::default(),
            part_size: None,
            concurrency: DEFAULT_CONCURRENCY,
            size_hint: None,
            progress: None,
            on_started: None,
            checkpoint: None,
        }
    }
}

impl UploadOptions {
    /// Sets the object headers.
    pub fn put(mut self, put: PutOptions) -> Self {
        self.put = put;
        self
    }

    /// Sets the part size.
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = Some(bytes);
        self
    }

    /// Sets the number of parts in flight.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Sets the expected size of a stream.
    pub fn size_hint(mut self, bytes: u64) -> Self {
        self.size_hint = Some(bytes);
        self
    }

    /// Sets the progress callback.
    pub fn on_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ProgressCallback::new(f));
        self
    }

    /// Sets the callback given the upload id when a multipart upload starts
    /// (never called for an object sent with a single PutObject).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use coscls::cos::UploadOptions;
    /// let started: Arc<Mutex<Vec<String>>> = Arc::default();
    /// let ids = started.clone();
    /// let opts = UploadOptions::default().on_started(move |id| {
    ///     ids.lock().unwrap().push(id.to_string());
    /// });
    /// assert!(opts.on_started.is_some());
    /// ```
    pub fn on_started(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_started = Some(UploadStartedCallback(Arc::new(f)));
        self
    }

    /// Makes `upload_file` resumable through the checkpoint file at `path`
    /// (the Go SDK's `CheckPoint`). The upload id, part size, the source's
    /// size and modification time and every finished part (number, ETag,
    /// size, CRC-64) are recorded there, replaced atomically after each
    /// part (past 64 parts, after every 1/64 of them, and when the upload
    /// fails). A rerun with the same path continues the upload, reusing only
    /// the parts the server still lists with the recorded ETag and size and
    /// whose bytes in the file still have the recorded CRC-64; a changed
    /// source, another part size or an upload that no longer exists starts
    /// a new upload ([`ResumeOutcome::Restarted`](super::ResumeOutcome::Restarted)
    /// in [`UploadOutput::resume`](super::UploadOutput::resume)).
    ///
    /// A failed upload is then left open for the rerun instead of being
    /// aborted; one never rerun is found by
    /// [`Client::abort_stale_uploads`](super::Client::abort_stale_uploads).
    /// The checkpoint is removed when the upload completes. A file that is
    /// not a checkpoint, or one of another object, is an
    /// [`Error::InvalidInput`](super::Error::InvalidInput) and left alone.
    /// `upload_stream` refuses this option: a stream cannot be read again.
    ///
    /// ```
    /// use coscls::cos::UploadOptions;
    /// let opts = UploadOptions::default().checkpoint("/var/tmp/backup.tar.cp");
    /// assert!(opts.checkpoint.is_some());
    /// ```
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }
}

/// The callback of [`UploadOptions::on_started`].
#[derive(Clone)]
pub struct UploadStartedCallback(Arc<dyn Fn(&str) + Send + Sync>);

impl UploadStartedCallback {
    pub(crate) fn call(&self, upload_id: &str) {
        (self.0)(upload_id)
    }
}

impl fmt::Debug for UploadStartedCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UploadStartedCallback")
    }
}

/// Options of `download_file`.
///
/// ```
/// use coscls::cos::DownloadOptions;
/// let opts = DownloadOptions::default().part_size(4 * 1024 * 1024).concurrency(2);
/// assert_eq!(opts.concurrency, 2);
/// ```
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Bytes per ranged GET.
    pub part_size: u64,
    /// Ranged GETs at once.
    pub concurrency: usize,
    /// A specific version.
    pub version_id: Option<String>,
    /// SSE-C key.
    pub customer_key: Option<CustomerKey>,
    /// Called as bytes are written.
    pub progress: Option<ProgressCallback>,
    /// Checkpoint file of a resumable download (see
    /// [`checkpoint`](Self::checkpoint)).
    pub checkpoint: Option<PathBuf>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            part_size: DEFAULT_PART_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            version_id: None,
            customer_key: None,
            progress: None,
            checkpoint: None,
        }
    }
}

impl DownloadOptions {
    /// Sets the bytes per ranged GET.
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// Sets the number of ranged GETs in flight.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Sets the progress callback.
    pub fn on_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ProgressCallback::new(f));
        self
    }

    /// Makes the download resumable through the checkpoint file at `path`
    /// (the Go SDK's `CheckPoint`). The bytes go to `<destination>.coscls-partial`,
    /// which is kept when the download fails or is dropped, and the
    /// object's ETag, size, last-modified time and CRC-64, the part size and
    /// every range written (with its CRC-64) are recorded in the checkpoint,
    /// replaced atomically after each range (past 64 ranges, after every
    /// 1/64 of them, and when the download fails). A rerun with the same path
    /// reads back and checks the recorded ranges, fetches only the others
    /// (with `If-Match` on the ETag), and verifies the whole file's CRC-64
    /// before renaming it into place; an object that changed meanwhile
    /// starts the download over ([`ResumeOutcome::Restarted`](super::ResumeOutcome::Restarted)
    /// in [`DownloadOutput::resume`](super::DownloadOutput::resume)). The
    /// checkpoint is removed on success. A file that is not a checkpoint,
    /// or one of another download, is an
    /// [`Error::InvalidInput`](super::Error::InvalidInput) and left alone.
    ///
    /// ```
    /// use coscls::cos::DownloadOptions;
    /// let opts = DownloadOptions::default().checkpoint("/var/tmp/backup.tar.cp");
    /// assert!(opts.checkpoint.is_some());
    /// ```
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }
}

/// The part size for an object of `total` bytes (unknown for a stream):
/// `requested` when given and valid, else [`DEFAULT_PART_SIZE`] doubled
/// until [`MAX_PARTS`] parts hold the object.
///
/// ```
/// use coscls::cos::choose_part_size;
/// assert_eq!(choose_part_size(Some(100 << 20), None).unwrap(), 8 << 20);
/// // 100 GiB needs 16 MiB parts to stay within 10 000 parts.
/// assert_eq!(choose_part_size(Some(100 << 30), None).unwrap(), 16 << 20);
/// assert!(choose_part_size(None, Some(512 * 1024)).is_err());
/// ```
pub fn choose_part_size(total: Option<u64>, requested: Option<u64>) -> Result<u64, Error> {
    let max_object = MAX_PART_SIZE * u64::from(MAX_PARTS);
    if let Some(total) = total {
        if total > max_object {
            return Err(Error::invalid_input(
                "object size",
                &total.to_string(),
                "exceeds 10 000 parts of 5 GiB",
            ));
        }
    }
    let parts_needed = |size: u64| total.map_or(0, |t| t.div_ceil(size));
    match requested {
        Some(size) => {
            if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&size) {
                return Err(Error::invalid_input(
                    "part size",
                    &size.to_string(),
                    "must be between 1 MiB and 5 GiB",
                ));
            }
            if parts_needed(size) > u64::from(MAX_PARTS) {
                let min = total.unwrap_or(0).div_ceil(u64::from(MAX_PARTS));
                return Err(Error::invalid_input(
                    "part size",
                    &size.to_string(),
                    &format!("would need more than 10 000 parts; use at least {min} bytes"),
                ));
            }
            Ok(size)
        }
        None => {
            let mut size = DEFAULT_PART_SIZE;
            while parts_needed(size) > u64::from(MAX_PARTS) {
                size *= 2;
            }
            Ok(size.min(MAX_PART_SIZE))
        }
    }
}

pub(crate) fn check_concurrency(n: usize) -> Result<(), Error> {
    if n == 0 || n > 256 {
        return Err(Error::invalid_input(
            "concurrency",
            &n.to_string(),
            "must be between 1 and 256",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn get_params_and_headers() {
        let opts = GetOptions::default()
            .range(ByteRange::new(10, 19).unwrap())
            .version_id("v1")
            .if_match("\"e\"")
            .response_content_type("text/csv");
        let p = opts.params();
        assert!(p.contains(&("response-content-type", "text/csv".to_string())));
        assert!(p.contains(&("versionId", "v1".to_string())));
        let h = opts.headers(true).unwrap();
        assert_eq!(h["range"], "bytes=10-19");
        assert_eq!(h["if-match"], "\"e\"");
        assert!(!opts.headers(false).unwrap().contains_key("range"));
        let bad = GetOptions {
            range: Some(ByteRange::Inclusive { first: 9, last: 1 }),
            ..Default::default()
        };
        assert!(bad.headers(true).is_err());
    }

    #[test]
    fn part_sizes() {
        assert_eq!(choose_part_size(None, None).unwrap(), DEFAULT_PART_SIZE);
        assert_eq!(choose_part_size(Some(0), None).unwrap(), DEFAULT_PART_SIZE);
        let tb = 1u64 << 40;
        let s = choose_part_size(Some(tb), None).unwrap();
        assert!(tb.div_ceil(s) <= 10_000 && s >= MIN_PART_SIZE, "{s}");
        assert_eq!(s, 128 << 20);
        let max = MAX_PART_SIZE * 10_000;
        assert_eq!(choose_part_size(Some(max), None).unwrap(), MAX_PART_SIZE);
        assert!(choose_part_size(Some(max + 1), None).is_err());
        assert!(choose_part_size(None, Some(MAX_PART_SIZE + 1)).is_err());
        assert!(choose_part_size(Some(tb), Some(MIN_PART_SIZE)).is_err());
        assert_eq!(choose_part_size(Some(tb), Some(1 << 30)).unwrap(), 1 << 30);
        assert!(check_concurrency(0).is_err());
        assert!(check_concurrency(4).is_ok());
    }
}
