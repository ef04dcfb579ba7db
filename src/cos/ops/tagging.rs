//! Object and bucket tagging: PutObjectTagging, GetObjectTagging,
//! DeleteObjectTagging and PutBucketTagging, GetBucketTagging,
//! DeleteBucketTagging (`?tagging`).
//!
//! Tags are `(key, value)` pairs. COS limits them (checked here before any
//! request, so a bad tag is an [`Error::InvalidInput`] naming it): at most
//! [`MAX_OBJECT_TAGS`] per object and [`MAX_BUCKET_TAGS`] per bucket, keys of
//! 1 to [`MAX_TAG_KEY_CHARS`] characters, values of 0 to
//! [`MAX_TAG_VALUE_CHARS`], made of letters, digits, spaces and `+ - = . _ : / @`,
//! no key twice, and no key in the reserved `qcs:` namespace.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use quick_xml::escape::escape;
use serde::Deserialize;

use crate::cos::headers::content_md5;
use crate::cos::request::Target;
use crate::cos::xml;
use crate::cos::{Client, Error};
use crate::transport::{PreparedRequest, RequestBody};

/// Most tags one object may carry.
pub const MAX_OBJECT_TAGS: usize = 10;
/// Most tags one bucket may carry.
pub const MAX_BUCKET_TAGS: usize = 50;
/// Longest tag key, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 128;
/// Longest tag value, in characters.
pub const MAX_TAG_VALUE_CHARS: usize = 256;

/// Checks a tag set against the COS rules: at most `max` tags, keys of 1 to
/// 128 characters and values of up to 256, only letters, digits, spaces and
/// `+ - = . _ : / @`, no duplicate key, no key starting with `qcs:`.
///
/// ```
/// use coscls::cos::{validate_tags, MAX_OBJECT_TAGS};
/// assert!(validate_tags(&[("team", "storage"), ("env", "")], MAX_OBJECT_TAGS).is_ok());
/// assert!(validate_tags(&[("", "x")], MAX_OBJECT_TAGS).is_err());
/// assert!(validate_tags(&[("a", "1"), ("a", "2")], MAX_OBJECT_TAGS).is_err());
/// assert!(validate_tags(&[("price", "5$")], MAX_OBJECT_TAGS).is_err());
/// ```
pub fn validate_tags<K: AsRef<str>, V: AsRef<str>>(
    tags: &[(K, V)],
    max: usize,
) -> Result<(), Error> {
    if tags.len() > max {
        return Err(Error::invalid_input(
            "tags",
            &format!("{} tags", tags.len()),
            &format!("at most {max} tags are allowed"),
        ));
    }
    let allowed = |c: char| c.is_alphanumeric() || c == ' ' || "+-=._:/@".contains(c);
    for (i, (key, value)) in tags.iter().enumerate() {
        let (key, value) = (key.as_ref(), value.as_ref());
        let keys = key.chars().count();
        if keys == 0 || keys > MAX_TAG_KEY_CHARS {
            return Err(Error::invalid_input(
                "tag key",
                key,
                &format!("must be 1 to {MAX_TAG_KEY_CHARS} characters"),
            ));
        }
        if value.chars().count() > MAX_TAG_VALUE_CHARS {
            return Err(Error::invalid_input(
                "tag value",
                value,
                &format!("must be at most {MAX_TAG_VALUE_CHARS} characters"),
            ));
        }
        if let Some(c) = key.chars().find(|c| !allowed(*c)) {
            return Err(Error::invalid_input(
                "tag key",
                key,
                &format!(
                    "contains {c:?}; only letters, digits, spaces and + - = . _ : / @ are allowed"
                ),
            ));
        }
        if let Some(c) = value.chars().find(|c| !allowed(*c)) {
            return Err(Error::invalid_input(
                "tag value",
                value,
                &format!(
                    "contains {c:?}; only letters, digits, spaces and + - = . _ : / @ are allowed"
                ),
            ));
        }
        if key.to_ascii_lowercase().starts_with("qcs:") {
            return Err(Error::invalid_input(
                "tag key",
                key,
                "the qcs: prefix is reserved by Tencent Cloud",
            ));
        }
        if tags[..i].iter().any(|(k, _)| k.as_ref() == key) {
            return Err(Error::invalid_input(
                "tag key",
                key,
                "appears twice; each key may be used once",
            ));
        }
    }
    Ok(())
}

