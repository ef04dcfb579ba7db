//! Every COS operation against the embedded emulator, which verifies each
//! signature: edge-case keys, headers and metadata, ranges and conditions,
//! listings and pagination, batch delete, copy, presigned URLs, buckets,
//! temporary credentials, error details and local validation.

mod support;

use std::time::Duration;

use bytes::Bytes;
use coscls::auth::Credentials;
use coscls::cos::{
    crc64, BucketAcl, ByteRange, CopyOptions, Error, GetOptions, ListOptions, PresignOptions,
    PutOptions, ServerSideEncryption, StorageClass,
};
use futures_util::TryStreamExt;
use support::*;

fn edge_keys() -> Vec<String> {
    vec![
        "plain.txt".into(),
        "a b.txt".into(),
        " lead and trail ".into(),
        "a?b#c&d=e.txt".into(),
        "a+b.txt".into(),
        "100%.txt".into(),
        "%2F-not-a-slash".into(),
        "文件/中文 名.txt".into(),
        "dir/sub dir/文件 +!*'()~@$&=;:,.txt".into(),
        "emoji-🦀.bin".into(),
        "trailing-slash-dir/".into(),
        format!("long/{}", "k".repeat(845)),
    ]
}

#[tokio::test]
async fn edge_keys_survive_every_object_operation() {
    let (_emu, c) = setup().await;
    for (i, key) in edge_keys().into_iter().enumerate() {
        let body = data(1000 + i, i as u64);
        let put = c.put_object(BUCKET, &key, body.clone()).await.unwrap();
        assert_eq!(put.crc64, Some(crc64::checksum(&body)), "{key}");

        let meta = c.head_object(BUCKET, &key).await.unwrap();
        assert_eq!(meta.content_length, body.len() as u64, "{key}");
        assert_eq!(meta.etag, put.etag, "{key}");

        let got = c.get_object(BUCKET, &key).await.unwrap();
        assert_eq!(got.body.bytes().await.unwrap(), body, "{key}");

        let page = c
            .list_objects(BUCKET, &ListOptions::default().prefix(key.clone()))
            .await
            .unwrap();
        let keys: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, vec![key.as_str()], "listing by prefix {key:?}");

        let url = c
            .presigned_url(BUCKET, &key, &PresignOptions::get(Duration::from_secs(60)))
            .await
            .unwrap();
        let fetched = reqwest::get(&url).await.unwrap();
        assert_eq!(fetched.status(), 200, "{key}: {url}");
        assert_eq!(fetched.bytes().await.unwrap(), body, "{key}");

        c.delete_object(BUCKET, &key).await.unwrap();
        assert!(!c.object_exists(BUCKET, &key).await.unwrap(), "{key}");
    }
}

