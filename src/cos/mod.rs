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

mod body;
mod client;
pub mod crc64;
mod endpoint;
mod error;
mod multipart;
mod object;
mod ops;
mod options;
mod request;
mod response;
mod transfer;
mod xml;

pub use body::ObjectBody;
pub use client::{Client, ClientBuilder};
pub use endpoint::{
    query_string, validate_key, Addressing, BucketName, Endpoint, Region, ResolvedUrl,
    MAX_BUCKET_HOST_LEN, MAX_KEY_BYTES,
};
pub use error::{Error, ServiceError};
pub use multipart::{CompleteOptions, CompletedPart, MultipartUploadInfo, PartInfo, UploadOutput};
pub use object::{
    CopyObjectOutput, DeleteError, DeleteObjectOutput, DeleteObjectsOutput, DeletedObject,
    GetObjectOutput, ObjectIdentifier, PutObjectOutput, PUT_FILE_IN_MEMORY_LIMIT,
};
pub use ops::acl::{
    AccessControlPolicy, AclOptions, Grant, Grantee, ObjectAcl, Owner, Permission, ALL_USERS_URI,
};
pub use ops::append::{AppendObjectOutput, MAX_APPENDABLE_SIZE};
pub use ops::bucket::{BucketAcl, BucketInfo};
pub use ops::lifecycle::{
    LifecycleRule, LifecycleTime, Transition, MAX_LIFECYCLE_RULES, MAX_RULE_ID_CHARS,
};
pub use ops::list::{ListObjectsPage, ObjectSummary};
pub use ops::post_policy::{presign_post, PostCondition, PostPolicyOptions, PresignedPost};
pub use ops::presign::{PresignOptions, MAX_PRESIGN_VALIDITY};
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
pub use options::{
    choose_part_size, ByteRange, CopyOptions, CustomerKey, DownloadOptions, GetOptions,
    ListOptions, Progress, ProgressCallback, PutOptions, ServerSideEncryption, StorageClass,
    UploadOptions, UploadStartedCallback, DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE,
    MAX_METADATA_BYTES, MAX_PARTS, MAX_PART_SIZE, MIN_PART_SIZE, TRAFFIC_LIMIT_RANGE,
};
pub use request::MAX_DELETE_KEYS;
pub use response::{ContentRange, ObjectMeta};
pub use transfer::checkpoint::ResumeOutcome;
pub use transfer::download::{DownloadOutput, MIN_DOWNLOAD_PART_SIZE};
pub use transfer::stale::{StaleUploadFailure, StaleUploads};
