//! CopyObject (a server-side copy of up to 5 GiB, keeping or replacing the
//! metadata) and UploadPartCopy (one part of a multipart copy), with
//! [`CopyOptions`]. Copies of any size, in parts, are `transfer/copy.rs`.

use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Deserialize;

use crate::cos::headers::header_value;
use crate::cos::ops::multipart::{check_part_number, check_upload_id};
use crate::cos::request::{params, Target};
use crate::cos::response::{self, header};
use crate::cos::xml;
use crate::cos::{
    BucketName, Client, CompletedPart, CustomerKey, Error, PutOptions, Region, StorageClass,
};
use crate::transport::{PreparedRequest, RequestBody};

/// Options of CopyObject.
///
/// ```
/// use coscls::cos::{CopyOptions, PutOptions};
/// // Copy and replace the metadata at the same time.
/// let opts = CopyOptions::default().replace_metadata(PutOptions::default().content_type("text/csv"));
/// assert!(opts.replace_metadata.is_some());
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
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
    /// [`Client::copy`](crate::cos::Client::copy): sources larger than this are
    /// copied in parts (UploadPartCopy); 5 GiB, the CopyObject limit, when
    /// `None`.
    pub multipart_threshold: Option<u64>,
    /// Part size of a multipart copy; chosen like an upload's when `None`.
    pub part_size: Option<u64>,
    /// Parts copied at once; [`DEFAULT_CONCURRENCY`](crate::cos::DEFAULT_CONCURRENCY) when `None`.
    pub concurrency: Option<usize>,
    /// The source's size: [`Client::copy`](crate::cos::Client::copy) learns it
    /// with a HEAD in its own region, and needs it given for a source in
    /// another region.
    pub source_size: Option<u64>,
}

impl CopyOptions {
    /// The source bucket's region, when it is not the client's.
    pub fn source_region(mut self, region: Region) -> Self {
        self.source_region = Some(region);
        self
    }

    /// Copies this version of the source.
    pub fn source_version_id(mut self, id: impl Into<String>) -> Self {
        self.source_version_id = Some(id.into());
        self
    }

    /// Storage class of the copy.
    pub fn storage_class(mut self, class: StorageClass) -> Self {
        self.storage_class = Some(class);
        self
    }

    /// Copies only if the source's ETag is `etag`.
    pub fn source_if_match(mut self, etag: impl Into<String>) -> Self {
        self.source_if_match = Some(etag.into());
        self
    }

    /// Copies only if the source's ETag differs from `etag`.
    pub fn source_if_none_match(mut self, etag: impl Into<String>) -> Self {
        self.source_if_none_match = Some(etag.into());
        self
    }

    /// The SSE-C key of the source object.
    pub fn source_customer_key(mut self, key: CustomerKey) -> Self {
        self.source_customer_key = Some(key);
        self
    }

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

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CopyObjectResult {
    #[serde(rename = "ETag")]
    pub(crate) etag: Option<String>,
    #[serde(rename = "LastModified")]
    pub(crate) last_modified: Option<String>,
    #[serde(rename = "CRC64", alias = "Crc64")]
    pub(crate) crc64: Option<String>,
    #[serde(rename = "VersionId")]
    pub(crate) version_id: Option<String>,
}

/// CopyObject: `PUT /<key>` with `x-cos-copy-source`.
pub(crate) fn copy_object(
    t: Target<'_>,
    key: &str,
    copy_source: &str,
    opts: &CopyOptions,
) -> Result<PreparedRequest, Error> {
    let mut headers = match &opts.replace_metadata {
        Some(put) => {
            let mut h = put.object_headers()?;
            h.insert(
                HeaderName::from_static("x-cos-metadata-directive"),
                HeaderValue::from_static("Replaced"),
            );
            h
        }
        None => {
            let mut h = HeaderMap::new();
            h.insert(
                HeaderName::from_static("x-cos-metadata-directive"),
                HeaderValue::from_static("Copy"),
            );
            h
        }
    };
    if let Some(class) = &opts.storage_class {
        headers.insert(
            HeaderName::from_static("x-cos-storage-class"),
            header_value("storage class", class.as_str())?,
        );
    }
    copy_source_headers(&mut headers, copy_source, opts)?;
    t.object(Method::PUT, key, vec![], headers, RequestBody::Empty)
}

/// `x-cos-copy-source` and the conditions and SSE-C key that apply to the
/// source, shared by CopyObject and UploadPartCopy.
fn copy_source_headers(
    headers: &mut HeaderMap,
    copy_source: &str,
    opts: &CopyOptions,
) -> Result<(), Error> {
    headers.insert(
        HeaderName::from_static("x-cos-copy-source"),
        header_value("copy source", copy_source)?,
    );
    for (name, value) in [
        ("x-cos-copy-source-if-match", &opts.source_if_match),
        (
            "x-cos-copy-source-if-none-match",
            &opts.source_if_none_match,
        ),
    ] {
        if let Some(v) = value {
            headers.insert(HeaderName::from_static(name), header_value(name, v)?);
        }
    }
    if let Some(k) = &opts.source_customer_key {
        let sse = PutOptions {
            customer_key: Some(k.clone()),
            ..PutOptions::default()
        };
        for (name, value) in sse.object_headers()? {
            if let Some(name) = name {
                let renamed = name.as_str().replace(
                    "x-cos-server-side-encryption-",
                    "x-cos-copy-source-server-side-encryption-",
                );
                if let Ok(n) = HeaderName::from_bytes(renamed.as_bytes()) {
                    headers.insert(n, value);
                }
            }
        }
    }
    Ok(())
}

/// UploadPartCopy: `PUT /<key>?partNumber=N&uploadId=ID` whose data is the
/// byte range `first..=last` of the copy source (the whole source when
/// `range` is `None`).
pub(crate) fn upload_part_copy(
    t: Target<'_>,
    key: &str,
    upload_id: &str,
    part_number: u32,
    copy_source: &str,
    range: Option<(u64, u64)>,
    opts: &CopyOptions,
) -> Result<PreparedRequest, Error> {
    check_upload_id(upload_id)?;
    check_part_number(part_number)?;
    let mut headers = HeaderMap::new();
    copy_source_headers(&mut headers, copy_source, opts)?;
    if let Some((first, last)) = range {
        if first > last || last - first >= crate::cos::MAX_PART_SIZE {
            return Err(Error::invalid_input(
                "copy source range",
                &format!("{first}-{last}"),
                "must be first <= last, at most 5 GiB",
            ));
        }
        headers.insert(
            HeaderName::from_static("x-cos-copy-source-range"),
            header_value("copy source range", &format!("bytes={first}-{last}"))?,
        );
    }
    let n = part_number.to_string();
    let params = params(&[("partNumber", &n), ("uploadId", upload_id)]);
    t.object(Method::PUT, key, params, headers, RequestBody::Empty)
}

impl Client {
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
        crate::cos::validate_key(source_key)?;
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
            let req = copy_object(self.target(&bucket), key, &source, opts)?;
            let (parts, body) = self.send_for_body(req).await?;
            // A 200 carrying <Error> (docs/protocol/cos.md §3) was turned into an error above.
            let result: CopyObjectResult = xml::parse("CopyObject", &body)?;
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

