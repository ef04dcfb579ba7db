//! The `--data-dir` layout:
//!
//! ```text
//! buckets/<bucket>/bucket.json                 {"created": <unix s>}
//! buckets/<bucket>/config.json                 tags, ACL, lifecycle rules
//! buckets/<bucket>/objects/<md5(key)>.json     {"key", "meta", "blob"}
//! buckets/<bucket>/versions/<md5(key)>.json    {"key", "versions"}: noncurrent
//!                                              versions and delete markers
//! uploads/<upload id>.json                     the upload with its parts
//! blobs/<id>                                   object and part bytes
//! tmp/                                         bodies being received
//! ```
//!
//! JSON records are written to a temporary file and renamed, so a crash
//! leaves the old or the new record, never half of one. Blobs no record
//! refers to are removed when the store is opened.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{
    Blob, Bucket, BucketConfig, ByteStream, Object, ObjectMeta, Part, Upload, Version, Versioning,
};

const READ_CHUNK: usize = 256 * 1024;

/// Paths under the data directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

/// What [`Layout::load`] found.
pub(super) struct Loaded {
    pub(super) buckets: BTreeMap<String, Bucket>,
    pub(super) uploads: BTreeMap<String, Upload>,
}

#[derive(Serialize, Deserialize)]
struct BucketRecord {
    created: i64,
    #[serde(default)]
    versioning: Versioning,
}

#[derive(Serialize, Deserialize)]
struct VersionRecord {
    id: String,
    last_modified: i64,
    /// `None` for a delete marker.
    object: Option<(ObjectMeta, String)>,
}

#[derive(Serialize, Deserialize)]
struct VersionsRecord {
    key: String,
    versions: Vec<VersionRecord>,
}

#[derive(Serialize, Deserialize)]
struct ObjectRecord {
    key: String,
    meta: ObjectMeta,
    blob: String,
}

#[derive(Serialize, Deserialize)]
struct PartRecord {
    number: u32,
    etag: String,
    size: u64,
    crc64: u64,
    md5: String,
    last_modified: i64,
    blob: String,
}

#[derive(Serialize, Deserialize)]
struct UploadRecord {
    id: String,
    bucket: String,
    key: String,
    initiated: i64,
    meta: ObjectMeta,
    parts: Vec<PartRecord>,
}

