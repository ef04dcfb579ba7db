//! Multipart upload and concurrent download against the emulator: splitting,
//! progress, the low-level API, injected failures, give-up with abort, and
//! the non-idempotent steps (lost Initiate and Complete answers).

mod support;

use std::sync::{Arc, Mutex};

use coscls::cos::{
    crc64, CompleteOptions, CompletedPart, DownloadOptions, Error, ListOptions, Progress,
    PutOptions, UploadOptions,
};
use coscls_emulator::FaultConfig;
use http::Method;
use support::*;

fn progress_log() -> (Arc<Mutex<Vec<Progress>>>, UploadOptions) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let opts = UploadOptions::default()
        .part_size(MIB as u64)
        .concurrency(3)
        .on_progress(move |p| sink.lock().unwrap().push(p));
    (log, opts)
}

fn no_temp_files(dir: &std::path::Path) {
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".coscls-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[tokio::test]
async fn upload_file_and_download_file_round_trip() {
    let (emu, c) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    let body = data(5 * MIB + MIB / 2, 1);
    std::fs::write(&src, &body).unwrap();

    let (log, opts) = progress_log();
    let out = c
        .upload_file(BUCKET, "big/file.bin", &src, &opts)
        .await
        .unwrap();
    assert_eq!(out.parts, 6);
    assert_eq!(out.size, body.len() as u64);
    assert_eq!(out.crc64, Some(crc64::checksum(&body)));
    assert_eq!(emu.stats().operation("UploadPart"), 6);
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 6);
    assert!(log.windows(2).all(|w| w[0].transferred < w[1].transferred));
    assert_eq!(
        log.last().copied(),
        Some(Progress::new(body.len() as u64, Some(body.len() as u64)))
    );

    let dst = dir.path().join("dst.bin");
    let seen = Arc::new(Mutex::new(0u64));
    let sink = seen.clone();
    let dl = c
        .download_file(
            BUCKET,
            "big/file.bin",
            &dst,
            &DownloadOptions::default()
                .part_size(MIB as u64)
                .concurrency(4)
                .on_progress(move |p| *sink.lock().unwrap() = p.transferred),
        )
        .await
        .unwrap();
    assert_eq!(dl.parts, 6);
    assert_eq!(dl.crc64_verified, Some(crc64::checksum(&body)));
    assert_eq!(*seen.lock().unwrap(), body.len() as u64);
    assert_eq!(std::fs::read(&dst).unwrap(), body);
    no_temp_files(dir.path());
}

#[tokio::test]
async fn small_inputs_use_a_single_put() {
    let (emu, c) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("small.bin");
    std::fs::write(&src, data(1000, 2)).unwrap();
    let out = c
        .upload_file(BUCKET, "small.bin", &src, &UploadOptions::default())
        .await
        .unwrap();
    assert_eq!(out.parts, 0);
    // Exactly one part's worth from a stream: still a single PUT.
    let exact = data(MIB, 3);
    let out = c
        .upload_stream(
            BUCKET,
            "exact.bin",
            &exact[..],
            &UploadOptions::default().part_size(MIB as u64),
        )
        .await
        .unwrap();
    assert_eq!(out.parts, 0);
    assert_eq!(emu.stats().operation("InitiateMultipartUpload"), 0);
    assert_eq!(emu.stats().operation("PutObject"), 2);

    // An empty file is an empty object; its download an empty file.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    c.upload_file(BUCKET, "empty", &empty, &UploadOptions::default())
        .await
        .unwrap();
    let dst = dir.path().join("empty.out");
    let dl = c
        .download_file(BUCKET, "empty", &dst, &DownloadOptions::default())
        .await
        .unwrap();
    assert_eq!((dl.size, dl.crc64_verified), (0, Some(0)));
    assert_eq!(std::fs::read(&dst).unwrap().len(), 0);
}

