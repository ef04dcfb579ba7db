//! Bucket versioning (GET/PUT `/?versioning`) and ListObjectVersions
//! (`GET /?versions`): one page, or a stream over all of them.
//!
//! Reading, heading and deleting one version go through the existing
//! calls: [`GetOptions::version_id`](crate::cos::GetOptions::version_id) with
//! [`Client::get_object_with`] / [`Client::head_object_with`],
//! [`DownloadOptions::version_id`](crate::cos::DownloadOptions::version_id),
//! [`Client::delete_object_version`], and
//! [`ObjectIdentifier::version_id`](crate::cos::ObjectIdentifier) in
//! [`Client::delete_objects`]. Writes report the version they made in
//! their outputs (`version_id`).

use std::time::SystemTime;

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, HeaderValue, Method};
use serde::Deserialize;

use crate::auth::percent_decode;
use crate::cos::headers::content_md5;
use crate::cos::ops::list::listing_query;
use crate::cos::paging::{self, Markers, NextPage};
use crate::cos::request::Target;
use crate::cos::xml::{self, CommonPrefixXml, OwnerXml};
use crate::cos::{Client, Error};
use crate::transport::{PreparedRequest, RequestBody};

/// A bucket's versioning state as set by
/// [`put_bucket_versioning`](Client::put_bucket_versioning). A bucket whose
/// versioning was never enabled has none
/// ([`get_bucket_versioning`](Client::get_bucket_versioning) answers `None`),
/// and once enabled it can only be suspended, never turned off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersioningStatus {
    /// Every write and every delete without a version id adds a version.
    Enabled,
    /// Writes and deletes replace the `null` version; versions made while
    /// enabled are kept.
    Suspended,
}

impl VersioningStatus {
    /// The wire value (`Enabled`, `Suspended`).
    ///
    /// ```
    /// use coscls::cos::VersioningStatus;
    /// assert_eq!(VersioningStatus::Suspended.as_str(), "Suspended");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            VersioningStatus::Enabled => "Enabled",
            VersioningStatus::Suspended => "Suspended",
        }
    }
}

/// What to list with [`list_object_versions`](Client::list_object_versions).
///
/// ```
/// use coscls::cos::ListVersionsOptions;
/// let opts = ListVersionsOptions::default().prefix("logs/").max_keys(100);
/// assert_eq!(opts.max_keys, Some(100));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListVersionsOptions {
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Roll keys up to this delimiter into common prefixes.
    pub delimiter: Option<String>,
    /// Start after this key (after all its versions, unless
    /// `version_id_marker` is set too).
    pub key_marker: Option<String>,
    /// With `key_marker`, start after this version of that key.
    pub version_id_marker: Option<String>,
    /// Entries per page, 1 to 1000 (COS's default is 1000).
    pub max_keys: Option<u32>,
}

impl ListVersionsOptions {
    /// Sets the key prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Sets the delimiter.
    pub fn delimiter(mut self, delimiter: impl Into<String>) -> Self {
        self.delimiter = Some(delimiter.into());
        self
    }

    /// Starts after `key` (and, with `version_id`, after that version of it).
    pub fn marker(mut self, key: impl Into<String>, version_id: Option<String>) -> Self {
        self.key_marker = Some(key.into());
        self.version_id_marker = version_id;
        self
    }

    /// Sets the entries per page.
    pub fn max_keys(mut self, n: u32) -> Self {
        self.max_keys = Some(n);
        self
    }
}

/// One version of an object, or a delete marker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectVersion {
    /// The key (decoded).
    pub key: String,
    /// The version id (`null` for an object written while versioning was
    /// off or suspended).
    pub version_id: String,
    /// Whether this is the key's latest version.
    pub is_latest: bool,
    /// Whether this is a delete marker (then it has no ETag, size or class).
    pub is_delete_marker: bool,
    /// ETag, quoted.
    pub etag: Option<String>,
    /// Size in bytes (0 for a delete marker).
    pub size: u64,
    /// When this version was written.
    pub last_modified: Option<SystemTime>,
    /// Storage class.
    pub storage_class: Option<String>,
    /// Owner id.
    pub owner_id: Option<String>,
}

