//! `ObjectStore` and `PaginatedListStore` for [`CosStore`].

use std::collections::HashMap;
use std::ops::Range;
use std::time::SystemTime;

use ::object_store::list::{PaginatedListOptions, PaginatedListResult, PaginatedListStore};
use ::object_store::path::Path;
use ::object_store::{
    Attribute, AttributeValue, Attributes, CopyMode, CopyOptions, GetOptions, GetRange, GetResult,
    GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMode,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result, TagSet,
};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};

use super::errors::{self, map};
use super::CosStore;
use crate::cos::{self, ByteRange, ListOptions, ObjectSummary, StorageClass, MAX_DELETE_KEYS};

/// Batch deletes in flight at once in `delete_stream`.
const DELETE_CONCURRENCY: usize = 4;

#[async_trait]
impl ObjectStore for CosStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let mut put = write_options(&opts.attributes, &opts.tags)?;
        match opts.mode {
            PutMode::Overwrite => {}
            PutMode::Create => put.forbid_overwrite = true,
            // PUT Object documents no If-Match request header
            // (https://cloud.tencent.com/document/product/436/7749), so an
            // update cannot be made conditional on the current ETag.
            PutMode::Update(_) => {
                return Err(errors::not_implemented(
                    "put_opts with PutMode::Update (COS PutObject has no If-Match)",
                ))
            }
        }
        let body: Bytes = payload.into();
        let out = self
            .client
            .put_object_with(&self.bucket, &self.key(location), body, &put)
            .await
            .map_err(|e| match put.forbid_overwrite {
                true => errors::map_create(e, location.as_ref()),
                false => map(e, location.as_ref()),
            })?;
        Ok(put_result(out.etag, out.version_id))
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let put = write_options(&opts.attributes, &opts.tags)?;
        let upload = self.start_upload(location, &put).await?;
        Ok(Box::new(upload))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let path = location.as_ref();
        let key = self.key(location);
        let mut get = cos::GetOptions {
            if_match: options.if_match.clone(),
            if_none_match: options.if_none_match.clone(),
            if_modified_since: options.if_modified_since.map(SystemTime::from),
            if_unmodified_since: options.if_unmodified_since.map(SystemTime::from),
            version_id: options.version.clone(),
            ..cos::GetOptions::default()
        };
        if options.head {
            let meta = self
                .client
                .head_object_with(&self.bucket, &key, &get)
                .await
                .map_err(|e| map(e, path))?;
            let size = meta.content_length;
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::empty().boxed()),
                meta: object_meta(location, &meta, size)?,
                range: 0..size,
                attributes: read_attributes(&meta, None),
                extensions: Default::default(),
            });
        }
        get.range = options.range.as_ref().map(byte_range).transpose()?;
        let out = self
            .client
            .get_object_with(&self.bucket, &key, &get)
            .await
            .map_err(|e| map(e, path))?;
        let meta = out.meta();
        let (range, size) = match out.content_range() {
            Some(r) => {
                let end = r.last.checked_add(1).ok_or_else(|| {
                    errors::generic(format!("Content-Range of {path} ends past u64::MAX"))
                })?;
                let total = r.total.unwrap_or(end);
                (r.first..end, total)
            }
            None => (0..meta.content_length, meta.content_length),
        };
        let language = out
            .headers()
            .get(http::header::CONTENT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let attributes = read_attributes(meta, language);
        let object = object_meta(location, meta, size)?;
        let owned = path.to_string();
        let body = out.body.map_err(move |e| map(e, &owned)).boxed();
        Ok(GetResult {
            payload: GetResultPayload::Stream(body),
            meta: object,
            range,
            attributes,
            extensions: Default::default(),
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let store = self.clone();
        locations
            .try_chunks(MAX_DELETE_KEYS)
            .map(move |chunk| {
                let store = store.clone();
                async move {
                    let (paths, err) = match chunk {
                        Ok(paths) => (paths, None),
                        Err(stream::TryChunksError(paths, e)) => (paths, Some(e)),
                    };
                    let mut out = store.delete_batch(paths).await;
                    out.extend(err.map(Err));
                    out
                }
            })
            .buffered(DELETE_CONCURRENCY)
            .flat_map(stream::iter)
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.list_after(prefix, None)
    }

    /// COS's `marker` is exclusive ("keys after this one"), which is what
    /// `list_with_offset` promises, so the offset is sent rather than
    /// filtered locally.
    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.list_after(prefix, Some(self.key(offset)))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let mut opts = ListOptions::default().delimiter("/");
        let dir = self.dir_prefix(prefix);
        if !dir.is_empty() {
            opts.prefix = Some(dir);
        }
        let what = prefix.map(|p| p.to_string()).unwrap_or_default();
        let pages: Vec<cos::ListObjectsPage> = self
            .client
            .list_objects_stream(&self.bucket, opts)
            .try_collect()
            .await
            .map_err(|e| map(e, &what))?;
        let mut result = ListResult {
            common_prefixes: Vec::new(),
            objects: Vec::new(),
            extensions: Default::default(),
        };
        for page in pages {
            self.add_page(&mut result, page, "/")?;
        }
        Ok(result)
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        match options.mode {
            CopyMode::Overwrite => {
                self.client
                    .copy(
                        &self.bucket,
                        &self.key(from),
                        &self.bucket,
                        &self.key(to),
                        &cos::CopyOptions::default(),
                    )
                    .await
                    .map_err(|e| map(e, from.as_ref()))?;
                Ok(())
            }
            CopyMode::Create => self.copy_if_absent(from, to).await,
        }
    }
}

