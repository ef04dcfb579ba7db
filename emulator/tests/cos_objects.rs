//! COS object and bucket operations with raw signed requests.

mod common;

use base64::Engine as _;
use common::*;
use md5::{Digest as _, Md5};

fn md5_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(data))
}

#[tokio::test]
async fn put_get_head_delete_with_metadata_etag_and_crc() {
    let emu = start().await;
    let data = b"hello cos".to_vec();
    let put = Req::new("PUT", "dir/a b+c.txt")
        .header("content-type", "text/plain")
        .header("content-md5", &md5_b64(&data))
        .header("x-cos-meta-author", "alice")
        .header("cache-control", "no-cache")
        .body(data.clone())
        .send(&emu)
        .await;
    put.expect(200);
    assert_eq!(
        put.header("etag"),
        Some(format!("\"{}\"", hex::encode(Md5::digest(&data))).as_str())
    );
    assert_eq!(
        put.header("x-cos-hash-crc64ecma"),
        Some("13242225731321912570")
    );
    assert!(put
        .header("x-cos-request-id")
        .is_some_and(|r| !r.is_empty()));

    let get = Req::new("GET", "dir/a b+c.txt").send(&emu).await;
    get.expect(200);
    assert_eq!(get.body, data);
    assert_eq!(get.header("content-type"), Some("text/plain"));
    assert_eq!(get.header("x-cos-meta-author"), Some("alice"));
    assert_eq!(get.header("cache-control"), Some("no-cache"));
    assert_eq!(
        get.header("x-cos-hash-crc64ecma"),
        Some(crc64(&data).to_string().as_str())
    );
    assert!(get.header("last-modified").is_some());

    let head = Req::new("HEAD", "dir/a b+c.txt").send(&emu).await;
    head.expect(200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), Some("9"));
    assert_eq!(head.header("x-cos-meta-author"), Some("alice"));

    Req::new("DELETE", "dir/a b+c.txt")
        .send(&emu)
        .await
        .expect(204);
    let gone = Req::new("GET", "dir/a b+c.txt").send(&emu).await;
    gone.expect(404);
    assert_eq!(gone.code(), "NoSuchKey");
    assert!(gone
        .xml("RequestId")
        .is_some_and(|id| Some(id.as_str()) == gone.header("x-cos-request-id")));
    let head = Req::new("HEAD", "dir/a b+c.txt").send(&emu).await;
    head.expect(404);
    assert!(head.body.is_empty(), "HEAD errors have no body");
    // Deleting a missing key is not an error.
    Req::new("DELETE", "dir/a b+c.txt")
        .send(&emu)
        .await
        .expect(204);
    emu.shutdown().await;
}

#[tokio::test]
async fn bad_content_md5_and_missing_bucket() {
    let emu = start().await;
    let r = Req::new("PUT", "k")
        .header("content-md5", &md5_b64(b"other"))
        .body("data")
        .send(&emu)
        .await;
    r.expect(400);
    assert_eq!(r.code(), "BadDigest");
    Req::new("GET", "k").send(&emu).await.expect(404);
    let mut nb = Req::new("PUT", "k").body("x");
    nb.bucket = Some("nobucket-1250000000".into());
    let r = nb.send(&emu).await;
    r.expect(404);
    assert_eq!(r.code(), "NoSuchBucket");
    let r = Req::new("GET", "").param("cors", "").send(&emu).await;
    r.expect(501);
    assert_eq!(r.code(), "NotImplemented");
    assert!(r.xml("Message").unwrap().contains("?cors"));
    let r = Req::new("PUT", "k")
        .header("x-cos-storage-class", "PLATINUM")
        .body("x")
        .send(&emu)
        .await;
    r.expect(400);
    assert_eq!(r.code(), "InvalidStorageClass");
    emu.shutdown().await;
}