/// One page of [`list_object_versions`](Client::list_object_versions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListObjectVersionsPage {
    /// Bucket name.
    pub bucket: String,
    /// The prefix asked for.
    pub prefix: Option<String>,
    /// The delimiter asked for.
    pub delimiter: Option<String>,
    /// Versions and delete markers in the server's order: by key, newest
    /// version first within a key.
    pub versions: Vec<ObjectVersion>,
    /// Key prefixes rolled up at the delimiter.
    pub common_prefixes: Vec<String>,
    /// Whether more pages follow.
    pub is_truncated: bool,
    /// The key marker of the next page, when truncated.
    pub next_key_marker: Option<String>,
    /// The version id marker of the next page, when truncated (absent when
    /// the page ended with a common prefix).
    pub next_version_id_marker: Option<String>,
}

/// `<ListVersionsResult>`. Versions and delete markers interleave, so they
/// are read in document order through `$value` (which also receives the
/// elements not read here: KeyMarker, MaxKeys…).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListVersionsResult {
    #[serde(rename = "Name")]
    name: String,
    #[serde(
        rename = "EncodingType",
        alias = "Encoding-type",
        alias = "Encoding-Type"
    )]
    encoding_type: Option<String>,
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Delimiter")]
    delimiter: Option<String>,
    #[serde(rename = "IsTruncated")]
    is_truncated: bool,
    #[serde(rename = "NextKeyMarker")]
    next_key_marker: Option<String>,
    #[serde(rename = "NextVersionIdMarker")]
    next_version_id_marker: Option<String>,
    #[serde(rename = "$value")]
    entries: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
enum Entry {
    Version(VersionXml),
    DeleteMarker(VersionXml),
    CommonPrefixes(CommonPrefixXml),
    #[serde(other)]
    Other,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VersionXml {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "VersionId")]
    version_id: String,
    #[serde(rename = "IsLatest")]
    is_latest: bool,
    #[serde(rename = "LastModified")]
    last_modified: Option<String>,
    #[serde(rename = "ETag")]
    etag: Option<String>,
    #[serde(rename = "Size")]
    size: u64,
    #[serde(rename = "StorageClass")]
    storage_class: Option<String>,
    #[serde(rename = "Owner")]
    owner: Option<OwnerXml>,
}

/// `<VersioningConfiguration>`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VersioningConfiguration {
    #[serde(rename = "Status")]
    status: Option<String>,
}

fn decode(what: &str, value: String, url_encoded: bool) -> Result<String, Error> {
    if !url_encoded {
        return Ok(value);
    }
    percent_decode(&value, false).ok_or_else(|| {
        Error::protocol(format!(
            "ListObjectVersions {what} {value:?} is not valid percent-encoding"
        ))
    })
}

fn decode_opt(
    what: &str,
    value: Option<String>,
    url_encoded: bool,
) -> Result<Option<String>, Error> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| decode(what, v, url_encoded))
        .transpose()
}

impl ListObjectVersionsPage {
    fn from_xml(r: ListVersionsResult) -> Result<Self, Error> {
        let url = r
            .encoding_type
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case("url"));
        let mut versions = Vec::new();
        let mut common_prefixes = Vec::new();
        for entry in r.entries {
            let (v, is_delete_marker) = match entry {
                Entry::Version(v) => (v, false),
                Entry::DeleteMarker(v) => (v, true),
                Entry::CommonPrefixes(p) => {
                    common_prefixes.push(decode("prefix", p.prefix, url)?);
                    continue;
                }
                Entry::Other => continue,
            };
            if v.version_id.is_empty() {
                return Err(Error::protocol(format!(
                    "ListObjectVersions lists {:?} without a VersionId",
                    v.key
                )));
            }
            versions.push(ObjectVersion {
                key: decode("key", v.key, url)?,
                version_id: v.version_id,
                is_latest: v.is_latest,
                is_delete_marker,
                etag: v.etag,
                size: v.size,
                last_modified: v.last_modified.as_deref().and_then(xml::parse_date),
                storage_class: v.storage_class,
                owner_id: v.owner.and_then(|o| o.id),
            });
        }
        Ok(ListObjectVersionsPage {
            bucket: r.name,
            prefix: decode_opt("prefix", r.prefix, url)?,
            delimiter: decode_opt("delimiter", r.delimiter, url)?,
            versions,
            common_prefixes,
            is_truncated: r.is_truncated,
            next_key_marker: decode_opt("next key marker", r.next_key_marker, url)?,
            next_version_id_marker: r.next_version_id_marker.filter(|v| !v.is_empty()),
        })
    }
}

