//! Signature verification: what is accepted and how refusals look.

mod common;

use common::*;
use coscls::auth::{presign_url, Credentials, KeyTime, PresignRequest, PresignStyle};
use coscls_emulator::FaultConfig;

#[tokio::test]
async fn a_tampered_signed_header_is_refused_with_the_server_canonical_strings() {
    let emu = start().await;
    let http = reqwest::Client::new();
    let req = Req::new("PUT", "k")
        .header("x-cos-meta-owner", "alice")
        .body("x")
        .build(&http, &emu)
        .build()
        .unwrap();
    let mut tampered = req.try_clone().unwrap();
    tampered
        .headers_mut()
        .insert("x-cos-meta-owner", "mallory".parse().unwrap());
    let r = Reply::read(http.execute(tampered).await.unwrap()).await;
    r.expect(403);
    assert_eq!(r.code(), "SignatureDoesNotMatch");
    let fs = r.xml("FormatString").expect("FormatString");
    assert!(
        fs.starts_with("put\n/examplebucket-1250000000/k\n\n"),
        "{fs}"
    );
    assert!(fs.contains("x-cos-meta-owner=mallory"), "{fs}");
    let sts = r.xml("StringToSign").expect("StringToSign");
    assert!(sts.starts_with("sha1\n"), "{sts}");
    // The untampered original is accepted.
    Reply::read(http.execute(req).await.unwrap())
        .await
        .expect(200);
    // A tampered signed parameter too.
    let req = Req::new("GET", "")
        .param("prefix", "a")
        .build(&http, &emu)
        .build()
        .unwrap();
    let mut tampered = req;
    let url = tampered.url().as_str().replace("prefix=a", "prefix=b");
    *tampered.url_mut() = url.parse().unwrap();
    let r = Reply::read(http.execute(tampered).await.unwrap()).await;
    assert_eq!(r.code(), "SignatureDoesNotMatch");
    assert_eq!(emu.stats().auth_failures, 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn unsigned_headers_may_change_but_listed_ones_must_be_present() {
    let emu = start().await;
    let http = reqwest::Client::new();
    let r = Req::new("PUT", "k")
        .unsigned("user-agent", "anything/1.0")
        .body("x")
        .send(&emu)
        .await;
    r.expect(200);
    let req = Req::new("PUT", "k")
        .header("x-cos-meta-a", "1")
        .body("x")
        .build(&http, &emu)
        .build()
        .unwrap();
    let mut missing = req;
    missing.headers_mut().remove("x-cos-meta-a");
    let r = Reply::read(http.execute(missing).await.unwrap()).await;
    r.expect(403);
    assert_eq!(r.code(), "SignatureDoesNotMatch");
    assert!(
        r.xml("Message").unwrap().contains("header x-cos-meta-a"),
        "{}",
        r.text()
    );
    assert!(
        r.xml("FormatString")
            .is_some_and(|f| f.contains("x-cos-meta-a=\n")),
        "{}",
        r.text()
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn wrong_key_unknown_id_and_missing_authorization() {
    let emu = start().await;
    let r = Req::new("GET", "k")
        .creds(ID, "wrong-secret")
        .send(&emu)
        .await;
    r.expect(403);
    assert_eq!(r.code(), "SignatureDoesNotMatch");
    let r = Req::new("GET", "k")
        .creds("AKIDnobody", KEY)
        .send(&emu)
        .await;
    r.expect(403);
    assert_eq!(r.code(), "InvalidAccessKeyId");
    let r = Reply::read(
        reqwest::get(format!("{}/{BUCKET}/k", emu.endpoint()))
            .await
            .unwrap(),
    )
    .await;
    r.expect(403);
    assert_eq!(r.code(), "AccessDenied");
    emu.shutdown().await;
}

#[tokio::test]
async fn key_time_windows() {
    let emu = start().await;
    let now = now();
    let r = Req::new("GET", "k")
        .window(now - 7200, now - 3600)
        .send(&emu)
        .await;
    r.expect(403);
    assert_eq!(r.code(), "AccessDenied");
    assert!(r.xml("Message").unwrap().starts_with("Request has expired"));
    let r = Req::new("GET", "k")
        .window(now + 3600, now + 7200)
        .send(&emu)
        .await;
    r.expect(403);
    assert_eq!(r.code(), "RequestTimeTooSkewed");
    // Inside the window (object missing, but the signature is fine).
    Req::new("GET", "k")
        .window(now - 5, now + 5)
        .send(&emu)
        .await
        .expect(404);
    emu.shutdown().await;
}

#[tokio::test]
async fn clock_offset_makes_a_good_client_look_skewed() {
    let emu = start().await;
    Req::new("PUT", "k").body("x").send(&emu).await.expect(200);
    // Server clock one hour behind: the client's window has not started.
    emu.set_faults(FaultConfig {
        clock_offset_secs: -3600,
        ..Default::default()
    })
    .unwrap();
    let r = Req::new("GET", "k").send(&emu).await;
    r.expect(403);
    assert_eq!(r.code(), "RequestTimeTooSkewed");
    let date = httpdate::parse_http_date(r.header("date").unwrap()).unwrap();
    let server = date
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (server - (now() - 3600)).abs() < 60,
        "Date carries the skewed clock"
    );
    // A client that corrects its clock from Date is accepted.
    Req::new("GET", "k")
        .window(server - 60, server + 600)
        .send(&emu)
        .await
        .expect(200);
    // Server clock a day ahead: the window has ended.
    emu.set_faults(FaultConfig {
        clock_offset_secs: 86_400,
        ..Default::default()
    })
    .unwrap();
    let r = Req::new("GET", "k").send(&emu).await;
    assert_eq!(r.code(), "AccessDenied");
    assert!(r.text().contains("Request has expired"));
    emu.shutdown().await;
}

#[tokio::test]
async fn temporary_credentials_require_their_token() {
    let emu = start().await;
    Req::new("PUT", "k")
        .sts(Some(STS_TOKEN))
        .body("x")
        .send(&emu)
        .await
        .expect(200);
    let r = Req::new("GET", "k").sts(None).send(&emu).await;
    r.expect(403);
    assert_eq!(r.code(), "InvalidAccessKeyId");
    let r = Req::new("GET", "k")
        .sts(Some("stolen-token"))
        .send(&emu)
        .await;
    r.expect(400);
    assert_eq!(r.code(), "InvalidToken");
    // The token may also travel unsigned (Java SDK, reqsign).
    let r = Req::new("GET", "k")
        .sts(None)
        .unsigned("x-cos-security-token", STS_TOKEN)
        .send(&emu)
        .await;
    r.expect(200);
    emu.shutdown().await;
}

fn presigned(
    emu: &coscls_emulator::Emulator,
    creds: &Credentials,
    style: PresignStyle,
    kt: KeyTime,
    params: &[(&str, &str)],
) -> String {
    let host = emu.addr().to_string();
    presign_url(
        creds,
        kt,
        &PresignRequest {
            method: "GET",
            base_url: &emu.endpoint(),
            path: &format!("/{BUCKET}/pre signed.txt"),
            params,
            headers: &[("host", &host)],
            style,
        },
    )
}

#[tokio::test]
async fn presigned_urls_work_with_a_plain_client_in_both_forms() {
    let emu = start().await;
    Req::new("PUT", "pre signed.txt")
        .body("presigned body")
        .send(&emu)
        .await
        .expect(200);
    let creds = Credentials::new(ID, KEY).unwrap();
    let sts = Credentials::new(STS_ID, STS_KEY)
        .unwrap()
        .with_session_token(STS_TOKEN)
        .unwrap();
    let kt = KeyTime::new(now() - 60, now() + 300);
    for style in [PresignStyle::Query, PresignStyle::Merged] {
        for c in [&creds, &sts] {
            let url = presigned(
                &emu,
                c,
                style,
                kt,
                &[("response-content-type", "text/x-pre")],
            );
            let r = Reply::read(reqwest::get(&url).await.unwrap()).await;
            r.expect(200);
            assert_eq!(r.body, b"presigned body", "{style:?}");
            assert_eq!(r.header("content-type"), Some("text/x-pre"));
        }
        // Changing a signed parameter breaks it.
        let url = presigned(
            &emu,
            &creds,
            style,
            kt,
            &[("response-content-type", "text/x-pre")],
        );
        let r = Reply::read(reqwest::get(url.replace("x-pre", "x-evil")).await.unwrap()).await;
        r.expect(403);
        assert_eq!(r.code(), "SignatureDoesNotMatch");
        // An expired URL is refused.
        let old = presigned(
            &emu,
            &creds,
            style,
            KeyTime::new(now() - 600, now() - 300),
            &[],
        );
        let r = Reply::read(reqwest::get(&old).await.unwrap()).await;
        assert!(r.text().contains("Request has expired"), "{}", r.text());
    }
    // A temporary-credential URL without its token is refused.
    let url = presigned(&emu, &sts, PresignStyle::Query, kt, &[]);
    let stripped = url
        .split("&x-cos-security-token=")
        .next()
        .unwrap()
        .to_string();
    let r = Reply::read(reqwest::get(&stripped).await.unwrap()).await;
    r.expect(403);
    emu.shutdown().await;
}