#[tokio::test]
async fn headers_metadata_and_encryption_round_trip() {
    let (_emu, c) = setup().await;
    let opts = PutOptions::default()
        .content_type("text/csv; charset=utf-8")
        .content_disposition("attachment; filename=\"r~*.csv\"")
        .metadata("author", "alice")
        .metadata("team-id", "42")
        .storage_class(StorageClass::STANDARD_IA)
        .encryption(ServerSideEncryption::Cos)
        .with_content_md5();
    let put = c
        .put_object_with(BUCKET, "meta.csv", "a,b\n1,2\n", &opts)
        .await
        .unwrap();
    assert!(put.request_id.is_some());
    let meta = c.head_object(BUCKET, "meta.csv").await.unwrap();
    assert_eq!(
        meta.content_type.as_deref(),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(
        meta.content_disposition.as_deref(),
        Some("attachment; filename=\"r~*.csv\"")
    );
    assert_eq!(
        meta.metadata.get("author").map(String::as_str),
        Some("alice")
    );
    assert_eq!(meta.metadata.get("team-id").map(String::as_str), Some("42"));
    assert_eq!(meta.storage_class.as_deref(), Some("STANDARD_IA"));
    // The emulator accepts (and signs over) the SSE header but does not echo it.
    assert_eq!(meta.crc64, Some(crc64::checksum(b"a,b\n1,2\n")));
    // A GET types the same headers on demand: all but the request id agree.
    let got = c.get_object(BUCKET, "meta.csv").await.unwrap();
    let mut lazy = got.meta().clone();
    assert!(lazy.request_id.is_some() && lazy.last_modified.is_some());
    assert_ne!(lazy.request_id, meta.request_id);
    lazy.request_id.clone_from(&meta.request_id);
    assert_eq!(lazy, meta);
    assert_eq!(got.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(got.content_range(), None);
    assert_eq!(got.body.bytes().await.unwrap(), "a,b\n1,2\n");

    // response-* overrides are signed and honoured.
    let got = c
        .get_object_with(
            BUCKET,
            "meta.csv",
            &GetOptions::default().response_content_type("application/octet-stream"),
        )
        .await
        .unwrap();
    assert_eq!(
        got.meta().content_type.as_deref(),
        Some("application/octet-stream")
    );
    got.body.bytes().await.unwrap();
}

#[tokio::test]
async fn ranges_and_conditions() {
    let (_emu, c) = setup().await;
    let body = data(10_000, 7);
    let put = c.put_object(BUCKET, "r.bin", body.clone()).await.unwrap();
    let etag = put.etag.clone().unwrap();

    for (range, want) in [
        (ByteRange::new(0, 9).unwrap(), &body[0..10]),
        (ByteRange::new(9_990, 20_000).unwrap(), &body[9_990..]),
        (ByteRange::from(5_000), &body[5_000..]),
        (ByteRange::last(3).unwrap(), &body[9_997..]),
    ] {
        let got = c
            .get_object_with(BUCKET, "r.bin", &GetOptions::default().range(range))
            .await
            .unwrap();
        let cr = got.content_range().expect("206 with Content-Range");
        assert_eq!(cr.total, Some(10_000));
        assert_eq!(cr.last - cr.first + 1, want.len() as u64);
        assert_eq!(got.body.bytes().await.unwrap(), want, "{range:?}");
    }

    let ok = c
        .get_object_with(
            BUCKET,
            "r.bin",
            &GetOptions::default().if_match(etag.clone()),
        )
        .await
        .unwrap();
    ok.body.bytes().await.unwrap();
    let e = c
        .get_object_with(
            BUCKET,
            "r.bin",
            &GetOptions::default().if_match("\"other\""),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(412), "{e}");
    let e = c
        .get_object_with(BUCKET, "r.bin", &GetOptions::default().if_none_match(etag))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(304), "{e}");
    let e = c
        .get_object_with(
            BUCKET,
            "r.bin",
            &GetOptions::default().range(ByteRange::from(20_000)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(416), "{e}");
}

#[tokio::test]
async fn streaming_put_and_get_into_a_writer() {
    let (_emu, c) = setup().await;
    let body = data(300_000, 3);
    let chunks: Vec<std::io::Result<Bytes>> = body
        .chunks(7_001)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let put = c
        .put_object_stream(
            BUCKET,
            "streamed.bin",
            body.len() as u64,
            futures_util::stream::iter(chunks),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(put.crc64, Some(crc64::checksum(&body)));

    let mut sink = Vec::new();
    let got = c.get_object(BUCKET, "streamed.bin").await.unwrap();
    assert_eq!(got.body.expected_crc64(), Some(crc64::checksum(&body)));
    let n = got.body.write_to(&mut sink).await.unwrap();
    assert_eq!(n, body.len() as u64);
    assert_eq!(sink, body);

    // A stream shorter than declared fails instead of storing a short object.
    let short = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"abc"))]);
    let e = c
        .put_object_stream(BUCKET, "short.bin", 10, short, &PutOptions::default())
        .await
        .unwrap_err();
    assert!(!matches!(e, Error::InvalidInput { .. }), "{e}");
    assert!(!c.object_exists(BUCKET, "short.bin").await.unwrap());
}

