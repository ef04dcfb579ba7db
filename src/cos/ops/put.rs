//! PutObject: one request from memory, a stream or a file, with the
//! object's headers ([`PutOptions`], serialised in `cos/headers.rs`), its
//! CRC-64 compared with the server's.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::Method;
use tokio::io::AsyncReadExt;

use crate::cos::crc64::{self, Crc64};
use crate::cos::limits::MAX_PART_SIZE;
use crate::cos::request::Target;
use crate::cos::response::{self, check_crc, header};
use crate::cos::{Client, CustomerKey, Error, ServerSideEncryption, StorageClass};
use crate::transport::{PreparedRequest, RequestBody, StreamFactory};

/// The options of a plain put, shared rather than built and dropped on
/// every call.
static NO_PUT_OPTIONS: std::sync::LazyLock<PutOptions> =
    std::sync::LazyLock::new(PutOptions::default);

/// Files up to this size are read into memory by `put_object_file` (which
/// allows `Content-MD5`); larger ones are streamed from disk, re-opened for
/// each attempt.
pub const PUT_FILE_IN_MEMORY_LIMIT: u64 = 32 * 1024 * 1024;

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
#[non_exhaustive]
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

    /// Sets `Content-Encoding`.
    pub fn content_encoding(mut self, value: impl Into<String>) -> Self {
        self.content_encoding = Some(value.into());
        self
    }

    /// Sets `Cache-Control`.
    pub fn cache_control(mut self, value: impl Into<String>) -> Self {
        self.cache_control = Some(value.into());
        self
    }

    /// Sets `Expires`.
    pub fn expires(mut self, at: SystemTime) -> Self {
        self.expires = Some(at);
        self
    }

    /// Sets the SSE-C key.
    pub fn customer_key(mut self, key: CustomerKey) -> Self {
        self.customer_key = Some(key);
        self
    }

    /// Adds one object tag (`x-cos-tagging`).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Replaces the object tags.
    pub fn tags<K: Into<String>, V: Into<String>>(
        mut self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.tags = tags
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// Caps the bandwidth, in bit/s.
    pub fn traffic_limit(mut self, bits_per_second: u64) -> Self {
        self.traffic_limit = Some(bits_per_second);
        self
    }

    /// Refuses to overwrite an existing object.
    pub fn forbid_overwrite(mut self) -> Self {
        self.forbid_overwrite = true;
        self
    }

    /// Adds one further `x-cos-*` header (an ACL, a grant…).
    pub fn extra_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }

    /// Asks for `Content-MD5` to be sent.
    pub fn with_content_md5(mut self) -> Self {
        self.content_md5 = true;
        self
    }
}

/// What COS answered to a write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutObjectOutput {
    /// `ETag` of the new object.
    pub etag: Option<String>,
    /// The server's CRC-64 (already compared with the local one).
    pub crc64: Option<u64>,
    /// `x-cos-version-id` on a versioned bucket.
    pub version_id: Option<String>,
    /// `x-cos-request-id`.
    pub request_id: Option<String>,
}

impl PutObjectOutput {
    fn from_headers(headers: &http::HeaderMap) -> Result<Self, Error> {
        Ok(PutObjectOutput {
            etag: header(headers, http::header::ETAG),
            crc64: response::crc64_header(headers)?,
            version_id: header(headers, response::X_COS_VERSION_ID),
            request_id: header(headers, response::X_COS_REQUEST_ID),
        })
    }
}

