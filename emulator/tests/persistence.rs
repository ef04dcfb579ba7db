//! `--data-dir`: buckets, objects and unfinished uploads survive a restart.

mod common;

use common::*;
use coscls_emulator::Emulator;

async fn start_in(dir: &std::path::Path) -> Emulator {
    Emulator::builder()
        .credentials(ID, KEY)
        .bucket(BUCKET)
        .data_dir(dir)
        .min_part_size(1)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn objects_buckets_and_uploads_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let emu = start_in(dir.path()).await;
    Req::new("PUT", "keep/me.txt")
        .header("x-cos-meta-a", "1")
        .header("content-type", "text/plain")
        .body("persisted")
        .send(&emu)
        .await
        .expect(200);
    Req::new("PUT", "gone.txt")
        .body("x")
        .send(&emu)
        .await
        .expect(200);
    Req::new("DELETE", "gone.txt").send(&emu).await.expect(204);
    let mut b = Req::new("PUT", "");
    b.bucket = Some("second-1250000000".into());
    b.send(&emu).await.expect(200);
    let id = Req::new("POST", "mp")
        .param("uploads", "")
        .send(&emu)
        .await
        .xml("UploadId")
        .unwrap();
    let etag = Req::new("PUT", "mp")
        .param("partNumber", "1")
        .param("uploadId", &id)
        .body("part one")
        .send(&emu)
        .await
        .header("etag")
        .unwrap()
        .to_string();
    emu.shutdown().await;

    let emu = start_in(dir.path()).await;
    let r = Req::new("GET", "keep/me.txt").send(&emu).await;
    r.expect(200);
    assert_eq!(r.body, b"persisted");
    assert_eq!(r.header("x-cos-meta-a"), Some("1"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    Req::new("GET", "gone.txt").send(&emu).await.expect(404);
    let mut h = Req::new("HEAD", "");
    h.bucket = Some("second-1250000000".into());
    h.send(&emu).await.expect(200);
    let body = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    Req::new("POST", "mp")
        .param("uploadId", &id)
        .body(body)
        .send(&emu)
        .await
        .expect(200);
    assert_eq!(Req::new("GET", "mp").send(&emu).await.body, b"part one");
    emu.shutdown().await;

    // Only referenced blobs remain on disk.
    let blobs = std::fs::read_dir(dir.path().join("blobs")).unwrap().count();
    assert_eq!(blobs, 2, "keep/me.txt and mp");
}
