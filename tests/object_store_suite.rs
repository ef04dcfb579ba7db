//! `object_store`'s own integration suite (`object_store::integration`, the
//! tests its S3, GCS, Azure and local backends must pass, written outside
//! this project) run against `CosStore` on the embedded emulator, plus the
//! COS-specific behaviour the suite cannot reach.
//!
//! ```sh
//! cargo test --features object-store --test object_store_suite
//! ```
//!
//! Every public function of `object_store::integration` 0.14 runs here
//! except these, each for a COS limitation:
//!
//! * `put_get_attributes` and `multipart_with_opts`: both write user
//!   metadata named `test_key` / `key_with_spaces`, and COS metadata names
//!   (the `x-cos-meta-` suffix) may hold only letters, digits and `-`, no
//!   `_` (PUT Object, <https://cloud.tencent.com/document/product/436/7749>;
//!   Initiate Multipart Upload, <https://cloud.tencent.com/document/product/436/7746>);
//!   `put_get_attributes` also sets `Content-Language`, which coscls does
//!   not write. `attributes_round_trip` below checks the same round trip
//!   with names COS accepts.
//! * `response_extensions`: it needs a store built on object_store's own
//!   HTTP client (`MarkerHttpConnector`, behind its `reqwest` feature);
//!   `CosStore` sends through `cos::Client`, so the marker cannot be
//!   inserted.
//!
//! `put_opts` runs with `supports_update = false`: COS documents no
//! `If-Match` on PUT Object (same page), so `PutMode::Update` is
//! `NotImplemented`, which the suite checks. `multipart_race_condition`
//! runs with `last_writer_wins = true`: COS keeps whichever upload
//! completes last.

#![cfg(feature = "object-store")]

use coscls::auth::Credentials;
use coscls::cos::Client;
use coscls::object_store::CosStore;
use coscls_emulator::Emulator;
use object_store::integration::*;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, Error, ObjectStore, ObjectStoreExt, PutMode, PutMultipartOptions,
    PutOptions, TagSet, UpdateVersion,
};

const BUCKET: &str = "examplebucket-1250000000";

async fn emulator() -> Emulator {
    Emulator::builder()
        .credentials("AKIDtest", "test-secret")
        .bucket(BUCKET)
        .start()
        .await
        .expect("emulator starts")
}

fn client(emu: &Emulator) -> Client {
    Client::builder()
        .region("ap-guangzhou")
        .endpoint(emu.endpoint())
        .credentials(Credentials::new("AKIDtest", "test-secret").expect("credentials"))
        .build()
        .expect("client")
}

/// A fresh emulator and a store over its whole bucket.
async fn setup() -> (Emulator, CosStore) {
    let emu = emulator().await;
    let store = CosStore::builder(client(&emu), BUCKET)
        .build()
        .expect("store");
    (emu, store)
}

#[tokio::test]
async fn suite_put_get_delete_list() {
    let (_emu, store) = setup().await;
    put_get_delete_list(&store).await;
}

#[tokio::test]
async fn suite_put_get_delete_list_under_a_prefix() {
    let emu = emulator().await;
    let outside = client(&emu);
    outside
        .put_object(BUCKET, "elsewhere/keep.txt", "not the store's")
        .await
        .unwrap();
    let store = CosStore::builder(client(&emu), BUCKET)
        .prefix("/tenant-a/warehouse/")
        .build()
        .unwrap();
    put_get_delete_list(&store).await;
    list_with_delimiter(&store).await;
    // The suite deletes everything it lists; outside the prefix, nothing.
    let kept = outside
        .get_object(BUCKET, "elsewhere/keep.txt")
        .await
        .unwrap()
        .body
        .bytes()
        .await
        .unwrap();
    assert_eq!(kept, "not the store's");
    // Paths are stored under the prefix.
    store.put(&Path::from("x/y.csv"), "1".into()).await.unwrap();
    assert!(outside
        .object_exists(BUCKET, "tenant-a/warehouse/x/y.csv")
        .await
        .unwrap());
}

#[tokio::test]
async fn suite_get_opts() {
    let (_emu, store) = setup().await;
    get_opts(&store).await;
}

