//! Presigned POST against the embedded emulator: the SDK signs a policy,
//! and a plain HTTP `multipart/form-data` POST (built by hand here, as a
//! browser would send it, no SDK involved) uploads with it. The emulator
//! checks the signature, the expiry and every condition.

mod support;

use std::time::Duration;

use base64::Engine as _;
use coscls::auth::{Credentials, KeyTime};
use coscls::cos::{presign_post, BucketName, PostPolicyOptions, PresignedPost};
use coscls_emulator::Emulator;
use support::*;

const BOUNDARY: &str = "----coscls-test-boundary-7MA4YWxkTrZu0gW";

/// The form body: every field, then the file as the last part.
fn form(fields: &[(String, String)], filename: &str, file: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

struct Answer {
    status: u16,
    code: Option<String>,
    body: String,
}

async fn post(url: &str, fields: &[(String, String)], filename: &str, file: &[u8]) -> Answer {
    let response = reqwest::Client::new()
        .post(url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(form(fields, filename, file))
        .send()
        .await
        .expect("the POST is answered");
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let code = body
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_string());
    Answer { status, code, body }
}

fn with(post: &PresignedPost, name: &str, value: &str) -> Vec<(String, String)> {
    let mut fields = post.fields.clone();
    match fields.iter_mut().find(|(k, _)| k == name) {
        Some(slot) => slot.1 = value.to_string(),
        None => fields.push((name.to_string(), value.to_string())),
    }
    fields
}

fn policy_opts() -> PostPolicyOptions {
    PostPolicyOptions::new(Duration::from_secs(600))
        .key_starts_with("uploads/")
        .content_length_range(1, 1000)
        .content_type("text/plain")
}

#[tokio::test]
async fn browser_upload_round_trip() {
    let (emu, client) = setup().await;
    let signed = client
        .presigned_post(BUCKET, &policy_opts().success_action_status(201))
        .await
        .unwrap();
    assert_eq!(signed.url, format!("{}/{BUCKET}/", emu.endpoint()));
    let file = data(700, 3);
    let answer = post(&signed.url, &signed.fields, "report.txt", &file).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert!(
        answer.body.contains("<Key>uploads/report.txt</Key>"),
        "{}",
        answer.body
    );

    // Read back through the SDK (signed GET).
    assert_eq!(read_back(&client, "uploads/report.txt").await, file);
    let meta = client
        .head_object(BUCKET, "uploads/report.txt")
        .await
        .unwrap();
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    assert_eq!(emu.stats().operation("PostObject"), 1);
    assert_eq!(emu.stats().auth_failures, 0);

    // Without success_action_status the answer is 204; the key may be
    // chosen by the form under the prefix.
    let signed = client.presigned_post(BUCKET, &policy_opts()).await.unwrap();
    let fields = with(&signed, "key", "uploads/chosen.txt");
    let answer = post(&signed.url, &fields, "ignored.txt", b"x").await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert_eq!(read_back(&client, "uploads/chosen.txt").await, "x");
}

#[tokio::test]
async fn conditions_are_enforced() {
    let (emu, client) = setup().await;
    let signed = client.presigned_post(BUCKET, &policy_opts()).await.unwrap();

    let outside = with(&signed, "key", "elsewhere/x.txt");
    let a = post(&signed.url, &outside, "x.txt", b"data").await;
    assert_eq!(
        (a.status, a.code.as_deref()),
        (403, Some("AccessDenied")),
        "{}",
        a.body
    );

    let a = post(&signed.url, &signed.fields, "big.txt", &[b'x'; 1001]).await;
    assert_eq!(
        (a.status, a.code.as_deref()),
        (400, Some("EntityTooLarge")),
        "{}",
        a.body
    );
    let a = post(&signed.url, &signed.fields, "empty.txt", b"").await;
    assert_eq!(
        (a.status, a.code.as_deref()),
        (400, Some("EntityTooSmall")),
        "{}",
        a.body
    );

    let wrong_type = with(&signed, "Content-Type", "image/png");
    let a = post(&signed.url, &wrong_type, "x.txt", b"data").await;
    assert_eq!(
        (a.status, a.code.as_deref()),
        (403, Some("AccessDenied")),
        "{}",
        a.body
    );

    // Another bucket's URL: the policy names this bucket.
    let emu2 = Emulator::builder()
        .credentials(SECRET_ID, SECRET_KEY)
        .bucket("otherbucket-1250000000")
        .start()
        .await
        .unwrap();
    let other_url = format!("{}/otherbucket-1250000000/", emu2.endpoint());
    let a = post(&other_url, &signed.fields, "x.txt", b"data").await;
    assert_eq!(
        (a.status, a.code.as_deref()),
        (403, Some("AccessDenied")),
        "{}",
        a.body
    );
    emu2.shutdown().await;

    // None of the refused uploads stored anything.
    let listed = client
        .list_objects(BUCKET, &Default::default())
        .await
        .unwrap();
    assert!(listed.objects.is_empty(), "{:?}", listed.objects);
    assert_eq!(emu.stats().operation("PostObject"), 4);
}

#[tokio::test]
async fn signature_and_expiry_are_checked() {
    let (_emu, client) = setup().await;
    let signed = client.presigned_post(BUCKET, &policy_opts()).await.unwrap();

    let sig = signed.field("q-signature").unwrap();
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    );
    let a = post(
        &signed.url,
        &with(&signed, "q-signature", &flipped),
        "x.txt",
        b"d",
    )
    .await;
    assert_eq!(
        (a.status, a.code.as_deref()),
        (403, Some("SignatureDoesNotMatch")),
        "{}",
        a.body
    );

    // A widened policy (bigger size limit) no longer matches its signature.
    let widened = signed.policy.replace("1000", "1000000");
    let encoded = base64::engine::general_purpose::STANDARD.encode(widened);
    let a = post(
        &signed.url,
        &with(&signed, "policy", &encoded),
        "x.txt",
        b"d",
    )
    .await;
    assert_eq!(
        (a.status, a.code.as_deref()),
        (403, Some("SignatureDoesNotMatch")),
        "{}",
        a.body
    );

    let a = post(
        &signed.url,
        &with(&signed, "q-ak", "AKIDunknown"),
        "x.txt",
        b"d",
    )
    .await;
    assert_eq!(
        (a.status, a.code.as_deref()),
        (403, Some("InvalidAccessKeyId")),
        "{}",
        a.body
    );

    // Signed for a window that has ended.
    let creds = Credentials::new(SECRET_ID, SECRET_KEY).unwrap();
    let bucket = BucketName::parse(BUCKET).unwrap();
    let expired = presign_post(
        &creds,
        &bucket,
        &signed.url,
        KeyTime::new(1_600_000_000, 1_600_000_600),
        &policy_opts(),
    )
    .unwrap();
    let a = post(&expired.url, &expired.fields, "x.txt", b"d").await;
    assert_eq!(
        (a.status, a.code.as_deref()),
        (403, Some("AccessDenied")),
        "{}",
        a.body
    );
    assert!(a.body.contains("expired"), "{}", a.body);

    // Bad options never make a policy.
    assert!(client
        .presigned_post(BUCKET, &PostPolicyOptions::new(Duration::ZERO))
        .await
        .is_err());
    assert!(client
        .presigned_post(BUCKET, &policy_opts().content_length_range(5, 1))
        .await
        .is_err());
}

