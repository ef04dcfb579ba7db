//! Multipart upload with raw signed requests.

mod common;

use common::*;
use md5::{Digest as _, Md5};

async fn initiate(emu: &coscls_emulator::Emulator, key: &str) -> String {
    let r = Req::new("POST", key)
        .param("uploads", "")
        .header("content-type", "video/mp4")
        .header("x-cos-meta-origin", "multipart")
        .send(emu)
        .await;
    r.expect(200);
    r.xml("UploadId").expect("UploadId")
}

async fn part(emu: &coscls_emulator::Emulator, key: &str, id: &str, n: u32, data: &[u8]) -> String {
    let r = Req::new("PUT", key)
        .param("partNumber", &n.to_string())
        .param("uploadId", id)
        .body(data.to_vec())
        .send(emu)
        .await;
    r.expect(200);
    assert_eq!(
        r.header("x-cos-hash-crc64ecma"),
        Some(crc64(data).to_string().as_str())
    );
    r.header("etag").unwrap().to_string()
}

fn complete_xml(parts: &[(u32, &str)]) -> String {
    let mut s = String::from("<CompleteMultipartUpload>");
    for (n, etag) in parts {
        s.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag></Part>",
            etag.replace('"', "&quot;")
        ));
    }
    s + "</CompleteMultipartUpload>"
}

async fn complete(
    emu: &coscls_emulator::Emulator,
    key: &str,
    id: &str,
    parts: &[(u32, &str)],
) -> Reply {
    Req::new("POST", key)
        .param("uploadId", id)
        .body(complete_xml(parts))
        .send(emu)
        .await
}

#[tokio::test]
async fn upload_list_and_complete() {
    let emu = start().await;
    let key = "video/clip one.mp4";
    let id = initiate(&emu, key).await;
    let chunks: [&[u8]; 3] = [b"first-part-", b"second-part-", b"end"];
    let mut etags = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let etag = part(&emu, key, &id, i as u32 + 1, c).await;
        assert_eq!(etag, format!("\"{}\"", hex::encode(Md5::digest(c))));
        etags.push(etag);
    }
    // Re-uploading a part replaces it.
    let etag2 = part(&emu, key, &id, 2, b"SECOND-part-").await;
    etags[1] = etag2;

    let lp = Req::new("GET", key)
        .param("uploadId", &id)
        .param("max-parts", "2")
        .send(&emu)
        .await;
    lp.expect(200);
    assert_eq!(lp.xml_all("PartNumber"), ["1", "2"]);
    assert_eq!(lp.xml("IsTruncated").as_deref(), Some("true"));
    assert_eq!(lp.xml("NextPartNumberMarker").as_deref(), Some("2"));
    let lp = Req::new("GET", key)
        .param("uploadId", &id)
        .param("part-number-marker", "2")
        .send(&emu)
        .await;
    assert_eq!(lp.xml_all("PartNumber"), ["3"]);
    assert_eq!(lp.xml_all("Size"), ["3"]);

    let lu = Req::new("GET", "")
        .param("uploads", "")
        .param("prefix", "video/")
        .send(&emu)
        .await;
    lu.expect(200);
    assert_eq!(lu.xml_all("UploadId"), std::slice::from_ref(&id));
    assert_eq!(lu.xml_all("Key"), [key]);

    let parts: Vec<(u32, &str)> = etags
        .iter()
        .enumerate()
        .map(|(i, e)| (i as u32 + 1, e.as_str()))
        .collect();
    let r = complete(&emu, key, &id, &parts).await;
    r.expect(200);
    let whole = b"first-part-SECOND-part-end";
    assert_eq!(
        r.header("x-cos-hash-crc64ecma"),
        Some(crc64(whole).to_string().as_str())
    );
    let mut md5s = Vec::new();
    for c in [&b"first-part-"[..], b"SECOND-part-", b"end"] {
        md5s.extend_from_slice(&Md5::digest(c));
    }
    let expected_etag = format!("\"{}-3\"", hex::encode(Md5::digest(&md5s)));
    assert_eq!(
        r.xml("ETag").map(|e| e.replace("&quot;", "\"")),
        Some(expected_etag.clone())
    );
    assert!(r.xml("Location").is_some_and(|l| l.ends_with(key)));

    let got = Req::new("GET", key).send(&emu).await;
    got.expect(200);
    assert_eq!(got.body, whole);
    assert_eq!(got.header("etag"), Some(expected_etag.as_str()));
    assert_eq!(got.header("content-type"), Some("video/mp4"));
    assert_eq!(got.header("x-cos-meta-origin"), Some("multipart"));
    assert_eq!(
        got.header("x-cos-hash-crc64ecma"),
        Some(crc64(whole).to_string().as_str())
    );
    // The upload is gone.
    let r = Req::new("GET", key).param("uploadId", &id).send(&emu).await;
    r.expect(404);
    assert_eq!(r.code(), "NoSuchUpload");
    emu.shutdown().await;
}