#[async_trait]
impl PaginatedListStore for CosStore {
    /// One ListObjects page. `prefix` is a raw key prefix under the store's
    /// own (`"fo"` matches `foo/…` and `fob/…`); the page token is COS's
    /// `NextMarker`.
    async fn list_paginated(
        &self,
        prefix: Option<&str>,
        opts: PaginatedListOptions,
    ) -> Result<PaginatedListResult> {
        let mut list = ListOptions::default();
        let raw = prefix.unwrap_or("");
        let full = match (self.prefix.is_empty(), raw.is_empty()) {
            (true, _) => raw.to_string(),
            (false, true) => format!("{}/", self.prefix),
            (false, false) => format!("{}/{raw}", self.prefix),
        };
        if !full.is_empty() {
            list.prefix = Some(full);
        }
        let delimiter = opts.delimiter.as_deref().unwrap_or("").to_string();
        if !delimiter.is_empty() {
            list.delimiter = Some(delimiter.clone());
        }
        list.marker = match (opts.page_token, opts.offset) {
            (Some(token), _) => Some(token),
            (None, Some(offset)) => Some(super::join(&self.prefix, &offset)),
            (None, None) => None,
        };
        if let Some(n) = opts.max_keys {
            // COS pages hold at most 1000 keys (docs/protocol/cos.md §3); more is clamped.
            let n = u32::try_from(n.clamp(1, 1000)).unwrap_or(1000);
            list.max_keys = Some(n);
        }
        let page = self
            .client
            .list_objects(&self.bucket, &list)
            .await
            .map_err(|e| map(e, raw))?;
        let page_token = page
            .is_truncated
            .then(|| page.next_marker.clone())
            .flatten();
        let mut result = ListResult {
            common_prefixes: Vec::new(),
            objects: Vec::new(),
            extensions: Default::default(),
        };
        self.add_page(&mut result, page, &delimiter)?;
        Ok(PaginatedListResult { result, page_token })
    }
}

impl CosStore {
    /// Every object under `prefix` after the key `marker`, page by page.
    fn list_after(
        &self,
        prefix: Option<&Path>,
        marker: Option<String>,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let mut opts = ListOptions::default();
        let dir = self.dir_prefix(prefix);
        if !dir.is_empty() {
            opts.prefix = Some(dir);
        }
        opts.marker = marker;
        let what = prefix.map(|p| p.to_string()).unwrap_or_default();
        let store = self.clone();
        self.client
            .list_objects_stream(&self.bucket, opts)
            .map_err(move |e| map(e, &what))
            .map_ok(move |page| {
                let store = store.clone();
                stream::iter(page.objects.into_iter().map(move |o| store.listed(o)))
            })
            .try_flatten()
            .boxed()
    }

