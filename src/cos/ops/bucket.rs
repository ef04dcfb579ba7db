//! Bucket operations: create, head, delete.

use http::{HeaderMap, HeaderName, Method};

use crate::cos::headers::header_value;
use crate::cos::request::Target;
use crate::cos::response::{header, X_COS_REQUEST_ID};
use crate::cos::{Client, Error};
use crate::transport::{PreparedRequest, RequestBody};

/// A canned bucket ACL (`x-cos-acl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BucketAcl {
    /// Only the owner (the default).
    #[default]
    Private,
    /// Anyone may read objects.
    PublicRead,
    /// Anyone may read and write objects.
    PublicReadWrite,
}

impl BucketAcl {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            BucketAcl::Private => "private",
            BucketAcl::PublicRead => "public-read",
            BucketAcl::PublicReadWrite => "public-read-write",
        }
    }
}

/// What HeadBucket tells about a bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BucketInfo {
    /// `x-cos-bucket-region`.
    pub region: Option<String>,
    /// `x-cos-bucket-az-type` (`MAZ` for multi-AZ buckets).
    pub az_type: Option<String>,
    /// `x-cos-bucket-arch` (`OFS` for metadata-accelerated buckets).
    pub arch: Option<String>,
    /// `x-cos-request-id`.
    pub request_id: Option<String>,
}

impl Client {
    /// Creates `bucket` in the client's region (private ACL). A bucket you
    /// already own is a 409 `BucketAlreadyOwnedByYou` error.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// match client.create_bucket("examplebucket-1250000000").await {
    ///     Ok(()) => println!("created"),
    ///     Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => println!("already mine"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), Error> {
        self.create_bucket_with_acl(bucket, BucketAcl::Private)
            .await
    }

    /// Creates `bucket` with a canned ACL.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::BucketAcl;
    /// client.create_bucket_with_acl("static-site-1250000000", BucketAcl::PublicRead).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_bucket_with_acl(&self, bucket: &str, acl: BucketAcl) -> Result<(), Error> {
        let bucket = Self::bucket(bucket)?;
        let acl = (acl != BucketAcl::Private).then(|| acl.as_str());
        self.operation(self.info("PutBucket", &bucket), async {
            let req = put_bucket(self.target(&bucket), acl)?;
            self.send(req).await?;
            Ok(())
        })
        .await
    }

    /// Checks that `bucket` exists and is accessible; 404 and 403 come back
    /// as errors (HEAD answers carry no body, so the code is derived from
    /// the status: `NoSuchResource`, `AccessDenied`).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let info = client.head_bucket("examplebucket-1250000000").await?;
    /// println!("bucket lives in {:?}", info.region);
    /// # Ok(()) }
    /// ```
    pub async fn head_bucket(&self, bucket: &str) -> Result<BucketInfo, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("HeadBucket", &bucket), async {
            let req = head_bucket(self.target(&bucket))?;
            let response = self.send(req).await?;
            let h = response.headers();
            Ok(BucketInfo {
                region: header(h, "x-cos-bucket-region"),
                az_type: header(h, "x-cos-bucket-az-type"),
                arch: header(h, "x-cos-bucket-arch"),
                request_id: header(h, X_COS_REQUEST_ID),
            })
        })
        .await
    }

    /// Whether `bucket` exists (404 is `false`; 403 and others are errors).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// if !client.bucket_exists("examplebucket-1250000000").await? {
    ///     client.create_bucket("examplebucket-1250000000").await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool, Error> {
        match self.head_bucket(bucket).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes an empty bucket (409 `BucketNotEmpty` otherwise).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// client.delete_bucket("examplebucket-1250000000").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_bucket(&self, bucket: &str) -> Result<(), Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("DeleteBucket", &bucket), async {
            let req = delete_bucket(self.target(&bucket))?;
            self.send(req).await?;
            Ok(())
        })
        .await
    }
}

/// PutBucket: `PUT /`, optionally with `x-cos-acl`.
pub(crate) fn put_bucket(t: Target<'_>, acl: Option<&str>) -> Result<PreparedRequest, Error> {
    let mut headers = HeaderMap::new();
    if let Some(acl) = acl {
        if !matches!(acl, "private" | "public-read" | "public-read-write") {
            return Err(Error::invalid_input(
                "bucket ACL",
                acl,
                "must be private, public-read or public-read-write",
            ));
        }
        headers.insert(
            HeaderName::from_static("x-cos-acl"),
            header_value("bucket ACL", acl)?,
        );
    }
    t.build(Method::PUT, "", vec![], headers, RequestBody::Empty)
}

/// HeadBucket: `HEAD /`.
pub(crate) fn head_bucket(t: Target<'_>) -> Result<PreparedRequest, Error> {
    t.build(
        Method::HEAD,
        "",
        vec![],
        HeaderMap::new(),
        RequestBody::Empty,
    )
}

/// DeleteBucket: `DELETE /`.
pub(crate) fn delete_bucket(t: Target<'_>) -> Result<PreparedRequest, Error> {
    t.build(
        Method::DELETE,
        "",
        vec![],
        HeaderMap::new(),
        RequestBody::Empty,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::request::testing::target_parts;

    #[test]
    fn bucket_requests() {
        let (ep, b) = target_parts();
        let t = Target {
            endpoint: &ep,
            bucket: &b,
        };
        assert_eq!(put_bucket(t, Some("private")).unwrap().signed_path, "/");
        assert!(put_bucket(t, Some("everyone")).is_err());
        assert_eq!(head_bucket(t).unwrap().method, Method::HEAD);
        assert_eq!(delete_bucket(t).unwrap().method, Method::DELETE);
    }
}
