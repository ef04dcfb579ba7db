//! Single-request object operations: put, get, head, delete, batch delete, copy.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncReadExt;

use super::body::{ObjectBody, Refetch};
use super::crc64::{self, Crc64};
use super::options::{CopyOptions, GetOptions, PutOptions};
use super::request::{self, MAX_DELETE_KEYS};
use super::response::{self, header, BodyChecks, ContentRange, ObjectMeta};
use super::xml;
use super::{Client, Error};
use crate::instrument::Operation;
use crate::transport::{RequestBody, StreamFactory};

/// The options of a plain GET or HEAD, shared rather than built and
/// dropped on every call.
static NO_OPTIONS: std::sync::LazyLock<GetOptions> = std::sync::LazyLock::new(GetOptions::default);
static NO_PUT_OPTIONS: std::sync::LazyLock<PutOptions> =
    std::sync::LazyLock::new(PutOptions::default);

/// Files up to this size are read into memory by `put_object_file` (which
/// allows `Content-MD5`); larger ones are streamed from disk, re-opened for
/// each attempt.
pub const PUT_FILE_IN_MEMORY_LIMIT: u64 = 32 * 1024 * 1024;

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

/// A GetObject answer: the body still streaming, and the headers.
///
/// The headers are typed into an [`ObjectMeta`] on the first call to
/// [`meta`](Self::meta), not when the answer arrives: most downloads only
/// read the body, and those never pay for typing every header (string
/// copies, a date parse).
/// `Content-Length` and `x-cos-hash-crc64ecma`, which the body is checked
/// against, are parsed on arrival, so a malformed one is still an error
/// from [`Client::get_object`].
#[non_exhaustive]
pub struct GetObjectOutput {
    /// The body; verified against the CRC-64 when the whole object is read.
    pub body: ObjectBody,
    headers: http::HeaderMap,
    checks: BodyChecks,
    meta: OnceLock<Box<ObjectMeta>>,
}

impl GetObjectOutput {
    /// Headers of the object, typed on the first call.
    pub fn meta(&self) -> &ObjectMeta {
        self.meta
            .get_or_init(|| Box::new(ObjectMeta::from_checked(&self.headers, self.checks)))
    }

    /// For a ranged read, which bytes the body holds (`Content-Range`);
    /// `None` for a whole object or a value that does not parse.
    pub fn content_range(&self) -> Option<ContentRange> {
        response::header_str(&self.headers, http::header::CONTENT_RANGE)
            .and_then(ContentRange::parse)
    }

    /// The response headers as received, for any header [`ObjectMeta`]
    /// does not type.
    pub fn headers(&self) -> &http::HeaderMap {
        &self.headers
    }
}

impl std::fmt::Debug for GetObjectOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetObjectOutput")
            .field("meta", self.meta())
            .field("content_range", &self.content_range())
            .field("body", &self.body)
            .finish()
    }
}

/// What COS answered to a single delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteObjectOutput {
    /// `x-cos-delete-marker: true`: a plain delete on a versioned bucket
    /// made a delete marker, or the version deleted by id was one.
    pub delete_marker: bool,
    /// `x-cos-version-id`: the delete marker made, or the version deleted.
    pub version_id: Option<String>,
    /// `x-cos-request-id`.
    pub request_id: Option<String>,
}

impl DeleteObjectOutput {
    fn from_headers(headers: &http::HeaderMap) -> Self {
        DeleteObjectOutput {
            delete_marker: response::header_str(headers, "x-cos-delete-marker")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            version_id: header(headers, response::X_COS_VERSION_ID),
            request_id: header(headers, response::X_COS_REQUEST_ID),
        }
    }
}

/// An object to delete, optionally a specific version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectIdentifier {
    /// The key.
    pub key: String,
    /// The version, on a versioned bucket.
    pub version_id: Option<String>,
}

impl From<&str> for ObjectIdentifier {
    fn from(key: &str) -> Self {
        ObjectIdentifier {
            key: key.to_string(),
            version_id: None,
        }
    }
}

impl From<String> for ObjectIdentifier {
    fn from(key: String) -> Self {
        ObjectIdentifier {
            key,
            version_id: None,
        }
    }
}

