//! The standalone binary: startup line, and a large streamed upload and
//! download through a data directory with the emulator's own memory measured.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use common::*;
use futures_util::StreamExt;
use md5::{Digest as _, Md5};

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coscls-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--secret-id",
            ID,
            "--secret-key",
            KEY,
            "--bucket",
            BUCKET,
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("coscls-emulator listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Server {
        addr: url.parse().unwrap(),
        child,
    }
}

/// Peak resident memory of a process in KiB (`VmHWM`), Linux only.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn help_and_bad_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_coscls-emulator"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--data-dir"));
    let out = Command::new(env!("CARGO_BIN_EXE_coscls-emulator"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
    let out = Command::new(env!("CARGO_BIN_EXE_coscls-emulator"))
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[tokio::test]
async fn the_binary_serves_signed_requests() {
    let server = spawn(&[]);
    let http = reqwest::Client::new();
    let r = Reply::read(
        Req::new("PUT", "k")
            .body("hi")
            .build_for(&http, server.addr)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.expect(200);
    let r = Reply::read(
        Req::new("GET", "k")
            .build_for(&http, server.addr)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.body, b"hi");
    let r = Reply::read(
        Req::new("GET", "k")
            .creds(ID, "nope")
            .build_for(&http, server.addr)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.code(), "SignatureDoesNotMatch");
}

const MIB: usize = 1024 * 1024;
const TOTAL_MIB: usize = 256;

/// Deterministic, incompressible-looking 1 MiB blocks.
fn block(i: usize) -> bytes::Bytes {
    let mut state = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut v = Vec::with_capacity(MIB);
    while v.len() < MIB {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        v.extend_from_slice(&state.to_le_bytes());
    }
    bytes::Bytes::from(v)
}

#[tokio::test]
async fn a_256_mib_object_streams_through_a_data_dir_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(&["--data-dir", dir.path().to_str().unwrap()]);
    let pid = server.child.id();
    let http = reqwest::Client::new();
    // Warm up so the baseline includes the runtime's steady state.
    Req::new("PUT", "warm")
        .body(vec![1u8; MIB])
        .build_for(&http, server.addr)
        .send()
        .await
        .unwrap();
    let before = peak_rss_kib(pid);

    // 16 distinct blocks, repeated, hashed as they are sent.
    let blocks: Vec<bytes::Bytes> = (0..16).map(block).collect();
    let digests = std::sync::Arc::new(std::sync::Mutex::new((
        Md5::new(),
        crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Xz),
    )));
    let sent = digests.clone();
    let stream = futures_util::stream::iter((0..TOTAL_MIB).map(move |i| {
        let b = blocks[i % blocks.len()].clone();
        let mut d = sent.lock().unwrap();
        d.0.update(&b);
        d.1.update(&b);
        Ok::<_, std::io::Error>(b)
    }));
    let put = Req::new("PUT", "big.bin")
        .header("content-length", &(TOTAL_MIB * MIB).to_string())
        .build_for(&http, server.addr)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    let put = Reply::read(put).await;
    put.expect(200);
    let (md5, crc) = {
        let d = digests.lock().unwrap();
        (hex::encode(d.0.clone().finalize()), d.1.finalize())
    };
    assert_eq!(put.header("etag"), Some(format!("\"{md5}\"").as_str()));
    assert_eq!(
        put.header("x-cos-hash-crc64ecma"),
        Some(crc.to_string().as_str())
    );

    let resp = Req::new("GET", "big.bin")
        .build_for(&http, server.addr)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some((TOTAL_MIB * MIB) as u64));
    let mut body = resp.bytes_stream();
    let mut got_md5 = Md5::new();
    let mut got = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        got += chunk.len();
        got_md5.update(&chunk);
    }
    assert_eq!(got, TOTAL_MIB * MIB);
    assert_eq!(hex::encode(got_md5.finalize()), md5);

    if let (Some(before), Some(after)) = (before, peak_rss_kib(pid)) {
        let growth_mib = (after.saturating_sub(before)) as f64 / 1024.0;
        println!(
            "emulator peak RSS: {:.1} MiB before, {:.1} MiB after a {TOTAL_MIB} MiB upload and download (growth {growth_mib:.1} MiB)",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
        assert!(
            growth_mib < (TOTAL_MIB / 4) as f64,
            "the emulator's peak memory grew by {growth_mib:.1} MiB for a {TOTAL_MIB} MiB object"
        );
    }
}