#[tokio::test]
async fn upload_stream_of_unknown_length() {
    let (_emu, c) = setup().await;
    for (len, parts) in [(2 * MIB, 2u32), (3 * MIB + 17, 4)] {
        let body = data(len, len as u64);
        let key = format!("stream-{len}");
        let out = c
            .upload_stream(
                BUCKET,
                &key,
                &body[..],
                &UploadOptions::default().part_size(MIB as u64),
            )
            .await
            .unwrap();
        assert_eq!((out.parts, out.size), (parts, len as u64));
        let got = c
            .get_object(BUCKET, &key)
            .await
            .unwrap()
            .body
            .bytes()
            .await
            .unwrap();
        assert_eq!(got, body);
    }
}

#[tokio::test]
async fn the_multipart_api_step_by_step() {
    let (_emu, c) = setup().await;
    let key = "manual/分片 +.bin";
    let id = c
        .create_multipart_upload(
            BUCKET,
            key,
            &PutOptions::default().content_type("video/mp4"),
        )
        .await
        .unwrap();
    let one = data(MIB, 10);
    let two = data(1234, 11);
    // Upload out of order; re-upload part 2 to check it replaces.
    let p2 = c
        .upload_part(BUCKET, key, &id, 2, data(99, 12), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(p2.size, 99);
    let p2 = c
        .upload_part(
            BUCKET,
            key,
            &id,
            2,
            two.clone(),
            &PutOptions::default().with_content_md5(),
        )
        .await
        .unwrap();
    let p1 = c
        .upload_part(BUCKET, key, &id, 1, one.clone(), &PutOptions::default())
        .await
        .unwrap();
    let listed = c.list_parts(BUCKET, key, &id).await.unwrap();
    let numbers: Vec<(u32, u64)> = listed.iter().map(|p| (p.part_number, p.size)).collect();
    assert_eq!(numbers, vec![(1, MIB as u64), (2, 1234)]);
    let uploads = c
        .list_multipart_uploads(BUCKET, Some("manual/"))
        .await
        .unwrap();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].upload_id, id);
    assert!(uploads[0].initiated.is_some());

    let out = c
        .complete_multipart_upload(BUCKET, key, &id, &[p2, p1])
        .await
        .unwrap();
    let mut whole = one;
    whole.extend_from_slice(&two);
    assert_eq!(out.crc64, Some(crc64::checksum(&whole)));
    let got = c.get_object(BUCKET, key).await.unwrap();
    assert_eq!(got.meta().content_type.as_deref(), Some("video/mp4"));
    assert_eq!(got.body.bytes().await.unwrap(), whole);

    // Abort frees an upload; its id is then unknown.
    let id = c
        .create_multipart_upload(BUCKET, "aborted", &PutOptions::default())
        .await
        .unwrap();
    c.abort_multipart_upload(BUCKET, "aborted", &id)
        .await
        .unwrap();
    let e = c
        .upload_part(BUCKET, "aborted", &id, 1, "x", &PutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(404), Some("NoSuchUpload")),
        "{e}"
    );
    assert_no_pending_uploads(&c).await;

    // A part list with a wrong ETag is refused by the server.
    let id = c
        .create_multipart_upload(BUCKET, "bad", &PutOptions::default())
        .await
        .unwrap();
    let p = c
        .upload_part(BUCKET, "bad", &id, 1, "x", &PutOptions::default())
        .await
        .unwrap();
    let forged = CompletedPart::new(1, "\"not-the-etag\"", p.size, p.crc64);
    let e = c
        .complete_multipart_upload(BUCKET, "bad", &id, &[forged])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidPart"), "{e}");
}

#[tokio::test]
async fn injected_server_errors_are_retried_per_part() {
    let (emu, c) = setup().await;
    let body = data(4 * MIB + 5, 20);
    emu.set_faults(FaultConfig {
        fail_next: 3,
        error_status: 503,
        ..Default::default()
    })
    .unwrap();
    let out = upload_in_mib_parts(&c, "retried.bin", &body).await.unwrap();
    assert_eq!(out.parts, 5);
    assert_eq!(emu.stats().injected_errors, 3);

    emu.set_faults(FaultConfig {
        error_rate: 0.25,
        error_status: 500,
        ..Default::default()
    })
    .unwrap();
    let out = upload_in_mib_parts(&c, "noisy.bin", &body).await.unwrap();
    emu.set_faults(FaultConfig::default()).unwrap();
    assert_eq!(out.crc64, Some(crc64::checksum(&body)));
    let got = read_back(&c, "noisy.bin").await;
    assert_eq!(got, body);
    assert_no_pending_uploads(&c).await;
}

