//! Tencent Cloud Object Storage (COS), XML API.

mod endpoint;
mod error;

pub use endpoint::{
    query_string, validate_key, Addressing, BucketName, Endpoint, Region, ResolvedUrl,
    MAX_BUCKET_HOST_LEN, MAX_KEY_BYTES,
};
pub use error::{Error, ServiceError};
