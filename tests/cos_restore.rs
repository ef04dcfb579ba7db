//! PostRestore against the embedded emulator: archived objects are
//! unreadable until restored, a restore takes its tier's time on the
//! emulator's object clock, repeats are refused while one runs, and the
//! restored copy expires after the days asked for.

mod support;

use std::time::{Duration, SystemTime};

use coscls::cos::{Error, PutOptions, RestoreStatus, RestoreTier, StorageClass};
use coscls_emulator::Emulator;
use support::*;

const DAY: Duration = Duration::from_secs(86_400);

async fn put_archived(client: &coscls::cos::Client, key: &str, class: StorageClass) -> Vec<u8> {
    let body = data(4096, 7);
    let opts = PutOptions::default().storage_class(class);
    client
        .put_object_with(BUCKET, key, body.clone(), &opts)
        .await
        .expect("put archived object");
    body
}

fn code(e: &Error) -> &str {
    e.code().unwrap_or("<no code>")
}

#[tokio::test]
async fn archived_object_round_trip() {
    let (emu, client) = setup().await;
    let body = put_archived(&client, "cold/a.bin", StorageClass::ARCHIVE).await;

    let e = client.get_object(BUCKET, "cold/a.bin").await.unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (Some(403), "InvalidObjectState"),
        "{e}"
    );
    let meta = client.head_object(BUCKET, "cold/a.bin").await.unwrap();
    assert_eq!(meta.storage_class.as_deref(), Some("ARCHIVE"));
    assert_eq!(meta.restore, None);

    let out = client
        .restore_object(BUCKET, "cold/a.bin", 2, RestoreTier::Expedited)
        .await
        .unwrap();
    assert!(out.started, "202: a restore started");
    let meta = client.head_object(BUCKET, "cold/a.bin").await.unwrap();
    assert_eq!(meta.restore, Some(RestoreStatus::InProgress));
    let e = client.get_object(BUCKET, "cold/a.bin").await.unwrap_err();
    assert_eq!(code(&e), "InvalidObjectState");
    let e = client
        .restore_object(BUCKET, "cold/a.bin", 2, RestoreTier::Expedited)
        .await
        .unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (Some(409), "RestoreAlreadyInProgress"),
        "{e}"
    );

    // Expedited restores of ARCHIVE objects take up to 5 minutes.
    emu.advance_object_clock(Duration::from_secs(4 * 60));
    assert_eq!(
        client
            .head_object(BUCKET, "cold/a.bin")
            .await
            .unwrap()
            .restore,
        Some(RestoreStatus::InProgress)
    );
    emu.advance_object_clock(Duration::from_secs(60));
    let meta = client.head_object(BUCKET, "cold/a.bin").await.unwrap();
    let Some(RestoreStatus::Restored {
        expiry: Some(expiry),
    }) = meta.restore
    else {
        panic!("restored with an expiry date: {:?}", meta.restore);
    };
    // Two days of the (advanced) object clock from completion.
    let ahead = expiry.duration_since(SystemTime::now()).unwrap_or_default();
    assert!(
        ahead > DAY && ahead <= 2 * DAY + Duration::from_secs(600),
        "{ahead:?}"
    );
    assert_eq!(read_back(&client, "cold/a.bin").await, body);

    // Restoring a restored object only moves the expiry (200, not 202).
    let again = client
        .restore_object(BUCKET, "cold/a.bin", 1, RestoreTier::Bulk)
        .await
        .unwrap();
    assert!(!again.started);

    // The copy lasts the days asked for, then the object is cold again.
    emu.advance_object_clock(DAY + Duration::from_secs(1));
    let e = client.get_object(BUCKET, "cold/a.bin").await.unwrap_err();
    assert_eq!(code(&e), "InvalidObjectState");
    assert_eq!(
        client
            .head_object(BUCKET, "cold/a.bin")
            .await
            .unwrap()
            .restore,
        None
    );

    let stats = emu.stats();
    assert_eq!(stats.auth_failures, 0, "every request was signed correctly");
    assert_eq!(stats.operation("PostRestore"), 3);
}

#[tokio::test]
async fn deep_archive_bulk_takes_two_days() {
    let (emu, client) = setup().await;
    put_archived(&client, "deep.bin", StorageClass::DEEP_ARCHIVE).await;
    let e = client
        .restore_object(BUCKET, "deep.bin", 1, RestoreTier::Expedited)
        .await
        .unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (Some(400), "InvalidArgument"),
        "{e}"
    );
    client
        .restore_object(BUCKET, "deep.bin", 1, RestoreTier::Bulk)
        .await
        .unwrap();
    emu.advance_object_clock(DAY);
    assert!(client.get_object(BUCKET, "deep.bin").await.is_err());
    emu.advance_object_clock(DAY);
    assert!(client.get_object(BUCKET, "deep.bin").await.is_ok());
}

#[tokio::test]
async fn restore_delay_knob_accelerates_every_tier() {
    let emu = Emulator::builder()
        .credentials(SECRET_ID, SECRET_KEY)
        .bucket(BUCKET)
        .restore_delay(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let client = client(&emu);
    let body = put_archived(&client, "now.bin", StorageClass::ARCHIVE).await;
    client
        .restore_object(BUCKET, "now.bin", 1, RestoreTier::Bulk)
        .await
        .unwrap();
    assert_eq!(read_back(&client, "now.bin").await, body);
}

#[tokio::test]
async fn refusals() {
    let (emu, client) = setup().await;
    client.put_object(BUCKET, "hot.txt", "warm").await.unwrap();
    let e = client
        .restore_object(BUCKET, "hot.txt", 1, RestoreTier::Standard)
        .await
        .unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (Some(405), "RestoreNonArchiveObject"),
        "{e}"
    );
    let e = client
        .restore_object(BUCKET, "missing", 1, RestoreTier::Standard)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchKey");

    // Bad input never reaches the server.
    let before = emu.stats().requests;
    let e = client
        .restore_object(BUCKET, "hot.txt", 0, RestoreTier::Standard)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { what: "days", .. }), "{e}");
    assert!(client
        .restore_object("Bad_Bucket", "k", 1, RestoreTier::Standard)
        .await
        .is_err());
    assert_eq!(emu.stats().requests, before);

    // A copy of an archived object needs its restore too.
    put_archived(&client, "cold.bin", StorageClass::ARCHIVE).await;
    let e = client
        .copy_object(BUCKET, "cold.bin", BUCKET, "copy.bin", &Default::default())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidObjectState");
}