#[tokio::test]
async fn a_failed_upload_is_aborted() {
    let (emu, c) = setup().await;
    let emu = Arc::new(emu);
    let trigger = emu.clone();
    // After the first part, make the next request fail permanently (a 400
    // is not retried): the upload must give up and abort.
    let opts = UploadOptions::default()
        .part_size(MIB as u64)
        .concurrency(1)
        .on_progress(move |p| {
            if p.transferred == MIB as u64 {
                trigger
                    .set_faults(FaultConfig {
                        fail_next: 1,
                        error_status: 400,
                        ..Default::default()
                    })
                    .unwrap();
            }
        });
    let body = data(4 * MIB, 30);
    let e = c
        .upload_stream(BUCKET, "doomed.bin", &body[..], &opts)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");
    assert_eq!(emu.stats().operation("AbortMultipartUpload"), 1);
    assert_no_pending_uploads(&c).await;
    assert!(!c.object_exists(BUCKET, "doomed.bin").await.unwrap());
}

#[tokio::test]
async fn a_part_damaged_in_transit_is_sent_again() {
    let emu = emulator().await;
    let tamper = Scripted::tamper(Method::PUT, "partNumber", Act::WrongCrc, 1);
    let c = client_with_transport(&emu, tamper.clone());
    let body = data(2 * MIB + 1, 40);
    let out = upload_in_mib_parts(&c, "resent.bin", &body).await.unwrap();
    assert_eq!(tamper.remaining(), 0, "the mischief happened");
    assert_eq!(out.parts, 3);
    assert_eq!(
        emu.stats().operation("UploadPart"),
        4,
        "one part sent twice"
    );
    assert_eq!(out.crc64, Some(crc64::checksum(&body)));

    // The low-level call reports the mismatch instead.
    let tamper = Scripted::tamper(Method::PUT, "partNumber", Act::WrongCrc, 1);
    let c = client_with_transport(&emu, tamper);
    let id = c
        .create_multipart_upload(BUCKET, "k", &PutOptions::default())
        .await
        .unwrap();
    let e = c
        .upload_part(BUCKET, "k", &id, 1, "abc", &PutOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::ChecksumMismatch { server: 12345, .. }),
        "{e}"
    );
}

#[tokio::test]
async fn damaged_parts_are_resent_under_the_clients_retry_policy() {
    let emu = emulator().await;
    // Two parts, four damaged answers between them. With five attempts per
    // part no part can run out, whatever the order; with two, at least one
    // part must see a third damaged answer, so the upload fails.
    let body = data(MIB + 1, 41);
    let generous = Scripted::tamper(Method::PUT, "partNumber", Act::WrongCrc, 4);
    let c = builder(&emu)
        .transport(generous.clone())
        .retry_policy(fast_retries().with_max_attempts(5))
        .build()
        .unwrap();
    let out = upload_in_mib_parts(&c, "resent-4.bin", &body)
        .await
        .unwrap();
    assert_eq!(generous.remaining(), 0, "the mischief happened");
    assert_eq!(out.crc64, Some(crc64::checksum(&body)));

    let strict = Scripted::tamper(Method::PUT, "partNumber", Act::WrongCrc, 4);
    let c = builder(&emu)
        .transport(strict)
        .retry_policy(fast_retries().with_max_attempts(2))
        .build()
        .unwrap();
    let err = upload_in_mib_parts(&c, "resent-2.bin", &body)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");
}