/// PutObject: `PUT /<key>`.
pub(crate) fn put_object(
    t: Target<'_>,
    key: &str,
    body: RequestBody,
    opts: &PutOptions,
) -> Result<PreparedRequest, Error> {
    let mut headers = opts.object_headers()?;
    match &body {
        RequestBody::Bytes(b) => opts.transfer_headers(&mut headers, b)?,
        RequestBody::Empty => opts.transfer_headers(&mut headers, b"")?,
        RequestBody::Stream { .. } | RequestBody::Replayable { .. } => {
            if opts.content_md5 {
                return Err(Error::invalid_input(
                    "content_md5",
                    "true",
                    "needs the whole body up front; use an in-memory body or upload_stream (MD5 per part)",
                ));
            }
            let no_md5 = PutOptions {
                content_md5: false,
                traffic_limit: opts.traffic_limit,
                ..PutOptions::default()
            };
            no_md5.transfer_headers(&mut headers, b"")?;
        }
    }
    if body.len() > MAX_PART_SIZE {
        return Err(Error::invalid_input(
            "body",
            &format!("{} bytes", body.len()),
            "a single PutObject is limited to 5 GiB; use upload_file or upload_stream",
        ));
    }
    t.object(Method::PUT, key, vec![], headers, body)
}

impl Client {
    /// Uploads `body` as `key` in one request. The body is in memory, so the
    /// request is retried on transient failures, and its CRC-64 is compared
    /// with the server's.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let out = client.put_object("examplebucket-1250000000", "hello.txt", "hello cos").await?;
    /// println!("stored, ETag {:?}", out.etag);
    /// # Ok(()) }
    /// ```
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: impl Into<Bytes>,
    ) -> Result<PutObjectOutput, Error> {
        self.put_object_with(bucket, key, body, &NO_PUT_OPTIONS)
            .await
    }

    /// [`put_object`](Self::put_object) with content headers, metadata,
    /// storage class, encryption and the other [`PutOptions`].
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::{PutOptions, StorageClass};
    /// let opts = PutOptions::default()
    ///     .content_type("application/json")
    ///     .metadata("source", "billing")
    ///     .storage_class(StorageClass::STANDARD_IA)
    ///     .with_content_md5();
    /// client.put_object_with("examplebucket-1250000000", "a.json", "{}", &opts).await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_object_with(
        &self,
        bucket: &str,
        key: &str,
        body: impl Into<Bytes>,
        opts: &PutOptions,
    ) -> Result<PutObjectOutput, Error> {
        let bucket = Self::bucket(bucket)?;
        let body: Bytes = body.into();
        let local_crc = self.verify_crc().then(|| crc64::checksum(&body));
        self.operation(self.info("PutObject", &bucket).with_key(key), async {
            let build = || {
                let body = RequestBody::Bytes(body.clone());
                put_object(self.target(&bucket), key, body, opts)
            };
            let response = self.send_rebuilding(build).await?;
            let out = PutObjectOutput::from_headers(response.headers())?;
            check_crc(format_args!("PutObject {key}"), out.crc64, local_crc)?;
            Ok(out)
        })
        .await
    }

    /// Uploads a stream of exactly `len` bytes in one request, holding one
    /// chunk in memory at a time. **Not retried**: a stream cannot be
    /// replayed. For large data prefer
    /// [`upload_stream`](Self::upload_stream), which retries per part.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use bytes::Bytes;
    /// let chunks = futures_util::stream::iter(vec![
    ///     Ok::<_, std::io::Error>(Bytes::from("hello ")),
    ///     Ok(Bytes::from("cos")),
    /// ]);
    /// client
    ///     .put_object_stream("examplebucket-1250000000", "s.txt", 9, chunks, &Default::default())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_object_stream<S>(
        &self,
        bucket: &str,
        key: &str,
        len: u64,
        stream: S,
        opts: &PutOptions,
    ) -> Result<PutObjectOutput, Error>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let tee = Arc::new(Mutex::new(Crc64::new()));
        let body = RequestBody::Stream {
            len,
            stream: counted(stream, len, tee.clone()).boxed(),
        };
        self.put_counted(bucket, key, len, body, &tee, opts).await
    }

    /// Sends a streamed PutObject whose bytes pass through `tee`, then checks
    /// that the server took exactly `len` bytes with the CRC-64 we computed.
    async fn put_counted(
        &self,
        bucket: &str,
        key: &str,
        len: u64,
        body: RequestBody,
        tee: &Mutex<Crc64>,
        opts: &PutOptions,
    ) -> Result<PutObjectOutput, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("PutObject", &bucket).with_key(key), async {
            let req = put_object(self.target(&bucket), key, body, opts)?;
            let response = self.send(req).await?;
            let out = PutObjectOutput::from_headers(response.headers())?;
            let local = *tee.lock().unwrap_or_else(|e| e.into_inner());
            if local.len() != len {
                return Err(Error::protocol(format!(
                    "PutObject {key}: the server accepted {} bytes of a declared {len}",
                    local.len()
                )));
            }
            if self.verify_crc() {
                check_crc(
                    format_args!("PutObject {key}"),
                    out.crc64,
                    Some(local.value()),
                )?;
            }
            Ok(out)
        })
        .await
    }

    /// Uploads a local file in one request, retried on transient failures.
    /// Files up to [`PUT_FILE_IN_MEMORY_LIMIT`] are read into memory; larger
    /// ones stream from disk and the file is re-opened for each attempt, so
    /// it must not change while the upload runs (a size change is an error).
    /// For big files prefer [`upload_file`](Self::upload_file): multipart,
    /// concurrent, retried per part.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::PutOptions;
    /// let opts = PutOptions::default().content_type("image/png");
    /// client.put_object_file("examplebucket-1250000000", "logo.png", "assets/logo.png", &opts).await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_object_file(
        &self,
        bucket: &str,
        key: &str,
        path: impl AsRef<Path>,
        opts: &PutOptions,
    ) -> Result<PutObjectOutput, Error> {
        let path = path.as_ref();
        let io = |what: &str| {
            let what = format!("{what} {}", path.display());
            move |source| Error::Io {
                context: what,
                source,
            }
        };
        let mut file = tokio::fs::File::open(path).await.map_err(io("opening"))?;
        let len = file
            .metadata()
            .await
            .map_err(io("reading the size of"))?
            .len();
        if len <= PUT_FILE_IN_MEMORY_LIMIT {
            let mut buf = Vec::with_capacity(len as usize);
            file.read_to_end(&mut buf).await.map_err(io("reading"))?;
            return self.put_object_with(bucket, key, buf, opts).await;
        }
        drop(file);
        // Each attempt re-opens the file and starts a fresh CRC; attempts run
        // one after another, so the tee holds the successful attempt's bytes.
        let tee = Arc::new(Mutex::new(Crc64::new()));
        let (path, seen) = (Arc::new(path.to_path_buf()), tee.clone());
        let make: StreamFactory = Arc::new(move || {
            *seen.lock().unwrap_or_else(|e| e.into_inner()) = Crc64::new();
            counted(file_chunks(path.clone(), len), len, seen.clone()).boxed()
        });
        let body = RequestBody::Replayable { len, make };
        self.put_counted(bucket, key, len, body, &tee, opts).await
    }
}

