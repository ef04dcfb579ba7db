//! CLS `/structuredlog` with raw signed requests.

mod common;

use common::*;
use coscls::auth::{sign, Credentials, KeyTime, SignableRequest};
use coscls::cls::{Log, LogContent, LogGroup, LogGroupList, LogTag};
use coscls_emulator::Emulator;
use prost::Message;

const TOPIC: &str = "0e69453c-0727-4c9c-9d4f-3b6b1c2a9e11";

fn logs(groups: usize, per_group: usize, value_len: usize) -> LogGroupList {
    LogGroupList {
        log_group_list: (0..groups)
            .map(|g| LogGroup {
                logs: (0..per_group)
                    .map(|i| Log {
                        time: 1_700_000_000_000 + i as i64,
                        contents: vec![
                            LogContent {
                                key: "level".into(),
                                value: "INFO".into(),
                            },
                            LogContent {
                                key: "msg".into(),
                                value: "m".repeat(value_len),
                            },
                        ],
                        collect_time: None,
                    })
                    .collect(),
                context_flow: Some(format!("ABCDEF-{g}")),
                filename: Some("/var/log/app.log".into()),
                source: Some("10.0.0.1".into()),
                log_tags: vec![LogTag {
                    key: "env".into(),
                    value: "prod".into(),
                }],
                hostname: Some("web-1".into()),
            })
            .collect(),
    }
}

struct Upload {
    body: Vec<u8>,
    compress_type: Option<&'static str>,
    creds: Credentials,
    topic: String,
    content_type: Option<&'static str>,
    tamper_host: bool,
}

impl Upload {
    fn new(list: &LogGroupList, lz4: bool) -> Self {
        let raw = list.encode_to_vec();
        Upload {
            body: if lz4 {
                lz4_flex::block::compress(&raw)
            } else {
                raw
            },
            compress_type: lz4.then_some("lz4"),
            creds: Credentials::new(ID, KEY).unwrap(),
            topic: TOPIC.into(),
            content_type: Some("application/x-protobuf"),
            tamper_host: false,
        }
    }

    async fn send(&self, emu: &Emulator) -> Reply {
        let host = emu.addr().to_string();
        let ct = self.content_type.unwrap_or("");
        let mut signed: Vec<(&str, &str)> = vec![("host", &host)];
        if self.content_type.is_some() {
            signed.push(("content-type", ct));
        }
        let sig = sign(
            &self.creds,
            KeyTime::new(now() - 60, now() + 300),
            &SignableRequest {
                method: "POST",
                path: "/structuredlog",
                params: &[("topic_id", &self.topic)],
                headers: &signed,
            },
        );
        let http = reqwest::Client::new();
        let mut rb = http
            .post(format!(
                "{}/structuredlog?topic_id={}",
                emu.endpoint(),
                self.topic
            ))
            .header("authorization", sig.authorization)
            .body(self.body.clone());
        if self.content_type.is_some() {
            rb = rb.header("content-type", ct);
        }
        if let Some(c) = self.compress_type {
            rb = rb.header("x-cls-compress-type", c);
        }
        if let Some(t) = self.creds.session_token() {
            rb = rb.header("x-cls-token", t.expose());
        }
        if self.tamper_host {
            rb = rb.header("host", "ap-guangzhou.cls.tencentcs.com");
        }
        Reply::read(rb.send().await.unwrap()).await
    }
}

