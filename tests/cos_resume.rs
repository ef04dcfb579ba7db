//! Resumable transfers (`UploadOptions::checkpoint`,
//! `DownloadOptions::checkpoint`) and `abort_stale_uploads`, against the
//! embedded emulator (signatures verified on every request).
//!
//! A transfer is interrupted the way a crash interrupts it: its future is
//! dropped while part k+1 is in flight (a transport stalls that request
//! for ever), after parts 1..=k finished and were checkpointed. The rerun
//! must produce identical bytes without sending the finished parts again,
//! which the emulator's per-operation request counts show.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use coscls::cos::{Client, DownloadOptions, Error, ResumeOutcome, UploadOptions};
use coscls_emulator::{Emulator, FaultConfig};
use support::*;

/// UploadPart requests: PUT with `partNumber`.
/// Asserts that a resumable transfer restarted, for a reason that mentions `why`.
fn assert_restarted(resume: &Option<ResumeOutcome>, why: &str) {
    match resume {
        Some(ResumeOutcome::Restarted { reason }) => {
            assert!(reason.contains(why), "{reason}")
        }
        other => panic!("expected a restart, got {other:?}"),
    }
}

fn upload_parts() -> When {
    When::query(http::Method::PUT, "partNumber")
}

/// Ranged GetObject requests: GET with a `Range` header.
fn ranged_gets() -> When {
    When::header("range").and_method(http::Method::GET)
}

/// A transport that lets `allow` requests matching `when` through, then
/// holds the next ones for ever (announcing it), like a process that dies
/// there.
fn stall(when: When, allow: u32) -> Arc<Scripted> {
    let t = Scripted::forward();
    t.rule(Rule::new(when, Act::Stall).after(allow));
    t
}

/// Runs `transfer` until `stall` holds a request, then drops it.
async fn interrupt<T: std::fmt::Debug>(
    stall: &Scripted,
    transfer: impl std::future::Future<Output = Result<T, Error>>,
) {
    tokio::select! {
        r = transfer => panic!("the transfer ended before it was interrupted: {r:?}"),
        () = stall.stalled() => {}
    }
}

/// The reason of a refused checkpoint.
fn refused<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::InvalidInput {
            what: "checkpoint",
            reason,
            ..
        }) => reason,
        other => panic!("expected a refused checkpoint, got {other:?}"),
    }
}

fn ops(emu: &Emulator, op: &str) -> u64 {
    emu.stats().operation(op)
}

/// An upload of `body` from a file, interrupted while part `k + 1` of
/// 1 MiB parts is in flight (one part at a time).
async fn interrupted_upload(
    emu: &Emulator,
    dir: &Path,
    key: &str,
    body: &[u8],
    k: u32,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let src = dir.join("src.bin");
    let cp = dir.join("upload.cp");
    std::fs::write(&src, body).unwrap();
    let stall = stall(upload_parts(), k);
    let c = client_with_transport(emu, stall.clone());
    let opts = UploadOptions::default()
        .part_size(MIB as u64)
        .concurrency(1)
        .checkpoint(&cp);
    interrupt(&stall, c.upload_file(BUCKET, key, &src, &opts)).await;
    assert!(cp.exists(), "the checkpoint outlives the dropped upload");
    (src, cp)
}

fn resume_opts(cp: &Path) -> UploadOptions {
    UploadOptions::default()
        .part_size(MIB as u64)
        .concurrency(2)
        .checkpoint(cp)
}

#[tokio::test]
async fn an_interrupted_upload_resumes_without_resending_finished_parts() {
    let (emu, c) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let body = data(5 * MIB + 12_345, 1);
    let (src, cp) = interrupted_upload(&emu, dir.path(), "resume/up.bin", &body, 3).await;
    assert_eq!(ops(&emu, "UploadPart"), 3, "parts 1-3 reached the server");
    let pending = c.list_multipart_uploads(BUCKET, None).await.unwrap();
    assert_eq!(pending.len(), 1);
    let recorded = std::fs::read_to_string(&cp).unwrap();
    assert!(recorded.contains(&pending[0].upload_id), "{recorded}");

    emu.reset_stats();
    let out = c
        .upload_file(BUCKET, "resume/up.bin", &src, &resume_opts(&cp))
        .await
        .unwrap();
    assert_eq!(
        out.resume,
        Some(ResumeOutcome::Resumed {
            reused_parts: 3,
            reused_bytes: 3 * MIB as u64
        })
    );
    assert_eq!(ops(&emu, "UploadPart"), 3, "only parts 4-6 were sent");
    assert_eq!(
        ops(&emu, "InitiateMultipartUpload"),
        0,
        "the same upload went on"
    );
    assert_eq!(out.parts, 6);
    assert_eq!(read_back(&c, "resume/up.bin").await, &body[..]);
    assert!(!cp.exists(), "the checkpoint is removed on success");
    assert_no_pending_uploads(&c).await;
}