    /// Copies bytes `range` (`first..=last`; the whole source when `None`)
    /// of the source into part `part_number` of an upload, server-side.
    /// The part's `crc64` is the server's when it reports one, else 0.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client, id: String) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::CopyOptions;
    /// let b = "examplebucket-1250000000";
    /// let part = client
    ///     .upload_part_copy(b, "copy.bin", &id, 1, b, "big.bin", Some((0, (8 << 20) - 1)), &CopyOptions::default())
    ///     .await?;
    /// println!("part {} has ETag {}", part.part_number, part.etag);
    /// # Ok(()) }
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part_copy(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        source_bucket: &str,
        source_key: &str,
        range: Option<(u64, u64)>,
        opts: &CopyOptions,
    ) -> Result<CompletedPart, Error> {
        let dest = Self::bucket(bucket)?;
        let source_bucket = Self::bucket(source_bucket)?;
        crate::cos::validate_key(source_key)?;
        let region = opts.source_region.as_ref().unwrap_or(&self.inner.region);
        let header = self.inner.endpoint.copy_source(
            &source_bucket,
            region,
            source_key,
            opts.source_version_id.as_deref(),
        );
        self.copy_part(&dest, key, upload_id, part_number, &header, range, opts)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn copy_part(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &str,
        part_number: u32,
        source: &str,
        range: Option<(u64, u64)>,
        opts: &CopyOptions,
    ) -> Result<CompletedPart, Error> {
        let info = self
            .info("UploadPartCopy", bucket)
            .with_key(key)
            .with_upload_id(upload_id)
            .with_part_number(i64::from(part_number));
        self.operation(info, async {
            let req = upload_part_copy(
                self.target(bucket),
                key,
                upload_id,
                part_number,
                source,
                range,
                opts,
            )?;
            let (parts, body) = self.send_for_body(req).await?;
            let result: CopyObjectResult = xml::parse("UploadPartCopy", &body)?;
            let etag = result
                .etag
                .or_else(|| header(&parts.headers, http::header::ETAG))
                .ok_or_else(|| {
                    Error::protocol(format!("UploadPartCopy {part_number} returned no ETag"))
                })?;
            let size = range.map_or(0, |(first, last)| last - first + 1);
            let crc64 = response::crc64_header(&parts.headers)?.unwrap_or(0);
            Ok(CompletedPart::new(part_number, etag, size, crc64))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::request::testing::target_parts;
    use crate::cos::xml::parse;

    #[test]
    fn copy_and_bucket_requests() {
        let (ep, b) = target_parts();
        let t = Target {
            endpoint: &ep,
            bucket: &b,
        };
        let src = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/a%20b.txt";
        let r = copy_object(t, "c.txt", src, &CopyOptions::default()).unwrap();
        assert_eq!(r.headers["x-cos-copy-source"], src);
        assert_eq!(r.headers["x-cos-metadata-directive"], "Copy");
        let r = copy_object(
            t,
            "c.txt",
            src,
            &CopyOptions::default()
                .replace_metadata(PutOptions::default().content_type("text/csv")),
        )
        .unwrap();
        assert_eq!(r.headers["x-cos-metadata-directive"], "Replaced");
        assert_eq!(r.headers["content-type"], "text/csv");
    }

    #[test]
    fn copy_object_result() {
        let copy: CopyObjectResult = parse(
            "copy",
            b"<CopyObjectResult><ETag>\"e\"</ETag><LastModified>2024-01-01T00:00:00Z</LastModified><CRC64>123</CRC64><VersionId>v</VersionId></CopyObjectResult>",
        )
        .unwrap();
        assert_eq!(copy.crc64.as_deref(), Some("123"));
        assert_eq!(copy.version_id.as_deref(), Some("v"));
    }
}
