//! ListBuckets (GET Service): the buckets of the account the credentials
//! belong to, optionally filtered by region or tag, a page at a time.
//!
//! The request goes to `service.cos.myqcloud.com` for the public endpoints
//! (see [`Endpoint`](crate::cos::Endpoint)), whatever the client's region; the
//! region filter is a query parameter.

use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, Method};
use serde::Deserialize;

use crate::cos::headers::header_value;
use crate::cos::ops::acl::Owner;
use crate::cos::request::USER_AGENT;
use crate::cos::xml::{self, OwnerXml};
use crate::cos::{Client, Endpoint, Error, Region};
use crate::instrument::OperationInfo;
use crate::transport::{PreparedRequest, RequestBody};

/// Most buckets one ListBuckets page may hold.
pub const MAX_LIST_BUCKETS_KEYS: u32 = 2000;

/// Filters and paging of [`Client::list_buckets_with`].
///
/// ```
/// use coscls::cos::ListBucketsOptions;
/// let opts = ListBucketsOptions::default().region("ap-beijing").tag("team", "storage").max_keys(100);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListBucketsOptions {
    region: Option<String>,
    tag: Option<(String, String)>,
    marker: Option<String>,
    max_keys: Option<u32>,
}

impl ListBucketsOptions {
    /// Only buckets in this region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Only buckets carrying this tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tag = Some((key.into(), value.into()));
        self
    }

    /// Start after this bucket name (the `next_marker` of the previous page).
    pub fn marker(mut self, marker: impl Into<String>) -> Self {
        self.marker = Some(marker.into());
        self
    }

    /// At most this many buckets (1 to 2000).
    pub fn max_keys(mut self, n: u32) -> Self {
        self.max_keys = Some(n);
        self
    }

    fn params(&self) -> Result<Vec<(String, String)>, Error> {
        let mut p = Vec::new();
        if let Some(r) = &self.region {
            Region::parse(r)?;
            p.push(("region".to_string(), r.clone()));
        }
        if let Some((k, v)) = &self.tag {
            crate::cos::validate_tags(&[(k, v)], 1)?;
            p.push(("tagkey".to_string(), k.clone()));
            p.push(("tagvalue".to_string(), v.clone()));
        }
        if let Some(m) = &self.marker {
            if m.chars().any(char::is_control) {
                return Err(Error::invalid_input(
                    "marker",
                    m,
                    "contains control characters",
                ));
            }
            p.push(("marker".to_string(), m.clone()));
        }
        if let Some(n) = self.max_keys {
            if !(1..=MAX_LIST_BUCKETS_KEYS).contains(&n) {
                return Err(Error::invalid_input(
                    "max_keys",
                    &n.to_string(),
                    "must be between 1 and 2000",
                ));
            }
            p.push(("max-keys".to_string(), n.to_string()));
        }
        Ok(p)
    }
}

/// One bucket of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BucketSummary {
    /// `<name>-<appid>`.
    pub name: String,
    /// The region (`Location`).
    pub region: Option<String>,
    /// When the bucket was created.
    pub creation_date: Option<SystemTime>,
    /// `BucketType` (`cos`, `ofs`), when COS says.
    pub bucket_type: Option<String>,
}