#[tokio::test]
async fn suite_put_opts() {
    let (_emu, store) = setup().await;
    put_opts(&store, false).await;
}

#[tokio::test]
async fn suite_stream_get() {
    let (_emu, store) = setup().await;
    stream_get(&store).await;
}

#[tokio::test]
async fn suite_list_uses_directories_correctly() {
    let (_emu, store) = setup().await;
    list_uses_directories_correctly(&store).await;
}

#[tokio::test]
async fn suite_list_with_delimiter() {
    let (_emu, store) = setup().await;
    list_with_delimiter(&store).await;
}

#[tokio::test]
async fn suite_list_with_offset_exclusivity() {
    let (_emu, store) = setup().await;
    list_with_offset_exclusivity(&store).await;
}

#[tokio::test]
async fn suite_list_paginated() {
    let (_emu, store) = setup().await;
    list_paginated(&store, &store).await;
}

#[tokio::test]
async fn suite_get_nonexistent_object() {
    let (_emu, store) = setup().await;
    let err = get_nonexistent_object(&store, None).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn suite_rename_and_copy() {
    let (_emu, store) = setup().await;
    rename_and_copy(&store).await;
}

#[tokio::test]
async fn suite_copy_if_not_exists() {
    let (_emu, store) = setup().await;
    copy_if_not_exists(&store).await;
}

#[tokio::test]
async fn suite_copy_rename_nonexistent_object() {
    let (_emu, store) = setup().await;
    copy_rename_nonexistent_object(&store).await;
}

#[tokio::test]
async fn suite_multipart() {
    let (_emu, store) = setup().await;
    multipart(&store, &store).await;
}

#[tokio::test]
async fn suite_multipart_put_part_out_of_order() {
    let (_emu, store) = setup().await;
    multipart_put_part_out_of_order(&store, &store).await;
}

#[tokio::test]
async fn suite_multipart_out_of_order() {
    let (_emu, store) = setup().await;
    multipart_out_of_order(&store).await;
}

#[tokio::test]
async fn suite_multipart_race_condition() {
    let (_emu, store) = setup().await;
    multipart_race_condition(&store, true).await;
}

/// What `put_get_attributes` and `multipart_with_opts` check, with
/// metadata names COS accepts.
#[tokio::test]
async fn attributes_round_trip() {
    let (_emu, store) = setup().await;
    let attributes = Attributes::from_iter([
        (Attribute::CacheControl, "max-age=604800"),
        (
            Attribute::ContentDisposition,
            r#"attachment; filename="test.html""#,
        ),
        (Attribute::ContentEncoding, "gzip"),
        (Attribute::ContentType, "text/html; charset=utf-8"),
        (Attribute::Metadata("test-key".into()), "test_value"),
        (
            Attribute::Metadata("key-with-spaces".into()),
            "hello   world",
        ),
    ]);
    let path = Path::from("attributes");
    store
        .put_opts(&path, "foo".into(), attributes.clone().into())
        .await
        .unwrap();
    assert_eq!(store.get(&path).await.unwrap().attributes, attributes);

    let mut upload = store
        .put_multipart_opts(&path, attributes.clone().into())
        .await
        .unwrap();
    upload.put_part("foo".into()).await.unwrap();
    upload.complete().await.unwrap();
    assert_eq!(store.get(&path).await.unwrap().attributes, attributes);

    let opts = PutMultipartOptions {
        attributes: attributes.clone(),
        ..Default::default()
    };
    let id = store.create_multipart_opts(&path, opts).await.unwrap();
    let part = store.put_part(&path, &id, 0, "bar".into()).await.unwrap();
    store
        .complete_multipart(&path, &id, vec![part])
        .await
        .unwrap();
    let got = store.get(&path).await.unwrap();
    assert_eq!(got.attributes, attributes);
    assert_eq!(got.bytes().await.unwrap(), "bar");
}

/// A metadata name COS would refuse is an error before any request.
#[tokio::test]
async fn a_metadata_name_cos_refuses_fails_locally() {
    let (emu, store) = setup().await;
    emu.reset_stats();
    let attributes = Attributes::from_iter([(Attribute::Metadata("test_key".into()), "v")]);
    let opts = PutOptions::from(attributes);
    let err = store
        .put_opts(&Path::from("a"), "x".into(), opts)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("metadata name"), "{err}");
    assert_eq!(emu.stats().requests, 0);
}