#[tokio::test]
async fn a_reused_part_whose_bytes_changed_is_sent_again() {
    let (emu, c) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let mut body = data(4 * MIB, 2);
    let (src, cp) = interrupted_upload(&emu, dir.path(), "resume/edit.bin", &body, 3).await;
    // Part 2 changes in place; size and modification time are put back, so
    // only the CRC-64 of the bytes can tell.
    let mtime = std::fs::metadata(&src).unwrap().modified().unwrap();
    body[MIB + 10] ^= 0xff;
    std::fs::write(&src, &body).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&src)
        .unwrap()
        .set_modified(mtime)
        .unwrap();

    emu.reset_stats();
    let out = c
        .upload_file(BUCKET, "resume/edit.bin", &src, &resume_opts(&cp))
        .await
        .unwrap();
    assert_eq!(
        out.resume,
        Some(ResumeOutcome::Resumed {
            reused_parts: 2,
            reused_bytes: 2 * MIB as u64
        })
    );
    assert_eq!(ops(&emu, "UploadPart"), 2, "part 2 again, and part 4");
    assert_eq!(read_back(&c, "resume/edit.bin").await, &body[..]);
    assert_no_pending_uploads(&c).await;
}

#[tokio::test]
async fn a_modified_source_or_a_vanished_upload_starts_over() {
    let (emu, c) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    // The source is rewritten (another modification time): a new upload,
    // and the old one is aborted.
    let body = data(3 * MIB + 7, 3);
    let (src, cp) = interrupted_upload(&emu, dir.path(), "resume/mod.bin", &body, 2).await;
    let newer = data(3 * MIB + 7, 4);
    std::fs::write(&src, &newer).unwrap();
    let later = SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&src)
        .unwrap()
        .set_modified(later)
        .unwrap();
    emu.reset_stats();
    let out = c
        .upload_file(BUCKET, "resume/mod.bin", &src, &resume_opts(&cp))
        .await
        .unwrap();
    assert_restarted(&out.resume, "modified");
    assert_eq!(ops(&emu, "UploadPart"), 4);
    assert_eq!(
        ops(&emu, "AbortMultipartUpload"),
        1,
        "the old upload is aborted"
    );
    assert_eq!(read_back(&c, "resume/mod.bin").await, &newer[..]);
    assert_no_pending_uploads(&c).await;

    // The upload is aborted behind the checkpoint's back.
    let (src, cp) = interrupted_upload(&emu, dir.path(), "resume/gone.bin", &body, 2).await;
    for u in c.list_multipart_uploads(BUCKET, None).await.unwrap() {
        c.abort_multipart_upload(BUCKET, &u.key, &u.upload_id)
            .await
            .unwrap();
    }
    emu.reset_stats();
    let out = c
        .upload_file(BUCKET, "resume/gone.bin", &src, &resume_opts(&cp))
        .await
        .unwrap();
    assert_restarted(&out.resume, "no longer exists");
    assert_eq!(ops(&emu, "UploadPart"), 4);
    assert_eq!(read_back(&c, "resume/gone.bin").await, &body[..]);
    assert!(!cp.exists());
}

#[tokio::test]
async fn bad_or_foreign_checkpoints_are_refused_before_any_request() {
    let (emu, c) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    std::fs::write(&src, data(2 * MIB, 5)).unwrap();
    let cp = dir.path().join("x.cp");

    // Not JSON at all; then JSON of another kind.
    for garbage in [
        &b"\x00\x01garbage"[..],
        br#"{"format":"something-else","version":1}"#,
    ] {
        std::fs::write(&cp, garbage).unwrap();
        emu.reset_stats();
        let reason = refused(
            c.upload_file(BUCKET, "k.bin", &src, &resume_opts(&cp))
                .await,
        );
        assert!(reason.contains("checkpoint"), "{reason}");
        let dest = dir.path().join("out.bin");
        let dl = DownloadOptions::default().checkpoint(&cp);
        refused(c.download_file(BUCKET, "k.bin", &dest, &dl).await);
        assert_eq!(emu.stats().requests, 0, "nothing was sent");
        assert_eq!(
            std::fs::read(&cp).unwrap(),
            garbage,
            "the file is left alone"
        );
        assert!(!dest.exists());
    }

    // A real checkpoint of another key, and an upload's given to a download.
    let (_src2, other_cp) =
        interrupted_upload(&emu, dir.path(), "other.bin", &data(3 * MIB, 6), 1).await;
    emu.reset_stats();
    let reason = refused(
        c.upload_file(BUCKET, "k.bin", &src, &resume_opts(&other_cp))
            .await,
    );
    assert!(reason.contains("other.bin"), "{reason}");
    let dl = DownloadOptions::default().checkpoint(&other_cp);
    let reason = refused(
        c.download_file(BUCKET, "other.bin", dir.path().join("o"), &dl)
            .await,
    );
    assert!(reason.contains("upload"), "{reason}");
    assert_eq!(emu.stats().requests, 0);

    // A stream cannot resume.
    let reason = refused(
        c.upload_stream(BUCKET, "k.bin", &b"abc"[..], &resume_opts(&cp))
            .await,
    );
    assert!(reason.contains("upload_file"), "{reason}");
}