/// Passes `stream` through, refusing more than `len` bytes and feeding every
/// chunk to `tee`.
fn counted<S>(
    stream: S,
    len: u64,
    tee: Arc<Mutex<Crc64>>,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    let mut remaining = len;
    stream.map(move |chunk| {
        let chunk = chunk?;
        if chunk.len() as u64 > remaining {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the body yields more than the declared {len} bytes"),
            ));
        }
        remaining -= chunk.len() as u64;
        tee.lock().unwrap_or_else(|e| e.into_inner()).update(&chunk);
        Ok(chunk)
    })
}

/// The file at `path`, opened when first polled, in 256 KiB chunks; an
/// error if it no longer holds `len` bytes.
fn file_chunks(
    path: Arc<std::path::PathBuf>,
    len: u64,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let opened = async move {
        let named = |e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("re-opening {}: {e}", path.display()))
        };
        let file = tokio::fs::File::open(&*path).await.map_err(named)?;
        let now = file.metadata().await.map_err(named)?.len();
        if now != len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} changed size during the upload ({len} bytes, now {now})",
                    path.display()
                ),
            ));
        }
        Ok(file)
    };
    futures_util::stream::once(opened).flat_map(|file| {
        futures_util::stream::unfold(Some(file), |state| async move {
            match state? {
                Err(e) => Some((Err(e), None)),
                Ok(mut file) => {
                    let mut buf = bytes::BytesMut::with_capacity(256 * 1024);
                    match file.read_buf(&mut buf).await {
                        Ok(0) => None,
                        Ok(_) => Some((Ok(buf.freeze()), Some(Ok(file)))),
                        Err(e) => Some((Err(e), None)),
                    }
                }
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::request::testing::target_parts;
    use crate::cos::request::try_clone;

    #[test]
    fn put_object_special_key_is_encoded_once() {
        let (ep, b) = target_parts();
        let key = "dir/sub dir/文件 +!*'()~@$&=;:,.txt";
        let r = put_object(
            Target {
                endpoint: &ep,
                bucket: &b,
            },
            key,
            RequestBody::Bytes(Bytes::from_static(b"hi")),
            &PutOptions::default(),
        )
        .unwrap();
        assert_eq!(r.method, Method::PUT);
        // The wire path from docs/protocol/cos.md §2 (py_put_object_special_key).
        assert_eq!(
            r.url,
            "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/dir/sub%20dir/%E6%96%87%E4%BB%B6%20%2B%21%2A%27%28%29~%40%24%26%3D%3B%3A%2C.txt"
        );
        assert_eq!(r.signed_path, format!("/{key}"));
        assert_eq!(r.headers["content-length"], "2");
        assert_eq!(
            r.headers["host"],
            "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com"
        );
        assert!(r.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("coscls/"));
    }

    #[test]
    fn put_object_with_md5_and_class() {
        let (ep, b) = target_parts();
        let opts = PutOptions::default()
            .content_type("text/plain")
            .storage_class(StorageClass::STANDARD_IA)
            .with_content_md5();
        let r = put_object(
            Target {
                endpoint: &ep,
                bucket: &b,
            },
            "docs/report.txt",
            RequestBody::Bytes(Bytes::from_static(b"hello")),
            &opts,
        )
        .unwrap();
        assert_eq!(r.headers["content-md5"], "XUFAKrxLKna5cZ2REBfFkg==");
        assert_eq!(r.headers["x-cos-storage-class"], "STANDARD_IA");
        let empty = put_object(
            Target {
                endpoint: &ep,
                bucket: &b,
            },
            "e",
            RequestBody::Empty,
            &PutOptions::default(),
        )
        .unwrap();
        assert_eq!(
            empty.headers["content-length"], "0",
            "strict signature mode"
        );
    }

    #[test]
    fn streamed_put_rejects_md5() {
        let (ep, b) = target_parts();
        let stream = Box::pin(futures_util::stream::empty());
        let e = put_object(
            Target {
                endpoint: &ep,
                bucket: &b,
            },
            "k",
            RequestBody::Stream { len: 0, stream },
            &PutOptions::default().with_content_md5(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("content_md5"), "{e}");
    }

    #[test]
    fn clones_share_bytes_but_not_streams() {
        let (ep, b) = target_parts();
        let r = put_object(
            Target {
                endpoint: &ep,
                bucket: &b,
            },
            "k",
            RequestBody::Bytes(Bytes::from_static(b"x")),
            &PutOptions::default(),
        )
        .unwrap();
        assert!(try_clone(&r).is_some());
        let s = put_object(
            Target {
                endpoint: &ep,
                bucket: &b,
            },
            "k",
            RequestBody::Stream {
                len: 0,
                stream: Box::pin(futures_util::stream::empty()),
            },
            &PutOptions::default(),
        )
        .unwrap();
        assert!(try_clone(&s).is_none());
    }
}
