//! Tencent Cloud Object Storage (COS), XML API.
//!
//! [`Client`] covers the object lifecycle: single-request puts and gets
//! (in memory or streaming), heads, deletes (one or a thousand at a time),
//! listings (a page or a stream of all pages), server-side copies,
//! presigned URLs, buckets, and the multipart API with the
//! [`upload_file`](Client::upload_file) / [`upload_stream`](Client::upload_stream)
//! / [`download_file`](Client::download_file) helpers that move objects of
//! any size with bounded memory. Archived objects are made readable with
//! [`restore_object`](Client::restore_object), appendable ones grow with
//! [`append_object`](Client::append_object), and
//! [`presigned_post`](Client::presigned_post) signs browser form uploads.
//!
//! Integrity is checked by default: uploads and whole-object downloads
//! compare a CRC-64 computed while the bytes stream with the server's
//! `x-cos-hash-crc64ecma` (combined from the parts for multipart), and a
//! mismatch is an [`Error::ChecksumMismatch`]. Every request is signed per
//! attempt and retried on network errors, 5xx and `SlowDown` with
//! jittered exponential backoff under a deadline; a `RequestTimeTooSkewed`
//! answer corrects the signing clock from the server's `Date` and retries once.
//!
//! ```no_run
//! use coscls::auth::Credentials;
//! use coscls::cos::{Client, PutOptions};
//!
//! # async fn demo() -> Result<(), coscls::cos::Error> {
//! let client = Client::builder()
//!     .region("ap-guangzhou")
//!     .credentials(Credentials::new("AKIDexample", "secret")?)
//!     .build()?;
//! let bucket = "examplebucket-1250000000";
//! client
//!     .put_object_with(bucket, "docs/hello.txt", "hello cos", &PutOptions::default().content_type("text/plain"))
//!     .await?;
//! let text = client.get_object(bucket, "docs/hello.txt").await?.body.bytes().await?;
//! assert_eq!(text, "hello cos");
//! # Ok(()) }
//! ```
//!
//! # Where things are
//!
//! One operation lives in one file under `ops/`: its options, its pure
//! request builder (method, path, query, headers, body), its response
//! parser and its `Client` methods. What several operations share sits
//! next to `mod.rs`; the transfer managers are under `transfer/`.
//!
//! | File | Holds |
//! |---|---|
//! | `client.rs` | [`Client`], [`ClientBuilder`]; `send`, `operation` (one span and one histogram sample per call) |
//! | `request.rs` | `Target`: a validated request for one bucket, ready for the pipeline to sign |
//! | `response.rs` | error answers into [`ServiceError`], header lookups, CRC-64 checks, [`ObjectMeta`] |
//! | `xml.rs` | XML parsing, the `<Error>` document, shared elements, COS's date formats |
//! | `headers.rs` | [`PutOptions`] as headers, checked header values, `Content-MD5` |
//! | `types.rs` | [`StorageClass`], [`ServerSideEncryption`], [`CustomerKey`], [`ByteRange`] |
//! | `limits.rs` | service limits shared by several operations ([`MAX_PART_SIZE`]…) |
//! | `endpoint.rs` | [`Region`], [`BucketName`], [`Endpoint`], key validation, URLs |
//! | `error.rs` | [`Error`], [`ServiceError`] |
//! | `body.rs` | [`ObjectBody`]: a GetObject body checked as it streams |
//! | `crc64.rs` | CRC-64/ECMA, streaming and combined |
//! | `ops/put.rs` | PutObject from memory, a stream or a file; [`PutOptions`] |
//! | `ops/get.rs` | GetObject, HeadObject, `object_exists`; [`GetOptions`] |
//! | `ops/delete.rs` | DeleteObject, DeleteMultipleObjects |
//! | `ops/copy.rs` | CopyObject, UploadPartCopy; [`CopyOptions`] |
//! | `ops/list.rs` | ListObjects, one page or a stream; [`ListOptions`] |
//! | `ops/multipart/` | InitiateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload (`upload.rs`); ListParts, ListMultipartUploads (`list.rs`) |
//! | `ops/bucket.rs` | PutBucket, HeadBucket, DeleteBucket |
//! | `ops/service.rs` | ListBuckets |
//! | `ops/acl.rs`, `ops/tagging.rs`, `ops/lifecycle.rs`, `ops/versioning.rs` | bucket and object sub-resources |
//! | `ops/restore.rs`, `ops/append.rs` | PostRestore, AppendObject |
//! | `ops/presign.rs`, `ops/post_policy.rs` | presigned URLs, presigned browser POST forms |
//! | `paging.rs` | the cycle-safe marker guard and page stream every listing uses |
//! | `transfer/upload.rs` | `upload_file`, `upload_stream`; [`UploadOptions`] |
//! | `transfer/download.rs` | `download_file`; [`DownloadOptions`] |
//! | `transfer/copy.rs` | `copy`: a CopyObject, or a multipart copy past 5 GiB |
//! | `transfer/plan.rs` | part sizes ([`choose_part_size`]) and concurrency bounds |
//! | `transfer/checkpoint.rs`, `transfer/resume.rs` | checkpoint files of resumable transfers |
//! | `transfer/stale.rs` | `abort_stale_uploads` |
//!
//! A PutObject, for example, reads top to bottom in `ops/put.rs`
//! (`put_object_with` → the `put_object` builder → `PutObjectOutput`),
//! then `Client::send` in `client.rs` and the transport.

