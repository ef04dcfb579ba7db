//! Regression tests against a hostile server (the attack kit in
//! `support::hostile`): every loop driven by a server's answers ends, and
//! no wrong, partial or out-of-range bytes are returned as a success.
//!
//! Where old code looped for ever, the script refuses (403, not retried)
//! after `PATIENCE` requests, so a regression fails on an assertion instead
//! of hanging the test run.

mod support;

use coscls::cos::{ByteRange, DownloadOptions, Error, GetOptions, ListOptions};
use futures_util::StreamExt;
use support::hostile::{
    answer, answer_chunked, answer_short, refuse, xml, Hostile, Reply, Request,
};
use support::*;

/// Requests a script answers before it refuses, far more than any bounded
/// client loop may send.
const PATIENCE: usize = 200;

/// The object the GET scripts serve: 100 bytes.
fn object() -> Vec<u8> {
    data(100, 7)
}

fn is_protocol(e: &Error, needle: &str) -> bool {
    matches!(e, Error::Protocol { .. }) && e.to_string().contains(needle)
}

#[tokio::test]
async fn download_of_an_empty_chunked_206_is_bounded() {
    let server = Hostile::start(|n, r: &Request| match (n, r.method.as_str()) {
        (n, _) if n > PATIENCE => refuse(),
        // A HEAD's Content-Length announces the object; no body follows.
        (_, "HEAD") => answer_short(200, &[("etag", "\"e\"")], 100, b""),
        _ => answer_chunked(
            206,
            &[("etag", "\"e\""), ("content-range", "bytes 0-99/100")],
            &[],
        ),
    })
    .await;
    let c = hostile_client(&server.endpoint());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.bin");
    let e = c
        .download_file(BUCKET, "k", &path, &DownloadOptions::default())
        .await
        .unwrap_err();
    // HEAD + at most 3 attempts for the one part.
    assert!(
        server.requests() <= 4,
        "{} requests: {e}",
        server.requests()
    );
    assert!(
        e.code().is_none(),
        "ended by the client, not the script: {e}"
    );
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "temp file removed"
    );
}

fn list_parts_page(marker: &str, next: &str) -> String {
    format!(
        "<ListPartsResult><Bucket>{BUCKET}</Bucket><Key>k</Key><UploadId>u1</UploadId>\
         <PartNumberMarker>{marker}</PartNumberMarker><NextPartNumberMarker>{next}</NextPartNumberMarker>\
         <IsTruncated>true</IsTruncated><Part><PartNumber>{next}</PartNumber><ETag>\"p\"</ETag><Size>1</Size></Part>\
         </ListPartsResult>"
    )
}

