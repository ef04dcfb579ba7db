//! ListObjects (GET Bucket, v1 with markers): one page, or a stream over all.

use std::time::SystemTime;

use futures_util::Stream;

use crate::auth::percent_decode;
use crate::cos::paging::{self, Markers, NextPage};
use crate::cos::request::Target;
use crate::cos::xml::{self, CommonPrefixXml, OwnerXml};
use crate::cos::{Client, Error};
use crate::transport::{PreparedRequest, RequestBody};
use http::{HeaderMap, Method};
use serde::Deserialize;

/// Options of one ListObjects page.
///
/// ```
/// use coscls::cos::ListOptions;
/// let opts = ListOptions::default().prefix("photos/").delimiter("/");
/// assert_eq!(opts.prefix.as_deref(), Some("photos/"));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ListOptions {
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Group keys sharing a prefix up to this delimiter into `common_prefixes`.
    pub delimiter: Option<String>,
    /// Start after this key.
    pub marker: Option<String>,
    /// Keys per page, 1 to 1000 (COS default 1000).
    pub max_keys: Option<u32>,
}

impl ListOptions {
    /// Sets the prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Sets the delimiter.
    pub fn delimiter(mut self, delimiter: impl Into<String>) -> Self {
        self.delimiter = Some(delimiter.into());
        self
    }

    /// Starts after this key (the `next_marker` of the previous page).
    pub fn marker(mut self, key: impl Into<String>) -> Self {
        self.marker = Some(key.into());
        self
    }

    /// Sets the page size.
    pub fn max_keys(mut self, n: u32) -> Self {
        self.max_keys = Some(n);
        self
    }
}

/// One object in a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectSummary {
    /// The key (decoded).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag, quoted.
    pub etag: Option<String>,
    /// Last modification time.
    pub last_modified: Option<SystemTime>,
    /// Storage class.
    pub storage_class: Option<String>,
    /// Owner id.
    pub owner_id: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListObjectsPage {
    /// Bucket name.
    pub bucket: String,
    /// The prefix asked for.
    pub prefix: Option<String>,
    /// The delimiter asked for.
    pub delimiter: Option<String>,
    /// Objects, in key order.
    pub objects: Vec<ObjectSummary>,
    /// Key prefixes rolled up at the delimiter ("directories").
    pub common_prefixes: Vec<String>,
    /// Whether more pages follow.
    pub is_truncated: bool,
    /// The marker of the next page, when truncated.
    pub next_marker: Option<String>,
}

fn decode(what: &str, value: String, url_encoded: bool) -> Result<String, Error> {
    if !url_encoded {
        return Ok(value);
    }
    percent_decode(&value, false).ok_or_else(|| {
        Error::protocol(format!(
            "ListObjects {what} {value:?} is not valid percent-encoding"
        ))
    })
}

fn decode_opt(
    what: &str,
    value: Option<String>,
    url_encoded: bool,
) -> Result<Option<String>, Error> {
    value.map(|v| decode(what, v, url_encoded)).transpose()
}

/// Pages `list_objects_stream` reads at most: a billion keys at COS's 1000
/// per page.
pub(crate) const MAX_LIST_OBJECTS_PAGES: u64 = 1_000_000;