mod body;
mod client;
pub mod crc64;
mod endpoint;
mod error;
mod headers;
mod limits;
mod ops;
mod paging;
mod request;
mod response;
mod transfer;
mod types;
mod xml;

pub use body::ObjectBody;
pub use client::{Client, ClientBuilder};
pub(crate) use endpoint::query_string;
pub use endpoint::{
    validate_key, Addressing, BucketName, Endpoint, Region, ResolvedUrl, MAX_BUCKET_HOST_LEN,
    MAX_KEY_BYTES,
};
pub use error::{Error, ServiceError};
pub use limits::{
    MAX_METADATA_BYTES, MAX_PARTS, MAX_PART_SIZE, MIN_PART_SIZE, TRAFFIC_LIMIT_RANGE,
};
pub use ops::acl::{
    AccessControlPolicy, AclOptions, Grant, Grantee, ObjectAcl, Owner, Permission, ALL_USERS_URI,
};
pub use ops::append::{AppendObjectOutput, MAX_APPENDABLE_SIZE};
pub use ops::bucket::{BucketAcl, BucketInfo};
pub use ops::copy::{CopyObjectOutput, CopyOptions};
pub use ops::delete::{
    DeleteError, DeleteObjectOutput, DeleteObjectsOutput, DeletedObject, ObjectIdentifier,
    MAX_DELETE_KEYS,
};
pub use ops::get::{ContentRange, GetObjectOutput, GetOptions};
pub use ops::lifecycle::{
    LifecycleRule, LifecycleTime, Transition, MAX_LIFECYCLE_RULES, MAX_RULE_ID_CHARS,
};
pub use ops::list::{ListObjectsPage, ListOptions, ObjectSummary};
pub use ops::multipart::{
    CompleteOptions, CompletedPart, MultipartUploadInfo, PartInfo, UploadOutput,
};
pub use ops::post_policy::{presign_post, PostCondition, PostPolicyOptions, PresignedPost};
pub use ops::presign::{PresignOptions, MAX_PRESIGN_VALIDITY};
pub use ops::put::{PutObjectOutput, PutOptions, PUT_FILE_IN_MEMORY_LIMIT};
pub use ops::restore::{RestoreOutput, RestoreStatus, RestoreTier};
pub use ops::service::{
    BucketSummary, ListBucketsOptions, ListBucketsOutput, MAX_LIST_BUCKETS_KEYS,
};
pub use ops::tagging::{
    validate_tags, MAX_BUCKET_TAGS, MAX_OBJECT_TAGS, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS,
};
pub use ops::versioning::{
    ListObjectVersionsPage, ListVersionsOptions, ObjectVersion, VersioningStatus,
};
pub use response::ObjectMeta;
pub use transfer::checkpoint::ResumeOutcome;
pub use transfer::download::{DownloadOptions, DownloadOutput, MIN_DOWNLOAD_PART_SIZE};
pub use transfer::plan::{choose_part_size, DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE};
pub use transfer::stale::{StaleUploadFailure, StaleUploads};
pub use transfer::upload::{UploadOptions, UploadStartedCallback};
pub use transfer::{Progress, ProgressCallback};
pub use types::{ByteRange, CustomerKey, ServerSideEncryption, StorageClass};