/// The `<Tagging>` body of a PUT.
fn tagging_body<K: AsRef<str>, V: AsRef<str>>(tags: &[(K, V)]) -> String {
    let mut out = String::from("<Tagging><TagSet>");
    for (k, v) in tags {
        out.push_str("<Tag><Key>");
        out.push_str(&escape(k.as_ref()));
        out.push_str("</Key><Value>");
        out.push_str(&escape(v.as_ref()));
        out.push_str("</Value></Tag>");
    }
    out.push_str("</TagSet></Tagging>");
    out
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TaggingXml {
    #[serde(rename = "TagSet")]
    tag_set: TagSetXml,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TagSetXml {
    #[serde(rename = "Tag")]
    tags: Vec<TagXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TagXml {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value")]
    value: String,
}

/// Parses a `<Tagging>` answer into pairs, in the server's order.
fn parse_tagging(what: &str, body: &[u8]) -> Result<Vec<(String, String)>, Error> {
    let doc: TaggingXml = xml::parse(what, body)?;
    Ok(doc
        .tag_set
        .tags
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect())
}

fn tagging_params(version_id: Option<&str>) -> Result<Vec<(String, String)>, Error> {
    let mut params = vec![("tagging".to_string(), String::new())];
    if let Some(v) = version_id {
        if v.is_empty() || v.chars().any(char::is_control) {
            return Err(Error::invalid_input(
                "version id",
                v,
                "is empty or contains control characters",
            ));
        }
        params.push(("versionId".to_string(), v.to_string()));
    }
    Ok(params)
}

/// The headers of an XML PUT body: its type and its MD5.
pub(crate) fn xml_body_headers(body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert("content-md5", content_md5(body));
    headers
}

/// PutObjectTagging / PutBucketTagging (`key` empty): `PUT /<key>?tagging`.
pub(crate) fn put_tagging<K: AsRef<str>, V: AsRef<str>>(
    t: Target<'_>,
    key: &str,
    version_id: Option<&str>,
    tags: &[(K, V)],
) -> Result<PreparedRequest, Error> {
    let max = if key.is_empty() {
        MAX_BUCKET_TAGS
    } else {
        MAX_OBJECT_TAGS
    };
    validate_tags(tags, max)?;
    let params = tagging_params(version_id)?;
    let body = Bytes::from(tagging_body(tags));
    let headers = xml_body_headers(&body);
    if key.is_empty() {
        t.build(Method::PUT, "", params, headers, RequestBody::Bytes(body))
    } else {
        t.object(Method::PUT, key, params, headers, RequestBody::Bytes(body))
    }
}

/// Get or delete the tags of an object, or of the bucket when `key` is empty.
pub(crate) fn tagging_request(
    t: Target<'_>,
    method: Method,
    key: &str,
    version_id: Option<&str>,
) -> Result<PreparedRequest, Error> {
    let params = tagging_params(version_id)?;
    if key.is_empty() {
        t.build(method, "", params, HeaderMap::new(), RequestBody::Empty)
    } else {
        t.object(method, key, params, HeaderMap::new(), RequestBody::Empty)
    }
}

impl Client {
    /// Replaces the tags of an object (all of them: tags not listed are
    /// removed), or of one version of it with `version_id`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad bucket, key or tag (see
    /// [`validate_tags`]; at most [`MAX_OBJECT_TAGS`]), before any request;
    /// a service error such as `NoSuchKey` otherwise.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let bucket = "examplebucket-1250000000";
    /// client
    ///     .put_object_tagging(bucket, "docs/report.pdf", None, &[("team", "finance"), ("year", "2024")])
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_object_tagging<K: AsRef<str>, V: AsRef<str>>(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: &[(K, V)],
    ) -> Result<(), Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(
            self.info("PutObjectTagging", &bucket).with_key(key),
            async {
                let req = put_tagging(self.target(&bucket), key, version_id, tags)?;
                self.send(req).await?;
                Ok(())
            },
        )
        .await
    }

    /// The tags of an object (or of one version of it), including those
    /// given at upload time with [`PutOptions::tags`](crate::cos::PutOptions::tags);
    /// an object without tags has an empty list.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad bucket or key; `NoSuchKey` when the
    /// object does not exist.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// for (key, value) in client.get_object_tagging("examplebucket-1250000000", "docs/report.pdf", None).await? {
    ///     println!("{key} = {value}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Vec<(String, String)>, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(
            self.info("GetObjectTagging", &bucket).with_key(key),
            async {
                let req = tagging_request(self.target(&bucket), Method::GET, key, version_id)?;
                let (_, body) = self.send_for_body(req).await?;
                parse_tagging("GetObjectTagging", &body)
            },
        )
        .await
    }

    /// Removes all tags of an object (or of one version of it).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad bucket or key; `NoSuchKey` when the
    /// object does not exist.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// client.delete_object_tagging("examplebucket-1250000000", "docs/report.pdf", None).await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(), Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(
            self.info("DeleteObjectTagging", &bucket).with_key(key),
            async {
                let req = tagging_request(self.target(&bucket), Method::DELETE, key, version_id)?;
                self.send(req).await?;
                Ok(())
            },
        )
        .await
    }

    /// Replaces the tags of a bucket (at most [`MAX_BUCKET_TAGS`]).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad bucket name or tag, before any
    /// request; `NoSuchBucket` when the bucket does not exist.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// client.put_bucket_tagging("examplebucket-1250000000", &[("cost-center", "42")]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_bucket_tagging<K: AsRef<str>, V: AsRef<str>>(
        &self,
        bucket: &str,
        tags: &[(K, V)],
    ) -> Result<(), Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("PutBucketTagging", &bucket), async {
            let req = put_tagging(self.target(&bucket), "", None, tags)?;
            self.send(req).await?;
            Ok(())
        })
        .await
    }

    /// The tags of a bucket.
    ///
    /// # Errors
    /// A bucket that never had tags (or had them deleted) answers 404
    /// `NoSuchTagSet`, as COS does; `NoSuchBucket` when it does not exist.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let tags = match client.get_bucket_tagging("examplebucket-1250000000").await {
    ///     Ok(tags) => tags,
    ///     Err(e) if e.code() == Some("NoSuchTagSet") => Vec::new(),
    ///     Err(e) => return Err(e),
    /// };
    /// # let _ = tags;
    /// # Ok(()) }
    /// ```
    pub async fn get_bucket_tagging(&self, bucket: &str) -> Result<Vec<(String, String)>, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("GetBucketTagging", &bucket), async {
            let req = tagging_request(self.target(&bucket), Method::GET, "", None)?;
            let (_, body) = self.send_for_body(req).await?;
            parse_tagging("GetBucketTagging", &body)
        })
        .await
    }

    /// Removes all tags of a bucket.
    ///
    /// # Errors
    /// `NoSuchBucket` when the bucket does not exist.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// client.delete_bucket_tagging("examplebucket-1250000000").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_bucket_tagging(&self, bucket: &str) -> Result<(), Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("DeleteBucketTagging", &bucket), async {
            let req = tagging_request(self.target(&bucket), Method::DELETE, "", None)?;
            self.send(req).await?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::{BucketName, Endpoint, Region};

    #[test]
    fn limits() {
        let eleven: Vec<(String, String)> =
            (0..11).map(|i| (format!("k{i}"), "v".into())).collect();
        let e = validate_tags(&eleven, MAX_OBJECT_TAGS).unwrap_err();
        assert!(e.to_string().contains("at most 10"), "{e}");
        assert!(validate_tags(&eleven, MAX_BUCKET_TAGS).is_ok());
        let long_key = "k".repeat(129);
        assert!(validate_tags(&[(long_key.as_str(), "")], 10).is_err());
        assert!(validate_tags(&[("k".repeat(128).as_str(), "v".repeat(256).as_str())], 10).is_ok());
        assert!(validate_tags(&[("k", "v".repeat(257).as_str())], 10).is_err());
        let e = validate_tags(&[("a<b", "")], 10).unwrap_err();
        assert!(e.to_string().contains("tag key"), "{e}");
        assert!(validate_tags(&[("qcs:project", "x")], 10).is_err());
        assert!(validate_tags(&[("项目", "存储 a+b=c.d_e:f/g@h-i")], 10).is_ok());
        assert!(validate_tags(&[("k", "line\nbreak")], 10).is_err());
    }

    #[test]
    fn body_round_trips_through_the_parser() {
        let tags = [("a&b", "<v>"), ("empty", "")];
        let body = tagging_body(&tags);
        assert_eq!(
            body,
            "<Tagging><TagSet><Tag><Key>a&amp;b</Key><Value>&lt;v&gt;</Value></Tag><Tag><Key>empty</Key><Value></Value></Tag></TagSet></Tagging>"
        );
        let parsed = parse_tagging("t", body.as_bytes()).unwrap();
        assert_eq!(
            parsed,
            vec![
                ("a&b".to_string(), "<v>".to_string()),
                ("empty".into(), "".into())
            ]
        );
        assert!(parse_tagging("t", b"<Tagging><TagSet/></Tagging>")
            .unwrap()
            .is_empty());
        assert!(parse_tagging("t", b"<Tagging>").is_err());
    }

    #[test]
    fn requests() {
        let ep = Endpoint::for_region(&Region::parse("ap-guangzhou").unwrap());
        let b = BucketName::parse("examplebucket-1250000000").unwrap();
        let t = Target {
            endpoint: &ep,
            bucket: &b,
        };
        let r = put_tagging(t, "a b", Some("v1"), &[("k", "v")]).unwrap();
        assert_eq!(r.method, Method::PUT);
        assert!(r.url.ends_with("/a%20b?tagging=&versionId=v1"), "{}", r.url);
        assert!(r.headers.contains_key("content-md5"));
        let r = put_tagging(t, "", None, &[("k", "v")]).unwrap();
        assert_eq!(r.signed_path, "/");
        assert!(put_tagging(t, "/bad", None, &[("k", "v")]).is_err());
        assert!(put_tagging(t, "k", Some(""), &[("k", "v")]).is_err());
        let r = tagging_request(t, Method::DELETE, "k", None).unwrap();
        assert_eq!(r.params, vec![("tagging".to_string(), String::new())]);
        assert!(tagging_request(t, Method::GET, "a/..", None).is_err());
    }
}