impl ListObjectsPage {
    pub(crate) fn from_xml(r: ListBucketResult) -> Result<Self, Error> {
        let url = r
            .encoding_type
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case("url"));
        let objects = r
            .contents
            .into_iter()
            .map(|c| {
                Ok(ObjectSummary {
                    key: decode("key", c.key, url)?,
                    size: c.size,
                    etag: c.etag,
                    last_modified: c.last_modified.as_deref().and_then(xml::parse_date),
                    storage_class: c.storage_class,
                    owner_id: c.owner.and_then(|o| o.id),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let common_prefixes = r
            .common_prefixes
            .into_iter()
            .map(|p| decode("prefix", p.prefix, url))
            .collect::<Result<Vec<_>, Error>>()?;
        let mut next_marker =
            decode_opt("next marker", r.next_marker, url)?.filter(|m| !m.is_empty());
        if r.is_truncated && next_marker.is_none() {
            // Without a delimiter COS may omit NextMarker: continue after the
            // greatest key or prefix of this page.
            next_marker = objects
                .iter()
                .map(|o| &o.key)
                .chain(common_prefixes.iter())
                .max()
                .cloned();
        }
        Ok(ListObjectsPage {
            bucket: r.name,
            prefix: decode_opt("prefix", r.prefix, url)?.filter(|p| !p.is_empty()),
            delimiter: decode_opt("delimiter", r.delimiter, url)?.filter(|d| !d.is_empty()),
            objects,
            common_prefixes,
            is_truncated: r.is_truncated,
            next_marker,
        })
    }
}

impl Client {
    /// One page of keys (up to `max_keys`, 1000 by default).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::ListOptions;
    /// let page = client
    ///     .list_objects("examplebucket-1250000000", &ListOptions::default().prefix("photos/").delimiter("/"))
    ///     .await?;
    /// for dir in &page.common_prefixes { println!("{dir}"); }
    /// for o in &page.objects { println!("{} {}", o.key, o.size); }
    /// # Ok(()) }
    /// ```
    pub async fn list_objects(
        &self,
        bucket: &str,
        opts: &ListOptions,
    ) -> Result<ListObjectsPage, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("ListObjects", &bucket), async {
            let req = list_objects(self.target(&bucket), opts)?;
            let (_, body) = self.send_for_body(req).await?;
            ListObjectsPage::from_xml(xml::parse("ListObjects", &body)?)
        })
        .await
    }

    /// Every page of a listing, fetched one after another as the stream is
    /// polled (so memory holds one page, plus the markers seen so far: one
    /// key per page). Starts at `opts.marker`. A server that repeats a
    /// marker, or is still truncated after a million pages, ends the stream
    /// with a protocol error naming the marker.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use futures_util::TryStreamExt;
    /// use coscls::cos::ListOptions;
    /// let pages = client.list_objects_stream("examplebucket-1250000000", ListOptions::default().prefix("logs/"));
    /// let total: u64 = pages
    ///     .try_fold(0, |n, page| async move { Ok(n + page.objects.iter().map(|o| o.size).sum::<u64>()) })
    ///     .await?;
    /// println!("{total} bytes under logs/");
    /// # Ok(()) }
    /// ```
    pub fn list_objects_stream(
        &self,
        bucket: &str,
        opts: ListOptions,
    ) -> impl Stream<Item = Result<ListObjectsPage, Error>> + Send + 'static {
        let client = self.clone();
        let bucket = bucket.to_string();
        let markers = Markers::new(
            "ListObjects",
            MAX_LIST_OBJECTS_PAGES,
            opts.marker.as_deref(),
        );
        let fetch = move |opts: &ListOptions| {
            let (client, bucket, opts) = (client.clone(), bucket.clone(), opts.clone());
            async move { client.list_objects(&bucket, &opts).await }
        };
        paging::pages(opts, markers, fetch, next_page)
    }
}

