//! Buckets, objects and multipart uploads: an in-memory index over blobs that
//! live in memory or in files under `--data-dir`.
//!
//! The index is always in memory behind one lock that is never held across an
//! `.await`; bodies are written and read as streams outside it. With a data
//! directory every change to the index is also written as a small JSON record,
//! so a restarted emulator finds its buckets, objects and unfinished uploads.

pub(crate) mod config;
mod disk;
mod memory;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};

pub(crate) use config::BucketConfig;
pub(crate) use disk::Layout;

/// A stream of body chunks.
pub(crate) type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Bytes buffered before a write to a file, and the chunk size kept in memory.
const CHUNK: usize = 1 << 20;

/// What is known about a stored object besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub(crate) struct ObjectMeta {
    pub(crate) size: u64,
    /// Quoted, as sent in `ETag`.
    pub(crate) etag: String,
    pub(crate) crc64: u64,
    /// Unix seconds.
    pub(crate) last_modified: i64,
    pub(crate) content_type: String,
    /// Standard headers echoed on GET (`cache-control`, `content-disposition`…), lower-case names.
    pub(crate) headers: Vec<(String, String)>,
    /// `x-cos-meta-*` headers, lower-case names.
    pub(crate) user_meta: Vec<(String, String)>,
    pub(crate) storage_class: String,
    /// Object tags (`x-cos-tagging`, PutObjectTagging), in the order given.
    #[serde(default)]
    pub(crate) tags: Vec<(String, String)>,
    /// The object ACL; `None` is COS's `default` (follow the bucket).
    #[serde(default)]
    pub(crate) acl: Option<config::StoredAcl>,
    /// The version id on a bucket whose versioning was ever turned on;
    /// `None` for objects written before that (the `null` version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) version_id: Option<String>,
    /// The temporary copy of an ARCHIVE / DEEP_ARCHIVE object that
    /// PostRestore asked for; `None` when none was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) restore: Option<Restore>,
    /// Written by AppendObject (`x-cos-object-type: appendable`); a PUT
    /// makes the key a normal object again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) appendable: bool,
}

/// A restore of an archived object, in object-clock Unix seconds
/// ([`State::object_now`](crate::state::State::object_now)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Restore {
    /// When the temporary copy becomes readable.
    pub(crate) ready_at: i64,
    /// When the temporary copy is gone again.
    pub(crate) expires_at: i64,
}

/// Where an object's bytes are.
#[derive(Debug, Clone)]
pub(crate) enum Blob {
    Memory(Arc<Vec<Bytes>>),
    File(PathBuf),
}

/// An object: metadata and bytes.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub(crate) meta: ObjectMeta,
    pub(crate) blob: Blob,
}

/// One uploaded part of a multipart upload.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub(crate) number: u32,
    pub(crate) etag: String,
    pub(crate) size: u64,
    pub(crate) crc64: u64,
    pub(crate) md5: [u8; 16],
    pub(crate) last_modified: i64,
    pub(crate) blob: Blob,
}

/// A multipart upload in progress.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub(crate) id: String,
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) initiated: i64,
    /// Content type, headers, user metadata and storage class for the final object.
    pub(crate) meta: ObjectMeta,
    pub(crate) parts: BTreeMap<u32, Part>,
}

#[derive(Debug, Default)]
pub(crate) struct Bucket {
    pub(crate) created: i64,
    /// The current version of each key whose latest version is not a delete marker.
    pub(crate) objects: BTreeMap<String, Object>,
    /// Tags, ACL and lifecycle rules.
    pub(crate) config: BucketConfig,
    pub(crate) versioning: Versioning,
    /// Noncurrent versions and delete markers by key, newest first; empty
    /// until versioning is first enabled. A key absent from `objects` whose
    /// first entry here is a delete marker is deleted for plain GET and HEAD.
    pub(crate) older: BTreeMap<String, Vec<Version>>,
}

/// A bucket's versioning state (`PUT /?versioning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) enum Versioning {
    /// Never enabled: writes replace, deletes remove.
    #[default]
    Off,
    /// Every write and plain delete adds a version.
    Enabled,
    /// Writes and plain deletes replace the `null` version; older versions stay.
    Suspended,
}

/// The version id of objects written while versioning is off or suspended.
pub(crate) const NULL_VERSION: &str = "null";

/// A noncurrent version or a delete marker.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub(crate) id: String,
    /// Unix seconds.
    pub(crate) last_modified: i64,
    /// `None` for a delete marker.
    pub(crate) object: Option<Object>,
}

/// What a versioned delete did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Deleted {
    /// Whether a delete marker was created, or the version removed was one.
    pub(crate) delete_marker: bool,
    /// The marker created, or the version removed.
    pub(crate) version_id: Option<String>,
}

fn new_version_id() -> String {
    // 16 random hex digits: unique for any emulator's lifetime, never "null".
    format!("{:016x}", fastrand::u64(..))
}

impl Object {
    /// The id this object is listed and addressed by.
    pub(crate) fn version(&self) -> &str {
        self.meta.version_id.as_deref().unwrap_or(NULL_VERSION)
    }
}