#[tokio::test]
async fn put_object_file_reads_small_files_into_memory() {
    let (_emu, c) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    let body = data(123_456, 5);
    std::fs::write(&path, &body).unwrap();
    let put = c
        .put_object_file(BUCKET, "f.bin", &path, &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(put.crc64, Some(crc64::checksum(&body)));
    let e = c
        .put_object_file(
            BUCKET,
            "g.bin",
            dir.path().join("missing"),
            &PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
}

#[tokio::test]
async fn listing_with_prefix_delimiter_and_pagination() {
    let (_emu, c) = setup().await;
    let keys = [
        "photos/2024/a.jpg",
        "photos/2024/b.jpg",
        "photos/2025/c.jpg",
        "photos/d e.jpg",
        "photos/f+g.jpg",
        "photos/文.jpg",
        "videos/x.mp4",
    ];
    for k in keys {
        c.put_object(BUCKET, k, k.as_bytes().to_vec())
            .await
            .unwrap();
    }
    let page = c
        .list_objects(
            BUCKET,
            &ListOptions::default().prefix("photos/").delimiter("/"),
        )
        .await
        .unwrap();
    assert_eq!(page.common_prefixes, vec!["photos/2024/", "photos/2025/"]);
    let names: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        names,
        vec!["photos/d e.jpg", "photos/f+g.jpg", "photos/文.jpg"]
    );
    assert!(!page.is_truncated);

    let pages: Vec<_> = c
        .list_objects_stream(BUCKET, ListOptions::default().max_keys(2))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 4, "7 keys in pages of 2");
    let all: Vec<String> = pages
        .iter()
        .flat_map(|p| p.objects.iter().map(|o| o.key.clone()))
        .collect();
    let mut sorted = keys.map(String::from).to_vec();
    sorted.sort();
    assert_eq!(all, sorted);
    assert!(pages[..3].iter().all(|p| p.is_truncated));

    // Paginating with a delimiter walks prefixes and keys together.
    let pages: Vec<_> = c
        .list_objects_stream(BUCKET, ListOptions::default().delimiter("/").max_keys(1))
        .try_collect()
        .await
        .unwrap();
    let prefixes: Vec<String> = pages
        .iter()
        .flat_map(|p| p.common_prefixes.clone())
        .collect();
    assert_eq!(prefixes, vec!["photos/", "videos/"]);
}

#[tokio::test]
async fn batch_delete_splits_at_a_thousand_keys() {
    let (emu, c) = setup().await;
    let keys: Vec<String> = (0..1_005).map(|i| format!("many/{i:04} é.txt")).collect();
    for chunk in keys.chunks(64) {
        let puts = chunk.iter().map(|k| c.put_object(BUCKET, k, "x"));
        for r in futures_util::future::join_all(puts).await {
            r.unwrap();
        }
    }
    let before = emu.stats().operation("DeleteMultipleObjects");
    let out = c.delete_objects(BUCKET, &keys).await.unwrap();
    assert_eq!(out.deleted.len(), 1_005);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(emu.stats().operation("DeleteMultipleObjects") - before, 2);
    let left = c
        .list_objects(BUCKET, &ListOptions::default().prefix("many/"))
        .await
        .unwrap();
    assert!(left.objects.is_empty());
}