/// Tags go out as `x-cos-tagging`; more than COS's 10 fail before any
/// request.
#[tokio::test]
async fn tags_are_sent_and_checked_locally() {
    let (emu, store) = setup().await;
    let mut tags = TagSet::default();
    tags.push("team", "data eng");
    let opts = PutOptions {
        tags,
        ..Default::default()
    };
    store
        .put_opts(&Path::from("tagged"), "x".into(), opts)
        .await
        .unwrap();
    let mut many = TagSet::default();
    for i in 0..11 {
        many.push(&format!("k{i}"), "v");
    }
    emu.reset_stats();
    let opts = PutOptions {
        tags: many,
        ..Default::default()
    };
    let err = store
        .put_opts(&Path::from("too-many"), "x".into(), opts)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at most 10 tags"), "{err}");
    assert_eq!(emu.stats().requests, 0);
}

/// `PutMode::Update` is refused by name, not sent as a plain overwrite.
#[tokio::test]
async fn put_update_is_not_implemented_and_writes_nothing() {
    let (_emu, store) = setup().await;
    let path = Path::from("u");
    let v1 = store.put(&path, "1".into()).await.unwrap();
    let mode = PutMode::Update(UpdateVersion {
        e_tag: v1.e_tag,
        version: None,
    });
    let err = store
        .put_opts(&path, "2".into(), mode.into())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotImplemented { .. }), "{err}");
    let now = store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(now, "1");
}

/// Of many concurrent `PutMode::Create` writers exactly one wins, and the
/// others see `AlreadyExists` carrying the COS code.
#[tokio::test]
async fn concurrent_creates_have_one_winner() {
    let (_emu, store) = setup().await;
    let path = Path::from("once");
    let attempts = (0..8).map(|i| {
        let store = store.clone();
        let path = path.clone();
        async move {
            store
                .put_opts(&path, format!("{i}").into(), PutMode::Create.into())
                .await
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, Error::AlreadyExists { .. }), "{r}");
        assert!(r.to_string().contains("FileAlreadyExists"), "{r}");
    }
}

/// `copy_if_not_exists` leaves no multipart upload behind, whether it
/// copies or is refused.
#[tokio::test]
async fn copy_if_not_exists_leaves_no_upload() {
    let emu = emulator().await;
    let client = client(&emu);
    let store = CosStore::builder(client.clone(), BUCKET).build().unwrap();
    let (a, b) = (Path::from("a"), Path::from("b"));
    store.put(&a, "cats".into()).await.unwrap();
    store.copy_if_not_exists(&a, &b).await.unwrap();
    let err = store.copy_if_not_exists(&a, &b).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert!(client
        .list_multipart_uploads(BUCKET, None)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.get(&b).await.unwrap().bytes().await.unwrap(), "cats");
}

/// Each `object_store` call is the `cos::Client` operation it maps to.
#[tokio::test]
async fn calls_go_through_the_cos_operations() {
    let (emu, store) = setup().await;
    let path = Path::from("ops/a.txt");
    emu.reset_stats();
    store.put(&path, "x".into()).await.unwrap();
    store.head(&path).await.unwrap();
    store.get(&path).await.unwrap().bytes().await.unwrap();
    store.list_with_delimiter(None).await.unwrap();
    store.delete(&path).await.unwrap();
    let ops = emu.stats().operations;
    for op in [
        "PutObject",
        "HeadObject",
        "GetObject",
        "ListObjects",
        "DeleteMultipleObjects",
    ] {
        assert_eq!(ops.get(op), Some(&1), "{op} in {ops:?}");
    }
}

/// A malformed bucket is refused when the store is built.
#[test]
fn a_bad_bucket_is_refused_at_build() {
    let client = Client::builder()
        .region("ap-guangzhou")
        .credentials(Credentials::new("AKIDtest", "test-secret").unwrap())
        .build()
        .unwrap();
    let err = CosStore::builder(client, "No_Such").build().unwrap_err();
    assert!(err.to_string().contains("bucket"), "{err}");
}
