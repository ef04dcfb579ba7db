//! Bucket versioning against the embedded emulator (every request's
//! signature verified): the state, versions made by put / copy / complete,
//! delete markers, reads and deletes by version, and the paginated
//! ListObjectVersions stream.

mod support;

use coscls::cos::{
    Client, CopyOptions, Error, GetOptions, ListObjectVersionsPage, ListVersionsOptions,
    ObjectIdentifier, PutOptions, VersioningStatus,
};
use futures_util::TryStreamExt;
use support::{data, setup, upload_in_mib_parts, BUCKET, MIB};

async fn read_version(c: &Client, key: &str, version: &str) -> Result<Vec<u8>, Error> {
    let out = c
        .get_object_with(BUCKET, key, &GetOptions::default().version_id(version))
        .await?;
    assert_eq!(out.meta().version_id.as_deref(), Some(version));
    Ok(out.body.bytes().await?.to_vec())
}

/// Every page of a version listing, `per_page` entries at a time.
async fn all_pages(c: &Client, per_page: u32) -> Vec<ListObjectVersionsPage> {
    c.list_object_versions_stream(BUCKET, ListVersionsOptions::default().max_keys(per_page))
        .try_collect()
        .await
        .expect("listing")
}

/// `(key, version id, is latest, is delete marker)` of every listed entry.
fn entries(pages: &[ListObjectVersionsPage]) -> Vec<(String, String, bool, bool)> {
    pages
        .iter()
        .flat_map(|p| &p.versions)
        .map(|v| {
            (
                v.key.clone(),
                v.version_id.clone(),
                v.is_latest,
                v.is_delete_marker,
            )
        })
        .collect()
}

fn row(key: &str, id: &str, latest: bool, marker: bool) -> (String, String, bool, bool) {
    (key.to_string(), id.to_string(), latest, marker)
}

#[tokio::test]
async fn versions_delete_markers_and_reads_by_version() {
    let (_emu, c) = setup().await;
    assert_eq!(c.get_bucket_versioning(BUCKET).await.unwrap(), None);
    c.put_bucket_versioning(BUCKET, VersioningStatus::Enabled)
        .await
        .unwrap();
    assert_eq!(
        c.get_bucket_versioning(BUCKET).await.unwrap(),
        Some(VersioningStatus::Enabled)
    );

    let bodies = [data(10, 1), data(2000, 2), data(33, 3)];
    let mut ids = Vec::new();
    for body in &bodies {
        let out = c.put_object(BUCKET, "k 1", body.clone()).await.unwrap();
        ids.push(out.version_id.expect("a versioned put names its version"));
    }
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    let other = c.put_object(BUCKET, "other", "x").await.unwrap();
    let other = other.version_id.unwrap();

    let del = c.delete_object(BUCKET, "k 1").await.unwrap();
    assert!(del.delete_marker);
    let marker = del.version_id.expect("the delete marker's id");

    // The latest version is a delete marker: plain GET and HEAD miss.
    let e = c.get_object(BUCKET, "k 1").await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchKey"), "{e}");
    assert!(c
        .head_object(BUCKET, "k 1")
        .await
        .unwrap_err()
        .is_not_found());
    assert!(!c.object_exists(BUCKET, "k 1").await.unwrap());

    // All versions, one per page, in order: key order, newest first.
    let want = vec![
        row("k 1", &marker, true, true),
        row("k 1", &ids[2], false, false),
        row("k 1", &ids[1], false, false),
        row("k 1", &ids[0], false, false),
        row("other", &other, true, false),
    ];
    let pages = all_pages(&c, 1).await;
    assert_eq!(pages.len(), 5);
    assert_eq!(entries(&pages), want);
    assert!(pages[..4].iter().all(|p| p.is_truncated));
    assert_eq!(entries(&all_pages(&c, 2).await), want);
    let one = c
        .list_object_versions(BUCKET, &ListVersionsOptions::default())
        .await
        .unwrap();
    assert!(!one.is_truncated);
    assert_eq!(entries(std::slice::from_ref(&one)), want);
    let v = &one.versions[2];
    assert_eq!(v.size, 2000);
    assert!(v.etag.is_some() && v.last_modified.is_some());
    assert_eq!(v.storage_class.as_deref(), Some("STANDARD"));
    // Resuming inside a key's versions.
    let rest = c
        .list_object_versions(
            BUCKET,
            &ListVersionsOptions::default().marker("k 1", Some(ids[2].clone())),
        )
        .await
        .unwrap();
    assert_eq!(entries(&[rest]), want[2..].to_vec());

    // Each old version reads back byte-identical, and heads with its size.
    for (id, body) in ids.iter().zip(&bodies) {
        assert_eq!(&read_version(&c, "k 1", id).await.unwrap(), body);
        let meta = c
            .head_object_with(BUCKET, "k 1", &GetOptions::default().version_id(id))
            .await
            .unwrap();
        assert_eq!(meta.content_length, body.len() as u64);
        assert_eq!(meta.version_id.as_deref(), Some(id.as_str()));
    }
    // A delete marker has no body.
    let e = read_version(&c, "k 1", &marker).await.unwrap_err();
    assert_eq!(e.status(), Some(405), "{e}");

    // Deleting a version removes it for good.
    let gone = c
        .delete_object_version(BUCKET, "k 1", &ids[1])
        .await
        .unwrap();
    assert_eq!(gone.version_id.as_deref(), Some(ids[1].as_str()));
    assert!(!gone.delete_marker);
    let e = read_version(&c, "k 1", &ids[1]).await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchVersion"), "{e}");
    // Deleting the delete marker brings the newest version back.
    let gone = c
        .delete_object_version(BUCKET, "k 1", &marker)
        .await
        .unwrap();
    assert!(gone.delete_marker);
    let now = c.get_object(BUCKET, "k 1").await.unwrap();
    assert_eq!(now.meta().version_id.as_deref(), Some(ids[2].as_str()));
    assert_eq!(now.body.bytes().await.unwrap(), bodies[2]);
    assert_eq!(
        entries(&all_pages(&c, 1000).await),
        vec![
            row("k 1", &ids[2], true, false),
            row("k 1", &ids[0], false, false),
            row("other", &other, true, false),
        ]
    );
}

