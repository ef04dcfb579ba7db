//! ListParts and ListMultipartUploads: every page, guarded against a
//! server whose markers never end the listing.

use http::{HeaderMap, Method};
use serde::Deserialize;

use super::check_upload_id;
use crate::cos::paging::Markers;
use crate::cos::request::{params, Target};
use crate::cos::xml;
use crate::cos::{BucketName, Client, Error, MultipartUploadInfo, PartInfo};
use crate::transport::{PreparedRequest, RequestBody};

/// Pages `list_parts` reads at most: an upload has at most 10 000 parts,
/// and a truncated page holds at least one.
const MAX_LIST_PARTS_PAGES: u64 = 10_001;

/// Pages `list_multipart_uploads` reads at most (COS sends up to 1000
/// uploads per page).
const MAX_LIST_UPLOADS_PAGES: u64 = 100_000;

impl Client {
    /// The parts uploaded so far (all pages).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client, id: String) -> Result<(), coscls::cos::Error> {
    /// let parts = client.list_parts("examplebucket-1250000000", "big.bin", &id).await?;
    /// let done: u64 = parts.iter().map(|p| p.size).sum();
    /// println!("{done} bytes uploaded so far");
    /// # Ok(()) }
    /// ```
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<PartInfo>, Error> {
        let bucket = Self::bucket(bucket)?;
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        let mut markers = Markers::new("ListParts", MAX_LIST_PARTS_PAGES, None);
        loop {
            let info = self
                .info("ListParts", &bucket)
                .with_key(key)
                .with_upload_id(upload_id);
            // One operation per page request.
            let page: ListPartsResult = self
                .operation(info, async {
                    let req = list_parts(self.target(&bucket), key, upload_id, marker.as_deref())?;
                    let (_, body) = self.send_for_body(req).await?;
                    xml::parse("ListParts", &body)
                })
                .await?;
            out.extend(page.parts.into_iter().map(|p| PartInfo {
                part_number: p.part_number,
                etag: p.etag,
                size: p.size,
                last_modified: p.last_modified.as_deref().and_then(xml::parse_date),
            }));
            if !page.is_truncated {
                return Ok(out);
            }
            markers.next(page.next_part_number_marker.as_deref())?;
            marker = page.next_part_number_marker;
        }
    }

    /// Uploads in progress in `bucket`, optionally under `prefix` (all pages).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// for u in client.list_multipart_uploads("examplebucket-1250000000", Some("backups/")).await? {
    ///     println!("{} {} started {:?}", u.key, u.upload_id, u.initiated);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_multipart_uploads(
        &self,
        bucket: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<MultipartUploadInfo>, Error> {
        let bucket = Self::bucket(bucket)?;
        self.list_uploads(&bucket, prefix).await
    }

    pub(crate) async fn list_uploads(
        &self,
        bucket: &BucketName,
        prefix: Option<&str>,
    ) -> Result<Vec<MultipartUploadInfo>, Error> {
        let mut out = Vec::new();
        let (mut key_marker, mut id_marker): (Option<String>, Option<String>) = (None, None);
        let mut markers = Markers::new("ListMultipartUploads", MAX_LIST_UPLOADS_PAGES, None);
        loop {
            // One operation per page request.
            let page: ListMultipartUploadsResult = self
                .operation(self.info("ListMultipartUploads", bucket), async {
                    let req = list_multipart_uploads(
                        self.target(bucket),
                        prefix,
                        key_marker.as_deref(),
                        id_marker.as_deref(),
                    )?;
                    let (_, body) = self.send_for_body(req).await?;
                    xml::parse("ListMultipartUploads", &body)
                })
                .await?;
            out.extend(page.uploads.into_iter().map(|u| MultipartUploadInfo {
                key: u.key,
                upload_id: u.upload_id,
                initiated: u.initiated.as_deref().and_then(xml::parse_date),
                storage_class: u.storage_class,
            }));
            let next = (page.next_key_marker, page.next_upload_id_marker);
            if !page.is_truncated {
                return Ok(out);
            }
            // The pair is the marker: one key may hold many uploads.
            let pair = next.0.as_deref().map(|key| match next.1.as_deref() {
                Some(id) => format!("{key} upload {id}"),
                None => key.to_string(),
            });
            markers.next(pair.as_deref())?;
            (key_marker, id_marker) = next;
        }
    }
}

