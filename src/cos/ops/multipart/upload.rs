//! InitiateMultipartUpload, UploadPart, CompleteMultipartUpload and
//! AbortMultipartUpload: request builders, the XML they send and receive,
//! and the `Client` methods (see the parent module for how the
//! non-idempotent steps are retried).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use quick_xml::escape::escape;
use serde::Deserialize;

use super::{check_part_number, check_upload_id, combined_crc};
use crate::cos::limits::MAX_PART_SIZE;
use crate::cos::request::{self, params, Target};
use crate::cos::response::{self, check_crc, header};
use crate::cos::{crc64, xml};
use crate::cos::{
    BucketName, Client, CompleteOptions, CompletedPart, Error, PutOptions, UploadOutput,
};
use crate::transport::{PreparedRequest, RequestBody};

impl Client {
    /// Starts a multipart upload and returns its upload id. The object's
    /// headers (content type, metadata, class, encryption) are given here.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let b = "examplebucket-1250000000";
    /// let id = client.create_multipart_upload(b, "big.bin", &Default::default()).await?;
    /// let p1 = client.upload_part(b, "big.bin", &id, 1, vec![0u8; 1 << 20], &Default::default()).await?;
    /// let p2 = client.upload_part(b, "big.bin", &id, 2, vec![1u8; 10], &Default::default()).await?;
    /// client.complete_multipart_upload(b, "big.bin", &id, &[p1, p2]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        opts: &PutOptions,
    ) -> Result<String, Error> {
        let bucket = Self::bucket(bucket)?;
        self.initiate(&bucket, key, opts).await
    }

    pub(crate) async fn initiate(
        &self,
        bucket: &BucketName,
        key: &str,
        opts: &PutOptions,
    ) -> Result<String, Error> {
        let started = SystemTime::now();
        let attempts = AtomicU32::new(0);
        let info = self.info("InitiateMultipartUpload", bucket).with_key(key);
        let result = self
            .operation(info, async {
                let req = initiate_multipart(self.target(bucket), key, opts)?;
                let response = self.send_counting(req, &attempts).await?;
                let (_, body) = response.into_parts();
                let body = body.collect(response::XML_BODY_LIMIT).await?;
                let result: InitiateMultipartUploadResult =
                    xml::parse("InitiateMultipartUpload", &body)?;
                if result.upload_id.is_empty() {
                    return Err(Error::protocol(
                        "InitiateMultipartUpload returned no UploadId",
                    ));
                }
                Ok(result)
            })
            .await?;
        // Cleaning up after a retried initiate is not part of it: its own
        // operations (ListMultipartUploads, AbortMultipartUpload) follow.
        if attempts.load(Ordering::Relaxed) > 1 {
            self.abort_strays(bucket, key, &result.upload_id, started)
                .await;
        }
        Ok(result.upload_id)
    }

    /// Aborts uploads of `key` other than `ours` that a retried initiate may
    /// have created between `started` and now.
    async fn abort_strays(&self, bucket: &BucketName, key: &str, ours: &str, started: SystemTime) {
        let offset = self.clock_offset();
        let shift = |t: SystemTime, slack: i64| {
            let secs = offset + slack;
            if secs >= 0 {
                t + Duration::from_secs(secs as u64)
            } else {
                t - Duration::from_secs(secs.unsigned_abs())
            }
        };
        let (from, to) = (shift(started, -5), shift(SystemTime::now(), 5));
        let uploads = match self.list_uploads(bucket, Some(key)).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(target: "coscls::cos", error = %e, "could not list uploads to clean up after a retried initiate");
                return;
            }
        };
        for u in uploads {
            let in_window = u.initiated.is_some_and(|t| t >= from && t <= to);
            if u.key == key && u.upload_id != ours && in_window {
                tracing::info!(target: "coscls::cos", upload_id = %u.upload_id, "aborting an upload created by a retried initiate");
                if let Err(e) = self.abort(bucket, key, &u.upload_id).await {
                    tracing::warn!(target: "coscls::cos", error = %e, "aborting a stray upload failed");
                }
            }
        }
    }

    /// Uploads part `part_number` (1–10 000) of an upload and checks the
    /// server's CRC-64 of it. Re-uploading a part number replaces it. Every
    /// part but the last must be at least 1 MiB.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client, id: String) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::PutOptions;
    /// let part = client
    ///     .upload_part("examplebucket-1250000000", "big.bin", &id, 1, vec![0u8; 8 << 20], &PutOptions::default().with_content_md5())
    ///     .await?;
    /// println!("part {} has ETag {}", part.part_number, part.etag);
    /// # Ok(()) }
    /// ```
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: impl Into<Bytes>,
        opts: &PutOptions,
    ) -> Result<CompletedPart, Error> {
        let bucket = Self::bucket(bucket)?;
        self.upload_part_once(&bucket, key, upload_id, part_number, body.into(), opts)
            .await
    }

    pub(crate) async fn upload_part_once(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
        opts: &PutOptions,
    ) -> Result<CompletedPart, Error> {
        let crc = crc64::checksum(&body);
        let size = body.len() as u64;
        let info = self
            .info("UploadPart", bucket)
            .with_key(key)
            .with_upload_id(upload_id)
            .with_part_number(i64::from(part_number));
        self.operation(info, async {
            let req = upload_part(self.target(bucket), key, upload_id, part_number, body, opts)?;
            let response = self.send(req).await?;
            let h = response.headers();
            if self.verify_crc() {
                check_crc(
                    format_args!("UploadPart {key} part {part_number}"),
                    response::crc64_header(h)?,
                    Some(crc),
                )?;
            }
            let etag = header(h, http::header::ETAG).ok_or_else(|| {
                Error::protocol(format!("UploadPart {part_number} returned no ETag"))
            })?;
            Ok(CompletedPart {
                part_number,
                etag,
                size,
                crc64: crc,
            })
        })
        .await
    }

    /// Completes an upload from its parts (any order; they are sorted). The
    /// CRC-64 the server reports for the object is compared with the one
    /// combined from the parts. See the module notes on retrying it.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client, id: String, parts: Vec<coscls::cos::CompletedPart>) -> Result<(), coscls::cos::Error> {
    /// let out = client.complete_multipart_upload("examplebucket-1250000000", "big.bin", &id, &parts).await?;
    /// println!("{} bytes in {} parts, CRC {:?}", out.size, out.parts, out.crc64);
    /// # Ok(()) }
    /// ```
    pub async fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> Result<UploadOutput, Error> {
        let bucket = Self::bucket(bucket)?;
        self.complete(&bucket, key, upload_id, parts).await
    }

    /// [`complete_multipart_upload`](Self::complete_multipart_upload) with
    /// [`CompleteOptions`]: refuse to replace an existing object, or check
    /// the object's CRC-64 against a known value instead of the one
    /// combined from the parts (a copy whose parts' CRCs are not all known).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client, id: String, parts: Vec<coscls::cos::CompletedPart>) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::CompleteOptions;
    /// let opts = CompleteOptions::default().forbid_overwrite();
    /// match client.complete_multipart_upload_with("examplebucket-1250000000", "once.bin", &id, &parts, &opts).await {
    ///     Err(e) if e.code() == Some("FileAlreadyExists") => println!("someone else wrote it first"),
    ///     other => { other?; }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn complete_multipart_upload_with(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        opts: &CompleteOptions,
    ) -> Result<UploadOutput, Error> {
        let bucket = Self::bucket(bucket)?;
        let expected = match opts.expected_crc64 {
            Some(crc) => crc,
            None => combined_crc(parts),
        };
        self.complete_expecting(
            &bucket,
            key,
            upload_id,
            parts,
            Some(expected),
            opts.forbid_overwrite,
        )
        .await
    }

    pub(crate) async fn complete(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> Result<UploadOutput, Error> {
        let expected = combined_crc(parts);
        self.complete_expecting(bucket, key, upload_id, parts, Some(expected), false)
            .await
    }

    /// Completes an upload and checks the object's CRC-64 against
    /// `expected` (the parts' combined CRC, or a copied source's); with
    /// `forbid_overwrite`, COS refuses to replace an existing object.
    pub(crate) async fn complete_expecting(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        expected: Option<u64>,
        forbid_overwrite: bool,
    ) -> Result<UploadOutput, Error> {
        let info = self
            .info("CompleteMultipartUpload", bucket)
            .with_key(key)
            .with_upload_id(upload_id);
        self.operation(info, async {
            self.complete_inner(bucket, key, upload_id, parts, expected, forbid_overwrite)
                .await
        })
        .await
    }

    async fn complete_inner(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
        expected: Option<u64>,
        forbid_overwrite: bool,
    ) -> Result<UploadOutput, Error> {
        let mut sorted: Vec<&CompletedPart> = parts.iter().collect();
        sorted.sort_by_key(|p| p.part_number);
        let refs: Vec<PartRef<'_>> = sorted
            .iter()
            .map(|p| PartRef {
                number: p.part_number,
                etag: &p.etag,
            })
            .collect();
        let mut req = complete_multipart(self.target(bucket), key, upload_id, &refs)?;
        if forbid_overwrite {
            req.headers.insert(
                http::HeaderName::from_static("x-cos-forbid-overwrite"),
                http::HeaderValue::from_static("true"),
            );
        }
        let size: u64 = sorted.iter().map(|p| p.size).sum();
        let what = format!("CompleteMultipartUpload {key}");
        let (parts_head, body) = match self.send_for_body(req).await {
            Ok(r) => r,
            Err(e) => {
                let retried = e.service().is_some_and(|s| s.attempts > 1);
                if e.code() == Some("NoSuchUpload") && retried {
                    // An earlier attempt may have completed it (module docs).
                    if let Ok(meta) = self.head_object(bucket.as_str(), key).await {
                        let same_crc = expected.is_none_or(|c| meta.crc64 == Some(c));
                        if same_crc && meta.content_length == size {
                            return Ok(UploadOutput {
                                etag: meta.etag,
                                crc64: meta.crc64,
                                version_id: meta.version_id,
                                parts: sorted.len() as u32,
                                size,
                                request_id: meta.request_id,
                                resume: None,
                            });
                        }
                    }
                }
                return Err(e);
            }
        };
        let result: CompleteMultipartUploadResult = xml::parse("CompleteMultipartUpload", &body)?;
        let server_crc = match response::crc64_header(&parts_head.headers)? {
            Some(c) => Some(c),
            None => result
                .crc64
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(response::parse_crc)
                .transpose()?,
        };
        if self.verify_crc() {
            check_crc(format_args!("{what}"), server_crc, expected)?;
        }
        Ok(UploadOutput {
            etag: result
                .etag
                .or_else(|| header(&parts_head.headers, http::header::ETAG)),
            crc64: server_crc,
            version_id: header(&parts_head.headers, response::X_COS_VERSION_ID),
            parts: sorted.len() as u32,
            size,
            request_id: header(&parts_head.headers, response::X_COS_REQUEST_ID),
            resume: None,
        })
    }

    /// Abandons an upload and frees its parts.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let b = "examplebucket-1250000000";
    /// // Clean up everything a crashed process left behind.
    /// for u in client.list_multipart_uploads(b, None).await? {
    ///     client.abort_multipart_upload(b, &u.key, &u.upload_id).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), Error> {
        let bucket = Self::bucket(bucket)?;
        self.abort(&bucket, key, upload_id).await
    }

    pub(crate) async fn abort(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &str,
    ) -> Result<(), Error> {
        let info = self
            .info("AbortMultipartUpload", bucket)
            .with_key(key)
            .with_upload_id(upload_id);
        self.operation(info, async {
            let req = abort_multipart(self.target(bucket), key, upload_id)?;
            self.send(req).await?;
            Ok(())
        })
        .await
    }

    /// Sends like `send`, counting the attempts the pipeline makes.
    async fn send_counting(
        &self,
        req: crate::transport::PreparedRequest,
        attempts: &AtomicU32,
    ) -> Result<http::Response<crate::transport::ResponseBody>, Error> {
        // `move`: the closure owns the request, so the future holds no
        // `&PreparedRequest` (not `Sync`: its body may be a stream) and
        // stays `Send`, as spawned tasks and `object_store` require.
        let build = move || {
            attempts.fetch_add(1, Ordering::Relaxed);
            request::try_clone(&req).ok_or_else(|| Error::protocol("initiate has no streamed body"))
        };
        self.inner
            .pipeline
            .execute(build, response::parse_error)
            .await
    }
}