#[tokio::test]
async fn suspended_versioning_replaces_the_null_version() {
    let (_emu, c) = setup().await;
    // Written before versioning: the null version.
    let out = c.put_object(BUCKET, "k", "before").await.unwrap();
    assert_eq!(
        out.version_id, None,
        "no version ids while versioning is off"
    );
    c.put_bucket_versioning(BUCKET, VersioningStatus::Enabled)
        .await
        .unwrap();
    let v1 = c.put_object(BUCKET, "k", "enabled").await.unwrap();
    let v1 = v1.version_id.unwrap();
    c.put_bucket_versioning(BUCKET, VersioningStatus::Suspended)
        .await
        .unwrap();
    assert_eq!(
        c.get_bucket_versioning(BUCKET).await.unwrap(),
        Some(VersioningStatus::Suspended)
    );
    for body in ["s1", "s2"] {
        let out = c.put_object(BUCKET, "k", body).await.unwrap();
        assert_eq!(out.version_id.as_deref(), Some("null"));
    }
    // "before" (the old null version) was replaced by s1, then s2.
    assert_eq!(
        entries(&all_pages(&c, 1).await),
        vec![row("k", "null", true, false), row("k", &v1, false, false)]
    );
    assert_eq!(read_version(&c, "k", "null").await.unwrap(), b"s2");
    assert_eq!(read_version(&c, "k", &v1).await.unwrap(), b"enabled");
    let del = c.delete_object(BUCKET, "k").await.unwrap();
    assert!(del.delete_marker);
    assert_eq!(del.version_id.as_deref(), Some("null"));
    assert_eq!(
        entries(&all_pages(&c, 1000).await),
        vec![row("k", "null", true, true), row("k", &v1, false, false)]
    );
    assert!(c.get_object(BUCKET, "k").await.unwrap_err().is_not_found());
    assert_eq!(read_version(&c, "k", &v1).await.unwrap(), b"enabled");
}