#[tokio::test]
async fn entity_too_large_is_refused_before_reading() {
    let emu = coscls_emulator::Emulator::builder()
        .credentials(ID, KEY)
        .bucket(BUCKET)
        .max_object_size(10)
        .start()
        .await
        .unwrap();
    let r = Req::new("PUT", "big").body(vec![0u8; 11]).send(&emu).await;
    r.expect(400);
    assert_eq!(r.code(), "EntityTooLarge");
    Req::new("PUT", "ok")
        .body(vec![0u8; 10])
        .send(&emu)
        .await
        .expect(200);
    emu.shutdown().await;
}

#[tokio::test]
async fn ranges_conditions_and_response_overrides() {
    let emu = start().await;
    let data: Vec<u8> = (0..100u8).collect();
    let put = Req::new("PUT", "r").body(data.clone()).send(&emu).await;
    let etag = put.header("etag").unwrap().to_string();

    let r = Req::new("GET", "r")
        .header("range", "bytes=10-19")
        .send(&emu)
        .await;
    r.expect(206);
    assert_eq!(r.body, &data[10..20]);
    assert_eq!(r.header("content-range"), Some("bytes 10-19/100"));
    let r = Req::new("GET", "r")
        .header("range", "bytes=-5")
        .send(&emu)
        .await;
    r.expect(206);
    assert_eq!(r.body, &data[95..]);
    let r = Req::new("GET", "r")
        .header("range", "bytes=100-")
        .send(&emu)
        .await;
    r.expect(416);
    assert_eq!(r.code(), "InvalidRange");

    Req::new("GET", "r")
        .header("if-match", &etag)
        .send(&emu)
        .await
        .expect(200);
    let r = Req::new("GET", "r")
        .header("if-match", "\"nope\"")
        .send(&emu)
        .await;
    r.expect(412);
    assert_eq!(r.code(), "PreconditionFailed");
    let r = Req::new("GET", "r")
        .header("if-none-match", &etag)
        .send(&emu)
        .await;
    r.expect(304);
    assert!(r.body.is_empty());
    Req::new("GET", "r")
        .header("if-modified-since", "Thu, 01 Jan 2099 00:00:00 GMT")
        .send(&emu)
        .await
        .expect(304);
    Req::new("GET", "r")
        .header("if-unmodified-since", "Thu, 01 Jan 1998 00:00:00 GMT")
        .send(&emu)
        .await
        .expect(412);

    let r = Req::new("GET", "r")
        .param("response-content-type", "application/x-test")
        .param(
            "response-content-disposition",
            "attachment; filename=\"r.bin\"",
        )
        .param("response-cache-control", "max-age=5")
        .send(&emu)
        .await;
    r.expect(200);
    assert_eq!(r.header("content-type"), Some("application/x-test"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"r.bin\"")
    );
    assert_eq!(r.header("cache-control"), Some("max-age=5"));
    emu.shutdown().await;
}

#[tokio::test]
async fn unsigned_response_overrides_are_refused() {
    let emu = start().await;
    Req::new("PUT", "r").body("x").send(&emu).await.expect(200);
    let http = reqwest::Client::new();
    let req = Req::new("GET", "r").build(&http, &emu).build().unwrap();
    let mut url = req.url().clone();
    url.query_pairs_mut()
        .append_pair("response-content-type", "text/evil");
    let mut unsigned = req;
    *unsigned.url_mut() = url;
    let r = Reply::read(http.execute(unsigned).await.unwrap()).await;
    r.expect(403);
    assert_eq!(r.code(), "AccessDenied");
    emu.shutdown().await;
}