/// InitiateMultipartUpload: `POST /<key>?uploads` with the object's headers.
pub(crate) fn initiate_multipart(
    t: Target<'_>,
    key: &str,
    opts: &PutOptions,
) -> Result<PreparedRequest, Error> {
    let headers = opts.object_headers()?;
    t.object(
        Method::POST,
        key,
        params(&[("uploads", "")]),
        headers,
        RequestBody::Empty,
    )
}

/// UploadPart: `PUT /<key>?partNumber=N&uploadId=ID`.
pub(crate) fn upload_part(
    t: Target<'_>,
    key: &str,
    upload_id: &str,
    part_number: u32,
    body: Bytes,
    opts: &PutOptions,
) -> Result<PreparedRequest, Error> {
    check_upload_id(upload_id)?;
    check_part_number(part_number)?;
    if body.len() as u64 > MAX_PART_SIZE {
        return Err(Error::invalid_input(
            "part",
            &format!("{} bytes", body.len()),
            "a part is at most 5 GiB",
        ));
    }
    let mut headers = HeaderMap::new();
    opts.transfer_headers(&mut headers, &body)?;
    if let Some(key) = &opts.customer_key {
        // SSE-C parts carry the key too.
        let sse = PutOptions {
            customer_key: Some(key.clone()),
            ..PutOptions::default()
        };
        headers.extend(sse.object_headers()?);
    }
    let n = part_number.to_string();
    t.object(
        Method::PUT,
        key,
        params(&[("partNumber", &n), ("uploadId", upload_id)]),
        headers,
        RequestBody::Bytes(body),
    )
}

