//! Unsigned (anonymous) requests against ACLs, from outside: a public-read
//! object or bucket lets an unsigned GET/HEAD through, a private one answers
//! 403 AccessDenied, and an object's own ACL wins over its bucket's.

mod common;

use common::*;

const ALL_USERS: &str = "http://cam.qcloud.com/groups/global/AllUsers";

/// An unsigned request to `/<bucket>/<key>`.
async fn anonymous(emu: &coscls_emulator::Emulator, method: &str, key: &str) -> Reply {
    let url = format!("{}/{BUCKET}/{key}", emu.endpoint());
    let resp = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .send()
        .await
        .expect("request sent");
    Reply::read(resp).await
}

async fn put(emu: &coscls_emulator::Emulator, key: &str, body: &str) {
    let r = Req::new("PUT", key).body(body).send(emu).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

async fn set_acl(emu: &coscls_emulator::Emulator, key: &str, header: &str, value: &str) {
    let r = Req::new("PUT", key)
        .param("acl", "")
        .header(header, value)
        .send(emu)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn object_acls_decide_unsigned_reads() {
    let emu = start().await;
    put(&emu, "open.txt", "public bytes").await;
    put(&emu, "closed.txt", "private bytes").await;
    put(&emu, "granted.txt", "granted bytes").await;
    set_acl(&emu, "open.txt", "x-cos-acl", "public-read").await;
    set_acl(
        &emu,
        "granted.txt",
        "x-cos-grant-read",
        &format!("uri=\"{ALL_USERS}\""),
    )
    .await;

    let r = anonymous(&emu, "GET", "open.txt").await;
    assert_eq!((r.status, r.text().as_str()), (200, "public bytes"));
    let r = anonymous(&emu, "HEAD", "open.txt").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("12"));
    let r = anonymous(&emu, "GET", "granted.txt").await;
    assert_eq!((r.status, r.text().as_str()), (200, "granted bytes"));

    // No ACL of its own: the private (default) bucket decides.
    let r = anonymous(&emu, "GET", "closed.txt").await;
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));
    let r = anonymous(&emu, "HEAD", "closed.txt").await;
    assert_eq!(r.status, 403);
    // A public-read object does not open writes or its ACL.
    let r = anonymous(&emu, "PUT", "open.txt").await;
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));
    let r = anonymous(&emu, "GET", "open.txt?acl").await;
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));
    let r = anonymous(&emu, "DELETE", "open.txt").await;
    assert_eq!(r.status, 403);
    // Signed requests are unchanged.
    let r = Req::new("GET", "closed.txt").send(&emu).await;
    assert_eq!((r.status, r.text().as_str()), (200, "private bytes"));

    let stats = emu.stats();
    assert_eq!(stats.auth_failures, 5, "only the refused unsigned requests");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_public_read_bucket_opens_objects_without_their_own_acl() {
    let emu = start().await;
    put(&emu, "inherits.txt", "inherited").await;
    put(&emu, "private.txt", "kept").await;
    set_acl(&emu, "private.txt", "x-cos-acl", "private").await;
    set_acl(&emu, "", "x-cos-acl", "public-read").await;

    let r = anonymous(&emu, "GET", "inherits.txt").await;
    assert_eq!((r.status, r.text().as_str()), (200, "inherited"));
    // The object's own `private` wins over the bucket.
    let r = anonymous(&emu, "GET", "private.txt").await;
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));
    // A readable bucket lists, and a missing key is a plain 404.
    let r = anonymous(&emu, "GET", "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.xml_all("Key").contains(&"inherits.txt".to_string()));
    let r = anonymous(&emu, "GET", "absent.txt").await;
    assert_eq!((r.status, r.code().as_str()), (404, "NoSuchKey"));
    // Public-read is not public-write.
    let r = anonymous(&emu, "PUT", "new.txt").await;
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));

    // Back to private: unsigned reads stop.
    set_acl(&emu, "", "x-cos-acl", "private").await;
    let r = anonymous(&emu, "GET", "inherits.txt").await;
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));
    let r = anonymous(&emu, "GET", "").await;
    assert_eq!(r.status, 403);
    emu.shutdown().await;
}