/// The options of the page after `page`, and its marker; `None` after the
/// last page.
fn next_page(opts: ListOptions, page: &ListObjectsPage) -> NextPage<ListOptions, String> {
    if !page.is_truncated {
        return Ok(None);
    }
    match page.next_marker.as_deref() {
        Some(m) if !m.is_empty() => Ok(Some((
            ListOptions {
                marker: Some(m.to_string()),
                ..opts
            },
            m.to_string(),
        ))),
        _ => Err(paging::no_next_marker("ListObjects")),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ListBucketResult {
    #[serde(rename = "Name")]
    pub(crate) name: String,
    #[serde(
        rename = "EncodingType",
        alias = "Encoding-type",
        alias = "Encoding-Type"
    )]
    pub(crate) encoding_type: Option<String>,
    #[serde(rename = "Prefix")]
    pub(crate) prefix: Option<String>,
    #[serde(rename = "Marker")]
    pub(crate) marker: Option<String>,
    #[serde(rename = "MaxKeys")]
    pub(crate) max_keys: Option<u32>,
    #[serde(rename = "Delimiter")]
    pub(crate) delimiter: Option<String>,
    #[serde(rename = "IsTruncated")]
    pub(crate) is_truncated: bool,
    #[serde(rename = "NextMarker")]
    pub(crate) next_marker: Option<String>,
    #[serde(rename = "Contents")]
    pub(crate) contents: Vec<ContentsXml>,
    #[serde(rename = "CommonPrefixes")]
    pub(crate) common_prefixes: Vec<CommonPrefixXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ContentsXml {
    #[serde(rename = "Key")]
    pub(crate) key: String,
    #[serde(rename = "LastModified")]
    pub(crate) last_modified: Option<String>,
    #[serde(rename = "ETag")]
    pub(crate) etag: Option<String>,
    #[serde(rename = "Size")]
    pub(crate) size: u64,
    #[serde(rename = "StorageClass")]
    pub(crate) storage_class: Option<String>,
    #[serde(rename = "Owner")]
    pub(crate) owner: Option<OwnerXml>,
}

/// ListObjects (GET Bucket v1) with `encoding-type=url`, so any key survives the XML.
pub(crate) fn list_objects(t: Target<'_>, opts: &ListOptions) -> Result<PreparedRequest, Error> {
    let markers = opts.marker.iter().map(|m| ("marker".into(), m.clone()));
    let p = listing_query(
        None,
        opts.delimiter.as_deref(),
        markers.collect(),
        opts.max_keys,
        opts.prefix.as_deref(),
    )?;
    t.build(Method::GET, "", p, HeaderMap::new(), RequestBody::Empty)
}

/// The query of one page of a key listing (ListObjects, ListObjectVersions),
/// in this order: the sub-resource `lead` (e.g. `versions`), `delimiter`,
/// `encoding-type=url`, the listing's `markers`, `max-keys` (checked: 1 to
/// 1000) and `prefix`.
pub(crate) fn listing_query(
    lead: Option<&str>,
    delimiter: Option<&str>,
    markers: Vec<(String, String)>,
    max_keys: Option<u32>,
    prefix: Option<&str>,
) -> Result<Vec<(String, String)>, Error> {
    let mut p: Vec<(String, String)> = Vec::new();
    if let Some(lead) = lead {
        p.push((lead.into(), String::new()));
    }
    if let Some(d) = delimiter {
        p.push(("delimiter".into(), d.into()));
    }
    p.push(("encoding-type".into(), "url".into()));
    p.extend(markers);
    if let Some(n) = max_keys {
        if !(1..=1000).contains(&n) {
            return Err(Error::invalid_input(
                "max keys",
                &n.to_string(),
                "must be between 1 and 1000",
            ));
        }
        p.push(("max-keys".into(), n.to_string()));
    }
    if let Some(prefix) = prefix {
        p.push(("prefix".into(), prefix.into()));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::request::testing::{param, target_parts};
    use crate::cos::request::Target;
    use crate::cos::xml::parse;

    #[test]
    fn url_encoded_names_are_decoded() {
        let xml = "<ListBucketResult><Name>b-1</Name><EncodingType>url</EncodingType><Prefix>a%20b%2F</Prefix>\
            <IsTruncated>true</IsTruncated><Contents><Key>a%20b%2F%E6%96%87+%25.txt</Key><Size>3</Size></Contents>\
            <CommonPrefixes><Prefix>a%20b%2Fz%2F</Prefix></CommonPrefixes></ListBucketResult>";
        let page = ListObjectsPage::from_xml(xml::parse("list", xml.as_bytes()).unwrap()).unwrap();
        assert_eq!(page.objects[0].key, "a b/文+%.txt");
        assert_eq!(page.common_prefixes, vec!["a b/z/"]);
        assert_eq!(page.prefix.as_deref(), Some("a b/"));
        // The greatest of keys and prefixes in UTF-8 byte order: '文' sorts after 'z'.
        assert_eq!(page.next_marker.as_deref(), Some("a b/文+%.txt"));
    }

    #[test]
    fn bad_encoding_is_a_protocol_error() {
        let xml = "<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>%zz</Key></Contents></ListBucketResult>";
        assert!(ListObjectsPage::from_xml(xml::parse("list", xml.as_bytes()).unwrap()).is_err());
    }

    #[test]
    fn raw_names_without_encoding_type() {
        let xml = "<ListBucketResult><Contents><Key>100%</Key></Contents><NextMarker></NextMarker></ListBucketResult>";
        let page = ListObjectsPage::from_xml(xml::parse("list", xml.as_bytes()).unwrap()).unwrap();
        assert_eq!(page.objects[0].key, "100%");
        assert_eq!(page.next_marker, None);
    }

    #[test]
    fn list_objects_params() {
        let (ep, b) = target_parts();
        let t = Target {
            endpoint: &ep,
            bucket: &b,
        };
        let opts = ListOptions::default()
            .prefix("photos/2024 trip+x/")
            .delimiter("/")
            .max_keys(10);
        let r = list_objects(t, &opts).unwrap();
        assert!(
            r.url.contains("prefix=photos%2F2024%20trip%2Bx%2F"),
            "{}",
            r.url
        );
        assert_eq!(param(&r, "encoding-type"), Some("url"));
        assert_eq!(param(&r, "max-keys"), Some("10"));
        assert!(list_objects(t, &ListOptions::default().max_keys(0)).is_err());
        assert!(list_objects(t, &ListOptions::default().max_keys(1001)).is_err());
    }

    #[test]
    fn list_bucket_result_with_interleaved_lists() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult>
  <Name>examplebucket-1250000000</Name>
  <EncodingType>url</EncodingType>
  <Prefix>photos%2F</Prefix>
  <Marker></Marker>
  <MaxKeys>1000</MaxKeys>
  <Delimiter>%2F</Delimiter>
  <IsTruncated>true</IsTruncated>
  <NextMarker>photos%2Fb%20c.jpg</NextMarker>
  <Contents>
    <Key>photos%2Fa.jpg</Key>
    <LastModified>2024-05-01T10:20:30.000Z</LastModified>
    <ETag>&quot;ee8de918d05640145b18f70f4c3aa602&quot;</ETag>
    <Size>1024</Size>
    <Owner><ID>1250000000</ID><DisplayName>1250000000</DisplayName></Owner>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <CommonPrefixes><Prefix>photos%2F2024%2F</Prefix></CommonPrefixes>
  <Contents>
    <Key>photos%2Fb%20c.jpg</Key>
    <ETag>"x"</ETag>
    <Size>7</Size>
  </Contents>
  <CommonPrefixes><Prefix>photos%2F2025%2F</Prefix></CommonPrefixes>
</ListBucketResult>"#;
        let r: ListBucketResult = parse("list", xml.as_bytes()).unwrap();
        assert!(r.is_truncated);
        assert_eq!(r.contents.len(), 2);
        assert_eq!(r.common_prefixes.len(), 2);
        assert_eq!(
            r.contents[0].etag.as_deref(),
            Some("\"ee8de918d05640145b18f70f4c3aa602\"")
        );
        assert_eq!(r.contents[0].size, 1024);
        assert_eq!(r.next_marker.as_deref(), Some("photos%2Fb%20c.jpg"));
        assert_eq!(r.encoding_type.as_deref(), Some("url"));
    }

    #[test]
    fn whitespace_in_keys_is_kept() {
        let xml = "<ListBucketResult><Contents><Key> a b </Key><Size>1</Size></Contents></ListBucketResult>";
        let r: ListBucketResult = parse("list", xml.as_bytes()).unwrap();
        assert_eq!(r.contents[0].key, " a b ");
    }

    #[test]
    fn empty_list_result() {
        let xml =
            "<ListBucketResult><Name>b-1</Name><IsTruncated>false</IsTruncated></ListBucketResult>";
        let r: ListBucketResult = parse("list", xml.as_bytes()).unwrap();
        assert!(r.contents.is_empty() && r.common_prefixes.is_empty() && !r.is_truncated);
    }

    #[test]
    fn bad_xml_is_a_protocol_error() {
        let e = parse::<ListBucketResult>(
            "ListObjects",
            b"<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
        )
        .unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e}");
        assert!(parse::<ListBucketResult>("ListObjects", &[0xff, 0xfe]).is_err());
    }
}