#[tokio::test]
async fn copy_keeps_or_replaces_metadata() {
    let (_emu, c) = setup().await;
    let body = data(50_000, 11);
    c.put_object_with(
        BUCKET,
        "src dir/源.bin",
        body.clone(),
        &PutOptions::default()
            .content_type("image/png")
            .metadata("k", "v"),
    )
    .await
    .unwrap();

    let out = c
        .copy_object(
            BUCKET,
            "src dir/源.bin",
            BUCKET,
            "copy 1.bin",
            &CopyOptions::default(),
        )
        .await
        .unwrap();
    assert!(out.etag.is_some());
    let meta = c.head_object(BUCKET, "copy 1.bin").await.unwrap();
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
    assert_eq!(meta.metadata.get("k").map(String::as_str), Some("v"));
    assert_eq!(meta.crc64, Some(crc64::checksum(&body)));

    let replaced = CopyOptions::default().replace_metadata(
        PutOptions::default()
            .content_type("text/plain")
            .metadata("n", "2"),
    );
    c.copy_object(BUCKET, "src dir/源.bin", BUCKET, "copy+2.bin", &replaced)
        .await
        .unwrap();
    let meta = c.head_object(BUCKET, "copy+2.bin").await.unwrap();
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    assert!(!meta.metadata.contains_key("k"));
    assert_eq!(meta.metadata.get("n").map(String::as_str), Some("2"));
    let copied = c.get_object(BUCKET, "copy+2.bin").await.unwrap();
    assert_eq!(copied.body.bytes().await.unwrap(), body);

    let e = c
        .copy_object(BUCKET, "missing", BUCKET, "x", &CopyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
}

#[tokio::test]
async fn presigned_put_pins_the_content_type() {
    let (_emu, c) = setup().await;
    let url = c
        .presigned_url(
            BUCKET,
            "upload via url.txt",
            &PresignOptions::put(Duration::from_secs(300)).content_type("text/plain"),
        )
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let wrong = http
        .put(&url)
        .header("content-type", "image/png")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(
        wrong.status(),
        403,
        "a different Content-Type breaks the signature"
    );
    let ok = http
        .put(&url)
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let got = c.get_object(BUCKET, "upload via url.txt").await.unwrap();
    assert_eq!(got.body.bytes().await.unwrap(), "hi");
}

#[tokio::test]
async fn temporary_credentials_sign_requests_and_urls() {
    let emu = coscls_emulator::Emulator::builder()
        .temporary_credentials("AKIDsts", "sts-secret", "sts-token+/=")
        .bucket(BUCKET)
        .start()
        .await
        .unwrap();
    let creds = Credentials::new("AKIDsts", "sts-secret")
        .unwrap()
        .with_session_token("sts-token+/=")
        .unwrap();
    let c = builder(&emu).credentials(creds).build().unwrap();
    c.put_object(BUCKET, "sts.txt", "temporary").await.unwrap();
    let url = c
        .presigned_url(
            BUCKET,
            "sts.txt",
            &PresignOptions::get(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    assert!(url.contains("x-cos-security-token="));
    let fetched = reqwest::get(&url).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap(), "temporary");

    let no_token = builder(&emu)
        .credentials(Credentials::new("AKIDsts", "sts-secret").unwrap())
        .build()
        .unwrap();
    let e = no_token.put_object(BUCKET, "x", "y").await.unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
}

#[tokio::test]
async fn bucket_lifecycle() {
    let (_emu, c) = setup().await;
    let b = "newbucket-1250000000";
    assert!(!c.bucket_exists(b).await.unwrap());
    let e = c.head_bucket(b).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(404), Some("NoSuchResource")),
        "{e}"
    );
    c.create_bucket(b).await.unwrap();
    let info = c.head_bucket(b).await.unwrap();
    assert_eq!(info.region.as_deref(), Some("ap-guangzhou"));
    let e = c.create_bucket(b).await.unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    c.put_object(b, "k", "v").await.unwrap();
    let e = c.delete_bucket(b).await.unwrap_err();
    assert_eq!(e.code(), Some("BucketNotEmpty"), "{e}");
    c.delete_object(b, "k").await.unwrap();
    c.delete_bucket(b).await.unwrap();
    assert!(!c.bucket_exists(b).await.unwrap());
    c.create_bucket_with_acl("public-1250000000", BucketAcl::PublicRead)
        .await
        .unwrap();
    assert!(c.bucket_exists("public-1250000000").await.unwrap());
}

#[tokio::test]
async fn service_errors_carry_code_message_status_and_request_id() {
    let (_emu, c) = setup().await;
    let e = c.get_object(BUCKET, "no such key").await.unwrap_err();
    let s = e.service().expect("a service error");
    assert_eq!((s.status, s.code.as_str()), (404, "NoSuchKey"));
    assert!(!s.message.is_empty());
    assert!(s.request_id.is_some());
    assert!(e.to_string().contains("NoSuchKey") && e.to_string().contains("request id"));

    let e = c.head_object(BUCKET, "no such key").await.unwrap_err();
    assert_eq!(
        e.code(),
        Some("NoSuchResource"),
        "HEAD has no body: code from status"
    );
    assert!(e.request_id().is_some());

    let wrong = builder(&_emu)
        .credentials(Credentials::new(SECRET_ID, "wrong-secret").unwrap())
        .build()
        .unwrap();
    let e = wrong.put_object(BUCKET, "x", "y").await.unwrap_err();
    let s = e.service().unwrap();
    assert_eq!(s.code, "SignatureDoesNotMatch");
    assert!(
        s.string_to_sign.is_some() && s.format_string.is_some(),
        "{s:?}"
    );
    assert_eq!(s.attempts, 1, "a signature error is not retried");

    let e = c.get_object("nobucket-1250000000", "k").await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"), "{e}");
}