#[derive(Debug, Default)]
struct Index {
    buckets: BTreeMap<String, Bucket>,
    uploads: BTreeMap<String, Upload>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("the bucket does not exist")]
    NoSuchBucket,
    #[error("the bucket already exists")]
    BucketExists,
    #[error("the bucket is not empty")]
    BucketNotEmpty,
    #[error("the upload does not exist")]
    NoSuchUpload,
    #[error("an object with this key exists and overwriting was forbidden")]
    ObjectExists,
    #[error("storage I/O failed: {0}")]
    Io(#[from] io::Error),
}

/// The store.
#[derive(Debug)]
pub(crate) struct Store {
    index: Mutex<Index>,
    layout: Option<Layout>,
}

impl Store {
    /// A store that keeps everything in memory.
    pub(crate) fn in_memory() -> Self {
        Store {
            index: Mutex::new(Index::default()),
            layout: None,
        }
    }

    /// A store under `dir`, loading what an earlier run left there.
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        let layout = Layout::create(dir)?;
        let loaded = layout.load()?;
        Ok(Store {
            index: Mutex::new(Index {
                buckets: loaded.buckets,
                uploads: loaded.uploads,
            }),
            layout: Some(layout),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // A panic while holding the lock leaves plain data; keep serving.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A writer for a new blob.
    pub(crate) async fn writer(&self) -> io::Result<BlobWriter> {
        let sink = match &self.layout {
            None => Sink::Memory(Vec::new()),
            Some(layout) => {
                let (tmp, final_path) = layout.new_blob_paths();
                let file = tokio::fs::File::create(&tmp).await?;
                Sink::File {
                    file,
                    tmp,
                    final_path,
                }
            }
        };
        Ok(BlobWriter {
            sink,
            pending: BytesMut::with_capacity(CHUNK),
            len: 0,
            md5: Md5::new(),
            crc: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Xz),
        })
    }

    /// A new blob holding `blobs` one after the other.
    pub(crate) async fn concat(&self, blobs: Vec<Blob>) -> io::Result<Blob> {
        match &self.layout {
            None => memory::concat(&blobs),
            Some(layout) => layout.concat(blobs).await,
        }
    }

    /// An independent copy of a blob (objects own their blobs).
    pub(crate) async fn duplicate(&self, blob: &Blob) -> io::Result<Blob> {
        match (&self.layout, blob) {
            (Some(layout), Blob::File(path)) => layout.duplicate(path).await,
            _ => Ok(blob.clone()),
        }
    }

    /// Forgets a blob that never made it into the index.
    pub(crate) fn discard(&self, blob: Blob) {
        release(blob);
    }

    pub(crate) fn create_bucket(&self, name: &str, now: i64) -> Result<(), StoreError> {
        let mut index = self.lock();
        if index.buckets.contains_key(name) {
            return Err(StoreError::BucketExists);
        }
        if let Some(layout) = &self.layout {
            layout.write_bucket(name, now)?;
        }
        index.buckets.insert(
            name.to_string(),
            Bucket {
                created: now,
                ..Bucket::default()
            },
        );
        Ok(())
    }

    pub(crate) fn delete_bucket(&self, name: &str) -> Result<(), StoreError> {
        let mut index = self.lock();
        let bucket = index.buckets.get(name).ok_or(StoreError::NoSuchBucket)?;
        if !bucket.objects.is_empty() || !bucket.older.is_empty() {
            return Err(StoreError::BucketNotEmpty);
        }
        if let Some(layout) = &self.layout {
            layout.remove_bucket(name)?;
        }
        index.buckets.remove(name);
        let stale: Vec<String> = index
            .uploads
            .values()
            .filter(|u| u.bucket == name)
            .map(|u| u.id.clone())
            .collect();
        for id in stale {
            if let Some(upload) = index.uploads.remove(&id) {
                self.drop_upload(upload);
            }
        }
        Ok(())
    }

    pub(crate) fn has_bucket(&self, name: &str) -> bool {
        self.lock().buckets.contains_key(name)
    }

    /// Bucket names and creation times, sorted by name.
    pub(crate) fn buckets(&self) -> Vec<(String, i64)> {
        self.lock()
            .buckets
            .iter()
            .map(|(k, b)| (k.clone(), b.created))
            .collect()
    }

    /// A bucket's tags, ACL and lifecycle rules.
    pub(crate) fn bucket_config(&self, bucket: &str) -> Result<BucketConfig, StoreError> {
        let index = self.lock();
        let b = index.buckets.get(bucket).ok_or(StoreError::NoSuchBucket)?;
        Ok(b.config.clone())
    }

    /// Changes a bucket's tags, ACL or lifecycle rules (and their record).
    pub(crate) fn update_bucket_config(
        &self,
        bucket: &str,
        f: impl FnOnce(&mut BucketConfig),
    ) -> Result<(), StoreError> {
        let mut index = self.lock();
        let b = index
            .buckets
            .get_mut(bucket)
            .ok_or(StoreError::NoSuchBucket)?;
        let mut config = b.config.clone();
        f(&mut config);
        if let Some(layout) = &self.layout {
            layout.write_bucket_config(bucket, &config)?;
        }
        b.config = config;
        Ok(())
    }

    /// Changes the metadata of a stored object in place (tags, ACL);
    /// `Ok(false)` when there is no such object.
    pub(crate) fn update_object_meta(
        &self,
        bucket: &str,
        key: &str,
        f: impl FnOnce(&mut ObjectMeta),
    ) -> Result<bool, StoreError> {
        let mut index = self.lock();
        let b = index
            .buckets
            .get_mut(bucket)
            .ok_or(StoreError::NoSuchBucket)?;
        let Some(object) = b.objects.get_mut(key) else {
            return Ok(false);
        };
        let mut updated = object.clone();
        f(&mut updated.meta);
        if let Some(layout) = &self.layout {
            layout.write_object(bucket, key, &updated)?;
        }
        *object = updated;
        Ok(true)
    }

    pub(crate) fn get(&self, bucket: &str, key: &str) -> Result<Option<Object>, StoreError> {
        let index = self.lock();
        let b = index.buckets.get(bucket).ok_or(StoreError::NoSuchBucket)?;
        Ok(b.objects.get(key).cloned())
    }

    /// Runs `f` over a bucket's objects under the lock (for listing).
    pub(crate) fn with_bucket<R>(
        &self,
        bucket: &str,
        f: impl FnOnce(&Bucket) -> R,
    ) -> Result<R, StoreError> {
        let index = self.lock();
        let b = index.buckets.get(bucket).ok_or(StoreError::NoSuchBucket)?;
        Ok(f(b))
    }

    /// Stores an object, replacing (and releasing) any previous one, or on
    /// a versioned bucket keeping it as a noncurrent version; answers the
    /// new object's version id as [`put_checked`](Self::put_checked) does.
    pub(crate) fn put(
        &self,
        bucket: &str,
        key: &str,
        object: Object,
    ) -> Result<Option<String>, StoreError> {
        self.put_checked(bucket, key, object, false)
    }

    /// Stores an object; with `forbid_overwrite` only if the key is free
    /// (`x-cos-forbid-overwrite`), checked under the lock that inserts, so
    /// of two racing writers exactly one succeeds. Answers the version id
    /// the object got: `None` while the bucket's versioning is off, `null`
    /// while it is suspended. Off, the previous object is replaced as it
    /// always was; otherwise it becomes a noncurrent version (or, when
    /// suspended and itself the `null` version, is replaced).
    pub(crate) fn put_checked(
        &self,
        bucket: &str,
        key: &str,
        mut object: Object,
        forbid_overwrite: bool,
    ) -> Result<Option<String>, StoreError> {
        let mut index = self.lock();
        let Some(b) = index.buckets.get_mut(bucket) else {
            release(object.blob);
            return Err(StoreError::NoSuchBucket);
        };
        // COS honours x-cos-forbid-overwrite only on buckets that never had
        // versioning; on the others the write becomes a new version.
        if forbid_overwrite && b.versioning == Versioning::Off && b.objects.contains_key(key) {
            release(object.blob);
            return Err(StoreError::ObjectExists);
        }
        let id = match b.versioning {
            Versioning::Off => None,
            Versioning::Enabled => Some(new_version_id()),
            Versioning::Suspended => Some(NULL_VERSION.to_string()),
        };
        object.meta.version_id = id.clone();
        if let Some(layout) = &self.layout {
            if let Err(e) = layout.write_object(bucket, key, &object) {
                release(object.blob);
                return Err(e.into());
            }
        }
        let old = b.objects.insert(key.to_string(), object);
        if b.versioning == Versioning::Off {
            if let Some(old) = old {
                release(old.blob);
            }
            return Ok(None);
        }
        self.retire(bucket, b, key, old)?;
        Ok(id)
    }

    /// Files the previous current object of `key` as a noncurrent version
    /// (a suspended bucket replaces the `null` version instead) and writes
    /// the key's versions record. The lock is held by the caller.
    fn retire(
        &self,
        bucket: &str,
        b: &mut Bucket,
        key: &str,
        old: Option<Object>,
    ) -> Result<(), StoreError> {
        let suspended = b.versioning == Versioning::Suspended;
        let list = b.older.entry(key.to_string()).or_default();
        if suspended {
            list.retain(|v| {
                let null = v.id == NULL_VERSION;
                if null {
                    if let Some(o) = &v.object {
                        release(o.blob.clone());
                    }
                }
                !null
            });
        }
        if let Some(old) = old {
            if suspended && old.version() == NULL_VERSION {
                release(old.blob);
            } else {
                list.insert(
                    0,
                    Version {
                        id: old.version().to_string(),
                        last_modified: old.meta.last_modified,
                        object: Some(old),
                    },
                );
            }
        }
        self.save_versions(bucket, b, key)
    }

    /// Writes (or removes, when empty) the versions record of `key`.
    fn save_versions(&self, bucket: &str, b: &mut Bucket, key: &str) -> Result<(), StoreError> {
        if b.older.get(key).is_some_and(Vec::is_empty) {
            b.older.remove(key);
        }
        if let Some(layout) = &self.layout {
            layout.write_versions(bucket, key, b.older.get(key).map_or(&[], Vec::as_slice))?;
        }
        Ok(())
    }

    /// Replaces the object at `key` with `object` only if the object there
    /// still has `expected_etag` (an append that raced another loses);
    /// `Ok(false)`, and `object`'s blob released, otherwise.
    pub(crate) fn replace_if(
        &self,
        bucket: &str,
        key: &str,
        expected_etag: &str,
        object: Object,
    ) -> Result<bool, StoreError> {
        let mut index = self.lock();
        let Some(b) = index.buckets.get_mut(bucket) else {
            release(object.blob);
            return Err(StoreError::NoSuchBucket);
        };
        if b.objects.get(key).map(|o| o.meta.etag.as_str()) != Some(expected_etag) {
            release(object.blob);
            return Ok(false);
        }
        if let Some(layout) = &self.layout {
            if let Err(e) = layout.write_object(bucket, key, &object) {
                release(object.blob);
                return Err(e.into());
            }
        }
        if let Some(old) = b.objects.insert(key.to_string(), object) {
            release(old.blob);
        }
        Ok(true)
    }

    /// Changes the metadata of the object at `key` in place if it still has
    /// `expected_etag`; `Ok(false)` when it is gone or was replaced.
    pub(crate) fn update_meta(
        &self,
        bucket: &str,
        key: &str,
        expected_etag: &str,
        f: impl FnOnce(&mut ObjectMeta),
    ) -> Result<bool, StoreError> {
        let mut index = self.lock();
        let b = index
            .buckets
            .get_mut(bucket)
            .ok_or(StoreError::NoSuchBucket)?;
        let Some(object) = b
            .objects
            .get_mut(key)
            .filter(|o| o.meta.etag == expected_etag)
        else {
            return Ok(false);
        };
        let mut meta = object.meta.clone();
        f(&mut meta);
        if let Some(layout) = &self.layout {
            let updated = Object {
                meta: meta.clone(),
                blob: object.blob.clone(),
            };
            layout.write_object(bucket, key, &updated)?;
        }
        object.meta = meta;
        Ok(true)
    }

    /// Deletes an object; `Ok(false)` when there was none.
    pub(crate) fn delete(&self, bucket: &str, key: &str) -> Result<bool, StoreError> {
        let mut index = self.lock();
        let b = index
            .buckets
            .get_mut(bucket)
            .ok_or(StoreError::NoSuchBucket)?;
        let Some(old) = b.objects.remove(key) else {
            return Ok(false);
        };
        if let Some(layout) = &self.layout {
            layout.remove_object(bucket, key)?;
        }
        release(old.blob);
        Ok(true)
    }

    /// A plain DELETE (no version id): with versioning off it removes the
    /// object ([`delete`](Self::delete)); otherwise it adds a delete marker
    /// (`null` when suspended, replacing the `null` version) and keeps the
    /// current object as a noncurrent version.
    pub(crate) fn delete_latest(
        &self,
        bucket: &str,
        key: &str,
        now: i64,
    ) -> Result<Deleted, StoreError> {
        let mut index = self.lock();
        let b = index
            .buckets
            .get_mut(bucket)
            .ok_or(StoreError::NoSuchBucket)?;
        let id = match b.versioning {
            Versioning::Off => {
                drop(index);
                self.delete(bucket, key)?;
                return Ok(Deleted::default());
            }
            Versioning::Enabled => new_version_id(),
            Versioning::Suspended => NULL_VERSION.to_string(),
        };
        let old = b.objects.remove(key);
        if old.is_some() {
            if let Some(layout) = &self.layout {
                layout.remove_object(bucket, key)?;
            }
        }
        self.retire(bucket, b, key, old)?;
        b.older.entry(key.to_string()).or_default().insert(
            0,
            Version {
                id: id.clone(),
                last_modified: now,
                object: None,
            },
        );
        self.save_versions(bucket, b, key)?;
        Ok(Deleted {
            delete_marker: true,
            version_id: Some(id),
        })
    }

    /// The version `id` of `key`, current or not (`object: None` for a
    /// delete marker); `Ok(None)` when there is no such version.
    pub(crate) fn get_version(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> Result<Option<Version>, StoreError> {
        let index = self.lock();
        let b = index.buckets.get(bucket).ok_or(StoreError::NoSuchBucket)?;
        if let Some(o) = b.objects.get(key).filter(|o| o.version() == id) {
            return Ok(Some(Version {
                id: id.to_string(),
                last_modified: o.meta.last_modified,
                object: Some(o.clone()),
            }));
        }
        Ok(b.older
            .get(key)
            .and_then(|list| list.iter().find(|v| v.id == id))
            .cloned())
    }

    /// Whether the latest version of `key` is a delete marker.
    pub(crate) fn latest_is_delete_marker(&self, bucket: &str, key: &str) -> bool {
        let index = self.lock();
        index.buckets.get(bucket).is_some_and(|b| {
            !b.objects.contains_key(key)
                && b.older
                    .get(key)
                    .and_then(|l| l.first())
                    .is_some_and(|v| v.object.is_none())
        })
    }

    /// Removes version `id` of `key` for good; when it was the current
    /// version, the next newer one (if it is an object) becomes current.
    /// `Ok(None)` when there is no such version.
    pub(crate) fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> Result<Option<Deleted>, StoreError> {
        let mut index = self.lock();
        let b = index
            .buckets
            .get_mut(bucket)
            .ok_or(StoreError::NoSuchBucket)?;
        if b.objects.get(key).is_some_and(|o| o.version() == id) {
            if let Some(old) = b.objects.remove(key) {
                release(old.blob);
            }
            let promoted = match b.older.get_mut(key) {
                Some(list) if list.first().is_some_and(|v| v.object.is_some()) => {
                    list.remove(0).object
                }
                _ => None,
            };
            if let Some(layout) = &self.layout {
                match &promoted {
                    Some(o) => layout.write_object(bucket, key, o)?,
                    None => layout.remove_object(bucket, key)?,
                }
            }
            if let Some(o) = promoted {
                b.objects.insert(key.to_string(), o);
            }
            self.save_versions(bucket, b, key)?;
            return Ok(Some(Deleted {
                delete_marker: false,
                version_id: Some(id.to_string()),
            }));
        }
        let Some(list) = b.older.get_mut(key) else {
            return Ok(None);
        };
        let Some(at) = list.iter().position(|v| v.id == id) else {
            return Ok(None);
        };
        let gone = list.remove(at);
        // With no current object the first entry is the latest version:
        // when a delete marker there goes, an object behind it is current.
        let promoted = if at == 0
            && !b.objects.contains_key(key)
            && list.first().is_some_and(|v| v.object.is_some())
        {
            list.remove(0).object
        } else {
            None
        };
        let delete_marker = gone.object.is_none();
        if let Some(o) = gone.object {
            release(o.blob);
        }
        if let Some(o) = promoted {
            if let Some(layout) = &self.layout {
                layout.write_object(bucket, key, &o)?;
            }
            b.objects.insert(key.to_string(), o);
        }
        self.save_versions(bucket, b, key)?;
        Ok(Some(Deleted {
            delete_marker,
            version_id: Some(gone.id),
        }))
    }

    /// The bucket's versioning state.
    pub(crate) fn versioning(&self, bucket: &str) -> Result<Versioning, StoreError> {
        let index = self.lock();
        let b = index.buckets.get(bucket).ok_or(StoreError::NoSuchBucket)?;
        Ok(b.versioning)
    }

    /// Turns versioning on or suspends it (it cannot be turned off again).
    pub(crate) fn set_versioning(&self, bucket: &str, state: Versioning) -> Result<(), StoreError> {
        let mut index = self.lock();
        let b = index
            .buckets
            .get_mut(bucket)
            .ok_or(StoreError::NoSuchBucket)?;
        if let Some(layout) = &self.layout {
            layout.write_bucket_record(bucket, b.created, state)?;
        }
        b.versioning = state;
        Ok(())
    }

    pub(crate) fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
        now: i64,
    ) -> Result<String, StoreError> {
        let mut index = self.lock();
        if !index.buckets.contains_key(bucket) {
            return Err(StoreError::NoSuchBucket);
        }
        let id = format!("{}{:016x}", now, fastrand::u64(..));
        let upload = Upload {
            id: id.clone(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            initiated: now,
            meta,
            parts: BTreeMap::new(),
        };
        if let Some(layout) = &self.layout {
            layout.write_upload(&upload)?;
        }
        index.uploads.insert(id.clone(), upload);
        Ok(id)
    }

    /// The upload `id` if it belongs to `bucket`/`key`.
    pub(crate) fn upload(&self, id: &str, bucket: &str, key: &str) -> Option<Upload> {
        self.lock()
            .uploads
            .get(id)
            .filter(|u| u.bucket == bucket && u.key == key)
            .cloned()
    }

    /// Runs `f` over all uploads (for ListMultipartUploads).
    pub(crate) fn with_uploads<R>(&self, f: impl FnOnce(&BTreeMap<String, Upload>) -> R) -> R {
        f(&self.lock().uploads)
    }

    pub(crate) fn put_part(&self, id: &str, part: Part) -> Result<(), StoreError> {
        let mut index = self.lock();
        let Some(upload) = index.uploads.get_mut(id) else {
            release(part.blob);
            return Err(StoreError::NoSuchUpload);
        };
        let old = upload.parts.insert(part.number, part);
        if let Some(layout) = &self.layout {
            layout.write_upload(upload)?;
        }
        if let Some(old) = old {
            release(old.blob);
        }
        Ok(())
    }

    /// Ends an upload by storing its object. With `forbid_overwrite` an
    /// existing object is an error and the upload stays open. Answers the
    /// object's version id as [`put_checked`](Self::put_checked) does.
    pub(crate) fn complete_upload(
        &self,
        id: &str,
        object: Object,
        forbid_overwrite: bool,
    ) -> Result<Option<String>, StoreError> {
        let upload = {
            let mut index = self.lock();
            let taken = index.uploads.get(id).map(|u| {
                let exists = index.buckets.get(&u.bucket).is_some_and(|b| {
                    b.versioning == Versioning::Off && b.objects.contains_key(&u.key)
                });
                forbid_overwrite && exists
            });
            match taken {
                None => {
                    release(object.blob);
                    return Err(StoreError::NoSuchUpload);
                }
                Some(true) => {
                    release(object.blob);
                    return Err(StoreError::ObjectExists);
                }
                Some(false) => {}
            }
            let Some(upload) = index.uploads.remove(id) else {
                release(object.blob);
                return Err(StoreError::NoSuchUpload);
            };
            upload
        };
        let (bucket, key) = (upload.bucket.clone(), upload.key.clone());
        self.drop_upload(upload);
        self.put_checked(&bucket, &key, object, forbid_overwrite)
    }

    pub(crate) fn abort_upload(&self, id: &str, bucket: &str, key: &str) -> Result<(), StoreError> {
        let mut index = self.lock();
        match index.uploads.get(id) {
            Some(u) if u.bucket == bucket && u.key == key => {}
            _ => return Err(StoreError::NoSuchUpload),
        }
        if let Some(upload) = index.uploads.remove(id) {
            self.drop_upload(upload);
        }
        Ok(())
    }

    fn drop_upload(&self, upload: Upload) {
        if let Some(layout) = &self.layout {
            layout.remove_upload(&upload.id);
        }
        for part in upload.parts.into_values() {
            release(part.blob);
        }
    }
}

/// Frees a blob's storage once nothing in the index refers to it.
fn release(blob: Blob) {
    if let Blob::File(path) = blob {
        // An open reader keeps its file descriptor; unlinking is safe.
        let _ = std::fs::remove_file(path);
    }
}

impl Blob {
    /// Streams `len` bytes from `start`.
    pub(crate) async fn read(&self, start: u64, len: u64) -> io::Result<ByteStream> {
        match self {
            Blob::Memory(chunks) => Ok(memory::read(chunks, start, len)),
            Blob::File(path) => disk::read(path, start, len).await,
        }
    }
}

enum Sink {
    Memory(Vec<Bytes>),
    File {
        file: tokio::fs::File,
        tmp: PathBuf,
        final_path: PathBuf,
    },
}

/// Writes a blob while computing its MD5 and CRC-64/XZ.
pub(crate) struct BlobWriter {
    sink: Sink,
    pending: BytesMut,
    len: u64,
    md5: Md5,
    crc: crc_fast::Digest,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// A finished blob and its digests.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) blob: Blob,
    pub(crate) len: u64,
    pub(crate) md5: [u8; 16],
    pub(crate) crc64: u64,
}

impl BlobWriter {
    /// Bytes written so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) async fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.md5.update(data);
        self.crc.update(data);
        self.len += data.len() as u64;
        while !data.is_empty() {
            let room = CHUNK - self.pending.len();
            let take = room.min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == CHUNK {
                self.flush_pending().await?;
            }
        }
        Ok(())
    }

    async fn flush_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.pending, BytesMut::with_capacity(CHUNK)).freeze();
        match &mut self.sink {
            Sink::Memory(chunks) => chunks.push(chunk),
            Sink::File { file, .. } => {
                use tokio::io::AsyncWriteExt;
                file.write_all(&chunk).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn finish(mut self) -> io::Result<Written> {
        self.flush_pending().await?;
        let md5: [u8; 16] = self.md5.finalize().into();
        let crc64 = self.crc.finalize();
        let blob = match self.sink {
            Sink::Memory(chunks) => Blob::Memory(Arc::new(chunks)),
            Sink::File {
                mut file,
                tmp,
                final_path,
            } => {
                use tokio::io::AsyncWriteExt;
                file.flush().await?;
                drop(file);
                tokio::fs::rename(&tmp, &final_path).await?;
                Blob::File(final_path)
            }
        };
        Ok(Written {
            blob,
            len: self.len,
            md5,
            crc64,
        })
    }

    /// Drops what was written.
    pub(crate) async fn abandon(self) {
        if let Sink::File { file, tmp, .. } = self.sink {
            drop(file);
            let _ = tokio::fs::remove_file(tmp).await;
        }
    }
}

/// CRC-64/XZ of `data`.
#[cfg(test)]
pub(crate) fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Xz, data)
}

