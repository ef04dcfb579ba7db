//! `UploadOptions::on_started`: the id of a multipart upload reaches the
//! caller as soon as the upload exists, so a caller whose upload future is
//! dropped (Ctrl-C, a cancelled task) can still abort it.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use coscls::cos::UploadOptions;
use coscls_emulator::FaultConfig;
use support::*;

#[tokio::test]
async fn a_dropped_upload_is_found_and_aborted_by_its_id() {
    let (emu, c) = setup().await;
    let ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = ids.clone();
    let opts = UploadOptions::default()
        .part_size(MIB as u64)
        .concurrency(1)
        .on_started(move |id| sink.lock().unwrap().push(id.to_string()));
    // Slow parts, so the upload is still running when it is dropped.
    emu.set_faults(FaultConfig {
        latency: Duration::from_millis(200),
        ..Default::default()
    })
    .unwrap();
    let body = data(6 * MIB, 9);
    let upload = c.upload_stream(BUCKET, "dropped.bin", &body[..], &opts);
    let started = async {
        while ids.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    // Whichever finishes first, the upload's future is dropped here.
    tokio::select! {
        r = upload => panic!("the upload finished before it was dropped: {r:?}"),
        () = started => {}
    }
    emu.set_faults(FaultConfig::default()).unwrap();

    let id = ids.lock().unwrap()[0].clone();
    let left = c.list_multipart_uploads(BUCKET, None).await.unwrap();
    assert_eq!(left.len(), 1, "dropping the future leaves the upload");
    assert_eq!(left[0].upload_id, id, "on_started gave its id");
    c.abort_multipart_upload(BUCKET, "dropped.bin", &id)
        .await
        .unwrap();
    assert!(c
        .list_multipart_uploads(BUCKET, None)
        .await
        .unwrap()
        .is_empty());

    // One part: a single PutObject, no upload id to report.
    let small = data(1000, 3);
    c.upload_stream(BUCKET, "small.bin", &small[..], &opts)
        .await
        .unwrap();
    assert_eq!(ids.lock().unwrap().len(), 1);
}