    /// Adds a page's objects and common prefixes (without the delimiter) to
    /// `result`.
    fn add_page(
        &self,
        result: &mut ListResult,
        page: cos::ListObjectsPage,
        delimiter: &str,
    ) -> Result<()> {
        for p in page.common_prefixes {
            let trimmed = p.strip_suffix(delimiter).unwrap_or(&p);
            result.common_prefixes.push(self.path(trimmed)?);
        }
        for o in page.objects {
            result.objects.push(self.listed(o)?);
        }
        Ok(())
    }

    /// The `ObjectMeta` of a listed object.
    fn listed(&self, o: ObjectSummary) -> Result<ObjectMeta> {
        let last_modified = o.last_modified.ok_or_else(|| {
            errors::generic(format!("ListObjects gave {:?} no LastModified", o.key))
        })?;
        Ok(ObjectMeta {
            location: self.path(&o.key)?,
            last_modified: DateTime::<Utc>::from(last_modified),
            size: o.size,
            e_tag: o.etag,
            version: None,
        })
    }

    /// Deletes one batch (at most 1000 keys, one DeleteMultipleObjects) and
    /// reports each path in input order.
    async fn delete_batch(&self, paths: Vec<Path>) -> Vec<Result<Path>> {
        if paths.is_empty() {
            return Vec::new();
        }
        let keys: Vec<String> = paths.iter().map(|p| self.key(p)).collect();
        match self.client.delete_objects(&self.bucket, keys.iter()).await {
            Ok(out) => {
                let failed: HashMap<&str, &cos::DeleteError> =
                    out.errors.iter().map(|e| (e.key.as_str(), e)).collect();
                paths
                    .into_iter()
                    .zip(&keys)
                    .map(|(path, key)| match failed.get(key.as_str()) {
                        None => Ok(path),
                        Some(d) => Err(errors::generic(format!(
                            "COS {} deleting {key}: {}",
                            d.code, d.message
                        ))),
                    })
                    .collect()
            }
            Err(e) => {
                // The whole request failed: every path in it did. The COS
                // error (not `Clone`) is the first path's source; the
                // others carry its text.
                let text = e.to_string();
                let mut out = Vec::with_capacity(paths.len());
                let mut first = Some(e);
                for path in &paths {
                    out.push(Err(match first.take() {
                        Some(e) => map(e, path.as_ref()),
                        None => errors::generic(format!("deleting {path}: {text}")),
                    }));
                }
                out
            }
        }
    }
}

/// A `PutResult` from COS's answer.
pub(super) fn put_result(e_tag: Option<String>, version: Option<String>) -> PutResult {
    PutResult {
        e_tag,
        version,
        extensions: Default::default(),
    }
}

/// The `Range` of an `object_store` range (pure). An empty or inverted
/// bounded range is an error here, before any request.
pub(super) fn byte_range(r: &GetRange) -> Result<ByteRange> {
    let bad = |why: &str| errors::generic(format!("invalid range {r}: {why}"));
    match *r {
        GetRange::Bounded(Range { start, end }) => {
            if end <= start {
                return Err(bad("the end is not after the start"));
            }
            Ok(ByteRange::Inclusive {
                first: start,
                last: end - 1,
            })
        }
        GetRange::Offset(first) => Ok(ByteRange::From(first)),
        GetRange::Suffix(0) => Err(bad("a suffix range needs at least one byte")),
        GetRange::Suffix(n) => Ok(ByteRange::Suffix(n)),
    }
}

/// The write headers `attributes` and `tags` describe (pure). An attribute
/// COS cannot store through the client is an error naming it.
pub(super) fn write_options(attributes: &Attributes, tags: &TagSet) -> Result<cos::PutOptions> {
    let mut put = cos::PutOptions::default();
    for (attribute, value) in attributes {
        let value: &str = value.as_ref();
        match attribute {
            Attribute::ContentType => put.content_type = Some(value.to_string()),
            Attribute::ContentDisposition => put.content_disposition = Some(value.to_string()),
            Attribute::ContentEncoding => put.content_encoding = Some(value.to_string()),
            Attribute::CacheControl => put.cache_control = Some(value.to_string()),
            Attribute::StorageClass => {
                put.storage_class = Some(StorageClass::new(value).map_err(|e| map(e, ""))?)
            }
            Attribute::Metadata(name) => {
                put.metadata.insert(name.to_string(), value.to_string());
            }
            other => {
                return Err(errors::not_supported(format!(
                    "attribute {other:?} cannot be written to COS by coscls"
                )))
            }
        }
    }
    put.tags = decode_tags(tags)?;
    Ok(put)
}