fn error_code(r: &Reply) -> String {
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON error body");
    assert!(v["errormessage"].is_string(), "{v}");
    v["errorcode"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn lz4_and_uncompressed_uploads_are_stored_and_readable() {
    let emu = start().await;
    for lz4 in [true, false] {
        let r = Upload::new(&logs(2, 3, 5), lz4).send(&emu).await;
        r.expect(200);
        assert!(r.header("x-cls-requestid").is_some_and(|id| !id.is_empty()));
    }
    let got = emu.cls_logs(TOPIC);
    assert_eq!(got.len(), 12);
    assert_eq!(got[0].contents["msg"], "mmmmm");
    assert_eq!(got[0].time, 1_700_000_000_000);
    assert_eq!(got[0].tags["env"], "prod");
    assert_eq!(got[0].source.as_deref(), Some("10.0.0.1"));
    assert_eq!(got[0].hostname.as_deref(), Some("web-1"));
    assert_eq!(got[3].context_flow.as_deref(), Some("ABCDEF-1"));
    // The same through the admin API, as JSON.
    let json = admin(&emu, &format!("cls/{TOPIC}/logs")).await;
    assert_eq!(json.as_array().unwrap().len(), 12);
    assert_eq!(json[0]["contents"]["level"], "INFO");
    assert_eq!(json[0]["filename"], "/var/log/app.log");
    assert_eq!(emu.stats().operation("UploadLog"), 2);
    assert_eq!(emu.stats().cls_logs, 12);
    emu.clear_cls_logs(TOPIC);
    assert!(emu.cls_logs(TOPIC).is_empty());
    emu.shutdown().await;
}

#[tokio::test]
async fn zstd_uploads_are_stored_and_bounded() {
    let emu = start().await;
    let zstd = |list: &LogGroupList| {
        let mut u = Upload::new(list, false);
        u.body = ruzstd::encoding::compress_to_vec(
            &u.body[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        u.compress_type = Some("zstd");
        u
    };
    Upload::new(&logs(2, 3, 5), false)
        .send(&emu)
        .await
        .expect(200);
    let plain = emu.cls_logs(TOPIC);
    emu.clear_cls_logs(TOPIC);
    zstd(&logs(2, 3, 5)).send(&emu).await.expect(200);
    assert_eq!(emu.cls_logs(TOPIC), plain);

    let mut corrupt = zstd(&logs(1, 1, 1));
    corrupt.body.truncate(corrupt.body.len() - 2);
    let r = corrupt.send(&emu).await;
    r.expect(400);
    assert_eq!(error_code(&r), "InvalidContent");
    // Over 6 MiB once decompressed, although the frame is small.
    let big = zstd(&logs(7, 1, 1024 * 1024 - 64));
    assert!(big.body.len() < 1024 * 1024, "{} bytes", big.body.len());
    let r = big.send(&emu).await;
    r.expect(413);
    assert_eq!(error_code(&r), "ContentIsTooLarge");
    let mut deflate = Upload::new(&logs(1, 1, 1), false);
    deflate.compress_type = Some("deflate");
    let r = deflate.send(&emu).await;
    r.expect(400);
    assert_eq!(error_code(&r), "InvalidCompressType");
    assert_eq!(emu.cls_logs(TOPIC).len(), 6);
    emu.shutdown().await;
}

#[tokio::test]
async fn signature_refusals_are_401_json() {
    let emu = start().await;
    let mut u = Upload::new(&logs(1, 1, 1), true);
    u.creds = Credentials::new(ID, "wrong").unwrap();
    let r = u.send(&emu).await;
    r.expect(401);
    assert_eq!(error_code(&r), "Unauthorized");
    u.creds = Credentials::new("AKIDnobody", KEY).unwrap();
    let r = u.send(&emu).await;
    r.expect(401);
    assert_eq!(error_code(&r), "Unauthorized");
    let mut u = Upload::new(&logs(1, 1, 1), true);
    u.tamper_host = true;
    let r = u.send(&emu).await;
    r.expect(401);
    // Temporary credentials: token required, and accepted when sent.
    let mut u = Upload::new(&logs(1, 1, 1), true);
    u.creds = Credentials::new(STS_ID, STS_KEY).unwrap();
    u.send(&emu).await.expect(401);
    u.creds = u.creds.with_session_token(STS_TOKEN).unwrap();
    u.send(&emu).await.expect(200);
    let r = Reply::read(
        reqwest::Client::new()
            .post(format!("{}/structuredlog?topic_id={TOPIC}", emu.endpoint()))
            .body("x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.expect(400);
    assert_eq!(error_code(&r), "MissingAuthorization");
    assert_eq!(
        emu.cls_logs(TOPIC).len(),
        1,
        "only the accepted upload is stored"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn limits_and_bad_bodies() {
    let emu = start().await;
    let check = |status: u16, code: &'static str| {
        move |r: Reply| {
            r.expect(status);
            assert_eq!(error_code(&r), code);
        }
    };
    check(400, "InvalidParam")(Upload::new(&logs(11, 1, 1), true).send(&emu).await);
    check(400, "InvalidParam")(Upload::new(&logs(1, 10_001, 1), true).send(&emu).await);
    check(403, "LogSizeExceed")(
        Upload::new(&logs(1, 1, 1024 * 1024 + 1), true)
            .send(&emu)
            .await,
    );
    check(403, "LogSizeExceed")(Upload::new(&logs(1, 5, 1024 * 1024), true).send(&emu).await);
    check(413, "ContentIsTooLarge")(
        Upload::new(&logs(7, 1, 1024 * 1024 - 64), true)
            .send(&emu)
            .await,
    );
    let mut u = Upload::new(&logs(1, 1, 1), false);
    u.body = vec![0xff, 0xff, 0xff];
    check(400, "InvalidContent")(u.send(&emu).await);
    let mut u = Upload::new(&logs(1, 1, 1), false);
    u.body.clear();
    check(400, "MissingContent")(u.send(&emu).await);
    let mut u = Upload::new(&logs(1, 1, 1), false);
    u.content_type = Some("application/json");
    check(400, "InvalidContentType")(u.send(&emu).await);
    // The largest legal request is accepted: 10 groups, values just under the limits.
    Upload::new(&logs(1, 10_000, 8), true)
        .send(&emu)
        .await
        .expect(200);
    assert_eq!(emu.cls_logs(TOPIC).len(), 10_000);
    emu.shutdown().await;
}

#[tokio::test]
async fn declared_topics_refuse_others() {
    let emu = Emulator::builder()
        .credentials(ID, KEY)
        .topic(TOPIC)
        .start()
        .await
        .unwrap();
    Upload::new(&logs(1, 1, 1), true)
        .send(&emu)
        .await
        .expect(200);
    let mut u = Upload::new(&logs(1, 1, 1), true);
    u.topic = "other-topic".into();
    let r = u.send(&emu).await;
    r.expect(404);
    assert_eq!(error_code(&r), "TopicNotExist");
    emu.shutdown().await;
}