#[tokio::test]
async fn completion_is_checked() {
    let emu = start().await;
    let key = "checked";
    let id = initiate(&emu, key).await;
    let e1 = part(&emu, key, &id, 1, b"aaaaaa").await;
    let e2 = part(&emu, key, &id, 2, b"bbb").await;
    let e3 = part(&emu, key, &id, 3, b"cc").await;

    let r = complete(&emu, key, &id, &[(2, &e2), (1, &e1)]).await;
    r.expect(400);
    assert_eq!(r.code(), "InvalidPartOrder");
    let r = complete(&emu, key, &id, &[(1, &e1), (2, "\"0123\"")]).await;
    r.expect(400);
    assert_eq!(r.code(), "InvalidPart");
    let r = complete(&emu, key, &id, &[(1, &e1), (4, &e2)]).await;
    r.expect(400);
    assert_eq!(r.code(), "InvalidPart");
    // min_part_size is 5 in these tests: part 2 (3 bytes) may only be last.
    let r = complete(&emu, key, &id, &[(1, &e1), (2, &e2), (3, &e3)]).await;
    r.expect(400);
    assert_eq!(r.code(), "EntityTooSmall");
    let r = Req::new("POST", key)
        .param("uploadId", &id)
        .body("<oops")
        .send(&emu)
        .await;
    r.expect(400);
    assert_eq!(r.code(), "MalformedXML");
    // A subset that follows the rules completes.
    complete(&emu, key, &id, &[(1, &e1), (2, &e2)])
        .await
        .expect(200);
    assert_eq!(Req::new("GET", key).send(&emu).await.body, b"aaaaaabbb");
    emu.shutdown().await;
}

#[tokio::test]
async fn the_default_minimum_part_size_is_one_mebibyte() {
    let emu = coscls_emulator::Emulator::builder()
        .credentials(ID, KEY)
        .bucket(BUCKET)
        .start()
        .await
        .unwrap();
    let id = initiate(&emu, "k").await;
    let e1 = part(&emu, "k", &id, 1, &vec![1u8; 1024 * 1024 - 1]).await;
    let e2 = part(&emu, "k", &id, 2, b"x").await;
    let r = complete(&emu, "k", &id, &[(1, &e1), (2, &e2)]).await;
    assert_eq!(r.code(), "EntityTooSmall");
    let e1 = part(&emu, "k", &id, 1, &vec![1u8; 1024 * 1024]).await;
    complete(&emu, "k", &id, &[(1, &e1), (2, &e2)])
        .await
        .expect(200);
    emu.shutdown().await;
}

#[tokio::test]
async fn abort_and_unknown_uploads() {
    let emu = start().await;
    let id = initiate(&emu, "k").await;
    part(&emu, "k", &id, 1, b"data").await;
    Req::new("DELETE", "k")
        .param("uploadId", &id)
        .send(&emu)
        .await
        .expect(204);
    let r = Req::new("DELETE", "k")
        .param("uploadId", &id)
        .send(&emu)
        .await;
    r.expect(404);
    assert_eq!(r.code(), "NoSuchUpload");
    let id = initiate(&emu, "k").await;
    // (key, partNumber, uploadId, status, code): refused part uploads.
    let refused = [
        ("k", "1", "nope", 404, "NoSuchUpload"),
        ("k", "10001", id.as_str(), 400, "InvalidArgument"),
        ("k", "", id.as_str(), 400, "InvalidArgument"),
        // An upload id belongs to its key.
        ("other", "1", id.as_str(), 404, "NoSuchUpload"),
    ];
    for (key, number, upload, status, code) in refused {
        let r = Req::new("PUT", key)
            .param("partNumber", number)
            .param("uploadId", upload)
            .body("x")
            .send(&emu)
            .await;
        r.expect(status);
        assert_eq!(r.code(), code, "{key} part {number:?} of {upload}");
    }
    emu.shutdown().await;
}