/// Pages `list_object_versions_stream` reads at most: a billion versions
/// at 1000 per page.
const MAX_VERSION_PAGES: u64 = 1_000_000;

/// The guard of a version listing: its marker is the pair of key and
/// version id (one key may span pages), starting at `start`'s.
fn version_markers(max_pages: u64, start: &ListVersionsOptions) -> Markers<(String, String)> {
    let first = start.key_marker.as_ref().map(|k| {
        (
            k.clone(),
            start.version_id_marker.clone().unwrap_or_default(),
        )
    });
    Markers::with("ListObjectVersions", max_pages, first, |(key, version)| {
        format!("key marker {key:?} with version id marker {version:?}")
    })
}

/// The options of the page after `page`, and its marker pair; `None` after
/// the last page.
fn next_page(
    opts: ListVersionsOptions,
    page: &ListObjectVersionsPage,
) -> NextPage<ListVersionsOptions, (String, String)> {
    if !page.is_truncated {
        return Ok(None);
    }
    let Some(key) = page.next_key_marker.clone() else {
        return Err(Error::protocol(
            "ListObjectVersions says the listing is truncated but gives no NextKeyMarker",
        ));
    };
    let version = page.next_version_id_marker.clone();
    let marker = (key.clone(), version.clone().unwrap_or_default());
    let next = ListVersionsOptions {
        key_marker: Some(key),
        version_id_marker: version,
        ..opts
    };
    Ok(Some((next, marker)))
}

/// PUT Bucket versioning: `PUT /?versioning` with `<VersioningConfiguration>`.
fn put_versioning_request(
    t: Target<'_>,
    status: VersioningStatus,
) -> Result<PreparedRequest, Error> {
    let body = Bytes::from(format!(
        "<VersioningConfiguration><Status>{}</Status></VersioningConfiguration>",
        status.as_str()
    ));
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert("content-md5", content_md5(&body));
    t.build(
        Method::PUT,
        "",
        vec![("versioning".into(), String::new())],
        headers,
        RequestBody::Bytes(body),
    )
}

/// GET Bucket versioning: `GET /?versioning`.
fn get_versioning_request(t: Target<'_>) -> Result<PreparedRequest, Error> {
    t.build(
        Method::GET,
        "",
        vec![("versioning".into(), String::new())],
        HeaderMap::new(),
        RequestBody::Empty,
    )
}

/// ListObjectVersions: `GET /?versions` with `encoding-type=url`, so any
/// key survives the XML.
fn list_versions_request(
    t: Target<'_>,
    opts: &ListVersionsOptions,
) -> Result<PreparedRequest, Error> {
    let mut markers = Vec::new();
    match (&opts.key_marker, &opts.version_id_marker) {
        (None, Some(v)) => {
            return Err(Error::invalid_input(
                "version id marker",
                v,
                "needs a key marker (the key the version belongs to)",
            ))
        }
        (Some(k), v) => {
            markers.push(("key-marker".into(), k.clone()));
            if let Some(v) = v {
                if v.is_empty() {
                    return Err(Error::invalid_input("version id marker", v, "is empty"));
                }
                markers.push(("version-id-marker".into(), v.clone()));
            }
        }
        (None, None) => {}
    }
    let p = listing_query(
        Some("versions"),
        opts.delimiter.as_deref(),
        markers,
        opts.max_keys,
        opts.prefix.as_deref(),
    )?;
    t.build(Method::GET, "", p, HeaderMap::new(), RequestBody::Empty)
}