#[tokio::test]
async fn copy_object_copies_or_replaces_metadata() {
    let emu = start().await;
    Req::new("PUT", "src/a b.txt")
        .header("x-cos-meta-k", "v")
        .header("content-type", "text/plain")
        .body("copy me")
        .send(&emu)
        .await
        .expect(200);
    let source = format!("{BUCKET}.cos.ap-guangzhou.myqcloud.com/src/a%20b.txt");
    let r = Req::new("PUT", "dst/copied")
        .header("x-cos-copy-source", &source)
        .send(&emu)
        .await;
    r.expect(200);
    assert_eq!(r.xml("CRC64"), Some(crc64(b"copy me").to_string()));
    assert_eq!(
        r.xml("ETag").map(|e| e.replace("&quot;", "\"")),
        Some(format!("\"{}\"", hex::encode(Md5::digest(b"copy me"))))
    );
    let got = Req::new("GET", "dst/copied").send(&emu).await;
    assert_eq!(got.body, b"copy me");
    assert_eq!(got.header("x-cos-meta-k"), Some("v"));

    Req::new("PUT", "dst/replaced")
        .header("x-cos-copy-source", &source)
        .header("x-cos-metadata-directive", "Replaced")
        .header("x-cos-meta-new", "1")
        .send(&emu)
        .await
        .expect(200);
    let got = Req::new("HEAD", "dst/replaced").send(&emu).await;
    assert_eq!(got.header("x-cos-meta-new"), Some("1"));
    assert_eq!(got.header("x-cos-meta-k"), None);

    let r = Req::new("PUT", "dst/x")
        .header(
            "x-cos-copy-source",
            &format!("{BUCKET}.cos.ap-guangzhou.myqcloud.com/missing"),
        )
        .send(&emu)
        .await;
    r.expect(404);
    let r = Req::new("PUT", "src/a b.txt")
        .header("x-cos-copy-source", &source)
        .send(&emu)
        .await;
    r.expect(400);
    assert_eq!(r.code(), "InvalidRequest");
    emu.shutdown().await;
}

#[tokio::test]
async fn list_objects_prefix_delimiter_marker_and_encoding() {
    let emu = start().await;
    for k in [
        "photos/2024/a.jpg",
        "photos/2024/b.jpg",
        "photos/2025/c.jpg",
        "photos/x y.jpg",
        "readme",
    ] {
        Req::new("PUT", k).body("x").send(&emu).await.expect(200);
    }
    let r = Req::new("GET", "")
        .param("prefix", "photos/")
        .param("delimiter", "/")
        .send(&emu)
        .await;
    r.expect(200);
    assert_eq!(r.xml_all("Prefix")[1..], ["photos/2024/", "photos/2025/"]);
    assert_eq!(r.xml_all("Key"), ["photos/x y.jpg"]);
    assert_eq!(r.xml("IsTruncated").as_deref(), Some("false"));

    let mut seen = Vec::new();
    let mut marker = String::new();
    loop {
        let page = Req::new("GET", "")
            .param("max-keys", "2")
            .param("marker", &marker)
            .send(&emu)
            .await;
        page.expect(200);
        seen.extend(page.xml_all("Key"));
        if page.xml("IsTruncated").as_deref() != Some("true") {
            assert!(page.xml("NextMarker").is_none());
            break;
        }
        marker = page.xml("NextMarker").expect("NextMarker when truncated");
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[4], "readme");

    let r = Req::new("GET", "")
        .param("prefix", "photos/x")
        .param("encoding-type", "url")
        .send(&emu)
        .await;
    assert_eq!(r.xml_all("Key"), ["photos/x%20y.jpg"]);
    let r = Req::new("GET", "")
        .param("max-keys", "5000")
        .send(&emu)
        .await;
    r.expect(400);
    assert_eq!(r.code(), "InvalidArgument");
    emu.shutdown().await;
}

#[tokio::test]
async fn delete_multiple_objects() {
    let emu = start().await;
    for k in ["a", "b", "c"] {
        Req::new("PUT", k).body("x").send(&emu).await.expect(200);
    }
    let body = "<Delete><Quiet>false</Quiet><Object><Key>a</Key></Object><Object><Key>b</Key></Object><Object><Key>zz</Key></Object></Delete>";
    let r = Req::new("POST", "")
        .param("delete", "")
        .header("content-md5", &md5_b64(body.as_bytes()))
        .header("content-type", "application/xml")
        .body(body)
        .send(&emu)
        .await;
    r.expect(200);
    assert_eq!(r.xml_all("Key"), ["a", "b", "zz"]);
    Req::new("GET", "a").send(&emu).await.expect(404);
    Req::new("GET", "c").send(&emu).await.expect(200);

    let r = Req::new("POST", "")
        .param("delete", "")
        .body(body)
        .send(&emu)
        .await;
    r.expect(400);
    assert!(r.text().contains("Content-MD5"));
    let bad = "<Delete><Object>";
    let r = Req::new("POST", "")
        .param("delete", "")
        .header("content-md5", &md5_b64(bad.as_bytes()))
        .body(bad)
        .send(&emu)
        .await;
    r.expect(400);
    assert_eq!(r.code(), "MalformedXML");
    emu.shutdown().await;
}

