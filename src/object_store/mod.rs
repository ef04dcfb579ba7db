//! COS as an [`object_store::ObjectStore`]
//! (feature `object-store`).
//!
//! The Rust data ecosystem (DataFusion, Polars, delta-rs, LanceDB, arrow-rs)
//! reads and writes object storage through the `object_store` crate's
//! traits. [`CosStore`] implements them on top of [`cos::Client`]: every
//! call is one or more of the client's public operations, so each request
//! is a `COS <Operation>` span and a duration sample like any other, and
//! transfers keep their CRC-64 checks. It implements
//! [`ObjectStore`](::object_store::ObjectStore),
//! [`MultipartStore`](::object_store::multipart::MultipartStore) and
//! [`PaginatedListStore`](::object_store::list::PaginatedListStore), and is
//! checked against `object_store`'s own integration suite
//! (`tests/object_store_suite.rs`).
//!
//! What maps to what:
//!
//! * `PutMode::Overwrite` is a PutObject; `PutMode::Create` adds
//!   `x-cos-forbid-overwrite: true` and an existing object is
//!   `Error::AlreadyExists`; `PutMode::Update` is `Error::NotImplemented`,
//!   because COS documents no `If-Match` on PUT Object. COS honours
//!   `x-cos-forbid-overwrite` only on buckets that have never had
//!   versioning enabled (<https://cloud.tencent.com/document/product/436/7742>):
//!   on a versioned bucket `Create` and `copy_if_not_exists` write a new
//!   version instead of failing.
//! * `copy_if_not_exists` is a multipart copy (UploadPartCopy, no bytes
//!   through the client) completed with `x-cos-forbid-overwrite: true`, the
//!   conditional form COS documents for CompleteMultipartUpload.
//! * Gets pass ranges and `If-*` conditions to GetObject; COS answers 304 and
//!   412, which become `NotModified` and `Precondition`.
//! * Errors map by meaning (404 `NotFound`, 412 `Precondition`, 304
//!   `NotModified`, 409 `FileAlreadyExists` `AlreadyExists`, 403
//!   `PermissionDenied` or `Unauthenticated`, the rest `Generic`); the
//!   [`cos::Error`] stays the source, with its code and request id.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use coscls::auth::Credentials;
//! use coscls::object_store::CosStore;
//! use object_store::{path::Path, ObjectStore, ObjectStoreExt};
//!
//! let client = coscls::cos::Client::builder()
//!     .region("ap-guangzhou")
//!     .credentials(Credentials::new("AKIDexample", "secret")?)
//!     .build()?;
//! let store = CosStore::builder(client, "examplebucket-1250000000")
//!     .prefix("warehouse")
//!     .build()?;
//! store.put(&Path::from("t/part-0.csv"), "a,b\n1,2\n".into()).await?;
//! let bytes = store.get(&Path::from("t/part-0.csv")).await?.bytes().await?;
//! assert_eq!(&bytes[..], b"a,b\n1,2\n");
//! # Ok(()) }
//! ```

mod errors;
mod multipart;
mod store;

use ::object_store::path::Path;

use crate::cos::{self, BucketName};

/// A COS bucket (optionally a prefix in it) as an `object_store` store.
///
/// Cheap to clone: the [`cos::Client`] inside is shared.
#[derive(Debug, Clone)]
pub struct CosStore {
    client: cos::Client,
    bucket: String,
    /// Key prefix without a trailing `/`; empty for the whole bucket.
    prefix: String,
}

/// Builds a [`CosStore`]; see [`CosStore::builder`].
#[derive(Debug, Clone)]
pub struct CosStoreBuilder {
    client: cos::Client,
    bucket: String,
    prefix: Option<String>,
}

impl CosStoreBuilder {
    /// Keeps every path under `prefix` (`"warehouse"` stores `t/a.csv` as
    /// the key `warehouse/t/a.csv`); listings strip it again.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// The store; a malformed bucket name or prefix is an error here,
    /// before any request.
    pub fn build(self) -> Result<CosStore, ::object_store::Error> {
        BucketName::parse(&self.bucket).map_err(|e| errors::map(e, ""))?;
        let prefix = match self.prefix.as_deref().map(|p| p.trim_matches('/')) {
            None | Some("") => String::new(),
            Some(p) => Path::parse(p)?.as_ref().to_string(),
        };
        Ok(CosStore {
            client: self.client,
            bucket: self.bucket,
            prefix,
        })
    }
}

impl CosStore {
    /// A builder for the store over `bucket` (`<name>-<appid>`) reached
    /// through `client`.
    pub fn builder(client: cos::Client, bucket: impl Into<String>) -> CosStoreBuilder {
        CosStoreBuilder {
            client,
            bucket: bucket.into(),
            prefix: None,
        }
    }

    /// The client every call goes through.
    pub fn client(&self) -> &cos::Client {
        &self.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The COS key of `location`.
    fn key(&self, location: &Path) -> String {
        join(&self.prefix, location.as_ref())
    }

    /// The key prefix that lists what is under `prefix` (with a trailing
    /// `/`), or everything in the store when `prefix` is the root.
    fn dir_prefix(&self, prefix: Option<&Path>) -> String {
        let inner = prefix.map(|p| p.as_ref()).unwrap_or("");
        let joined = join(&self.prefix, inner);
        if joined.is_empty() {
            joined
        } else {
            format!("{joined}/")
        }
    }

    /// The path of a listed key.
    fn path(&self, key: &str) -> Result<Path, ::object_store::Error> {
        Ok(Path::parse(strip(&self.prefix, key)?)?)
    }
}

impl std::fmt::Display for CosStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "CosStore({})", self.bucket)
        } else {
            write!(f, "CosStore({}/{})", self.bucket, self.prefix)
        }
    }
}

/// `prefix/path`, or either alone when the other is empty (pure).
fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}/{path}"),
    }
}

/// `key` without the store's `prefix/`; an error for a key outside it,
/// which a listing under the prefix never returns (pure).
fn strip<'a>(prefix: &str, key: &'a str) -> Result<&'a str, ::object_store::Error> {
    if prefix.is_empty() {
        return Ok(key);
    }
    key.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or_else(|| {
            errors::generic(format!(
                "listed key {key:?} is outside the prefix {prefix:?}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_join_and_strip_the_prefix() {
        assert_eq!(join("", "a/b"), "a/b");
        assert_eq!(join("p", "a/b"), "p/a/b");
        assert_eq!(join("p", ""), "p");
        assert_eq!(strip("p", "p/a/b").unwrap(), "a/b");
        assert_eq!(strip("", "a").unwrap(), "a");
        assert!(strip("p", "pa/b").is_err());
        assert!(strip("p", "q/a").is_err());
    }
}