/// CRC of `a ++ b` from the CRCs of `a` and `b` and the length of `b`.
pub(crate) fn crc64_combine(a: u64, b: u64, len_b: u64) -> u64 {
    crc_fast::checksum_combine(crc_fast::CrcAlgorithm::Crc64Xz, a, b, len_b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    #[test]
    fn crc64_is_crc64_xz() {
        assert_eq!(crc64(b"123456789"), 0x995DC9BBDF1939FA);
        assert_eq!(crc64(b""), 0);
        assert_eq!(crc64(b"hello cos"), 13242225731321912570);
        assert_eq!(
            crc64_combine(crc64(b"hello "), crc64(b"cos"), 3),
            crc64(b"hello cos")
        );
    }

    async fn roundtrip(store: &Store) {
        let mut w = store.writer().await.unwrap();
        let data: Vec<u8> = (0..(CHUNK * 2 + 17)).map(|i| (i % 251) as u8).collect();
        for piece in data.chunks(7000) {
            w.write(piece).await.unwrap();
        }
        let written = w.finish().await.unwrap();
        assert_eq!(written.len, data.len() as u64);
        assert_eq!(written.crc64, crc64(&data));
        let md5: [u8; 16] = Md5::digest(&data).into();
        assert_eq!(written.md5, md5);
        for (start, len) in [
            (0, data.len()),
            (5, 10),
            (CHUNK - 3, 9),
            (data.len() - 1, 1),
            (3, 0),
        ] {
            let got: Vec<Bytes> = written
                .blob
                .read(start as u64, len as u64)
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            assert_eq!(got.concat(), &data[start..start + len], "{start}+{len}");
        }
        let joined = store
            .concat(vec![written.blob.clone(), written.blob.clone()])
            .await
            .unwrap();
        let got: Vec<Bytes> = joined
            .read(0, 2 * data.len() as u64)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(got.concat(), [data.clone(), data].concat());
    }

    async fn small_object(store: &Store, body: &[u8]) -> Object {
        let mut w = store.writer().await.unwrap();
        w.write(body).await.unwrap();
        let written = w.finish().await.unwrap();
        Object {
            meta: ObjectMeta {
                size: written.len,
                ..Default::default()
            },
            blob: written.blob,
        }
    }

    #[tokio::test]
    async fn forbid_overwrite_refuses_an_existing_key_and_keeps_the_upload() {
        let store = Store::in_memory();
        store.create_bucket("b-1", 1).unwrap();
        let first = small_object(&store, b"one").await;
        store.put_checked("b-1", "k", first, true).unwrap();
        let second = small_object(&store, b"two").await;
        assert!(matches!(
            store.put_checked("b-1", "k", second, true),
            Err(StoreError::ObjectExists)
        ));
        assert_eq!(store.get("b-1", "k").unwrap().unwrap().meta.size, 3);
        let id = store
            .create_upload("b-1", "k", ObjectMeta::default(), 2)
            .unwrap();
        let done = small_object(&store, b"three").await;
        assert!(matches!(
            store.complete_upload(&id, done, true),
            Err(StoreError::ObjectExists)
        ));
        assert!(store.upload(&id, "b-1", "k").is_some(), "still open");
        let done = small_object(&store, b"three").await;
        store.complete_upload(&id, done, false).unwrap();
        assert_eq!(store.get("b-1", "k").unwrap().unwrap().meta.size, 5);
        // A free key is written either way.
        let id = store
            .create_upload("b-1", "new", ObjectMeta::default(), 3)
            .unwrap();
        let done = small_object(&store, b"4").await;
        store.complete_upload(&id, done, true).unwrap();
        assert!(store.get("b-1", "new").unwrap().is_some());
    }

    async fn body_of(store: &Store, bucket: &str, key: &str, id: &str) -> Vec<u8> {
        let v = store.get_version(bucket, key, id).unwrap().unwrap();
        let o = v.object.unwrap();
        let got: Vec<Bytes> = o
            .blob
            .read(0, o.meta.size)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        got.concat()
    }

    async fn versions_survive(store: Store, dir: Option<&std::path::Path>) {
        store.create_bucket("b-1", 1).unwrap();
        // Written before versioning: the null version.
        assert_eq!(
            store
                .put("b-1", "k", small_object(&store, b"zero").await)
                .unwrap(),
            None
        );
        store.set_versioning("b-1", Versioning::Enabled).unwrap();
        let v1 = store
            .put("b-1", "k", small_object(&store, b"one").await)
            .unwrap()
            .unwrap();
        let v2 = store
            .put("b-1", "k", small_object(&store, b"two").await)
            .unwrap()
            .unwrap();
        assert_ne!(v1, v2);
        let marker = store.delete_latest("b-1", "k", 9).unwrap();
        assert!(marker.delete_marker);
        let m = marker.version_id.unwrap();
        assert!(store.get("b-1", "k").unwrap().is_none());
        assert!(store.latest_is_delete_marker("b-1", "k"));
        assert!(matches!(
            store.delete_bucket("b-1"),
            Err(StoreError::BucketNotEmpty)
        ));
        let store = match dir {
            Some(d) => {
                drop(store);
                Store::open(d).unwrap()
            }
            None => store,
        };
        assert_eq!(store.versioning("b-1").unwrap(), Versioning::Enabled);
        assert_eq!(body_of(&store, "b-1", "k", "null").await, b"zero");
        assert_eq!(body_of(&store, "b-1", "k", &v1).await, b"one");
        assert_eq!(body_of(&store, "b-1", "k", &v2).await, b"two");
        // Removing the marker makes the newest object current again.
        let gone = store.delete_version("b-1", "k", &m).unwrap().unwrap();
        assert!(gone.delete_marker);
        assert_eq!(store.get("b-1", "k").unwrap().unwrap().version(), v2);
        // Removing the current version promotes the next one.
        store.delete_version("b-1", "k", &v2).unwrap().unwrap();
        assert_eq!(store.get("b-1", "k").unwrap().unwrap().version(), v1);
        assert!(store.delete_version("b-1", "k", &v2).unwrap().is_none());
        // Suspended: writes replace the null version, older ones stay.
        store.set_versioning("b-1", Versioning::Suspended).unwrap();
        let n = store
            .put("b-1", "k", small_object(&store, b"s1").await)
            .unwrap();
        assert_eq!(n.as_deref(), Some(NULL_VERSION));
        store
            .put("b-1", "k", small_object(&store, b"s2").await)
            .unwrap();
        assert_eq!(body_of(&store, "b-1", "k", "null").await, b"s2");
        assert_eq!(body_of(&store, "b-1", "k", &v1).await, b"one");
        let ids: Vec<String> = store
            .with_bucket("b-1", |b| {
                b.older["k"].iter().map(|v| v.id.clone()).collect()
            })
            .unwrap();
        assert_eq!(ids, vec![v1.clone()], "one null version, v1 behind it");
        let d = store.delete_latest("b-1", "k", 10).unwrap();
        assert_eq!(d.version_id.as_deref(), Some(NULL_VERSION));
        assert!(store.latest_is_delete_marker("b-1", "k"));
        for id in ["null", v1.as_str()] {
            store.delete_version("b-1", "k", id).unwrap().unwrap();
        }
        assert!(store.with_bucket("b-1", |b| b.older.is_empty()).unwrap());
        store.delete_bucket("b-1").unwrap();
    }

    #[tokio::test]
    async fn versions_in_memory() {
        versions_survive(Store::in_memory(), None).await;
    }

    #[tokio::test]
    async fn versions_on_disk_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        versions_survive(Store::open(dir.path()).unwrap(), Some(dir.path())).await;
    }

    #[tokio::test]
    async fn memory_blobs_round_trip() {
        roundtrip(&Store::in_memory()).await;
    }

    #[tokio::test]
    async fn file_blobs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        roundtrip(&Store::open(dir.path()).unwrap()).await;
    }

    #[tokio::test]
    async fn a_reopened_store_has_its_buckets_objects_and_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let upload_id;
        {
            let store = Store::open(dir.path()).unwrap();
            store.create_bucket("b-1", 5).unwrap();
            let mut w = store.writer().await.unwrap();
            w.write(b"hello").await.unwrap();
            let written = w.finish().await.unwrap();
            let meta = ObjectMeta {
                size: 5,
                etag: "\"x\"".into(),
                content_type: "text/plain".into(),
                user_meta: vec![("x-cos-meta-a".into(), "1".into())],
                ..Default::default()
            };
            store
                .put(
                    "b-1",
                    "dir/k 1",
                    Object {
                        meta: meta.clone(),
                        blob: written.blob,
                    },
                )
                .unwrap();
            upload_id = store.create_upload("b-1", "big", meta, 6).unwrap();
            let mut w = store.writer().await.unwrap();
            w.write(b"part").await.unwrap();
            let p = w.finish().await.unwrap();
            store
                .put_part(
                    &upload_id,
                    Part {
                        number: 1,
                        etag: "\"e\"".into(),
                        size: 4,
                        crc64: p.crc64,
                        md5: p.md5,
                        last_modified: 6,
                        blob: p.blob,
                    },
                )
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.buckets(), vec![("b-1".to_string(), 5)]);
        let obj = store.get("b-1", "dir/k 1").unwrap().unwrap();
        assert_eq!(obj.meta.user_meta[0].1, "1");
        let got: Vec<Bytes> = obj
            .blob
            .read(0, 5)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(got.concat(), b"hello");
        let upload = store.upload(&upload_id, "b-1", "big").unwrap();
        assert_eq!(upload.parts[&1].size, 4);
        assert!(store.delete("b-1", "dir/k 1").unwrap());
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert!(store.get("b-1", "dir/k 1").unwrap().is_none());
    }

    #[test]
    fn bucket_rules() {
        let store = Store::in_memory();
        store.create_bucket("b-1", 0).unwrap();
        assert!(matches!(
            store.create_bucket("b-1", 0),
            Err(StoreError::BucketExists)
        ));
        store
            .put(
                "b-1",
                "k",
                Object {
                    meta: ObjectMeta::default(),
                    blob: Blob::Memory(Arc::new(vec![])),
                },
            )
            .unwrap();
        assert!(matches!(
            store.delete_bucket("b-1"),
            Err(StoreError::BucketNotEmpty)
        ));
        assert!(store.delete("b-1", "k").unwrap());
        assert!(!store.delete("b-1", "k").unwrap());
        store.delete_bucket("b-1").unwrap();
        assert!(matches!(
            store.get("b-1", "k"),
            Err(StoreError::NoSuchBucket)
        ));
    }
}
