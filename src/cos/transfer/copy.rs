//! Copies of any size. COS copies at most 5 GiB in one CopyObject; larger
//! sources are copied server-side in parts (UploadPartCopy with
//! `x-cos-copy-source-range`, docs/protocol/cos.md §3): no byte passes through the client,
//! parts run concurrently, and a failed copy is aborted so that no parts are
//! left behind to be billed.

use tokio::task::JoinSet;

use crate::cos::limits::MAX_PART_SIZE;
use crate::cos::transfer::plan::{check_concurrency, choose_part_size, DEFAULT_CONCURRENCY};
use crate::cos::CompletedPart;
use crate::cos::{BucketName, Client, CopyOptions, Error, ObjectMeta, PutOptions, StorageClass};
use crate::cos::{UploadOutput, MIN_PART_SIZE};

/// A copy source, resolved once.
#[derive(Debug, Clone)]
struct Source {
    /// The `x-cos-copy-source` value.
    header: String,
    size: u64,
}

impl Client {
    /// Copies an object of any size: one CopyObject up to
    /// [`CopyOptions::multipart_threshold`] (5 GiB), above it a multipart
    /// copy whose parts are UploadPartCopy ranges of the source. The
    /// metadata is copied (or replaced, as `opts` says) either way, and the
    /// copy's CRC-64 is compared with the source's.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::CopyOptions;
    /// let b = "examplebucket-1250000000";
    /// let out = client.copy(b, "videos/raw.mp4", b, "archive/raw.mp4", &CopyOptions::default()).await?;
    /// println!("{} bytes in {} parts", out.size, out.parts);
    /// # Ok(()) }
    /// ```
    pub async fn copy(
        &self,
        source_bucket: &str,
        source_key: &str,
        bucket: &str,
        key: &str,
        opts: &CopyOptions,
    ) -> Result<UploadOutput, Error> {
        let source_bucket_name = Self::bucket(source_bucket)?;
        crate::cos::validate_key(source_key)?;
        let dest = Self::bucket(bucket)?;
        crate::cos::validate_key(key)?;
        let threshold = opts.multipart_threshold.unwrap_or(MAX_PART_SIZE);
        if !(1..=MAX_PART_SIZE).contains(&threshold) {
            return Err(Error::invalid_input(
                "multipart threshold",
                &threshold.to_string(),
                "must be between 1 byte and 5 GiB (the CopyObject limit)",
            ));
        }
        check_concurrency(opts.concurrency.unwrap_or(DEFAULT_CONCURRENCY))?;
        let same_region = opts
            .source_region
            .as_ref()
            .is_none_or(|r| r == &self.inner.region);
        // The source's metadata is needed for a multipart copy that keeps it,
        // and its CRC-64 to check the result; a HEAD gives both.
        let meta = match (opts.source_size, same_region) {
            (_, true) => Some(self.head_source(&source_bucket_name, source_key, opts).await?),
            (Some(_), false) => None,
            (None, false) => {
                return Err(Error::invalid_input(
                    "source size",
                    "unknown",
                    "a copy from another region needs CopyOptions::source_size (no HEAD across regions)",
                ))
            }
        };
        let size = meta
            .as_ref()
            .map_or(opts.source_size.unwrap_or(0), |m| m.content_length);
        if size <= threshold {
            let out = self
                .copy_object(source_bucket, source_key, bucket, key, opts)
                .await?;
            if self.verify_crc() {
                let source_crc = meta.as_ref().and_then(|m| m.crc64);
                crate::cos::response::check_crc(format_args!("Copy {key}"), out.crc64, source_crc)?;
            }
            return Ok(UploadOutput::single(
                out.etag,
                out.crc64,
                out.version_id,
                size,
                out.request_id,
            ));
        }
        let part_size = choose_part_size(Some(size), opts.part_size)?;
        let region = opts.source_region.as_ref().unwrap_or(&self.inner.region);
        let source = Source {
            header: self.inner.endpoint.copy_source(
                &source_bucket_name,
                region,
                source_key,
                opts.source_version_id.as_deref(),
            ),
            size,
        };
        let put = match (&opts.replace_metadata, &meta) {
            (Some(put), _) => put.clone(),
            (None, Some(meta)) => kept_metadata(meta, opts)?,
            (None, None) => PutOptions {
                storage_class: opts.storage_class.clone(),
                ..PutOptions::default()
            },
        };
        let upload_id = self.initiate(&dest, key, &put).await?;
        let parts = match self
            .copy_parts(&dest, key, &upload_id, &source, part_size, opts)
            .await
        {
            Ok(parts) => parts,
            Err(e) => {
                self.abort_quietly(&dest, key, &upload_id).await;
                return Err(e);
            }
        };
        let expected = meta.as_ref().and_then(|m| m.crc64);
        match self
            .complete_expecting(&dest, key, &upload_id, &parts, expected, false)
            .await
        {
            Ok(out) => Ok(out),
            // The upload did complete; there is nothing left to abort.
            Err(e @ Error::ChecksumMismatch { .. }) => Err(e),
            Err(e) => {
                self.abort_quietly(&dest, key, &upload_id).await;
                Err(e)
            }
        }
    }