/// The pairs of a `TagSet`, which holds them form-encoded (`+` for a
/// space); the client percent-encodes them again for `x-cos-tagging` and
/// checks COS's limit of 10 (pure).
fn decode_tags(tags: &TagSet) -> Result<Vec<(String, String)>> {
    let decode = |s: &str| {
        crate::auth::percent_decode(s, true)
            .ok_or_else(|| errors::generic(format!("tag {s:?} is not valid percent-encoding")))
    };
    tags.encoded()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

/// The attributes of a stored object: its content headers and user metadata.
fn read_attributes(meta: &cos::ObjectMeta, content_language: Option<&str>) -> Attributes {
    let mut attributes = Attributes::new();
    let standard = [
        (Attribute::ContentType, &meta.content_type),
        (Attribute::ContentDisposition, &meta.content_disposition),
        (Attribute::ContentEncoding, &meta.content_encoding),
        (Attribute::CacheControl, &meta.cache_control),
        (Attribute::StorageClass, &meta.storage_class),
    ];
    for (attribute, value) in standard {
        if let Some(v) = value {
            attributes.insert(attribute, AttributeValue::from(v.clone()));
        }
    }
    if let Some(v) = content_language {
        attributes.insert(
            Attribute::ContentLanguage,
            AttributeValue::from(v.to_string()),
        );
    }
    for (name, value) in &meta.metadata {
        attributes.insert(
            Attribute::Metadata(name.clone().into()),
            AttributeValue::from(value.clone()),
        );
    }
    attributes
}

/// The `ObjectMeta` of `location` from COS's headers; `size` is the whole
/// object's (a ranged GET's `Content-Length` is the range's).
fn object_meta(location: &Path, meta: &cos::ObjectMeta, size: u64) -> Result<ObjectMeta> {
    let last_modified = meta
        .last_modified
        .ok_or_else(|| errors::generic(format!("COS sent no Last-Modified for {location}")))?;
    Ok(ObjectMeta {
        location: location.clone(),
        last_modified: DateTime::<Utc>::from(last_modified),
        size,
        e_tag: meta.etag.clone(),
        version: meta.version_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_become_cos_ranges() {
        assert_eq!(
            byte_range(&GetRange::Bounded(2..5)).unwrap().header(),
            "bytes=2-4"
        );
        assert_eq!(
            byte_range(&GetRange::Offset(3)).unwrap().header(),
            "bytes=3-"
        );
        assert_eq!(
            byte_range(&GetRange::Suffix(2)).unwrap().header(),
            "bytes=-2"
        );
        assert!(byte_range(&GetRange::Bounded(5..5)).is_err());
        assert!(byte_range(&GetRange::Suffix(0)).is_err());
    }

    #[test]
    fn attributes_and_tags_become_headers() {
        let attributes = Attributes::from_iter([
            (Attribute::ContentType, "text/csv"),
            (Attribute::CacheControl, "no-cache"),
            (Attribute::Metadata("owner".into()), "etl"),
        ]);
        let mut tags = TagSet::default();
        tags.push("team", "data eng");
        let put = write_options(&attributes, &tags).unwrap();
        assert_eq!(put.content_type.as_deref(), Some("text/csv"));
        assert_eq!(put.cache_control.as_deref(), Some("no-cache"));
        assert_eq!(put.metadata["owner"], "etl");
        assert_eq!(put.tags, [("team".to_string(), "data eng".to_string())]);
        let mut two = TagSet::default();
        two.push("a+b", "1&2");
        two.push("k", "");
        assert_eq!(
            decode_tags(&two).unwrap(),
            [
                ("a+b".to_string(), "1&2".to_string()),
                ("k".to_string(), String::new())
            ]
        );
        let language = Attributes::from_iter([(Attribute::ContentLanguage, "en")]);
        let err = write_options(&language, &TagSet::default()).unwrap_err();
        assert!(matches!(err, ::object_store::Error::NotSupported { .. }));
    }
}
