//! Object and bucket tagging (`?tagging`): PUT, GET, DELETE; and the
//! `x-cos-tagging` header of uploads.
//!
//! Tags are checked with the SDK's own rules (`coscls::cos::validate_tags`:
//! at most 10 per object and 50 per bucket, key and value lengths and
//! characters, no duplicate key); a breach is a 400 `InvalidTag`.

use http::{HeaderMap, Response, StatusCode};
use serde::Deserialize;

use super::errors::CosError;
use super::setting::{self, Put, Slot};
use super::xml::{parse, Doc};
use super::CosRequest;
use crate::body::Body;
use crate::canonical::percent_decode;
use crate::state::State;

/// Largest `<Tagging>` body read.
const TAGGING_BODY_LIMIT: usize = 64 << 10;

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

fn invalid_tag(message: impl Into<String>) -> CosError {
    CosError::new(400, "InvalidTag", message)
}

fn check(tags: &[(String, String)], max: usize) -> Result<(), CosError> {
    coscls::cos::validate_tags(tags, max).map_err(|e| invalid_tag(e.to_string()))
}

/// The tags of an `x-cos-tagging` header (`k1=v1&k2=v2`, URL-encoded), checked.
pub(crate) fn tags_from_headers(headers: &HeaderMap) -> Result<Vec<(String, String)>, CosError> {
    let Some(value) = headers.get("x-cos-tagging") else {
        return Ok(Vec::new());
    };
    let text = value
        .to_str()
        .map_err(|_| invalid_tag("x-cos-tagging must be ASCII (URL-encode other text)"))?;
    let mut tags = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_decode(s, true)
                .ok_or_else(|| invalid_tag(format!("x-cos-tagging has a bad escape in {s:?}")))
        };
        tags.push((decode(k)?, decode(v)?));
    }
    check(&tags, coscls::cos::MAX_OBJECT_TAGS)?;
    Ok(tags)
}

fn tagging_doc(tags: &[(String, String)]) -> String {
    let mut doc = Doc::new("Tagging");
    doc.open("TagSet");
    for (k, v) in tags {
        doc.open("Tag").el("Key", k).el("Value", v).close("Tag");
    }
    doc.close("TagSet");
    doc.finish("Tagging")
}

/// The tags of a `<Tagging>` body, checked against `max`.
fn parse_tags(data: &[u8], max: usize) -> Result<Vec<(String, String)>, CosError> {
    let doc: TaggingXml = parse(data).map_err(CosError::malformed_xml)?;
    let tags: Vec<(String, String)> = doc
        .tag_set
        .tags
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    check(&tags, max)?;
    Ok(tags)
}

/// The emulator keeps no versions: a `versionId` names nothing it has.
fn no_version(req: &CosRequest) -> Result<(), CosError> {
    match req.param("versionId") {
        None | Some("") => Ok(()),
        Some(v) => Err(CosError::new(
            404,
            "NoSuchVersion",
            format!("The specified version {v:?} does not exist."),
        )),
    }
}

pub(crate) async fn put_object_tagging(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    let put = Put {
        check: no_version,
        limit: TAGGING_BODY_LIMIT,
        parse: |data: &[u8], _: &HeaderMap| parse_tags(data, coscls::cos::MAX_OBJECT_TAGS),
        slot: Slot::Object(|m, tags| m.tags = tags),
        status: StatusCode::OK,
    };
    setting::put(state, req, put).await
}

pub(crate) async fn get_object_tagging(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    no_version(&req)?;
    setting::get_object(state, &req, |m| tagging_doc(&m.tags))
}

pub(crate) async fn delete_object_tagging(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    no_version(&req)?;
    setting::delete(state, &req, Slot::Object(|m, ()| m.tags.clear()))
}

pub(crate) async fn put_bucket_tagging(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    let put = Put {
        check: setting::no_check,
        limit: TAGGING_BODY_LIMIT,
        parse: |data: &[u8], _: &HeaderMap| parse_tags(data, coscls::cos::MAX_BUCKET_TAGS),
        slot: Slot::Bucket(|c, tags| c.tags = Some(tags)),
        status: StatusCode::NO_CONTENT,
    };
    setting::put(state, req, put).await
}

pub(crate) async fn get_bucket_tagging(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    setting::get_bucket(state, &req, |c| match c.tags {
        Some(tags) if !tags.is_empty() => Ok(tagging_doc(&tags)),
        _ => Err(CosError::new(
            404,
            "NoSuchTagSet",
            "There is no tag set associated with the bucket.",
        )),
    })
}

pub(crate) async fn delete_bucket_tagging(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    setting::delete(state, &req, Slot::Bucket(|c, ()| c.tags = None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_tags() {
        let mut h = HeaderMap::new();
        assert!(tags_from_headers(&h).unwrap().is_empty());
        h.insert("x-cos-tagging", "a%20b=1%2B1&c=".parse().unwrap());
        assert_eq!(
            tags_from_headers(&h).unwrap(),
            vec![
                ("a b".to_string(), "1+1".to_string()),
                ("c".into(), "".into())
            ]
        );
        h.insert("x-cos-tagging", "a=1&a=2".parse().unwrap());
        assert_eq!(tags_from_headers(&h).unwrap_err().code, "InvalidTag");
        let many: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        h.insert("x-cos-tagging", many.join("&").parse().unwrap());
        assert_eq!(tags_from_headers(&h).unwrap_err().code, "InvalidTag");
        h.insert("x-cos-tagging", "k=%zz".parse().unwrap());
        assert_eq!(tags_from_headers(&h).unwrap_err().code, "InvalidTag");
    }

    #[test]
    fn doc_round_trips() {
        let tags = vec![("a&b".to_string(), "<".to_string())];
        let doc: TaggingXml = parse(tagging_doc(&tags).as_bytes()).unwrap();
        assert_eq!(doc.tag_set.tags[0].key, "a&b");
        assert_eq!(doc.tag_set.tags[0].value, "<");
    }
}