/// CompleteMultipartUpload: `POST /<key>?uploadId=ID` with the part list.
pub(crate) fn complete_multipart(
    t: Target<'_>,
    key: &str,
    upload_id: &str,
    parts: &[PartRef<'_>],
) -> Result<PreparedRequest, Error> {
    check_upload_id(upload_id)?;
    if parts.is_empty() {
        return Err(Error::invalid_input(
            "parts",
            "[]",
            "a multipart upload needs at least one part",
        ));
    }
    if parts.windows(2).any(|w| w[0].number >= w[1].number) {
        return Err(Error::invalid_input(
            "parts",
            "part numbers",
            "must be strictly ascending",
        ));
    }
    let body = Bytes::from(complete_multipart_body(parts));
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    t.object(
        Method::POST,
        key,
        params(&[("uploadId", upload_id)]),
        headers,
        RequestBody::Bytes(body),
    )
}

/// AbortMultipartUpload: `DELETE /<key>?uploadId=ID`.
pub(crate) fn abort_multipart(
    t: Target<'_>,
    key: &str,
    upload_id: &str,
) -> Result<PreparedRequest, Error> {
    check_upload_id(upload_id)?;
    t.object(
        Method::DELETE,
        key,
        params(&[("uploadId", upload_id)]),
        HeaderMap::new(),
        RequestBody::Empty,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct InitiateMultipartUploadResult {
    #[serde(rename = "Bucket")]
    pub(crate) bucket: String,
    #[serde(rename = "Key")]
    pub(crate) key: String,
    #[serde(rename = "UploadId")]
    pub(crate) upload_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CompleteMultipartUploadResult {
    #[serde(rename = "Location")]
    pub(crate) location: Option<String>,
    #[serde(rename = "Bucket")]
    pub(crate) bucket: Option<String>,
    #[serde(rename = "Key")]
    pub(crate) key: Option<String>,
    #[serde(rename = "ETag")]
    pub(crate) etag: Option<String>,
    #[serde(rename = "CRC64", alias = "Crc64")]
    pub(crate) crc64: Option<String>,
}

/// One part of a `CompleteMultipartUpload` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartRef<'a> {
    pub(crate) number: u32,
    pub(crate) etag: &'a str,
}

/// `<CompleteMultipartUpload>` with the parts in ascending order.
pub(crate) fn complete_multipart_body(parts: &[PartRef<'_>]) -> String {
    let mut out = String::with_capacity(64 + parts.len() * 80);
    out.push_str("<CompleteMultipartUpload>");
    for p in parts {
        out.push_str("<Part><PartNumber>");
        out.push_str(&p.number.to_string());
        out.push_str("</PartNumber><ETag>");
        out.push_str(&escape(p.etag));
        out.push_str("</ETag></Part>");
    }
    out.push_str("</CompleteMultipartUpload>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::ops::multipart::list::{list_multipart_uploads, list_parts};
    use crate::cos::request::testing::{param, target_parts};
    use crate::cos::xml::parse;

    #[test]
    fn multipart_requests() {
        let (ep, b) = target_parts();
        let t = Target {
            endpoint: &ep,
            bucket: &b,
        };
        let init = initiate_multipart(t, "v.mp4", &PutOptions::default().content_type("video/mp4"))
            .unwrap();
        assert_eq!(init.method, Method::POST);
        assert_eq!(param(&init, "uploads"), Some(""));
        assert_eq!(init.headers["content-length"], "0");
        let part = upload_part(
            t,
            "v.mp4",
            "up-1",
            3,
            Bytes::from_static(b"abc"),
            &PutOptions::default(),
        )
        .unwrap();
        assert_eq!(param(&part, "partNumber"), Some("3"));
        assert_eq!(param(&part, "uploadId"), Some("up-1"));
        assert!(upload_part(t, "v.mp4", "up-1", 0, Bytes::new(), &PutOptions::default()).is_err());
        assert!(upload_part(
            t,
            "v.mp4",
            "up-1",
            10_001,
            Bytes::new(),
            &PutOptions::default()
        )
        .is_err());
        assert!(upload_part(t, "v.mp4", "", 1, Bytes::new(), &PutOptions::default()).is_err());
        let parts = [
            PartRef {
                number: 1,
                etag: "\"a\"",
            },
            PartRef {
                number: 2,
                etag: "\"b\"",
            },
        ];
        let done = complete_multipart(t, "v.mp4", "up-1", &parts).unwrap();
        assert_eq!(done.headers["content-type"], "application/xml");
        let RequestBody::Bytes(body) = &done.body else {
            panic!("bytes body")
        };
        assert!(body.starts_with(b"<CompleteMultipartUpload><Part><PartNumber>1<"));
        let unordered = [
            PartRef {
                number: 2,
                etag: "\"a\"",
            },
            PartRef {
                number: 1,
                etag: "\"b\"",
            },
        ];
        assert!(complete_multipart(t, "v.mp4", "up-1", &unordered).is_err());
        assert!(complete_multipart(t, "v.mp4", "up-1", &[]).is_err());
        let abort = abort_multipart(t, "v.mp4", "up-1").unwrap();
        assert_eq!(abort.method, Method::DELETE);
        let lp = list_parts(t, "v.mp4", "up-1", Some("2")).unwrap();
        assert_eq!(param(&lp, "part-number-marker"), Some("2"));
        let lu = list_multipart_uploads(t, Some("v.mp4"), None, None).unwrap();
        assert_eq!(lu.signed_path, "/");
        assert_eq!(param(&lu, "prefix"), Some("v.mp4"));
    }

    #[test]
    fn multipart_and_copy_results() {
        let init: InitiateMultipartUploadResult = parse(
            "init",
            b"<InitiateMultipartUploadResult><Bucket>b-1</Bucket><Key>k</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>",
        )
        .unwrap();
        assert_eq!(init.upload_id, "u1");
        let done: CompleteMultipartUploadResult = parse(
            "complete",
            b"<CompleteMultipartUploadResult><Location>b-1.cos.r.myqcloud.com/k</Location><Bucket>b-1</Bucket><Key>k</Key><ETag>\"abc-2\"</ETag></CompleteMultipartUploadResult>",
        )
        .unwrap();
        assert_eq!(done.etag.as_deref(), Some("\"abc-2\""));
    }

    #[test]
    fn request_bodies_are_escaped() {
        let body = complete_multipart_body(&[
            PartRef {
                number: 1,
                etag: "\"a\"",
            },
            PartRef {
                number: 2,
                etag: "\"b\"",
            },
        ]);
        assert_eq!(
            body,
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag></Part>\
             <Part><PartNumber>2</PartNumber><ETag>&quot;b&quot;</ETag></Part></CompleteMultipartUpload>"
        );
    }
}
