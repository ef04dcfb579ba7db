//! `cls::Client::put_logs` against the emulator: what is sent is what is
//! stored, errors are typed, and only transient failures are retried.

use std::collections::BTreeMap;
use std::time::Duration;

use coscls::auth::Credentials;
use coscls::cls::{Client, Error, Log, LogGroup, LogGroupList, LogTag, PutLogsOptions};
use coscls::transport::retry::RetryPolicy;
use coscls_emulator::{Emulator, FaultConfig};

const ID: &str = "AKIDclsClientTest";
const KEY: &str = "cls-client-test-key";

async fn emulator() -> Emulator {
    Emulator::builder()
        .credentials(ID, KEY)
        .temporary_credentials("AKIDclsSts", "sts-key", "sts-token")
        .start()
        .await
        .expect("emulator starts")
}

fn client(emu: &Emulator, creds: Credentials) -> Client {
    Client::builder()
        .endpoint(emu.endpoint())
        .region("ap-guangzhou")
        .credentials(creds)
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(4)
                .with_backoff(Duration::from_millis(10), Duration::from_millis(50)),
        )
        .build()
        .expect("client")
}

fn creds() -> Credentials {
    Credentials::new(ID, KEY).unwrap()
}

fn sample() -> LogGroupList {
    let mut group = LogGroup::new(vec![
        Log::new(1_700_000_000_123)
            .field("level", "INFO")
            .field("msg", "hello"),
        Log::new(1_700_000_001_456)
            .field("level", "ERROR")
            .field("msg", "boom 你好")
            .field("empty", ""),
    ]);
    group.source = Some("10.0.0.1".into());
    group.filename = Some("/var/log/app.log".into());
    group.log_tags = vec![LogTag {
        key: "env".into(),
        value: "prod".into(),
    }];
    LogGroupList::new(vec![group])
}

fn contents(log: &Log) -> BTreeMap<String, String> {
    log.contents
        .iter()
        .map(|c| (c.key.clone(), c.value.clone()))
        .collect()
}

#[tokio::test]
async fn logs_sent_are_the_logs_stored_read_back_over_the_admin_api() {
    let emu = emulator().await;
    let c = client(&emu, creds());
    let out = c.put_logs("topic-a", &sample()).await.unwrap();
    assert!(out.request_id.is_some_and(|id| !id.is_empty()));

    let stored = emu.cls_logs("topic-a");
    let sent = &sample().log_group_list[0];
    assert_eq!(stored.len(), 2);
    for (s, l) in stored.iter().zip(&sent.logs) {
        assert_eq!(s.time, l.time);
        assert_eq!(s.contents, contents(l));
        assert_eq!(s.source.as_deref(), Some("10.0.0.1"));
        assert_eq!(s.filename.as_deref(), Some("/var/log/app.log"));
        assert_eq!(s.tags.get("env").map(String::as_str), Some("prod"));
    }

    let url = format!("{}/_emulator/cls/topic-a/logs", emu.endpoint());
    let body = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let arr = json.as_array().expect("a JSON array");
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[1]["contents"]["msg"], "boom 你好");
    assert_eq!(arr[1]["contents"]["empty"], "");
    assert_eq!(arr[0]["time"], 1_700_000_000_123_i64);
    emu.shutdown().await;
}