/// One page of ListBuckets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListBucketsOutput {
    /// The account.
    pub owner: Owner,
    /// The buckets, by name.
    pub buckets: Vec<BucketSummary>,
    /// Whether more pages follow.
    pub is_truncated: bool,
    /// The marker of the next page, when truncated.
    pub next_marker: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListAllMyBucketsResult {
    #[serde(rename = "Owner")]
    owner: Option<OwnerXml>,
    #[serde(rename = "Buckets")]
    buckets: BucketsXml,
    #[serde(rename = "IsTruncated")]
    is_truncated: bool,
    #[serde(rename = "NextMarker")]
    next_marker: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BucketsXml {
    #[serde(rename = "Bucket")]
    buckets: Vec<BucketXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BucketXml {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Location")]
    location: Option<String>,
    #[serde(rename = "CreationDate")]
    creation_date: Option<String>,
    #[serde(rename = "BucketType")]
    bucket_type: Option<String>,
}

fn parse_list_buckets(body: &[u8]) -> Result<ListBucketsOutput, Error> {
    let doc: ListAllMyBucketsResult = xml::parse("ListBuckets", body)?;
    let owner = doc.owner.unwrap_or_default();
    Ok(ListBucketsOutput {
        owner: Owner {
            id: owner.id.unwrap_or_default(),
            display_name: owner.display_name,
        },
        buckets: doc
            .buckets
            .buckets
            .into_iter()
            .map(|b| BucketSummary {
                name: b.name,
                region: b.location.filter(|l| !l.is_empty()),
                creation_date: b.creation_date.as_deref().and_then(xml::parse_date),
                bucket_type: b.bucket_type.filter(|t| !t.is_empty()),
            })
            .collect(),
        is_truncated: doc.is_truncated,
        next_marker: doc.next_marker.filter(|m| !m.is_empty()),
    })
}

/// GET Service: `GET /` on the service host with the filters as parameters.
pub(crate) fn list_buckets(
    endpoint: &Endpoint,
    opts: &ListBucketsOptions,
) -> Result<PreparedRequest, Error> {
    let params = opts.params()?;
    let borrowed: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let resolved = endpoint.service_request_url(&borrowed);
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::HOST,
        header_value("endpoint", &resolved.host)?,
    );
    headers.insert(
        http::header::USER_AGENT,
        HeaderValue::from_static(USER_AGENT),
    );
    Ok(PreparedRequest {
        method: Method::GET,
        url: resolved.url,
        signed_path: resolved.signed_path,
        params,
        headers,
        body: RequestBody::Empty,
    })
}

impl Client {
    /// All buckets of the account, following the pages.
    ///
    /// # Errors
    /// Credential and service errors (`AccessDenied` when the key may not
    /// list buckets).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// for b in client.list_buckets().await?.buckets {
    ///     println!("{} in {:?}", b.name, b.region);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_buckets(&self) -> Result<ListBucketsOutput, Error> {
        let mut opts = ListBucketsOptions::default();
        let mut all = self.list_buckets_with(&opts).await?;
        while all.is_truncated {
            // A truncated page without a new marker would repeat forever.
            let Some(marker) = all
                .next_marker
                .take()
                .filter(|m| Some(m) != opts.marker.as_ref())
            else {
                return Err(Error::protocol(
                    "ListBuckets: a truncated page without a new NextMarker",
                ));
            };
            opts = opts.marker(marker);
            let page = self.list_buckets_with(&opts).await?;
            all.buckets.extend(page.buckets);
            all.is_truncated = page.is_truncated;
            all.next_marker = page.next_marker;
        }
        Ok(all)
    }

    /// One page of buckets, filtered by region or tag.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed region, tag, marker or
    /// `max_keys` outside 1..=2000, before any request; service errors
    /// otherwise.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::ListBucketsOptions;
    /// let page = client.list_buckets_with(&ListBucketsOptions::default().region("ap-beijing")).await?;
    /// println!("{} buckets in Beijing", page.buckets.len());
    /// # Ok(()) }
    /// ```
    pub async fn list_buckets_with(
        &self,
        opts: &ListBucketsOptions,
    ) -> Result<ListBucketsOutput, Error> {
        // GET Service names no bucket: the span and labels carry none.
        let info = OperationInfo {
            bucket: None,
            ..OperationInfo::cos("ListBuckets", self.inner.region.as_str(), "")
        };
        self.operation(info, async {
            let req = list_buckets(&self.inner.endpoint, opts)?;
            let (_, body) = self.send_for_body(req).await?;
            parse_list_buckets(&body)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goes_to_the_service_host() {
        let ep = Endpoint::for_region(&Region::parse("ap-guangzhou").unwrap());
        let r = list_buckets(&ep, &ListBucketsOptions::default()).unwrap();
        assert_eq!(r.url, "https://service.cos.myqcloud.com/");
        assert_eq!(r.headers["host"], "service.cos.myqcloud.com");
        assert_eq!(r.signed_path, "/");
        let r = list_buckets(
            &Endpoint::accelerate(),
            &ListBucketsOptions::default()
                .region("ap-beijing")
                .max_keys(5),
        )
        .unwrap();
        assert_eq!(
            r.url,
            "https://service.cos.myqcloud.com/?region=ap-beijing&max-keys=5"
        );
        let local = Endpoint::custom("http://127.0.0.1:9000").unwrap();
        let r = list_buckets(&local, &ListBucketsOptions::default()).unwrap();
        assert_eq!(r.url, "http://127.0.0.1:9000/");
        assert_eq!(r.headers["host"], "127.0.0.1:9000");
        let private = Endpoint::custom("https://cos.ap-x.example.internal").unwrap();
        let r = list_buckets(&private, &ListBucketsOptions::default()).unwrap();
        assert_eq!(r.url, "https://cos.ap-x.example.internal/");
    }

    #[test]
    fn bad_filters_fail_locally() {
        let ep = Endpoint::custom("http://127.0.0.1:9000").unwrap();
        for (opts, want) in [
            (ListBucketsOptions::default().region("AP X"), "region"),
            (ListBucketsOptions::default().max_keys(0), "max_keys"),
            (ListBucketsOptions::default().max_keys(2001), "max_keys"),
            (ListBucketsOptions::default().tag("", "v"), "tag key"),
            (ListBucketsOptions::default().marker("a\nb"), "marker"),
        ] {
            let e = list_buckets(&ep, &opts).unwrap_err();
            assert!(e.to_string().contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn parses_the_documented_answer() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListAllMyBucketsResult>
  <Owner><ID>qcs::cam::uin/100000000001:uin/100000000001</ID><DisplayName>100000000001</DisplayName></Owner>
  <Buckets>
    <Bucket><Name>examplebucket1-1250000000</Name><Location>ap-beijing</Location><CreationDate>2019-05-24T11:20:10Z</CreationDate><BucketType>cos</BucketType></Bucket>
    <Bucket><Name>examplebucket2-1250000000</Name><Location>ap-guangzhou</Location><CreationDate>2019-05-24T11:22:10Z</CreationDate></Bucket>
  </Buckets>
  <IsTruncated>true</IsTruncated><NextMarker>examplebucket2-1250000000</NextMarker>
</ListAllMyBucketsResult>"#;
        let out = parse_list_buckets(body).unwrap();
        assert_eq!(out.owner.id, "qcs::cam::uin/100000000001:uin/100000000001");
        assert_eq!(out.buckets.len(), 2);
        assert_eq!(out.buckets[0].region.as_deref(), Some("ap-beijing"));
        assert_eq!(out.buckets[0].bucket_type.as_deref(), Some("cos"));
        assert_eq!(
            out.buckets[1]
                .creation_date
                .unwrap()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            1_558_696_930
        );
        assert!(out.is_truncated);
        assert_eq!(
            out.next_marker.as_deref(),
            Some("examplebucket2-1250000000")
        );
        let empty =
            parse_list_buckets(b"<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>")
                .unwrap();
        assert!(empty.buckets.is_empty());
    }
}