/// A download of `key` into `dest`, interrupted while ranged GET `k + 1`
/// of 256 KiB ranges is in flight (one at a time).
async fn interrupted_download(emu: &Emulator, key: &str, dest: &Path, cp: &Path, k: u32) {
    let stall = stall(ranged_gets(), k);
    let c = client_with_transport(emu, stall.clone());
    interrupt(
        &stall,
        c.download_file(BUCKET, key, dest, &download_opts(cp).concurrency(1)),
    )
    .await;
    assert!(cp.exists(), "the checkpoint outlives the dropped download");
    assert!(!dest.exists(), "no file appears before it is complete");
}

fn download_opts(cp: &Path) -> DownloadOptions {
    DownloadOptions::default()
        .part_size(256 * 1024)
        .concurrency(2)
        .checkpoint(cp)
}

fn partial(dest: &Path) -> std::path::PathBuf {
    let mut name = dest.file_name().unwrap().to_os_string();
    name.push(".coscls-partial");
    dest.with_file_name(name)
}

async fn put(c: &Client, key: &str, body: &[u8]) {
    c.put_object(BUCKET, key, body.to_vec()).await.unwrap();
}

#[tokio::test]
async fn an_interrupted_download_resumes_without_refetching_finished_ranges() {
    let (emu, c) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let body = data(MIB + 1000, 7); // 5 ranges of 256 KiB
    put(&c, "resume/down.bin", &body).await;
    let (dest, cp) = (dir.path().join("down.bin"), dir.path().join("down.cp"));
    emu.reset_stats();
    interrupted_download(&emu, "resume/down.bin", &dest, &cp, 2).await;
    assert_eq!(ops(&emu, "GetObject"), 2);
    assert!(partial(&dest).exists(), "the partial file is kept");

    emu.reset_stats();
    let out = c
        .download_file(BUCKET, "resume/down.bin", &dest, &download_opts(&cp))
        .await
        .unwrap();
    assert_eq!(
        out.resume,
        Some(ResumeOutcome::Resumed {
            reused_parts: 2,
            reused_bytes: 512 * 1024
        })
    );
    assert_eq!(ops(&emu, "GetObject"), 3, "only ranges 3-5 were fetched");
    assert!(out.crc64_verified.is_some());
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert!(
        !cp.exists() && !partial(&dest).exists(),
        "nothing is left behind"
    );
}

#[tokio::test]
async fn a_download_starts_over_when_the_object_changed() {
    let (emu, c) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    put(&c, "resume/changing.bin", &data(MIB, 8)).await;
    let (dest, cp) = (dir.path().join("c.bin"), dir.path().join("c.cp"));
    interrupted_download(&emu, "resume/changing.bin", &dest, &cp, 2).await;
    // Same size, other bytes: only the ETag (and CRC) tell.
    let newer = data(MIB, 12);
    put(&c, "resume/changing.bin", &newer).await;

    emu.reset_stats();
    let out = c
        .download_file(BUCKET, "resume/changing.bin", &dest, &download_opts(&cp))
        .await
        .unwrap();
    assert_restarted(&out.resume, "object changed");
    assert_eq!(ops(&emu, "GetObject"), 4, "every range again");
    assert_eq!(std::fs::read(&dest).unwrap(), newer);
    assert!(!cp.exists());
}