#[tokio::test]
async fn bucket_lifecycle_and_service_listing() {
    let emu = start().await;
    let mut put = Req::new("PUT", "");
    put.bucket = Some("newbucket-1250000000".into());
    put.send(&emu).await.expect(200);
    let again = put.send(&emu).await;
    again.expect(409);
    assert_eq!(again.code(), "BucketAlreadyOwnedByYou");
    let mut head = Req::new("HEAD", "");
    head.bucket = Some("newbucket-1250000000".into());
    let h = head.send(&emu).await;
    h.expect(200);
    assert_eq!(h.header("x-cos-bucket-region"), Some("ap-guangzhou"));

    let mut obj = Req::new("PUT", "k").body("x");
    obj.bucket = Some("newbucket-1250000000".into());
    obj.send(&emu).await.expect(200);
    let mut del = Req::new("DELETE", "");
    del.bucket = Some("newbucket-1250000000".into());
    let r = del.send(&emu).await;
    r.expect(409);
    assert_eq!(r.code(), "BucketNotEmpty");
    let mut delobj = Req::new("DELETE", "k");
    delobj.bucket = Some("newbucket-1250000000".into());
    delobj.send(&emu).await.expect(204);
    del.send(&emu).await.expect(204);
    head.send(&emu).await.expect(404);

    let mut bad = Req::new("PUT", "");
    bad.bucket = Some("Bad_Name".into());
    let r = bad.send(&emu).await;
    r.expect(400);
    assert_eq!(r.code(), "InvalidBucketName");

    let mut service = Req::new("GET", "/");
    service.bucket = None;
    service.path = "/".into();
    let r = service.send(&emu).await;
    r.expect(200);
    assert_eq!(r.xml_all("Name"), [BUCKET]);
    emu.shutdown().await;
}

#[tokio::test]
async fn virtual_hosted_requests_through_a_proxy_sign_the_key_path() {
    // An unmodified SDK reaches the emulator through its HTTP proxy setting:
    // absolute-form targets, the bucket in the Host header.
    let emu = start().await;
    let host = format!("{BUCKET}.cos.ap-guangzhou.myqcloud.com");
    let http = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(emu.endpoint()).unwrap())
        .build()
        .unwrap();
    let creds = coscls::auth::Credentials::new(ID, KEY).unwrap();
    let send = |method: &'static str, key: &'static str, body: &'static str| {
        let sig = coscls::auth::sign(
            &creds,
            coscls::auth::KeyTime::new(now() - 60, now() + 600),
            &coscls::auth::SignableRequest {
                method,
                path: &format!("/{key}"),
                params: &[],
                headers: &[("host", &host)],
            },
        );
        http.request(
            method.parse().unwrap(),
            format!("http://{host}/{}", coscls::auth::path_encode(key)),
        )
        .header("authorization", sig.authorization)
        .body(body)
        .send()
    };
    let put = Reply::read(send("PUT", "v/k 1", "via proxy").await.unwrap()).await;
    put.expect(200);
    let get = Reply::read(send("GET", "v/k 1", "").await.unwrap()).await;
    get.expect(200);
    assert_eq!(get.body, b"via proxy");
    // The same object is visible path-style.
    assert_eq!(Req::new("GET", "v/k 1").send(&emu).await.body, b"via proxy");
    emu.shutdown().await;
}