fn blob_name(blob: &Blob) -> io::Result<String> {
    match blob {
        Blob::File(p) => p
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
            .ok_or_else(|| io::Error::other("blob path has no file name")),
        Blob::Memory(_) => Err(io::Error::other("a memory blob in the file store")),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> io::Result<T> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

fn key_file(key: &str) -> String {
    format!("{}.json", hex::encode(Md5::digest(key.as_bytes())))
}

impl Layout {
    /// Creates the directories under `root`.
    pub(super) fn create(root: &Path) -> io::Result<Self> {
        let layout = Layout {
            root: root.to_path_buf(),
        };
        for dir in ["buckets", "uploads", "blobs", "tmp"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        Ok(layout)
    }

    fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join("buckets").join(bucket)
    }

    fn blob_path(&self, name: &str) -> PathBuf {
        self.root.join("blobs").join(name)
    }

    /// A fresh temporary path and the final blob path it is renamed to.
    pub(super) fn new_blob_paths(&self) -> (PathBuf, PathBuf) {
        let id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        (self.root.join("tmp").join(&id), self.blob_path(&id))
    }

    pub(super) fn write_bucket(&self, bucket: &str, created: i64) -> io::Result<()> {
        self.write_bucket_record(bucket, created, Versioning::Off)
    }

    pub(super) fn write_bucket_record(
        &self,
        bucket: &str,
        created: i64,
        versioning: Versioning,
    ) -> io::Result<()> {
        let dir = self.bucket_dir(bucket);
        std::fs::create_dir_all(dir.join("objects"))?;
        write_json(
            &dir.join("bucket.json"),
            &BucketRecord {
                created,
                versioning,
            },
        )
    }

    /// Writes the noncurrent versions of `key`, or removes the record when
    /// there are none.
    pub(super) fn write_versions(
        &self,
        bucket: &str,
        key: &str,
        versions: &[Version],
    ) -> io::Result<()> {
        let dir = self.bucket_dir(bucket).join("versions");
        let path = dir.join(key_file(key));
        if versions.is_empty() {
            return match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        std::fs::create_dir_all(&dir)?;
        let versions = versions
            .iter()
            .map(|v| {
                Ok(VersionRecord {
                    id: v.id.clone(),
                    last_modified: v.last_modified,
                    object: match &v.object {
                        None => None,
                        Some(o) => Some((o.meta.clone(), blob_name(&o.blob)?)),
                    },
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        write_json(
            &path,
            &VersionsRecord {
                key: key.to_string(),
                versions,
            },
        )
    }

    pub(super) fn write_bucket_config(
        &self,
        bucket: &str,
        config: &BucketConfig,
    ) -> io::Result<()> {
        write_json(&self.bucket_dir(bucket).join("config.json"), config)
    }

    pub(super) fn remove_bucket(&self, bucket: &str) -> io::Result<()> {
        std::fs::remove_dir_all(self.bucket_dir(bucket))
    }

    pub(super) fn write_object(&self, bucket: &str, key: &str, object: &Object) -> io::Result<()> {
        let record = ObjectRecord {
            key: key.to_string(),
            meta: object.meta.clone(),
            blob: blob_name(&object.blob)?,
        };
        write_json(
            &self.bucket_dir(bucket).join("objects").join(key_file(key)),
            &record,
        )
    }

    pub(super) fn remove_object(&self, bucket: &str, key: &str) -> io::Result<()> {
        match std::fs::remove_file(self.bucket_dir(bucket).join("objects").join(key_file(key))) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub(super) fn write_upload(&self, upload: &Upload) -> io::Result<()> {
        let parts = upload
            .parts
            .values()
            .map(|p| {
                Ok(PartRecord {
                    number: p.number,
                    etag: p.etag.clone(),
                    size: p.size,
                    crc64: p.crc64,
                    md5: hex::encode(p.md5),
                    last_modified: p.last_modified,
                    blob: blob_name(&p.blob)?,
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        let record = UploadRecord {
            id: upload.id.clone(),
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
            initiated: upload.initiated,
            meta: upload.meta.clone(),
            parts,
        };
        write_json(&self.upload_path(&upload.id), &record)
    }

    fn upload_path(&self, id: &str) -> PathBuf {
        // Upload ids are generated here as hex digits; anything else cannot name a file.
        let safe: String = id.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        self.root.join("uploads").join(format!("{safe}.json"))
    }

    pub(super) fn remove_upload(&self, id: &str) {
        let _ = std::fs::remove_file(self.upload_path(id));
    }

    /// Reads every record and removes blobs and temporary files nothing refers to.
    pub(super) fn load(&self) -> io::Result<Loaded> {
        for entry in std::fs::read_dir(self.root.join("tmp"))? {
            let _ = std::fs::remove_file(entry?.path());
        }
        let mut used = HashSet::new();
        let mut buckets = BTreeMap::new();
        for entry in std::fs::read_dir(self.root.join("buckets"))? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let dir = entry.path();
            let record: BucketRecord = match read_json(&dir.join("bucket.json")) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let config = match read_json(&dir.join("config.json")) {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::NotFound => BucketConfig::default(),
                Err(e) => return Err(e),
            };
            let mut bucket = Bucket {
                created: record.created,
                config,
                versioning: record.versioning,
                ..Bucket::default()
            };
            let versions_dir = dir.join("versions");
            if versions_dir.is_dir() {
                for entry in std::fs::read_dir(versions_dir)? {
                    let path = entry?.path();
                    if path.extension().and_then(|e| e.to_str()) != Some("json") {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    let record: VersionsRecord = read_json(&path)?;
                    let list = record
                        .versions
                        .into_iter()
                        .map(|v| Version {
                            id: v.id,
                            last_modified: v.last_modified,
                            object: v.object.map(|(meta, blob)| {
                                used.insert(blob.clone());
                                Object {
                                    meta,
                                    blob: Blob::File(self.blob_path(&blob)),
                                }
                            }),
                        })
                        .collect();
                    bucket.older.insert(record.key, list);
                }
            }
            let objects_dir = dir.join("objects");
            std::fs::create_dir_all(&objects_dir)?;
            for obj in std::fs::read_dir(objects_dir)? {
                let path = obj?.path();
                if path.extension().and_then(|e| e.to_str()) != Some("json") {
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                let record: ObjectRecord = read_json(&path)?;
                used.insert(record.blob.clone());
                bucket.objects.insert(
                    record.key,
                    Object {
                        meta: record.meta,
                        blob: Blob::File(self.blob_path(&record.blob)),
                    },
                );
            }
            buckets.insert(name, bucket);
        }
        let mut uploads = BTreeMap::new();
        for entry in std::fs::read_dir(self.root.join("uploads"))? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let record: UploadRecord = read_json(&path)?;
            let mut parts = BTreeMap::new();
            for p in record.parts {
                let mut md5 = [0u8; 16];
                hex::decode_to_slice(&p.md5, &mut md5).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })?;
                used.insert(p.blob.clone());
                parts.insert(
                    p.number,
                    Part {
                        number: p.number,
                        etag: p.etag,
                        size: p.size,
                        crc64: p.crc64,
                        md5,
                        last_modified: p.last_modified,
                        blob: Blob::File(self.blob_path(&p.blob)),
                    },
                );
            }
            uploads.insert(
                record.id.clone(),
                Upload {
                    id: record.id,
                    bucket: record.bucket,
                    key: record.key,
                    initiated: record.initiated,
                    meta: record.meta,
                    parts,
                },
            );
        }
        for entry in std::fs::read_dir(self.root.join("blobs"))? {
            let entry = entry?;
            let name = entry.file_name();
            if !name.to_str().is_some_and(|n| used.contains(n)) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Loaded { buckets, uploads })
    }

    /// Concatenates file blobs into a new one (the kernel copies the bytes).
    pub(super) async fn concat(&self, blobs: Vec<Blob>) -> io::Result<Blob> {
        let (tmp, final_path) = self.new_blob_paths();
        tokio::task::spawn_blocking(move || -> io::Result<Blob> {
            let result = (|| {
                let mut out = std::fs::File::create(&tmp)?;
                for blob in &blobs {
                    let Blob::File(path) = blob else {
                        return Err(io::Error::other("a memory blob in the file store"));
                    };
                    let mut input = std::fs::File::open(path)?;
                    io::copy(&mut input, &mut out)?;
                }
                out.sync_data()?;
                std::fs::rename(&tmp, &final_path)
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result.map(|()| Blob::File(final_path))
        })
        .await
        .map_err(io::Error::other)?
    }

    /// A new blob with the same bytes: a hard link, or a copy where links fail.
    pub(super) async fn duplicate(&self, path: &Path) -> io::Result<Blob> {
        let (_, final_path) = self.new_blob_paths();
        let src = path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            if std::fs::hard_link(&src, &final_path).is_err() {
                std::fs::copy(&src, &final_path)?;
            }
            Ok(Blob::File(final_path))
        })
        .await
        .map_err(io::Error::other)?
    }
}

/// Streams `len` bytes of the file from `start`, 256 KiB at a time.
pub(super) async fn read(path: &Path, start: u64, len: u64) -> io::Result<ByteStream> {
    let mut file = tokio::fs::File::open(path).await?;
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await?;
    }
    let stream = futures_util::stream::try_unfold((file, len), |(mut file, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let want = (left as usize).min(READ_CHUNK);
        let mut buf = BytesMut::zeroed(want);
        let mut filled = 0;
        while filled < want {
            let n = file.read(&mut buf[filled..]).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stored object is shorter than its metadata",
                ));
            }
            filled += n;
        }
        Ok(Some((buf.freeze(), (file, left - want as u64))))
    });
    Ok(Box::pin(stream))
}