#[tokio::test]
async fn a_lost_complete_answer_is_recognised_as_success() {
    let emu = emulator().await;
    let tamper = Scripted::tamper(Method::POST, "uploadId", Act::LoseResponse, 1);
    let c = client_with_transport(&emu, tamper.clone());
    let body = data(2 * MIB + 3, 50);
    let out = upload_in_mib_parts(&c, "completed.bin", &body)
        .await
        .unwrap();
    assert_eq!(tamper.remaining(), 0);
    assert_eq!(
        emu.stats().operation("CompleteMultipartUpload"),
        2,
        "retried once"
    );
    assert_eq!(out.crc64, Some(crc64::checksum(&body)));
    assert_eq!(read_back(&c, "completed.bin").await, body);
}

#[tokio::test]
async fn a_lost_initiate_answer_leaves_no_stray_upload() {
    let emu = emulator().await;
    let tamper = Scripted::tamper(Method::POST, "uploads", Act::LoseResponse, 1);
    let c = client_with_transport(&emu, tamper.clone());
    let body = data(2 * MIB, 60);
    upload_in_mib_parts(&c, "initiated.bin", &body)
        .await
        .unwrap();
    assert_eq!(tamper.remaining(), 0);
    let stats = emu.stats();
    assert_eq!(stats.operation("InitiateMultipartUpload"), 2);
    assert_eq!(stats.operation("AbortMultipartUpload"), 1, "the stray one");
    assert_no_pending_uploads(&c).await;
    let page = c
        .list_objects(BUCKET, &ListOptions::default())
        .await
        .unwrap();
    assert_eq!(page.objects.len(), 1);
}

#[tokio::test]
async fn a_completion_that_forbids_overwrite_refuses_an_existing_key() {
    let (_emu, c) = setup().await;
    c.put_object(BUCKET, "taken.bin", "first").await.unwrap();
    let id = c
        .create_multipart_upload(BUCKET, "taken.bin", &PutOptions::default())
        .await
        .unwrap();
    let part = c
        .upload_part(
            BUCKET,
            "taken.bin",
            &id,
            1,
            "second",
            &PutOptions::default(),
        )
        .await
        .unwrap();
    let parts = [part];
    let refuse = CompleteOptions::default().forbid_overwrite();
    let err = c
        .complete_multipart_upload_with(BUCKET, "taken.bin", &id, &parts, &refuse)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    assert_eq!(err.code(), Some("FileAlreadyExists"), "{err}");
    assert_eq!(read_back(&c, "taken.bin").await, "first");
    // Refused, not consumed: the same upload still completes without it.
    c.complete_multipart_upload_with(
        BUCKET,
        "taken.bin",
        &id,
        &parts,
        &CompleteOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(read_back(&c, "taken.bin").await, "second");
    // A wrong expected CRC-64 is a checksum error.
    let id = c
        .create_multipart_upload(BUCKET, "crc.bin", &PutOptions::default())
        .await
        .unwrap();
    let part = c
        .upload_part(BUCKET, "crc.bin", &id, 1, "x", &PutOptions::default())
        .await
        .unwrap();
    let wrong = CompleteOptions::default().expected_crc64(part.crc64 ^ 1);
    let err = c
        .complete_multipart_upload_with(BUCKET, "crc.bin", &id, &[part], &wrong)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");
}

/// Futures of the client's operations are `Send`, so they can be spawned
/// and boxed as `object_store` and most servers need. This failed to
/// compile while InitiateMultipartUpload borrowed its request across an
/// await.
#[test]
fn operation_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let c = coscls::cos::Client::builder()
        .region("ap-guangzhou")
        .credentials(coscls::auth::Credentials::new(SECRET_ID, SECRET_KEY).unwrap())
        .build()
        .unwrap();
    let opts = PutOptions::default();
    send(&c.create_multipart_upload(BUCKET, "k", &opts));
    send(&c.copy(BUCKET, "a", BUCKET, "b", &Default::default()));
    send(&c.upload_stream(BUCKET, "k", &b"x"[..], &UploadOptions::default()));
}
