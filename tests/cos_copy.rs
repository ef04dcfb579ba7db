//! `Client::copy` against the emulator: one CopyObject for small sources,
//! UploadPartCopy ranges above the threshold (metadata kept or replaced,
//! CRC-64 compared with the source's), and an abort when a part fails.

mod support;

use coscls::cos::{crc64, CopyOptions, Error, PutOptions, Region};
use support::*;

/// Small thresholds so that a few MiB exercise the multipart path.
fn in_parts() -> CopyOptions {
    CopyOptions::default()
        .multipart_threshold(MIB as u64)
        .part_size(MIB as u64)
}

async fn put_source(c: &coscls::cos::Client, key: &str, body: &[u8]) {
    let opts = PutOptions::default()
        .content_type("video/mp4")
        .metadata("owner", "team-a");
    c.put_object_with(BUCKET, key, body.to_vec(), &opts)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_small_source_is_one_copy_object() {
    let (emu, c) = setup().await;
    let body = data(1000, 1);
    put_source(&c, "small.bin", &body).await;
    let out = c
        .copy(BUCKET, "small.bin", BUCKET, "small-copy.bin", &in_parts())
        .await
        .unwrap();
    assert_eq!(out.parts, 0);
    assert_eq!(out.size, 1000);
    assert_eq!(out.crc64, Some(crc64::checksum(&body)));
    assert_eq!(emu.stats().operation("CopyObject"), 1);
    assert_eq!(emu.stats().operation("UploadPartCopy"), 0);
    assert_eq!(read_back(&c, "small-copy.bin").await, body);
}

#[tokio::test]
async fn a_large_source_is_copied_in_parts_with_its_metadata() {
    let (emu, c) = setup().await;
    let body = data(3 * MIB + MIB / 2, 2);
    put_source(&c, "large.bin", &body).await;
    let out = c
        .copy(BUCKET, "large.bin", BUCKET, "copies/large.bin", &in_parts())
        .await
        .unwrap();
    assert_eq!(out.parts, 4);
    assert_eq!(out.size, body.len() as u64);
    assert_eq!(out.crc64, Some(crc64::checksum(&body)));
    assert_eq!(emu.stats().operation("UploadPartCopy"), 4);
    assert_eq!(emu.stats().operation("CopyObject"), 0);
    assert_eq!(read_back(&c, "copies/large.bin").await, body);
    let meta = c.head_object(BUCKET, "copies/large.bin").await.unwrap();
    assert_eq!(meta.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(
        meta.metadata.get("owner").map(String::as_str),
        Some("team-a")
    );

    // Replaced metadata goes to the new object instead.
    let replaced = in_parts().replace_metadata(PutOptions::default().content_type("text/plain"));
    c.copy(BUCKET, "large.bin", BUCKET, "copies/plain.bin", &replaced)
        .await
        .unwrap();
    let meta = c.head_object(BUCKET, "copies/plain.bin").await.unwrap();
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    assert!(meta.metadata.is_empty(), "{:?}", meta.metadata);
    assert_no_pending_uploads(&c).await;
}

#[tokio::test]
async fn a_failed_part_aborts_the_copy() {
    let (emu, c) = setup().await;
    put_source(&c, "src.bin", &data(2 * MIB + 1, 3)).await;
    // Every part copy is refused: the source no longer matches this ETag.
    let mut opts = in_parts();
    opts.source_if_match = Some("\"not-the-etag\"".to_string());
    let e = c
        .copy(BUCKET, "src.bin", BUCKET, "dst.bin", &opts)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("PreconditionFailed"), "{e}");
    assert_eq!(emu.stats().operation("AbortMultipartUpload"), 1);
    assert_no_pending_uploads(&c).await;
    assert!(!c.object_exists(BUCKET, "dst.bin").await.unwrap());
}

#[tokio::test]
async fn bad_copy_requests_fail_before_sending() {
    let (emu, c) = setup().await;
    let other_region = CopyOptions::default().source_region(Region::parse("ap-beijing").unwrap());
    let cases: Vec<(CopyOptions, &str)> = vec![
        (other_region, "source size"),
        (
            CopyOptions::default().multipart_threshold(0),
            "multipart threshold",
        ),
        (CopyOptions::default().concurrency(0), "concurrency"),
    ];
    for (opts, what) in cases {
        match c.copy(BUCKET, "a", BUCKET, "b", &opts).await {
            Err(Error::InvalidInput { what: got, .. }) => assert_eq!(got, what),
            other => panic!("{what}: {other:?}"),
        }
    }
    let e = c
        .upload_part_copy(
            BUCKET,
            "b",
            "upload-1",
            1,
            BUCKET,
            "a",
            Some((5, 4)),
            &CopyOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidInput {
                what: "copy source range",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(emu.stats().requests, 0, "nothing was sent");
}
