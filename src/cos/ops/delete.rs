//! DeleteObject (one key or one version) and DeleteMultipleObjects (up to
//! 1000 keys a request, reported per key).

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use quick_xml::escape::escape;
use serde::Deserialize;

use crate::cos::headers::content_md5;
use crate::cos::request::{params, Target};
use crate::cos::response::{self, header};
use crate::cos::xml;
use crate::cos::{validate_key, Client, Error};
use crate::transport::{PreparedRequest, RequestBody};

/// Most keys one DeleteMultipleObjects request may name.
pub const MAX_DELETE_KEYS: usize = 1000;

/// What COS answered to a single delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteObjectOutput {
    /// `x-cos-delete-marker: true`: a plain delete on a versioned bucket
    /// made a delete marker, or the version deleted by id was one.
    pub delete_marker: bool,
    /// `x-cos-version-id`: the delete marker made, or the version deleted.
    pub version_id: Option<String>,
    /// `x-cos-request-id`.
    pub request_id: Option<String>,
}

impl DeleteObjectOutput {
    fn from_headers(headers: &http::HeaderMap) -> Self {
        DeleteObjectOutput {
            delete_marker: response::header_str(headers, "x-cos-delete-marker")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            version_id: header(headers, response::X_COS_VERSION_ID),
            request_id: header(headers, response::X_COS_REQUEST_ID),
        }
    }
}

/// An object to delete, optionally a specific version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectIdentifier {
    /// The key.
    pub key: String,
    /// The version, on a versioned bucket.
    pub version_id: Option<String>,
}

impl From<&str> for ObjectIdentifier {
    fn from(key: &str) -> Self {
        ObjectIdentifier {
            key: key.to_string(),
            version_id: None,
        }
    }
}

impl From<String> for ObjectIdentifier {
    fn from(key: String) -> Self {
        ObjectIdentifier {
            key,
            version_id: None,
        }
    }
}

impl From<&String> for ObjectIdentifier {
    fn from(key: &String) -> Self {
        key.as_str().into()
    }
}

impl From<(&str, &str)> for ObjectIdentifier {
    fn from((key, version): (&str, &str)) -> Self {
        ObjectIdentifier {
            key: key.to_string(),
            version_id: Some(version.to_string()),
        }
    }
}

/// The outcome of a batch delete. COS reports each key separately; a
/// request-level failure is an `Err` instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteObjectsOutput {
    /// Keys deleted (deleting a missing key counts as deleted).
    pub deleted: Vec<DeletedObject>,
    /// Keys that could not be deleted.
    pub errors: Vec<DeleteError>,
}

/// One deleted key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeletedObject {
    /// The key.
    pub key: String,
    /// The version deleted.
    pub version_id: Option<String>,
    /// Whether a delete marker was created (versioned bucket).
    pub delete_marker: bool,
    /// The delete marker's version.
    pub delete_marker_version_id: Option<String>,
}

/// One key that could not be deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteError {
    /// The key.
    pub key: String,
    /// The version.
    pub version_id: Option<String>,
    /// COS error code.
    pub code: String,
    /// COS message.
    pub message: String,
}

/// DeleteObject: `DELETE /<key>[?versionId=]`.
pub(crate) fn delete_object(
    t: Target<'_>,
    key: &str,
    version_id: Option<&str>,
) -> Result<PreparedRequest, Error> {
    let params = match version_id {
        Some("") => return Err(Error::invalid_input("version id", "", "is empty")),
        Some(v) => params(&[("versionId", v)]),
        None => vec![],
    };
    t.object(
        Method::DELETE,
        key,
        params,
        HeaderMap::new(),
        RequestBody::Empty,
    )
}

