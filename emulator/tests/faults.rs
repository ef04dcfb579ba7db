//! Fault injection and the admin API.

mod common;

use std::time::Duration;

use common::*;
use coscls_emulator::FaultConfig;

#[tokio::test]
async fn fail_next_fails_exactly_n_requests_with_cos_and_cls_codes() {
    let emu = start().await;
    emu.set_faults(FaultConfig {
        fail_next: 2,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    for _ in 0..2 {
        let r = Req::new("PUT", "k").body("x").send(&emu).await;
        r.expect(503);
        assert_eq!(r.code(), "SlowDown");
        assert!(r.header("x-cos-request-id").is_some());
    }
    Req::new("PUT", "k").body("x").send(&emu).await.expect(200);
    assert_eq!(emu.faults().fail_next, 0);
    let stats = emu.stats();
    assert_eq!(stats.operation("PutObject"), 3);
    assert_eq!(stats.injected_errors, 2);
    assert_eq!(stats.status(503), 2);

    emu.set_faults(FaultConfig {
        fail_next: 1,
        error_status: 500,
        ..Default::default()
    })
    .unwrap();
    let r = Req::new("GET", "k").send(&emu).await;
    r.expect(500);
    assert_eq!(r.code(), "InternalError");

    // CLS answers injected failures in its own JSON.
    emu.set_faults(FaultConfig {
        fail_next: 1,
        error_status: 429,
        ..Default::default()
    })
    .unwrap();
    let r = Reply::read(
        reqwest::Client::new()
            .post(format!("{}/structuredlog?topic_id=t", emu.endpoint()))
            .body("x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.expect(429);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["errorcode"], "SpeedQuotaExceed");
    emu.shutdown().await;
}

#[tokio::test]
async fn error_rate_one_fails_everything_but_the_admin_api() {
    let emu = start().await;
    emu.set_faults(FaultConfig {
        error_rate: 1.0,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    for _ in 0..5 {
        Req::new("GET", "k").send(&emu).await.expect(503);
    }
    let stats = admin(&emu, "stats").await;
    assert_eq!(stats["injected_errors"], 5);
    emu.set_faults(FaultConfig::default()).unwrap();
    Req::new("GET", "k").send(&emu).await.expect(404);
    emu.shutdown().await;
}

#[tokio::test]
async fn dropped_connections_cut_bodies_and_close_empty_responses() {
    let emu = start().await;
    let data = vec![7u8; 100_000];
    Req::new("PUT", "k")
        .body(data.clone())
        .send(&emu)
        .await
        .expect(200);
    emu.set_faults(FaultConfig {
        drop_rate: 1.0,
        ..Default::default()
    })
    .unwrap();
    let http = reqwest::Client::new();
    // A body response: headers arrive, the body stops half-way.
    let resp = Req::new("GET", "k")
        .build(&http, &emu)
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some(100_000));
    let err = resp.bytes().await.expect_err("the body is cut");
    assert!(
        err.is_body() || err.is_decode() || err.is_request(),
        "{err:?}"
    );
    // An empty response: the connection closes without an answer.
    let err = Req::new("PUT", "k2")
        .body("x")
        .build(&http, &emu)
        .send()
        .await
        .expect_err("no response");
    assert!(!err.is_status(), "{err:?}");
    // The write took effect before the drop, as after a real network failure.
    emu.set_faults(FaultConfig::default()).unwrap();
    Req::new("GET", "k2").send(&emu).await.expect(200);
    assert_eq!(emu.stats().dropped_connections, 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn corrupt_bodies_keep_the_crc_header_of_the_real_object() {
    let emu = start().await;
    let data = b"precious bytes".to_vec();
    Req::new("PUT", "k")
        .body(data.clone())
        .send(&emu)
        .await
        .expect(200);
    emu.set_faults(FaultConfig {
        corrupt_body_rate: 1.0,
        ..Default::default()
    })
    .unwrap();
    let r = Req::new("GET", "k").send(&emu).await;
    r.expect(200);
    assert_eq!(r.body.len(), data.len());
    assert_ne!(r.body, data);
    assert_eq!(
        r.header("x-cos-hash-crc64ecma"),
        Some(crc64(&data).to_string().as_str())
    );
    assert_ne!(crc64(&r.body), crc64(&data));
    assert_eq!(emu.stats().corrupted_bodies, 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn latency_is_added_before_handling() {
    let emu = start().await;
    emu.set_faults(FaultConfig {
        latency: Duration::from_millis(200),
        ..Default::default()
    })
    .unwrap();
    let started = std::time::Instant::now();
    Req::new("GET", "k").send(&emu).await.expect(404);
    // A lower bound only: latency is never shorter than configured.
    assert!(started.elapsed() >= Duration::from_millis(200));
    emu.shutdown().await;
}

#[tokio::test]
async fn the_faults_endpoint_reads_and_replaces_the_configuration() {
    let emu = start().await;
    let url = format!("{}/_emulator/faults", emu.endpoint());
    let http = reqwest::Client::new();
    let r = http
        .put(&url)
        .body(r#"{"error_rate": 0.25, "error_status": 500, "latency_ms": 15, "clock_offset_secs": -30}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let f = emu.faults();
    assert_eq!(f.error_rate, 0.25);
    assert_eq!(f.error_status, 500);
    assert_eq!(f.latency, Duration::from_millis(15));
    assert_eq!(f.clock_offset_secs, -30);
    let got = admin(&emu, "faults").await;
    assert_eq!(got["latency_ms"], 15);
    let r = http
        .put(&url)
        .body(r#"{"drop_rate": 3}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(String::from_utf8_lossy(&r.bytes().await.unwrap()).contains("drop_rate"));
    let r = http
        .get(format!("{}/_emulator/nothing", emu.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Admin requests are not counted.
    assert_eq!(emu.stats().requests, 0);
    emu.shutdown().await;
}
