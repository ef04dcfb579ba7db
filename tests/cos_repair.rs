//! Transient corruption is repaired, not only detected (issue 22): a
//! buffered read or a `download_file` whose CRC-64 disagrees is read again,
//! pinned to the first ETag, under the retry policy; only spent attempts
//! reach the caller, and an overwrite in between is a precondition error.

mod support;

use coscls::cos::{DownloadOptions, Error};
use coscls_emulator::FaultConfig;
use support::*;

fn corrupt(rate: f64) -> FaultConfig {
    FaultConfig {
        corrupt_body_rate: rate,
        ..Default::default()
    }
}

#[tokio::test]
async fn bytes_returns_the_stored_bytes_under_corruption() {
    let (emu, c) = setup().await;
    let body = data(300 * 1024, 22);
    c.put_object(BUCKET, "k", body.clone()).await.unwrap();
    emu.set_faults(corrupt(0.3)).unwrap();
    // 40 reads at 30 %: some certainly corrupted (all clean: 0.7^40 ≈ 6e-7),
    // none failing (10 corrupted answers in a row: 0.3^10 ≈ 6e-6 per read).
    for _ in 0..40 {
        let got = c.get_object(BUCKET, "k").await.unwrap().body.bytes().await;
        assert_eq!(got.unwrap(), body);
    }
    let stats = emu.stats();
    assert!(stats.corrupted_bodies > 0, "{stats:?}");
    assert_eq!(
        stats.operation("GetObject"),
        40 + stats.corrupted_bodies,
        "one more GET per corrupted body"
    );
}

#[tokio::test]
async fn download_file_returns_the_stored_bytes_under_corruption() {
    let (emu, c) = setup().await;
    let body = data(3 * MIB, 23);
    c.put_object(BUCKET, "big", body.clone()).await.unwrap();
    emu.set_faults(corrupt(0.05)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = DownloadOptions::default().part_size(MIB as u64);
    // 3 parts a try: a try fails at 1 - 0.95^3 ≈ 14 %; 10 in a row ≈ 4e-9.
    for i in 0..10 {
        let dst = dir.path().join(format!("big-{i}"));
        let out = c.download_file(BUCKET, "big", &dst, &opts).await.unwrap();
        assert_eq!(
            out.crc64_verified,
            Some(coscls::cos::crc64::checksum(&body))
        );
        assert_eq!(std::fs::read(&dst).unwrap(), body);
    }
    // A single-part download: the part is the whole object, checked as such.
    // At least 10, and on until a body was corrupted at all (the faults are
    // random: ten clean runs of both loops happen about once in 170).
    emu.set_faults(corrupt(0.3)).unwrap();
    let mut whole = 0;
    while whole < 10 || (emu.stats().corrupted_bodies == 0 && whole < 60) {
        let dst = dir.path().join(format!("whole-{whole}"));
        let opts = DownloadOptions::default().part_size(4 * MIB as u64);
        c.download_file(BUCKET, "big", &dst, &opts).await.unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), body);
        whole += 1;
    }
    assert!(emu.stats().corrupted_bodies > 0);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        10 + whole,
        "no temp file left"
    );
}

#[tokio::test]
async fn always_corrupt_fails_after_the_configured_attempts() {
    let (emu, c) = setup().await; // fast_retries: 10 attempts
    let body = data(1000, 24);
    c.put_object(BUCKET, "k", body.clone()).await.unwrap();
    emu.set_faults(corrupt(1.0)).unwrap();
    let e = c
        .get_object(BUCKET, "k")
        .await
        .unwrap()
        .body
        .bytes()
        .await
        .unwrap_err();
    match &e {
        Error::ChecksumMismatch {
            what,
            server,
            computed,
        } => {
            assert_eq!(*server, coscls::cos::crc64::checksum(&body));
            assert_ne!(computed, server);
            assert!(what.ends_with("after 10 attempts"), "{what}");
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    assert_eq!(emu.stats().operation("GetObject"), 10);

    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("k");
    let e = c
        .download_file(BUCKET, "k", &dst, &DownloadOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::ChecksumMismatch { what, .. } if what.ends_with("after 10 attempts")),
        "{e}"
    );
    assert_eq!(emu.stats().operation("GetObject"), 20);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file left"
    );
}

#[tokio::test]
async fn streaming_reads_still_report_the_mismatch() {
    let (emu, c) = setup().await;
    c.put_object(BUCKET, "k", data(1000, 25)).await.unwrap();
    emu.set_faults(corrupt(1.0)).unwrap();
    let mut sink = Vec::new();
    let e = c
        .get_object(BUCKET, "k")
        .await
        .unwrap()
        .body
        .write_to(&mut sink)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e}");
    assert_eq!(
        emu.stats().operation("GetObject"),
        1,
        "bytes handed over: no re-read"
    );
}

#[tokio::test]
async fn an_overwrite_between_attempts_is_a_precondition_error() {
    let (emu, c) = setup().await;
    c.put_object(BUCKET, "k", data(1000, 26)).await.unwrap();
    // Overwrites the object just before the second GET.
    let transport = Scripted::forward();
    let writer = c.clone();
    transport.rule(
        Rule::new(
            When::method(http::Method::GET),
            Act::before(move || {
                let writer = writer.clone();
                async move {
                    writer
                        .put_object(BUCKET, "k", "another object")
                        .await
                        .expect("the overwrite");
                }
            }),
        )
        .after(1)
        .times(1),
    );
    let reader = client_with_transport(&emu, transport);
    emu.set_faults(corrupt(1.0)).unwrap();
    let e = reader
        .get_object(BUCKET, "k")
        .await
        .unwrap()
        .body
        .bytes()
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(412), "{e}");
}