#[tokio::test]
async fn list_parts_ends_on_a_marker_cycle() {
    // NextPartNumberMarker 1, 2, 1, 2, …
    let server = Hostile::start(|n, r: &Request| {
        if n > PATIENCE {
            return refuse();
        }
        let marker = r.query("part-number-marker").unwrap_or_default();
        let next = if marker == "1" { "2" } else { "1" };
        xml(&list_parts_page(&marker, next))
    })
    .await;
    let c = hostile_client(&server.endpoint());
    let e = c.list_parts(BUCKET, "k", "u1").await.unwrap_err();
    assert!(is_protocol(&e, "marker \"1\" a second time"), "{e}");
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn list_objects_stream_ends_on_a_marker_cycle() {
    // NextMarker a, b, a, b, …
    let server = Hostile::start(|n, r: &Request| {
        if n > PATIENCE {
            return refuse();
        }
        let marker = r.query("marker").unwrap_or_default();
        let next = if marker == "a" { "b" } else { "a" };
        xml(&format!(
            "<ListBucketResult><Name>{BUCKET}</Name><Marker>{marker}</Marker><NextMarker>{next}</NextMarker>\
             <IsTruncated>true</IsTruncated><Contents><Key>{next}</Key><Size>1</Size></Contents></ListBucketResult>"
        ))
    })
    .await;
    let c = hostile_client(&server.endpoint());
    let pages: Vec<_> = c
        .list_objects_stream(BUCKET, ListOptions::default())
        .collect()
        .await;
    let last = pages.last().unwrap().as_ref().unwrap_err();
    assert!(is_protocol(last, "marker \"a\" a second time"), "{last}");
    assert_eq!(pages.len(), 3, "two pages, then the error");
}

#[tokio::test]
async fn list_multipart_uploads_ends_on_a_marker_cycle() {
    // (key, upload id) markers (k, 1), (k, 2), (k, 1), …
    let server = Hostile::start(|n, r: &Request| {
        if n > PATIENCE {
            return refuse();
        }
        let id = r.query("upload-id-marker").unwrap_or_default();
        let next = if id == "1" { "2" } else { "1" };
        xml(&format!(
            "<ListMultipartUploadsResult><Bucket>{BUCKET}</Bucket><IsTruncated>true</IsTruncated>\
             <NextKeyMarker>k</NextKeyMarker><NextUploadIdMarker>{next}</NextUploadIdMarker>\
             <Upload><Key>k</Key><UploadId>{next}</UploadId></Upload></ListMultipartUploadsResult>"
        ))
    })
    .await;
    let c = hostile_client(&server.endpoint());
    let e = c.list_multipart_uploads(BUCKET, None).await.unwrap_err();
    assert!(is_protocol(&e, "\"k upload 1\" a second time"), "{e}");
    assert_eq!(server.requests(), 3);
}

/// A server answering every GET with `reply(request)`.
async fn get_server(reply: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Hostile {
    Hostile::start(move |_, r: &Request| reply(r)).await
}

#[tokio::test]
async fn a_whole_object_get_answered_206_is_an_error() {
    let server = get_server(|_| {
        let body = object();
        answer(206, &[("content-range", "bytes 0-9/100")], &body[..10])
    })
    .await;
    let c = hostile_client(&server.endpoint());
    let got = c.get_object(BUCKET, "k").await;
    let e = got.map(|o| o.body).unwrap_err();
    assert!(
        is_protocol(&e, "asked for the whole object, got HTTP 206"),
        "{e}"
    );
}

#[tokio::test]
async fn a_ranged_get_answered_200_with_the_whole_object_is_an_error() {
    let server = get_server(|_| answer(200, &[], &object())).await;
    let c = hostile_client(&server.endpoint());
    let opts = GetOptions::default().range(ByteRange::new(0, 9).unwrap());
    let e = c.get_object_with(BUCKET, "k", &opts).await.unwrap_err();
    assert!(is_protocol(&e, "got HTTP 200 instead of 206"), "{e}");
}

#[tokio::test]
async fn a_range_answered_with_other_bytes_is_an_error() {
    let server = get_server(|_| {
        let body = object();
        answer(206, &[("content-range", "bytes 10-19/100")], &body[10..20])
    })
    .await;
    let c = hostile_client(&server.endpoint());
    let opts = GetOptions::default().range(ByteRange::new(0, 9).unwrap());
    let e = c.get_object_with(BUCKET, "k", &opts).await.unwrap_err();
    assert!(
        is_protocol(&e, "asked for bytes=0-9, got bytes 10-19/100"),
        "{e}"
    );
}

#[tokio::test]
async fn a_range_whose_length_disagrees_is_an_error() {
    let server = get_server(|_| {
        let body = object();
        answer(206, &[("content-range", "bytes 0-9/100")], &body[..4])
    })
    .await;
    let c = hostile_client(&server.endpoint());
    let opts = GetOptions::default().range(ByteRange::new(0, 9).unwrap());
    let e = c.get_object_with(BUCKET, "k", &opts).await.unwrap_err();
    assert!(is_protocol(&e, "Content-Length says 4"), "{e}");
}

#[tokio::test]
async fn a_chunked_206_shorter_than_its_range_is_an_error() {
    let server = get_server(|_| {
        let body = object();
        answer_chunked(206, &[("content-range", "bytes 0-9/100")], &[&body[..4]])
    })
    .await;
    let c = hostile_client(&server.endpoint());
    let opts = GetOptions::default().range(ByteRange::new(0, 9).unwrap());
    let body = c.get_object_with(BUCKET, "k", &opts).await.unwrap().body;
    let e = body.bytes().await.unwrap_err();
    assert!(
        e.to_string().contains("body ended after 4 of 10 bytes"),
        "{e}"
    );
}

#[tokio::test]
async fn a_short_body_is_an_error() {
    let server = get_server(|_| answer_short(200, &[], 100, &object()[..10])).await;
    let c = hostile_client(&server.endpoint());
    let body = c.get_object(BUCKET, "k").await.unwrap().body;
    let e = body.bytes().await.unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e}");
}

#[tokio::test]
async fn a_stalled_answer_times_out_after_the_retries() {
    let server = get_server(|_| Reply::Stall).await;
    let c = hostile_client(&server.endpoint());
    let e = c.get_object(BUCKET, "k").await.unwrap_err();
    assert!(matches!(e, Error::Transport(_)) && e.retryable(), "{e}");
    assert_eq!(server.requests(), 3, "each attempt sent once");
}

#[tokio::test]
async fn a_reset_is_retried() {
    let server = Hostile::start(|n, _: &Request| {
        if n == 0 {
            Reply::Reset
        } else {
            answer(200, &[], &object())
        }
    })
    .await;
    let c = hostile_client(&server.endpoint());
    let body = c.get_object(BUCKET, "k").await.unwrap().body.bytes().await;
    assert_eq!(body.unwrap(), object());
    assert_eq!(server.requests(), 2);
}