#[tokio::test]
async fn temporary_credentials_send_their_token_and_a_wrong_one_is_refused_once() {
    let emu = emulator().await;
    let sts = Credentials::new("AKIDclsSts", "sts-key")
        .unwrap()
        .with_session_token("sts-token")
        .unwrap();
    client(&emu, sts).put_logs("t", &sample()).await.unwrap();
    assert_eq!(emu.cls_logs("t").len(), 2);

    emu.reset_stats();
    let wrong = Credentials::new("AKIDclsSts", "sts-key")
        .unwrap()
        .with_session_token("not-the-token")
        .unwrap();
    let err = client(&emu, wrong)
        .put_logs("t", &sample())
        .await
        .unwrap_err();
    match &err {
        Error::Service {
            status, request_id, ..
        } => {
            assert_eq!(*status, 401);
            assert!(request_id.is_some());
        }
        other => panic!("expected a service error, got {other:?}"),
    }
    assert_eq!(err.code(), Some("Unauthorized"));
    assert_eq!(emu.stats().requests, 1, "a 401 is not retried");
    assert_eq!(emu.cls_logs("t").len(), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_with_fresh_signatures() {
    let emu = emulator().await;
    let c = client(&emu, creds());
    emu.set_faults(FaultConfig {
        fail_next: 2,
        error_status: 429,
        ..Default::default()
    })
    .unwrap();
    c.put_logs("t", &sample()).await.unwrap();
    emu.set_faults(FaultConfig {
        fail_next: 3,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    c.put_logs("t", &sample()).await.unwrap();
    let stats = emu.stats();
    assert_eq!(stats.injected_errors, 5);
    assert_eq!(stats.auth_failures, 0, "every retry is signed afresh");
    assert_eq!(stats.operation("UploadLog"), 7);
    assert_eq!(emu.cls_logs("t").len(), 4);
    emu.shutdown().await;
}

#[tokio::test]
async fn exhausted_retries_return_the_service_error_with_its_request_id() {
    let emu = emulator().await;
    emu.set_faults(FaultConfig {
        error_rate: 1.0,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    let err = client(&emu, creds())
        .put_logs("t", &sample())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InternalError"));
    assert!(err.request_id().is_some());
    assert!(err.retryable());
    assert_eq!(emu.stats().requests, 4);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let emu = emulator().await;
    emu.set_faults(FaultConfig {
        drop_rate: 1.0,
        ..Default::default()
    })
    .unwrap();
    let c = client(&emu, creds());
    let err = c.put_logs("t", &sample()).await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_eq!(emu.stats().dropped_connections, 4);
    // Dropped after the request took effect: at-least-once, so 4 copies.
    assert_eq!(emu.cls_logs("t").len(), 8);
    emu.shutdown().await;
}

#[tokio::test]
async fn limits_are_checked_before_any_request() {
    let emu = emulator().await;
    let c = client(&emu, creds());
    let eleven = LogGroupList::new(vec![sample().log_group_list[0].clone(); 11]);
    let err = c.put_logs("t", &eleven).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
    assert!(err.to_string().contains("at most 10"), "{err}");

    let big = "x".repeat((1 << 20) + 1);
    let too_big = LogGroupList::new(vec![LogGroup::new(vec![Log::new(1).field("k", big)])]);
    assert!(c.put_logs("t", &too_big).await.is_err());
    assert!(c.put_logs("", &sample()).await.is_err());
    assert_eq!(emu.stats().requests, 0);

    // At the limits, the emulator (which enforces them) accepts the request.
    let max_value = "v".repeat(1 << 20);
    let four = LogGroup::new(vec![Log::new(1).field("k", max_value); 4]);
    c.put_logs("t", &LogGroupList::new(vec![four]))
        .await
        .unwrap();
    let many = LogGroup::new(vec![Log::new(1).field("k", "v"); 10_000]);
    c.put_logs("t", &LogGroupList::new(vec![many; 10]))
        .await
        .unwrap();
    assert_eq!(emu.cls_logs("t").len(), 100_004);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_hash_key_and_no_compression_are_accepted() {
    let emu = emulator().await;
    let c = client(&emu, creds());
    let opts = PutLogsOptions::hash_key_of("user-42").compression(coscls::cls::Compression::None);
    c.put_logs_with("t", &sample(), &opts).await.unwrap();
    assert_eq!(emu.cls_logs("t").len(), 2);
    emu.shutdown().await;
}

/// The SDK's zstd frames (libzstd, the `zstd` feature) decode in the
/// emulator to exactly the logs sent. CI runs this with `--features zstd`.
#[cfg(feature = "zstd")]
#[tokio::test]
async fn zstd_bodies_are_stored_like_lz4_ones() {
    let emu = emulator().await;
    let c = client(&emu, creds());
    for level in [1, 3, 19] {
        let opts = PutLogsOptions::default().compression(coscls::cls::Compression::Zstd { level });
        let topic = format!("zstd-{level}");
        c.put_logs_with(&topic, &sample(), &opts).await.unwrap();
        let stored = emu.cls_logs(&topic);
        let sent = &sample().log_group_list[0];
        assert_eq!(stored.len(), sent.logs.len(), "level {level}");
        for (s, l) in stored.iter().zip(&sent.logs) {
            assert_eq!((s.time, &s.contents), (l.time, &contents(l)));
        }
    }
    emu.shutdown().await;
}