/// DeleteMultipleObjects: `POST /?delete` with `Content-MD5` (required).
pub(crate) fn delete_objects(
    t: Target<'_>,
    objects: &[(&str, Option<&str>)],
    quiet: bool,
) -> Result<PreparedRequest, Error> {
    if objects.is_empty() {
        return Err(Error::invalid_input(
            "keys",
            "[]",
            "name at least one object to delete",
        ));
    }
    if objects.len() > MAX_DELETE_KEYS {
        return Err(Error::invalid_input(
            "keys",
            &format!("{} keys", objects.len()),
            "at most 1000 per request",
        ));
    }
    for (key, _) in objects {
        validate_key(key)?;
    }
    let body = Bytes::from(delete_body(objects, quiet));
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert("content-md5", content_md5(&body));
    t.build(
        Method::POST,
        "",
        params(&[("delete", "")]),
        headers,
        RequestBody::Bytes(body),
    )
}

/// `<Delete>` for DeleteMultipleObjects.
pub(crate) fn delete_body(objects: &[(&str, Option<&str>)], quiet: bool) -> String {
    let mut out = String::with_capacity(64 + objects.len() * 64);
    out.push_str("<Delete><Quiet>");
    out.push_str(if quiet { "true" } else { "false" });
    out.push_str("</Quiet>");
    for (key, version) in objects {
        out.push_str("<Object><Key>");
        out.push_str(&escape(*key));
        out.push_str("</Key>");
        if let Some(v) = version {
            out.push_str("<VersionId>");
            out.push_str(&escape(*v));
            out.push_str("</VersionId>");
        }
        out.push_str("</Object>");
    }
    out.push_str("</Delete>");
    out
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DeleteResult {
    #[serde(rename = "Deleted")]
    pub(crate) deleted: Vec<DeletedXml>,
    #[serde(rename = "Error")]
    pub(crate) errors: Vec<DeleteErrorXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DeletedXml {
    #[serde(rename = "Key")]
    pub(crate) key: String,
    #[serde(rename = "VersionId")]
    pub(crate) version_id: Option<String>,
    #[serde(rename = "DeleteMarker")]
    pub(crate) delete_marker: Option<bool>,
    #[serde(rename = "DeleteMarkerVersionId")]
    pub(crate) delete_marker_version_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DeleteErrorXml {
    #[serde(rename = "Key")]
    pub(crate) key: String,
    #[serde(rename = "Code")]
    pub(crate) code: String,
    #[serde(rename = "Message")]
    pub(crate) message: String,
    #[serde(rename = "VersionId")]
    pub(crate) version_id: Option<String>,
}

impl Client {
    /// Deletes `key`. Deleting a missing key succeeds, as in S3. On a
    /// versioned bucket this adds a delete marker (the output says so and
    /// names it) and the older versions stay readable by id.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let out = client.delete_object("examplebucket-1250000000", "hello.txt").await?;
    /// if out.delete_marker {
    ///     println!("hidden behind delete marker {:?}", out.version_id);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<DeleteObjectOutput, Error> {
        self.delete_object_inner(bucket, key, None).await
    }

    /// Deletes one version of `key` on a versioned bucket, for good (a
    /// delete marker, too, is removed this way). An empty version id is an
    /// error before any request.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// client
    ///     .delete_object_version("examplebucket-1250000000", "a.txt", "MTg0NDUxNTc1NjIzMTQ1MDAwODg")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> Result<DeleteObjectOutput, Error> {
        self.delete_object_inner(bucket, key, Some(version_id))
            .await
    }

    async fn delete_object_inner(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<DeleteObjectOutput, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("DeleteObject", &bucket).with_key(key), async {
            let req = delete_object(self.target(&bucket), key, version)?;
            let response = self.send(req).await?;
            Ok(DeleteObjectOutput::from_headers(response.headers()))
        })
        .await
    }

    /// Deletes many objects, 1000 per request (COS's limit), and reports
    /// per key. All keys are validated before the first request.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let out = client.delete_objects("examplebucket-1250000000", ["a.txt", "b.txt"]).await?;
    /// assert!(out.errors.is_empty(), "{:?}", out.errors);
    /// # Ok(()) }
    /// ```
    pub async fn delete_objects<I>(
        &self,
        bucket: &str,
        objects: I,
    ) -> Result<DeleteObjectsOutput, Error>
    where
        I: IntoIterator,
        I::Item: Into<ObjectIdentifier>,
    {
        let bucket = Self::bucket(bucket)?;
        let objects: Vec<ObjectIdentifier> = objects.into_iter().map(Into::into).collect();
        if objects.is_empty() {
            return Err(Error::invalid_input(
                "keys",
                "[]",
                "name at least one object to delete",
            ));
        }
        for o in &objects {
            crate::cos::validate_key(&o.key)?;
        }
        let mut out = DeleteObjectsOutput::default();
        for batch in objects.chunks(MAX_DELETE_KEYS) {
            let pairs: Vec<(&str, Option<&str>)> = batch
                .iter()
                .map(|o| (o.key.as_str(), o.version_id.as_deref()))
                .collect();
            // One operation per request: COS's batch limit splits the call.
            let result: DeleteResult = self
                .operation(self.info("DeleteMultipleObjects", &bucket), async {
                    let req = delete_objects(self.target(&bucket), &pairs, false)?;
                    let (_, body) = self.send_for_body(req).await?;
                    xml::parse("DeleteMultipleObjects", &body)
                })
                .await?;
            out.deleted
                .extend(result.deleted.into_iter().map(|d| DeletedObject {
                    key: d.key,
                    version_id: d.version_id,
                    delete_marker: d.delete_marker.unwrap_or(false),
                    delete_marker_version_id: d.delete_marker_version_id,
                }));
            out.errors
                .extend(result.errors.into_iter().map(|e| DeleteError {
                    key: e.key,
                    version_id: e.version_id,
                    code: e.code,
                    message: e.message,
                }));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::request::testing::{param, target_parts};
    use crate::cos::xml::parse;

    #[test]
    fn delete_objects_has_md5_and_limits() {
        let (ep, b) = target_parts();
        let t = Target {
            endpoint: &ep,
            bucket: &b,
        };
        let r = delete_objects(t, &[("a", None), ("b", Some("v"))], true).unwrap();
        assert!(r.headers.contains_key("content-md5"));
        assert_eq!(param(&r, "delete"), Some(""));
        assert!(delete_objects(t, &[], true).is_err());
        let many: Vec<(&str, Option<&str>)> = vec![("k", None); 1001];
        assert!(delete_objects(t, &many, true).is_err());
        assert!(delete_objects(t, &[("/bad", None)], true).is_err());
    }

    #[test]
    fn delete_result_with_both_outcomes() {
        let xml = "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code><Message>no</Message></Error><Deleted><Key>c</Key><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>v2</DeleteMarkerVersionId></Deleted></DeleteResult>";
        let r: DeleteResult = parse("delete", xml.as_bytes()).unwrap();
        assert_eq!(r.deleted.len(), 2);
        assert_eq!(r.errors[0].code, "AccessDenied");
        assert_eq!(r.deleted[1].delete_marker, Some(true));
    }

    #[test]
    fn delete_body_is_escaped() {
        let del = delete_body(&[("a&b<c>.txt", None), ("k", Some("v1"))], false);
        assert_eq!(
            del,
            "<Delete><Quiet>false</Quiet><Object><Key>a&amp;b&lt;c&gt;.txt</Key></Object>\
             <Object><Key>k</Key><VersionId>v1</VersionId></Object></Delete>"
        );
    }

    proptest::proptest! {
        #[test]
        fn written_bodies_parse_back(keys in proptest::collection::vec("[^\\u{0}-\\u{1f}]{1,20}", 1..5)) {
            let objects: Vec<(&str, Option<&str>)> = keys.iter().map(|k| (k.as_str(), None)).collect();
            let body = delete_body(&objects, true);
            #[derive(Deserialize)]
            struct Obj { #[serde(rename = "Key")] key: String }
            #[derive(Deserialize)]
            struct Del { #[serde(rename = "Object")] objects: Vec<Obj> }
            let back: Del = quick_xml::de::from_str(&body).unwrap();
            let got: Vec<String> = back.objects.into_iter().map(|o| o.key).collect();
            proptest::prop_assert_eq!(got, keys);
        }
    }
}