#[tokio::test]
async fn damaged_ranges_of_the_partial_file_are_fetched_again() {
    let (emu, c) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let body = data(MIB, 10);
    put(&c, "resume/damaged.bin", &body).await;
    let (dest, cp) = (dir.path().join("d.bin"), dir.path().join("d.cp"));
    interrupted_download(&emu, "resume/damaged.bin", &dest, &cp, 3).await;
    // A byte of range 2 (of the 3 done) is damaged on disk.
    let mut bytes = std::fs::read(partial(&dest)).unwrap();
    bytes[256 * 1024 + 5] ^= 0x55;
    std::fs::write(partial(&dest), &bytes).unwrap();

    emu.reset_stats();
    let out = c
        .download_file(BUCKET, "resume/damaged.bin", &dest, &download_opts(&cp))
        .await
        .unwrap();
    assert_eq!(
        out.resume,
        Some(ResumeOutcome::Resumed {
            reused_parts: 2,
            reused_bytes: 512 * 1024
        })
    );
    assert_eq!(ops(&emu, "GetObject"), 2, "range 2 again, and range 4");
    assert_eq!(std::fs::read(&dest).unwrap(), body);

    // A partial file of the wrong length starts over.
    let (dest, cp) = (dir.path().join("e.bin"), dir.path().join("e.cp"));
    interrupted_download(&emu, "resume/damaged.bin", &dest, &cp, 2).await;
    std::fs::write(partial(&dest), b"short").unwrap();
    emu.reset_stats();
    let out = c
        .download_file(BUCKET, "resume/damaged.bin", &dest, &download_opts(&cp))
        .await
        .unwrap();
    assert!(
        matches!(&out.resume, Some(ResumeOutcome::Restarted { reason }) if reason.contains("bytes")),
        "{:?}",
        out.resume
    );
    assert_eq!(ops(&emu, "GetObject"), 4);
    assert_eq!(std::fs::read(&dest).unwrap(), body);
}

#[tokio::test]
async fn stale_uploads_are_aborted_by_the_servers_clock() {
    let (emu, c) = setup().await;
    let day = Duration::from_secs(86_400);
    let old_a = c
        .create_multipart_upload(BUCKET, "logs/a.bin", &Default::default())
        .await
        .unwrap();
    let old_b = c
        .create_multipart_upload(BUCKET, "logs/b.bin", &Default::default())
        .await
        .unwrap();
    let other = c
        .create_multipart_upload(BUCKET, "keep/c.bin", &Default::default())
        .await
        .unwrap();
    // Two days pass on the server's clock; the client learns it from the
    // first request refused as skewed and corrects its signing clock.
    emu.set_faults(FaultConfig {
        clock_offset_secs: 2 * 86_400,
        ..Default::default()
    })
    .unwrap();
    let young = c
        .create_multipart_upload(BUCKET, "logs/d.bin", &Default::default())
        .await
        .unwrap();
    assert!(c.clock_offset() > 86_400, "offset {}", c.clock_offset());

    // Nothing is a week old.
    let report = c
        .abort_stale_uploads(BUCKET, Some("logs/"), 7 * day)
        .await
        .unwrap();
    assert!(report.aborted.is_empty() && report.failed.is_empty());
    assert_eq!(report.kept.len(), 3);

    let report = c
        .abort_stale_uploads(BUCKET, Some("logs/"), day)
        .await
        .unwrap();
    let mut aborted: Vec<&str> = report
        .aborted
        .iter()
        .map(|u| u.upload_id.as_str())
        .collect();
    aborted.sort();
    let mut expected = vec![old_a.as_str(), old_b.as_str()];
    expected.sort();
    assert_eq!(aborted, expected);
    assert!(report.failed.is_empty() && report.already_gone.is_empty());
    assert_eq!(report.kept.len(), 1);
    assert_eq!(report.kept[0].upload_id, young);
    let mut left: Vec<String> = c
        .list_multipart_uploads(BUCKET, None)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.upload_id)
        .collect();
    left.sort();
    let mut want = vec![other.clone(), young.clone()];
    want.sort();
    assert_eq!(left, want, "only the old uploads under the prefix are gone");

    // An abort that fails is reported as failed, never as aborted: this
    // client's aborts reach the server unsigned, and are refused.
    let unsigned = Scripted::forward();
    unsigned.rule(Rule::new(
        When::method(http::Method::DELETE),
        Act::DropRequestHeader(http::header::AUTHORIZATION),
    ));
    let c2 = client_with_transport(&emu, unsigned);
    let report = c2
        .abort_stale_uploads(BUCKET, Some("keep/"), day)
        .await
        .unwrap();
    assert!(report.aborted.is_empty(), "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].upload.upload_id, other);
    let status = report.failed[0].error.service().map(|s| s.status);
    assert_eq!(status, Some(403), "{}", report.failed[0].error);
    assert_eq!(
        c.list_multipart_uploads(BUCKET, Some("keep/"))
            .await
            .unwrap()
            .len(),
        1
    );
}