/// The status in a `<VersioningConfiguration>` answer (pure).
fn parse_status(body: &[u8]) -> Result<Option<VersioningStatus>, Error> {
    let doc: VersioningConfiguration = xml::parse("GetBucketVersioning", body)?;
    match doc.status.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.eq_ignore_ascii_case("Enabled") => Ok(Some(VersioningStatus::Enabled)),
        Some(s) if s.eq_ignore_ascii_case("Suspended") => Ok(Some(VersioningStatus::Suspended)),
        Some(other) => Err(Error::protocol(format!(
            "GetBucketVersioning answered an unknown Status {other:?}"
        ))),
    }
}

impl Client {
    /// Enables or suspends versioning on `bucket`. Once enabled, a bucket
    /// keeps every version written until it is deleted by version id;
    /// suspending stops new versions but keeps the old ones.
    ///
    /// Errors: a bad bucket name before any request; the service's answer
    /// otherwise (404 `NoSuchBucket`, 403 `AccessDenied`).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::VersioningStatus;
    /// client.put_bucket_versioning("examplebucket-1250000000", VersioningStatus::Enabled).await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_bucket_versioning(
        &self,
        bucket: &str,
        status: VersioningStatus,
    ) -> Result<(), Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("PutBucketVersioning", &bucket), async {
            let req = put_versioning_request(self.target(&bucket), status)?;
            self.send(req).await?;
            Ok(())
        })
        .await
    }

    /// The versioning state of `bucket`: `None` if it was never enabled.
    ///
    /// Errors: a bad bucket name before any request; the service's answer;
    /// [`Error::Protocol`] for a Status other than `Enabled`/`Suspended`.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::VersioningStatus;
    /// let on = client.get_bucket_versioning("examplebucket-1250000000").await?
    ///     == Some(VersioningStatus::Enabled);
    /// println!("versioning enabled: {on}");
    /// # Ok(()) }
    /// ```
    pub async fn get_bucket_versioning(
        &self,
        bucket: &str,
    ) -> Result<Option<VersioningStatus>, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("GetBucketVersioning", &bucket), async {
            let req = get_versioning_request(self.target(&bucket))?;
            let (_, body) = self.send_for_body(req).await?;
            parse_status(&body)
        })
        .await
    }

    /// One page of versions and delete markers (up to `max_keys`, 1000 by
    /// default), by key and newest first within a key.
    ///
    /// Errors: bad options (`max_keys` outside 1–1000, a version id marker
    /// without a key marker) before any request; the service's answer;
    /// [`Error::Protocol`] for an answer that does not parse.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::ListVersionsOptions;
    /// let page = client
    ///     .list_object_versions("examplebucket-1250000000", &ListVersionsOptions::default().prefix("a.txt"))
    ///     .await?;
    /// for v in &page.versions {
    ///     println!("{} {} latest={} marker={}", v.key, v.version_id, v.is_latest, v.is_delete_marker);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_object_versions(
        &self,
        bucket: &str,
        opts: &ListVersionsOptions,
    ) -> Result<ListObjectVersionsPage, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("ListObjectVersions", &bucket), async {
            let req = list_versions_request(self.target(&bucket), opts)?;
            let (_, body) = self.send_for_body(req).await?;
            ListObjectVersionsPage::from_xml(xml::parse("ListObjectVersions", &body)?)
        })
        .await
    }

    /// Every page of a version listing, fetched one after another as the
    /// stream is polled (memory holds one page plus the marker pairs seen
    /// so far). Starts at the options' markers. A server that repeats a
    /// marker pair, gives no next key marker on a truncated page, or is
    /// still truncated after a million pages ends the stream with an
    /// [`Error::Protocol`] naming the markers.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use futures_util::TryStreamExt;
    /// use coscls::cos::ListVersionsOptions;
    /// let pages = client.list_object_versions_stream("examplebucket-1250000000", ListVersionsOptions::default());
    /// let old: u64 = pages
    ///     .try_fold(0, |n, page| async move {
    ///         Ok(n + page.versions.iter().filter(|v| !v.is_latest).map(|v| v.size).sum::<u64>())
    ///     })
    ///     .await?;
    /// println!("{old} bytes in noncurrent versions");
    /// # Ok(()) }
    /// ```
    pub fn list_object_versions_stream(
        &self,
        bucket: &str,
        opts: ListVersionsOptions,
    ) -> impl Stream<Item = Result<ListObjectVersionsPage, Error>> + Send + 'static {
        let client = self.clone();
        let bucket = bucket.to_string();
        let markers = version_markers(MAX_VERSION_PAGES, &opts);
        let fetch = move |opts: &ListVersionsOptions| {
            let (client, bucket, opts) = (client.clone(), bucket.clone(), opts.clone());
            async move { client.list_object_versions(&bucket, &opts).await }
        };
        paging::pages(opts, markers, fetch, next_page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(xml: &str) -> Result<ListObjectVersionsPage, Error> {
        ListObjectVersionsPage::from_xml(xml::parse("t", xml.as_bytes())?)
    }

    #[test]
    fn interleaved_versions_and_markers_keep_their_order() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult><Name>b-1</Name><EncodingType>url</EncodingType><Prefix></Prefix>
<KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>3</MaxKeys><Delimiter>%2F</Delimiter>
<IsTruncated>true</IsTruncated><NextKeyMarker>a%20b</NextKeyMarker><NextVersionIdMarker>v1</NextVersionIdMarker>
<DeleteMarker><Key>a%20b</Key><VersionId>m3</VersionId><IsLatest>true</IsLatest><LastModified>2024-05-01T10:20:30.000Z</LastModified><Owner><ID>o</ID></Owner></DeleteMarker>
<Version><Key>a%20b</Key><VersionId>v2</VersionId><IsLatest>false</IsLatest><LastModified>2024-05-01T10:20:29.000Z</LastModified><ETag>"e2"</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Version>
<CommonPrefixes><Prefix>d%2F</Prefix></CommonPrefixes>
<DeleteMarker><Key>a%20b</Key><VersionId>m1</VersionId><IsLatest>false</IsLatest></DeleteMarker>
<Version><Key>a%20b</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest><Size>3</Size></Version>
</ListVersionsResult>"#;
        let p = page(xml).unwrap();
        let got: Vec<(&str, &str, bool, bool)> = p
            .versions
            .iter()
            .map(|v| {
                (
                    v.key.as_str(),
                    v.version_id.as_str(),
                    v.is_latest,
                    v.is_delete_marker,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("a b", "m3", true, true),
                ("a b", "v2", false, false),
                ("a b", "m1", false, true),
                ("a b", "v1", false, false),
            ]
        );
        assert_eq!(p.versions[1].etag.as_deref(), Some("\"e2\""));
        assert_eq!(p.versions[1].size, 5);
        assert!(p.versions[0].last_modified.is_some());
        assert_eq!(p.versions[0].owner_id.as_deref(), Some("o"));
        assert_eq!(p.common_prefixes, vec!["d/"]);
        assert_eq!(p.delimiter.as_deref(), Some("/"));
        assert_eq!(p.next_key_marker.as_deref(), Some("a b"));
        assert_eq!(p.next_version_id_marker.as_deref(), Some("v1"));
        assert!(p.is_truncated);
    }

    #[test]
    fn empty_and_bad_listings() {
        let p = page("<ListVersionsResult><Name>b</Name><IsTruncated>false</IsTruncated></ListVersionsResult>").unwrap();
        assert!(p.versions.is_empty() && !p.is_truncated && p.next_key_marker.is_none());
        let e = page("<ListVersionsResult><Version><Key>k</Key></Version></ListVersionsResult>")
            .unwrap_err();
        assert!(e.to_string().contains("without a VersionId"), "{e}");
        let e = page("<ListVersionsResult><EncodingType>url</EncodingType><Version><Key>%zz</Key><VersionId>v</VersionId></Version></ListVersionsResult>")
            .unwrap_err();
        assert!(e.to_string().contains("percent-encoding"), "{e}");
    }

    fn truncated(key: Option<&str>, version: Option<&str>) -> ListObjectVersionsPage {
        ListObjectVersionsPage {
            is_truncated: true,
            next_key_marker: key.map(str::to_string),
            next_version_id_marker: version.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn markers_refuse_a_repeated_pair_a_missing_key_and_too_many_pages() {
        // What the stream does with a truncated page: its marker pair, then the guard.
        let step = |m: &mut Markers<(String, String)>, page: &ListObjectVersionsPage| {
            let (_, marker) = next_page(ListVersionsOptions::default(), page)?
                .ok_or_else(|| Error::protocol("not truncated"))?;
            m.advance(marker)
        };
        let mut m = version_markers(100, &ListVersionsOptions::default());
        step(&mut m, &truncated(Some("a"), Some("v2"))).unwrap();
        // Same key, another version: progress.
        step(&mut m, &truncated(Some("a"), Some("v1"))).unwrap();
        step(&mut m, &truncated(Some("b"), None)).unwrap();
        let e = step(&mut m, &truncated(Some("a"), Some("v2"))).unwrap_err();
        assert!(
            e.to_string()
                .contains("key marker \"a\" with version id marker \"v2\" a second time"),
            "{e}"
        );
        let e = step(&mut m, &truncated(None, Some("v"))).unwrap_err();
        assert!(e.to_string().contains("no NextKeyMarker"), "{e}");
        let start = ListVersionsOptions::default().marker("k", Some("v".into()));
        let mut m = version_markers(100, &start);
        assert!(
            step(&mut m, &truncated(Some("k"), Some("v"))).is_err(),
            "the start counts as seen"
        );
        let mut m = version_markers(2, &ListVersionsOptions::default());
        step(&mut m, &truncated(Some("a"), None)).unwrap();
        let e = step(&mut m, &truncated(Some("b"), None)).unwrap_err();
        assert!(e.to_string().contains("after 2 pages"), "{e}");
    }

    #[test]
    fn status_parsing() {
        assert_eq!(parse_status(b"<VersioningConfiguration/>").unwrap(), None);
        assert_eq!(
            parse_status(
                b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
            )
            .unwrap(),
            Some(VersioningStatus::Enabled)
        );
        assert_eq!(
            parse_status(b"<VersioningConfiguration>\n  <Status>Suspended</Status>\n</VersioningConfiguration>")
                .unwrap(),
            Some(VersioningStatus::Suspended)
        );
        assert!(parse_status(
            b"<VersioningConfiguration><Status>Off</Status></VersioningConfiguration>"
        )
        .is_err());
    }

    #[test]
    fn requests_are_checked_before_sending() {
        let endpoint =
            crate::cos::Endpoint::for_region(&crate::cos::Region::parse("ap-guangzhou").unwrap());
        let bucket = crate::cos::BucketName::parse("b-1250000000").unwrap();
        let t = Target {
            endpoint: &endpoint,
            bucket: &bucket,
        };
        let r = list_versions_request(
            t,
            &ListVersionsOptions::default()
                .prefix("a/")
                .marker("a/k", Some("v 1".into()))
                .max_keys(2),
        )
        .unwrap();
        let has = |k: &str, v: &str| r.params.iter().any(|(a, b)| a == k && b == v);
        assert!(has("versions", "") && has("key-marker", "a/k") && has("version-id-marker", "v 1"));
        assert!(has("max-keys", "2") && has("prefix", "a/") && has("encoding-type", "url"));
        let e = list_versions_request(
            t,
            &ListVersionsOptions {
                version_id_marker: Some("v".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("needs a key marker"), "{e}");
        assert!(list_versions_request(t, &ListVersionsOptions::default().max_keys(0)).is_err());
        assert!(list_versions_request(t, &ListVersionsOptions::default().max_keys(1001)).is_err());
        let r = put_versioning_request(t, VersioningStatus::Suspended).unwrap();
        assert_eq!(r.method, Method::PUT);
        assert!(r.headers.contains_key("content-md5"));
        match &r.body {
            RequestBody::Bytes(b) => assert_eq!(
                &b[..],
                b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"
            ),
            _ => panic!("the body is in memory"),
        }
    }
}