impl From<&String> for ObjectIdentifier {
    fn from(key: &String) -> Self {
        key.as_str().into()
    }
}

impl From<(&str, &str)> for ObjectIdentifier {
    fn from((key, version): (&str, &str)) -> Self {
        ObjectIdentifier {
            key: key.to_string(),
            version_id: Some(version.to_string()),
        }
    }
}

/// The outcome of a batch delete. COS reports each key separately; a
/// request-level failure is an `Err` instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteObjectsOutput {
    /// Keys deleted (deleting a missing key counts as deleted).
    pub deleted: Vec<DeletedObject>,
    /// Keys that could not be deleted.
    pub errors: Vec<DeleteError>,
}

/// One deleted key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeletedObject {
    /// The key.
    pub key: String,
    /// The version deleted.
    pub version_id: Option<String>,
    /// Whether a delete marker was created (versioned bucket).
    pub delete_marker: bool,
    /// The delete marker's version.
    pub delete_marker_version_id: Option<String>,
}

/// One key that could not be deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteError {
    /// The key.
    pub key: String,
    /// The version.
    pub version_id: Option<String>,
    /// COS error code.
    pub code: String,
    /// COS message.
    pub message: String,
}

/// What COS answered to a copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyObjectOutput {
    /// ETag of the copy.
    pub etag: Option<String>,
    /// When the copy was written.
    pub last_modified: Option<SystemTime>,
    /// CRC-64 of the copy.
    pub crc64: Option<u64>,
    /// Version of the copy.
    pub version_id: Option<String>,
    /// `x-cos-request-id`.
    pub request_id: Option<String>,
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
                request::put_object(self.target(&bucket), key, body, opts)
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
            let req = request::put_object(self.target(&bucket), key, body, opts)?;
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

    /// Downloads `key`; the body streams, and a whole-object read is checked
    /// against the server's CRC-64 when the last byte arrives.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let object = client.get_object("examplebucket-1250000000", "hello.txt").await?;
    /// println!("{:?} bytes of {:?}", object.meta().content_length, object.meta().content_type);
    /// let mut file = tokio::fs::File::create("/tmp/hello.txt").await.unwrap();
    /// object.body.write_to(&mut file).await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<GetObjectOutput, Error> {
        self.get_object_with(bucket, key, &NO_OPTIONS).await
    }

    /// [`get_object`](Self::get_object) with a range, conditions, a version
    /// or `response-*` header overrides.
    ///
    /// The answer is checked against the request before it is returned: a
    /// whole-object read must be answered `200`, a ranged read `206` with a
    /// `Content-Range` that starts at the first byte asked and ends at the
    /// last one asked (or at the object's end), and whose length agrees with
    /// `Content-Length`; anything else is an [`Error::Protocol`]. A server
    /// that ignores `Range` and answers `200` with the whole object is
    /// refused too, so a ranged read never yields bytes outside its range.
    /// The body must then hold exactly the announced bytes, and whenever it
    /// is the whole object (no range, or a range covering all of it) its
    /// CRC-64 is checked against `x-cos-hash-crc64ecma`.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::{ByteRange, GetOptions};
    /// let first_kb = client
    ///     .get_object_with("examplebucket-1250000000", "big.bin", &GetOptions::default().range(ByteRange::new(0, 1023)?))
    ///     .await?
    ///     .body
    ///     .bytes()
    ///     .await?;
    /// assert!(first_kb.len() <= 1024);
    /// # Ok(()) }
    /// ```
    pub async fn get_object_with(
        &self,
        bucket: &str,
        key: &str,
        opts: &GetOptions,
    ) -> Result<GetObjectOutput, Error> {
        let bucket = Self::bucket(bucket)?;
        // The body streams to the caller: the operation stays open in it
        // and ends with what its reader gets.
        let operation = Operation::start(&self.info("GetObject", &bucket).with_key(key));
        let answer = async {
            let build = || request::get_object(self.target(&bucket), key, opts);
            let response = self.send_rebuilding(build).await?;
            let (parts, body) = response.into_parts();
            let checks = BodyChecks::parse(&parts.headers)?;
            let expect = response::check_get_answer(
                key,
                opts.range.as_ref(),
                parts.status,
                response::header_str(&parts.headers, http::header::CONTENT_RANGE),
                checks.content_length,
            )?;
            Ok::<_, Error>((parts, body, checks, expect))
        };
        let ((parts, body, checks, expect), operation) = operation.run_open(answer).await?;
        let expected_crc = if expect.whole && self.verify_crc() {
            checks.crc64
        } else {
            None
        };
        let mut body = ObjectBody::new(body, key.to_owned(), expect.len, expected_crc)
            .with_operation(operation);
        if expected_crc.is_some() {
            body = body.with_refetch(Refetch {
                client: self.clone(),
                bucket: bucket.as_str().to_owned(),
                opts: opts.clone(),
                etag: header(&parts.headers, http::header::ETAG),
            });
        }
        Ok(GetObjectOutput {
            body,
            headers: parts.headers,
            checks,
            meta: OnceLock::new(),
        })
    }

    /// The object's headers without its body. A missing object is an error
    /// with status 404 ([`Error::is_not_found`]).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let meta = client.head_object("examplebucket-1250000000", "hello.txt").await?;
    /// println!("{} bytes, CRC {:?}", meta.content_length, meta.crc64);
    /// # Ok(()) }
    /// ```
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectMeta, Error> {
        self.head_object_with(bucket, key, &NO_OPTIONS).await
    }

    /// [`head_object`](Self::head_object) with a version or conditions.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::GetOptions;
    /// let old = client
    ///     .head_object_with("examplebucket-1250000000", "a.txt", &GetOptions::default().version_id("MTg0NDUxNTc1NjIzMTQ1MDAwODg"))
    ///     .await?;
    /// println!("that version had {} bytes", old.content_length);
    /// # Ok(()) }
    /// ```
    pub async fn head_object_with(
        &self,
        bucket: &str,
        key: &str,
        opts: &GetOptions,
    ) -> Result<ObjectMeta, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("HeadObject", &bucket).with_key(key), async {
            let build = || request::head_object(self.target(&bucket), key, opts);
            let response = self.send_rebuilding(build).await?;
            ObjectMeta::from_headers(response.headers())
        })
        .await
    }

    /// Whether `key` exists (a HEAD; 404 is `false`, other errors are errors).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// if !client.object_exists("examplebucket-1250000000", "report.csv").await? {
    ///     println!("not there yet");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn object_exists(&self, bucket: &str, key: &str) -> Result<bool, Error> {
        match self.head_object(bucket, key).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes `key`. Deleting a missing key succeeds, as in S3. On a
    /// versioned bucket this adds a delete marker (the output says so and
    /// names it) and the older versions stay readable by id.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let out = client.delete_object("examplebucket-1250000000", "hello.txt").await?;
    /// if out.delete_marker {
    ///     println!("hidden behind delete marker {:?}", out.version_id);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<DeleteObjectOutput, Error> {
        self.delete_object_inner(bucket, key, None).await
    }

    /// Deletes one version of `key` on a versioned bucket, for good (a
    /// delete marker, too, is removed this way). An empty version id is an
    /// error before any request.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// client
    ///     .delete_object_version("examplebucket-1250000000", "a.txt", "MTg0NDUxNTc1NjIzMTQ1MDAwODg")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<DeleteObjectOutput, Error> {
        self.delete_object_inner(bucket, key, Some(version_id))
            .await
    }

    async fn delete_object_inner(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<DeleteObjectOutput, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("DeleteObject", &bucket).with_key(key), async {
            let req = request::delete_object(self.target(&bucket), key, version)?;
            let response = self.send(req).await?;
            Ok(DeleteObjectOutput::from_headers(response.headers()))
        })
        .await
    }

    /// Deletes many objects, 1000 per request (COS's limit), and reports
    /// per key. All keys are validated before the first request.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let out = client.delete_objects("examplebucket-1250000000", ["a.txt", "b.txt"]).await?;
    /// assert!(out.errors.is_empty(), "{:?}", out.errors);
    /// # Ok(()) }
    /// ```
    pub async fn delete_objects<I>(
        &self,
        bucket: &str,
        objects: I,
    ) -> Result<DeleteObjectsOutput, Error>
    where
        I: IntoIterator,
        I::Item: Into<ObjectIdentifier>,
    {
        let bucket = Self::bucket(bucket)?;
        let objects: Vec<ObjectIdentifier> = objects.into_iter().map(Into::into).collect();
        if objects.is_empty() {
            return Err(Error::invalid_input(
                "keys",
                "[]",
                "name at least one object to delete",
            ));
        }
        for o in &objects {
            super::validate_key(&o.key)?;
        }
        let mut out = DeleteObjectsOutput::default();
        for batch in objects.chunks(MAX_DELETE_KEYS) {
            let pairs: Vec<(&str, Option<&str>)> = batch
                .iter()
                .map(|o| (o.key.as_str(), o.version_id.as_deref()))
                .collect();
            // One operation per request: COS's batch limit splits the call.
            let result: xml::DeleteResult = self
                .operation(self.info("DeleteMultipleObjects", &bucket), async {
                    let req = request::delete_objects(self.target(&bucket), &pairs, false)?;
                    let (_, body) = self.send_for_body(req).await?;
                    xml::parse("DeleteMultipleObjects", &body)
                })
                .await?;
            out.deleted
                .extend(result.deleted.into_iter().map(|d| DeletedObject {
                    key: d.key,
                    version_id: d.version_id,
                    delete_marker: d.delete_marker.unwrap_or(false),
                    delete_marker_version_id: d.delete_marker_version_id,
                }));
            out.errors
                .extend(result.errors.into_iter().map(|e| DeleteError {
                    key: e.key,
                    version_id: e.version_id,
                    code: e.code,
                    message: e.message,
                }));
        }
        Ok(out)
    }

    /// Copies `source_key` of `source_bucket` to `key` in `bucket` on the
    /// server side (up to 5 GiB), keeping or replacing the metadata.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let b = "examplebucket-1250000000";
    /// client.copy_object(b, "a.txt", b, "backup/a.txt", &Default::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn copy_object(
        &self,
        source_bucket: &str,
        source_key: &str,
        bucket: &str,
        key: &str,
        opts: &CopyOptions,
    ) -> Result<CopyObjectOutput, Error> {
        let source_bucket = Self::bucket(source_bucket)?;
        super::validate_key(source_key)?;
        let bucket = Self::bucket(bucket)?;
        let source_region = opts.source_region.as_ref().unwrap_or(&self.inner.region);
        if let Some(v) = &opts.source_version_id {
            if v.is_empty() {
                return Err(Error::invalid_input("source version id", v, "is empty"));
            }
        }
        let source = self.inner.endpoint.copy_source(
            &source_bucket,
            source_region,
            source_key,
            opts.source_version_id.as_deref(),
        );
        self.operation(self.info("CopyObject", &bucket).with_key(key), async {
            let req = request::copy_object(self.target(&bucket), key, &source, opts)?;
            let (parts, body) = self.send_for_body(req).await?;
            // A 200 carrying <Error> (docs/protocol/cos.md §3) was turned into an error above.
            let result: xml::CopyObjectResult = xml::parse("CopyObject", &body)?;
            let crc64 = match result
                .crc64
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                Some(v) => Some(response::parse_crc(v)?),
                None => response::crc64_header(&parts.headers)?,
            };
            Ok(CopyObjectOutput {
                etag: result.etag,
                last_modified: result.last_modified.as_deref().and_then(xml::parse_date),
                crc64,
                version_id: result
                    .version_id
                    .or_else(|| header(&parts.headers, response::X_COS_VERSION_ID)),
                request_id: header(&parts.headers, response::X_COS_REQUEST_ID),
            })
        })
        .await
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

/// Compares the server's CRC-64 with the local one when both exist.
/// `what` names the transfer in the error; it is only formatted on a
/// mismatch, so a successful check allocates nothing.
pub(crate) fn check_crc(
    what: std::fmt::Arguments<'_>,
    server: Option<u64>,
    local: Option<u64>,
) -> Result<(), Error> {
    match (server, local) {
        (Some(server), Some(computed)) if server != computed => Err(Error::ChecksumMismatch {
            what: what.to_string(),
            server,
            computed,
        }),
        _ => Ok(()),
    }
}