#[tokio::test]
async fn copies_and_multipart_uploads_make_versions() {
    let (_emu, c) = setup().await;
    c.put_bucket_versioning(BUCKET, VersioningStatus::Enabled)
        .await
        .unwrap();
    let old = c.put_object(BUCKET, "src", "old bytes").await.unwrap();
    let old = old.version_id.unwrap();
    c.put_object(BUCKET, "src", "new bytes").await.unwrap();
    let first = c
        .copy_object(BUCKET, "src", BUCKET, "dst", &CopyOptions::default())
        .await
        .unwrap();
    let from_old = CopyOptions::default().source_version_id(old.clone());
    let second = c
        .copy_object(BUCKET, "src", BUCKET, "dst", &from_old)
        .await
        .unwrap();
    let (first, second) = (first.version_id.unwrap(), second.version_id.unwrap());
    assert_ne!(first, second);
    assert_eq!(read_version(&c, "dst", &first).await.unwrap(), b"new bytes");
    assert_eq!(
        read_version(&c, "dst", &second).await.unwrap(),
        b"old bytes"
    );

    let big = data(2 * MIB + 5, 9);
    let up = upload_in_mib_parts(&c, "dst", &big).await.unwrap();
    assert!(up.parts >= 3);
    let third = up
        .version_id
        .expect("a versioned completion names its version");
    assert_eq!(read_version(&c, "dst", &third).await.unwrap(), big);
    let listed = c
        .list_object_versions(BUCKET, &ListVersionsOptions::default().prefix("dst"))
        .await
        .unwrap();
    let ids: Vec<&str> = listed
        .versions
        .iter()
        .map(|v| v.version_id.as_str())
        .collect();
    assert_eq!(ids, [third.as_str(), second.as_str(), first.as_str()]);
}

#[tokio::test]
async fn batch_deletes_address_versions() {
    let (_emu, c) = setup().await;
    c.put_bucket_versioning(BUCKET, VersioningStatus::Enabled)
        .await
        .unwrap();
    let v1 = c
        .put_object(BUCKET, "a", "1")
        .await
        .unwrap()
        .version_id
        .unwrap();
    let v2 = c
        .put_object(BUCKET, "a", "2")
        .await
        .unwrap()
        .version_id
        .unwrap();
    c.put_object(BUCKET, "b", "b").await.unwrap();
    let out = c
        .delete_objects(
            BUCKET,
            [
                ObjectIdentifier::from(("a", v1.as_str())),
                ObjectIdentifier::from("b"),
            ],
        )
        .await
        .unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let a = out.deleted.iter().find(|d| d.key == "a").unwrap();
    assert_eq!(a.version_id.as_deref(), Some(v1.as_str()));
    assert!(!a.delete_marker);
    let b = out.deleted.iter().find(|d| d.key == "b").unwrap();
    assert!(b.delete_marker && b.delete_marker_version_id.is_some());
    let e = read_version(&c, "a", &v1).await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchVersion"));
    assert_eq!(
        c.get_object(BUCKET, "a")
            .await
            .unwrap()
            .body
            .bytes()
            .await
            .unwrap(),
        "2"
    );
    assert_eq!(read_version(&c, "a", &v2).await.unwrap(), b"2");
    assert!(!c.object_exists(BUCKET, "b").await.unwrap());
    // COS honours x-cos-forbid-overwrite only on never-versioned buckets.
    let no_overwrite = PutOptions::default().forbid_overwrite();
    let v3 = c
        .put_object_with(BUCKET, "a", "3", &no_overwrite)
        .await
        .unwrap();
    assert!(v3.version_id.is_some_and(|v| v != v2));
}

#[tokio::test]
async fn unversioned_buckets_and_bad_input() {
    let (emu, c) = setup().await;
    // Versioning off: no ids, and a delete removes the object.
    let out = c.put_object(BUCKET, "k", "v").await.unwrap();
    assert_eq!(out.version_id, None);
    let del = c.delete_object(BUCKET, "k").await.unwrap();
    assert!(!del.delete_marker && del.version_id.is_none());
    let listed = c
        .list_object_versions(BUCKET, &ListVersionsOptions::default())
        .await
        .unwrap();
    assert!(listed.versions.is_empty());

    let e = c
        .get_bucket_versioning("missing-1250000000")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"), "{e}");
    let e = c
        .put_bucket_versioning("missing-1250000000", VersioningStatus::Enabled)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"), "{e}");

    // Refused locally, before any request reaches the emulator.
    let before = emu.stats().requests;
    let mut no_key = ListVersionsOptions::default();
    no_key.version_id_marker = Some("v".into());
    let e = c.list_object_versions(BUCKET, &no_key).await.unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    let e = c
        .list_object_versions(BUCKET, &ListVersionsOptions::default().max_keys(0))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    let e = c.delete_object_version(BUCKET, "k", "").await.unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    assert_eq!(emu.stats().requests, before);
}