#[tokio::test]
async fn local_validation_errors_never_reach_the_network() {
    let (emu, c) = setup().await;
    let before = emu.stats().requests;
    let long_key = "k".repeat(851);
    let checks: Vec<(&str, Result<(), Error>)> = vec![
        (
            "bucket",
            c.put_object("Bad_Bucket", "k", "x").await.map(drop),
        ),
        ("bucket", c.get_object("nobucketappid", "k").await.map(drop)),
        ("object key", c.put_object(BUCKET, "", "x").await.map(drop)),
        (
            "object key",
            c.put_object(BUCKET, "/lead", "x").await.map(drop),
        ),
        (
            "object key",
            c.get_object(BUCKET, &long_key).await.map(drop),
        ),
        ("object key", c.head_object(BUCKET, "a/..").await.map(drop)),
        (
            "object key",
            c.delete_object(BUCKET, "a\u{7}b").await.map(drop),
        ),
        (
            "metadata name",
            c.put_object_with(
                BUCKET,
                "k",
                "x",
                &PutOptions::default().metadata("Bad_Name", "v"),
            )
            .await
            .map(drop),
        ),
        (
            "metadata value",
            c.put_object_with(
                BUCKET,
                "k",
                "x",
                &PutOptions::default().metadata("a", "naïve"),
            )
            .await
            .map(drop),
        ),
        (
            "metadata",
            c.put_object_with(
                BUCKET,
                "k",
                "x",
                &PutOptions::default().metadata("big", "v".repeat(2100)),
            )
            .await
            .map(drop),
        ),
        (
            "content type",
            c.put_object_with(
                BUCKET,
                "k",
                "x",
                &PutOptions::default().content_type("a\nb"),
            )
            .await
            .map(drop),
        ),
        (
            "traffic limit",
            c.put_object_with(BUCKET, "k", "x", &PutOptions::default().traffic_limit(100))
                .await
                .map(drop),
        ),
        (
            "range",
            c.get_object_with(
                BUCKET,
                "k",
                &GetOptions::default().range(ByteRange::Inclusive { first: 5, last: 1 }),
            )
            .await
            .map(drop),
        ),
        (
            "version id",
            c.delete_object_version(BUCKET, "k", "").await.map(drop),
        ),
        (
            "keys",
            c.delete_objects(BUCKET, Vec::<String>::new())
                .await
                .map(drop),
        ),
        (
            "object key",
            c.delete_objects(BUCKET, ["ok", "/bad"]).await.map(drop),
        ),
        (
            "max keys",
            c.list_objects(BUCKET, &ListOptions::default().max_keys(0))
                .await
                .map(drop),
        ),
        (
            "expires_in",
            c.presigned_url(BUCKET, "k", &PresignOptions::get(Duration::ZERO))
                .await
                .map(drop),
        ),
        (
            "expires_in",
            c.presigned_url(
                BUCKET,
                "k",
                &PresignOptions::get(Duration::from_secs(8 * 86_400)),
            )
            .await
            .map(drop),
        ),
        (
            "part size",
            c.upload_stream(
                BUCKET,
                "k",
                &b"x"[..],
                &coscls::cos::UploadOptions::default().part_size(1000),
            )
            .await
            .map(drop),
        ),
        (
            "concurrency",
            c.upload_stream(
                BUCKET,
                "k",
                &b"x"[..],
                &coscls::cos::UploadOptions::default().concurrency(0),
            )
            .await
            .map(drop),
        ),
        (
            "part size",
            c.download_file(
                BUCKET,
                "k",
                "/tmp/never",
                &coscls::cos::DownloadOptions::default().part_size(10),
            )
            .await
            .map(drop),
        ),
        (
            "upload id",
            c.upload_part(BUCKET, "k", "", 1, "x", &PutOptions::default())
                .await
                .map(drop),
        ),
        (
            "part number",
            c.upload_part(BUCKET, "k", "id", 0, "x", &PutOptions::default())
                .await
                .map(drop),
        ),
        (
            "parts",
            c.complete_multipart_upload(BUCKET, "k", "id", &[])
                .await
                .map(drop),
        ),
        (
            "content_md5",
            c.put_object_stream(
                BUCKET,
                "k",
                1,
                futures_util::stream::iter(vec![Ok(Bytes::from_static(b"x"))]),
                &PutOptions::default().with_content_md5(),
            )
            .await
            .map(drop),
        ),
    ];
    for (want, result) in checks {
        match result {
            Err(Error::InvalidInput { what, .. }) => assert_eq!(what, want),
            other => panic!("expected InvalidInput({want}), got {other:?}"),
        }
    }
    assert_eq!(emu.stats().requests, before, "no request was sent");
}