#[tokio::test]
async fn temporary_credentials_need_their_token() {
    let emu = Emulator::builder()
        .temporary_credentials("AKIDsts", "sts-secret", "sts-token")
        .bucket(BUCKET)
        .start()
        .await
        .unwrap();
    let creds = Credentials::new("AKIDsts", "sts-secret")
        .unwrap()
        .with_session_token("sts-token")
        .unwrap();
    let client = builder(&emu).credentials(creds).build().unwrap();
    let signed = client
        .presigned_post(
            BUCKET,
            &PostPolicyOptions::new(Duration::from_secs(60)).key("t.txt"),
        )
        .await
        .unwrap();
    assert_eq!(signed.field("x-cos-security-token"), Some("sts-token"));
    let a = post(&signed.url, &signed.fields, "t.txt", b"tmp").await;
    assert_eq!(a.status, 204, "{}", a.body);

    let without: Vec<(String, String)> = signed
        .fields
        .iter()
        .filter(|(k, _)| k != "x-cos-security-token")
        .cloned()
        .collect();
    let a = post(&signed.url, &without, "t.txt", b"tmp").await;
    assert_eq!(a.status, 403, "{}", a.body);
    let a = post(
        &signed.url,
        &with(&signed, "x-cos-security-token", "other"),
        "t.txt",
        b"x",
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(read_back(&client, "t.txt").await, "tmp");
}
