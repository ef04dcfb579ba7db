//! Value types several operations share: storage classes, server-side
//! encryption and customer keys, byte ranges.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use md5::{Digest as _, Md5};

use super::headers::insert_static;
use super::Error;

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

    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
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
