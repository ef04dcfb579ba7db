//! Failure handling against the emulator's fault injection: retried and
//! exhausted 5xx, permanent 4xx, streams sent once, clock skew corrected from
//! the server's `Date`, corrupted bodies caught by CRC-64, dropped
//! connections, timeouts and unreachable endpoints.

mod support;

use std::time::Duration;

use bytes::Bytes;
use coscls::cos::{crc64, Client, DownloadOptions, Error, PresignOptions, PutOptions};
use coscls::transport::retry::RetryPolicy;
use coscls_emulator::FaultConfig;
use futures_util::StreamExt;
use support::*;

#[tokio::test]
async fn transient_503s_are_retried() {
    let (emu, c) = setup().await;
    emu.set_faults(FaultConfig {
        fail_next: 2,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    c.put_object(BUCKET, "k", "v").await.unwrap();
    let stats = emu.stats();
    assert_eq!(stats.injected_errors, 2);
    assert_eq!(stats.operation("PutObject"), 3);
    // GET and HEAD send their first request as built and build a fresh one
    // for each retry.
    emu.set_faults(FaultConfig {
        fail_next: 2,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    let body = c.get_object(BUCKET, "k").await.unwrap().body.bytes().await;
    assert_eq!(body.unwrap(), "v");
    emu.set_faults(FaultConfig {
        fail_next: 1,
        error_status: 500,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.head_object(BUCKET, "k").await.unwrap().content_length, 1);
    let stats = emu.stats();
    assert_eq!(stats.injected_errors, 5);
    assert_eq!(stats.operation("GetObject"), 3);
    assert_eq!(stats.operation("HeadObject"), 2);
}

#[tokio::test]
async fn exhausted_retries_report_the_last_error_in_full() {
    let emu = emulator().await;
    let c = builder(&emu)
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(3)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build()
        .unwrap();
    emu.set_faults(FaultConfig {
        fail_next: 5,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    let e = c.put_object(BUCKET, "k", "v").await.unwrap_err();
    let s = e.service().expect("service error");
    assert_eq!(
        (s.status, s.code.as_str(), s.attempts),
        (503, "SlowDown", 3),
        "{e}"
    );
    assert!(s.request_id.is_some());
    assert!(e.retryable());
    assert!(e.to_string().contains("after 3 attempts"), "{e}");
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (emu, c) = setup().await;
    emu.set_faults(FaultConfig {
        fail_next: 1,
        error_status: 400,
        ..Default::default()
    })
    .unwrap();
    let e = c.put_object(BUCKET, "k", "v").await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.service().unwrap().attempts, 1);
    assert_eq!(emu.stats().operation("PutObject"), 1);
}

#[tokio::test]
async fn a_streamed_body_is_sent_once() {
    let (emu, c) = setup().await;
    emu.set_faults(FaultConfig {
        fail_next: 1,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    let stream =
        futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from_static(b"abc"))]);
    let e = c
        .put_object_stream(BUCKET, "s", 3, stream, &PutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(emu.stats().operation("PutObject"), 1);
}

#[tokio::test]
async fn a_large_file_is_reopened_and_sent_again() {
    let (emu, c) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.bin");
    // One byte over the in-memory limit: the file streams from disk.
    let body = data(coscls::cos::PUT_FILE_IN_MEMORY_LIMIT as usize + 1, 7);
    std::fs::write(&path, &body).unwrap();
    emu.set_faults(FaultConfig {
        fail_next: 2,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    let out = c
        .put_object_file(BUCKET, "large.bin", &path, &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(
        emu.stats().operation("PutObject"),
        3,
        "two failures, then success"
    );
    assert_eq!(out.crc64, Some(crc64::checksum(&body)));
    assert_eq!(read_back(&c, "large.bin").await, body);

    // A file that shrinks between attempts is refused, not sent short.
    let shrink = Scripted::forward();
    let file = path.clone();
    shrink.rule(
        Rule::new(
            When::any(),
            Act::before(move || {
                std::fs::write(&file, b"short").unwrap();
                async {}
            }),
        )
        .times(1),
    );
    let c = client_with_transport(&emu, shrink);
    let e = c
        .put_object_file(BUCKET, "shrunk.bin", &path, &PutOptions::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("changed size"), "{e}");
    assert!(!c.object_exists(BUCKET, "shrunk.bin").await.unwrap());
}

#[tokio::test]
async fn clock_skew_is_corrected_from_the_server_date() {
    for offset in [3 * 3600i64, -2 * 3600] {
        let (emu, c) = setup().await;
        emu.set_faults(FaultConfig {
            clock_offset_secs: offset,
            ..Default::default()
        })
        .unwrap();
        c.put_object(BUCKET, "skewed.txt", "tick").await.unwrap();
        assert!(
            (c.clock_offset() - offset).abs() <= 5,
            "learned {} for a server {offset} s off",
            c.clock_offset()
        );
        assert_eq!(
            emu.stats().status(403),
            1,
            "exactly one refusal before the correction"
        );
        // Later requests and presigned URLs use the corrected clock.
        c.get_object(BUCKET, "skewed.txt")
            .await
            .unwrap()
            .body
            .bytes()
            .await
            .unwrap();
        let url = c
            .presigned_url(
                BUCKET,
                "skewed.txt",
                &PresignOptions::get(Duration::from_secs(60)),
            )
            .await
            .unwrap();
        assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
        assert_eq!(emu.stats().status(403), 1);
    }
}

#[tokio::test]
async fn corrupted_bodies_fail_loudly() {
    let (emu, c) = setup().await;
    let body = data(3 * MIB, 70);
    c.put_object(BUCKET, "fragile.bin", body.clone())
        .await
        .unwrap();
    emu.set_faults(FaultConfig {
        corrupt_body_rate: 1.0,
        ..Default::default()
    })
    .unwrap();
    let e = c
        .get_object(BUCKET, "fragile.bin")
        .await
        .unwrap()
        .body
        .bytes()
        .await
        .unwrap_err();
    match e {
        Error::ChecksumMismatch {
            server, computed, ..
        } => {
            assert_eq!(server, crc64::checksum(&body));
            assert_ne!(computed, server);
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }

    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("fragile.bin");
    let e = c
        .download_file(
            BUCKET,
            "fragile.bin",
            &dst,
            &DownloadOptions::default().part_size(MIB as u64),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e}");
    assert!(!dst.exists(), "no file on failure");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "temp file removed"
    );
}

#[tokio::test]
async fn a_dropped_connection_breaks_the_stream_and_downloads_resume() {
    let (emu, c) = setup().await;
    let body = data(4 * MIB + 100, 80);
    c.put_object(BUCKET, "flaky.bin", body.clone())
        .await
        .unwrap();

    emu.set_faults(FaultConfig {
        drop_rate: 1.0,
        ..Default::default()
    })
    .unwrap();
    let mut stream = c.get_object(BUCKET, "flaky.bin").await.unwrap().body;
    let mut got = 0usize;
    let mut failure = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => got += c.len(),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let failure = failure.expect("a truncated body is an error, not a short success");
    assert!(
        matches!(failure, Error::Transport(_)) && failure.retryable(),
        "{failure}"
    );
    assert!(got < body.len());

    // 33 ranged GETs of 128 KiB, each cut off with probability 0.3: some
    // are (all but certainly), and each resumes from the byte it reached.
    let dropped_before = emu.stats().dropped_connections;
    emu.set_faults(FaultConfig {
        drop_rate: 0.3,
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("flaky.bin");
    let dl = c
        .download_file(
            BUCKET,
            "flaky.bin",
            &dst,
            &DownloadOptions::default()
                .part_size(128 * 1024)
                .concurrency(3),
        )
        .await
        .unwrap();
    emu.set_faults(FaultConfig::default()).unwrap();
    assert_eq!(dl.crc64_verified, Some(crc64::checksum(&body)));
    assert_eq!(std::fs::read(&dst).unwrap(), body);
    assert!(emu.stats().dropped_connections > dropped_before);
}

#[tokio::test]
async fn a_stalled_server_times_out() {
    let emu = emulator().await;
    let c = builder(&emu)
        .request_timeout(Duration::from_millis(200))
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(2)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(1)),
        )
        .build()
        .unwrap();
    emu.set_faults(FaultConfig {
        latency: Duration::from_secs(2),
        ..Default::default()
    })
    .unwrap();
    let e = c.head_object(BUCKET, "k").await.unwrap_err();
    assert_eq!(e.type_name(), "timeout", "{e:?}");
    assert!(e.retryable());
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_connect_error() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = Client::builder()
        .region("ap-guangzhou")
        .endpoint(format!("http://127.0.0.1:{port}"))
        .credentials(coscls::auth::Credentials::new(SECRET_ID, SECRET_KEY).unwrap())
        .retry_policy(fast_retries().with_max_attempts(2))
        .build()
        .unwrap();
    let e = c.put_object(BUCKET, "k", "v").await.unwrap_err();
    assert_eq!(e.type_name(), "connect", "{e:?}");
}

#[tokio::test]
async fn a_dropped_download_leaves_no_temporary_file() {
    let (emu, c) = setup().await;
    c.put_object(BUCKET, "slow", vec![5u8; 4096]).await.unwrap();
    // Every request now waits 2 s, so the download is caught with its
    // temporary file created and its GETs in flight.
    emu.set_faults(FaultConfig {
        latency: Duration::from_secs(2),
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("slow.bin");
    let temp_files = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count()
    };
    let opts = DownloadOptions::default();
    let download = c.download_file(BUCKET, "slow", &dst, &opts);
    let saw_temp = tokio::select! {
        r = download => panic!("the download was to be dropped, it ended: {r:?}"),
        seen = async {
            for _ in 0..400 {
                if temp_files() > 0 {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            false
        } => seen,
    };
    emu.set_faults(FaultConfig::default()).unwrap();
    assert!(saw_temp, "the download created its temporary file");
    assert_eq!(temp_files(), 0, "dropping the download removed it");
    assert!(!dst.exists());
}