    async fn head_source(
        &self,
        bucket: &BucketName,
        key: &str,
        opts: &CopyOptions,
    ) -> Result<ObjectMeta, Error> {
        let mut get = crate::cos::GetOptions::default();
        if let Some(v) = &opts.source_version_id {
            get = get.version_id(v.clone());
        }
        if let Some(k) = &opts.source_customer_key {
            get.customer_key = Some(k.clone());
        }
        self.head_object_with(bucket.as_str(), key, &get).await
    }

    async fn copy_parts(
        &self,
        bucket: &BucketName,
        key: &str,
        upload_id: &str,
        source: &Source,
        part_size: u64,
        opts: &CopyOptions,
    ) -> Result<Vec<CompletedPart>, Error> {
        let ranges = part_ranges(source.size, part_size);
        let concurrency = opts.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        let mut pending = ranges.into_iter().enumerate();
        let mut tasks: JoinSet<Result<CompletedPart, Error>> = JoinSet::new();
        let mut done = Vec::new();
        loop {
            while tasks.len() < concurrency {
                let Some((index, range)) = pending.next() else {
                    break;
                };
                let client = self.clone();
                let (bucket, key, upload_id, header, opts) = (
                    bucket.clone(),
                    key.to_string(),
                    upload_id.to_string(),
                    source.header.clone(),
                    opts.clone(),
                );
                tasks.spawn(async move {
                    let number = index as u32 + 1;
                    client
                        .copy_part(
                            &bucket,
                            &key,
                            &upload_id,
                            number,
                            &header,
                            Some(range),
                            &opts,
                        )
                        .await
                });
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            done.push(joined.map_err(|e| Error::protocol(format!("a copy task failed: {e}")))??);
        }
        Ok(done)
    }
}

/// The source's metadata as the new object's headers, so that a multipart
/// copy keeps what a CopyObject with `x-cos-metadata-directive: Copy` would.
fn kept_metadata(meta: &ObjectMeta, opts: &CopyOptions) -> Result<PutOptions, Error> {
    let storage_class = match (&opts.storage_class, &meta.storage_class) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(c)) => Some(StorageClass::new(c)?),
        (None, None) => None,
    };
    Ok(PutOptions {
        content_type: meta.content_type.clone(),
        content_disposition: meta.content_disposition.clone(),
        content_encoding: meta.content_encoding.clone(),
        cache_control: meta.cache_control.clone(),
        expires: meta
            .expires
            .as_deref()
            .and_then(|e| httpdate::parse_http_date(e).ok()),
        metadata: meta.metadata.clone(),
        storage_class,
        ..PutOptions::default()
    })
}

/// Inclusive byte ranges of `part_size` covering `size` bytes (pure).
fn part_ranges(size: u64, part_size: u64) -> Vec<(u64, u64)> {
    let part_size = part_size.max(MIN_PART_SIZE);
    (0..size.div_ceil(part_size))
        .map(|i| {
            let first = i * part_size;
            (first, (first + part_size).min(size) - 1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_source_exactly() {
        const MIB: u64 = 1 << 20;
        assert_eq!(
            part_ranges(2 * MIB + 1, MIB),
            [(0, MIB - 1), (MIB, 2 * MIB - 1), (2 * MIB, 2 * MIB)]
        );
        assert_eq!(part_ranges(MIB, MIB), [(0, MIB - 1)]);
        assert!(part_ranges(0, MIB).is_empty());
    }

    #[test]
    fn kept_metadata_carries_the_source_headers() {
        let meta = ObjectMeta {
            content_type: Some("video/mp4".into()),
            cache_control: Some("no-cache".into()),
            expires: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
            storage_class: Some("STANDARD_IA".into()),
            metadata: [("owner".to_string(), "me".to_string())].into(),
            ..ObjectMeta::default()
        };
        let put = kept_metadata(&meta, &CopyOptions::default()).unwrap();
        assert_eq!(put.content_type.as_deref(), Some("video/mp4"));
        assert_eq!(put.cache_control.as_deref(), Some("no-cache"));
        assert!(put.expires.is_some());
        assert_eq!(put.metadata["owner"], "me");
        assert_eq!(put.storage_class, Some(StorageClass::STANDARD_IA));
        let archive = CopyOptions {
            storage_class: Some(StorageClass::new("ARCHIVE").unwrap()),
            ..CopyOptions::default()
        };
        let put = kept_metadata(&meta, &archive).unwrap();
        assert_eq!(
            put.storage_class.as_ref().map(|c| c.as_str()),
            Some("ARCHIVE")
        );
    }
}