/// ListParts: `GET /<key>?uploadId=ID[&part-number-marker=M]`.
pub(crate) fn list_parts(
    t: Target<'_>,
    key: &str,
    upload_id: &str,
    marker: Option<&str>,
) -> Result<PreparedRequest, Error> {
    check_upload_id(upload_id)?;
    let mut p = params(&[("uploadId", upload_id)]);
    if let Some(m) = marker {
        p.push(("part-number-marker".into(), m.into()));
    }
    t.object(Method::GET, key, p, HeaderMap::new(), RequestBody::Empty)
}

/// ListMultipartUploads: `GET /?uploads&prefix=…`.
pub(crate) fn list_multipart_uploads(
    t: Target<'_>,
    prefix: Option<&str>,
    key_marker: Option<&str>,
    upload_id_marker: Option<&str>,
) -> Result<PreparedRequest, Error> {
    let mut p = params(&[("uploads", "")]);
    for (name, value) in [
        ("key-marker", key_marker),
        ("prefix", prefix),
        ("upload-id-marker", upload_id_marker),
    ] {
        if let Some(v) = value {
            p.push((name.into(), v.into()));
        }
    }
    t.build(Method::GET, "", p, HeaderMap::new(), RequestBody::Empty)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ListPartsResult {
    #[serde(rename = "Bucket")]
    pub(crate) bucket: Option<String>,
    #[serde(rename = "Key")]
    pub(crate) key: Option<String>,
    #[serde(rename = "UploadId")]
    pub(crate) upload_id: Option<String>,
    #[serde(rename = "StorageClass")]
    pub(crate) storage_class: Option<String>,
    #[serde(rename = "NextPartNumberMarker")]
    pub(crate) next_part_number_marker: Option<String>,
    #[serde(rename = "IsTruncated")]
    pub(crate) is_truncated: bool,
    #[serde(rename = "Part")]
    pub(crate) parts: Vec<PartXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PartXml {
    #[serde(rename = "PartNumber")]
    pub(crate) part_number: u32,
    #[serde(rename = "LastModified")]
    pub(crate) last_modified: Option<String>,
    #[serde(rename = "ETag")]
    pub(crate) etag: String,
    #[serde(rename = "Size")]
    pub(crate) size: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ListMultipartUploadsResult {
    #[serde(rename = "IsTruncated")]
    pub(crate) is_truncated: bool,
    #[serde(rename = "NextKeyMarker")]
    pub(crate) next_key_marker: Option<String>,
    #[serde(rename = "NextUploadIdMarker")]
    pub(crate) next_upload_id_marker: Option<String>,
    #[serde(rename = "Upload")]
    pub(crate) uploads: Vec<UploadXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct UploadXml {
    #[serde(rename = "Key")]
    pub(crate) key: String,
    #[serde(rename = "UploadId", alias = "UploadID")]
    pub(crate) upload_id: String,
    #[serde(rename = "Initiated")]
    pub(crate) initiated: Option<String>,
    #[serde(rename = "StorageClass")]
    pub(crate) storage_class: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::xml::{parse, parse_date};

    #[test]
    fn list_parts_quirks_from_the_official_examples() {
        let xml = r#"<ListPartsResult>
  <Bucket>examplebucket-1250000000</Bucket>
  <Encoding-type>url</Encoding-type>
  <Key>exampleobject</Key>
  <UploadId>1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361</UploadId>
  <StorageClass>Standard</StorageClass>
  <PartNumberMarker>0</PartNumberMarker>
  <NextPartNumberMarker>2</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>1</PartNumber>
    <LastModified>Tue Jan 17 16:43:37 2017</LastModified>
    <ETag>&quot;aa259a62513358f69e98e72e59856d88&quot;</ETag>
    <Size>1048576</Size>
  </Part>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2020-03-25T10:07:01.000Z</LastModified>
    <ETag>"aa259a62513358f69e98e72e59856d88"</ETag>
    <Size>1048576</Size>
  </Part>
</ListPartsResult>"#;
        let r: ListPartsResult = parse("list parts", xml.as_bytes()).unwrap();
        assert_eq!(r.parts.len(), 2);
        assert_eq!(r.parts[0].etag, "\"aa259a62513358f69e98e72e59856d88\"");
        assert!(r
            .parts
            .iter()
            .all(|p| p.last_modified.as_deref().and_then(parse_date).is_some()));
        assert_eq!(r.next_part_number_marker.as_deref(), Some("2"));
    }
}
