//! Fault settings the emulator cannot represent are refused before they are
//! stored (400 from the admin API, an error from the builder, the setter and
//! the command line), and the largest accepted ones leave every request
//! answerable.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use coscls::auth::{sign, Credentials, KeyTime, SignableRequest};
use coscls_emulator::{Emulator, FaultConfig};

async fn put_faults(emu: &Emulator, json: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .put(format!("{}/_emulator/faults", emu.endpoint()))
        .body(json.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// A signed CLS upload with an empty body: answered, whatever the answer.
async fn cls_status(emu: &Emulator) -> u16 {
    let host = emu.addr().to_string();
    let creds = Credentials::new(ID, KEY).unwrap();
    let auth = sign(
        &creds,
        KeyTime::new(now() - 60, now() + 600),
        &SignableRequest {
            method: "POST",
            path: "/structuredlog",
            params: &[("topic_id", "t-1")],
            headers: &[("content-type", "application/x-protobuf"), ("host", &host)],
        },
    )
    .authorization;
    reqwest::Client::new()
        .post(format!("{}/structuredlog?topic_id=t-1", emu.endpoint()))
        .header("content-type", "application/x-protobuf")
        .header("authorization", auth)
        .body(Vec::new())
        .send()
        .await
        .expect("CLS answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn unrepresentable_clock_offsets_and_latencies_are_refused_with_400() {
    let emu = start().await;
    for (json, field) in [
        (
            r#"{"clock_offset_secs": 400000000000}"#,
            "clock_offset_secs",
        ),
        (
            r#"{"clock_offset_secs": 9223372036854775807}"#,
            "clock_offset_secs",
        ),
        (
            r#"{"clock_offset_secs": -9223372036854775808}"#,
            "clock_offset_secs",
        ),
        (r#"{"clock_offset_secs": 4e11}"#, "clock_offset_secs"),
        (r#"{"latency_ms": 18446744073709551615}"#, "latency_ms"),
        (r#"{"error_rate": 1.5}"#, "error_rate"),
        (r#"{"drop_rate": -0.5}"#, "drop_rate"),
        (r#"{"corrupt_body_rate": 2}"#, "corrupt_body_rate"),
    ] {
        let (status, body) = put_faults(&emu, json).await;
        assert_eq!(status, 400, "{json}: {body}");
        assert!(body.contains(field), "{json}: {body}");
        assert_eq!(emu.faults(), FaultConfig::default(), "{json} was stored");
    }
    // Every service still answers.
    Req::new("GET", "missing").send(&emu).await.expect(404);
    assert_eq!(cls_status(&emu).await, 400);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_largest_accepted_skews_leave_every_request_answerable() {
    let emu = start().await;
    for offset in [
        FaultConfig::MAX_CLOCK_OFFSET_SECS,
        -FaultConfig::MAX_CLOCK_OFFSET_SECS,
    ] {
        let (status, body) =
            put_faults(&emu, &format!(r#"{{"clock_offset_secs": {offset}}}"#)).await;
        assert_eq!(status, 200, "{body}");
        let r = Req::new("GET", "k").send(&emu).await;
        r.expect(403);
        assert!(r.header("date").is_some());
        assert_eq!(cls_status(&emu).await, 401);
    }
    let (status, body) = put_faults(&emu, r#"{"latency_ms": 86400000}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(emu.faults().latency, FaultConfig::MAX_LATENCY);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_builder_and_the_setter_refuse_them_too() {
    let start = Emulator::builder()
        .faults(FaultConfig {
            clock_offset_secs: i64::MIN,
            ..Default::default()
        })
        .start()
        .await;
    assert!(start.unwrap_err().to_string().contains("clock_offset_secs"));
    let emu = start_default().await;
    let e = emu
        .set_faults(FaultConfig {
            latency: Duration::MAX,
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.field(), "latency_ms", "{e}");
    assert_eq!(emu.faults(), FaultConfig::default());
    emu.shutdown().await;
}

async fn start_default() -> Emulator {
    Emulator::builder().start().await.expect("emulator starts")
}

/// A local server must not panic on what a caller hands it: an impossible
/// skew is an error naming the field, the emulator keeps its faults and
/// goes on serving.
#[tokio::test]
async fn set_faults_refuses_an_impossible_skew_without_panicking() {
    let emu = start_default().await;
    let e = emu
        .set_faults(FaultConfig {
            clock_offset_secs: i64::MAX,
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.field(), "clock_offset_secs");
    assert!(e.to_string().contains("a century"), "{e}");
    assert_eq!(emu.faults(), FaultConfig::default());
    let health = reqwest::get(format!("{}/_emulator/health", emu.endpoint()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    emu.shutdown().await;
}

#[test]
fn the_command_line_refuses_them_with_the_flag_named() {
    for (args, flag) in [
        (["--clock-offset", "9223372036854775807"], "--clock-offset"),
        (["--clock-offset", "400000000000"], "--clock-offset"),
        (["--clock-offset", "-9223372036854775808"], "--clock-offset"),
        (["--latency-ms", "18446744073709551615"], "--latency-ms"),
        (["--drop-rate", "NaN"], "--drop-rate"),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_coscls-emulator"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A refused flag exits at once; one that is accepted starts a server
        // that never exits, so wait a bounded while and then stop it.
        let mut status = None;
        for _ in 0..600 {
            status = child.try_wait().unwrap();
            if status.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} was accepted: the emulator started");
        }
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            e.read_to_string(&mut stderr).unwrap();
        }
        assert_eq!(status.and_then(|s| s.code()), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
}
