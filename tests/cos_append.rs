//! AppendObject against the embedded emulator: position 0 creates an
//! appendable object, each append names the current length, normal objects
//! refuse appends, and a retried append cannot write its bytes twice.

mod support;

use coscls::cos::{crc64, Error, PutOptions};
use coscls_emulator::Emulator;
use support::*;

fn code(e: &Error) -> &str {
    e.code().unwrap_or("<no code>")
}

#[tokio::test]
async fn appends_round_trip() {
    let (emu, client) = setup().await;
    let opts = PutOptions::default()
        .content_type("text/plain")
        .metadata("source", "test");
    let first = client
        .append_object(BUCKET, "log.txt", 0, "hello ", &opts)
        .await
        .unwrap();
    assert_eq!(first.next_position, 6);
    assert_eq!(first.crc64, Some(crc64::checksum(b"hello ")));
    let second = client
        .append_object(
            BUCKET,
            "log.txt",
            first.next_position,
            "world",
            &PutOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(second.next_position, 11);
    assert_eq!(second.crc64, Some(crc64::checksum(b"hello world")));
    assert_ne!(first.etag, second.etag);

    assert_eq!(read_back(&client, "log.txt").await, "hello world");
    let meta = client.head_object(BUCKET, "log.txt").await.unwrap();
    assert_eq!(meta.object_type.as_deref(), Some("appendable"));
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        meta.metadata.get("source").map(String::as_str),
        Some("test")
    );
    assert_eq!(meta.content_length, 11);

    let stats = emu.stats();
    assert_eq!(stats.auth_failures, 0);
    assert_eq!(stats.operation("AppendObject"), 2);
}

#[tokio::test]
async fn wrong_positions_and_normal_objects_are_refused() {
    let (_emu, client) = setup().await;
    let none = PutOptions::default();
    client
        .append_object(BUCKET, "a", 0, "abc", &none)
        .await
        .unwrap();
    for pos in [0, 2, 4] {
        let e = client
            .append_object(BUCKET, "a", pos, "x", &none)
            .await
            .unwrap_err();
        assert_eq!(
            (e.status(), code(&e)),
            (Some(409), "AppendPositionErr"),
            "{e}"
        );
    }
    let e = client
        .append_object(BUCKET, "new", 5, "x", &none)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AppendPositionErr");

    client.put_object(BUCKET, "normal", "n").await.unwrap();
    let e = client
        .append_object(BUCKET, "normal", 1, "x", &none)
        .await
        .unwrap_err();
    assert_eq!(
        (e.status(), code(&e)),
        (Some(409), "ObjectNotAppendable"),
        "{e}"
    );

    // A PUT over an appendable object makes it a normal one.
    client.put_object(BUCKET, "a", "fresh").await.unwrap();
    let e = client
        .append_object(BUCKET, "a", 5, "x", &none)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ObjectNotAppendable");
    assert_eq!(
        client
            .head_object(BUCKET, "a")
            .await
            .unwrap()
            .object_type
            .as_deref(),
        Some("normal")
    );

    // Nothing was changed by the refusals.
    assert_eq!(read_back(&client, "normal").await, "n");
    assert!(client.head_object(BUCKET, "new").await.is_err());
}

#[tokio::test]
async fn bad_input_is_refused_locally() {
    let (emu, client) = setup().await;
    let before = emu.stats().requests;
    let e = client
        .append_object(BUCKET, "k", 0, "", &PutOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { what: "body", .. }), "{e}");
    assert!(client
        .append_object(BUCKET, "", 0, "x", &PutOptions::default())
        .await
        .is_err());
    assert!(client
        .append_object(
            BUCKET,
            "k",
            coscls::cos::MAX_APPENDABLE_SIZE,
            "x",
            &PutOptions::default()
        )
        .await
        .is_err());
    assert_eq!(emu.stats().requests, before);
}

#[tokio::test]
async fn size_limit_is_enforced_by_the_server() {
    let emu = Emulator::builder()
        .credentials(SECRET_ID, SECRET_KEY)
        .bucket(BUCKET)
        .max_object_size(10)
        .start()
        .await
        .unwrap();
    let client = client(&emu);
    let none = PutOptions::default();
    client
        .append_object(BUCKET, "s", 0, "12345678", &none)
        .await
        .unwrap();
    let e = client
        .append_object(BUCKET, "s", 8, "abc", &none)
        .await
        .unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(400), "EntityTooLarge"), "{e}");
    assert_eq!(read_back(&client, "s").await, "12345678");
}

#[tokio::test]
async fn a_retried_append_is_not_written_twice() {
    let emu = emulator().await;
    // The first append's answer is lost after the server appended.
    let tamper = Scripted::tamper(http::Method::POST, "append", Act::LoseResponse, 1);
    let client = client_with_transport(&emu, tamper.clone());
    let none = PutOptions::default();
    let e = client
        .append_object(BUCKET, "r", 0, "once", &none)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AppendPositionErr", "{e}");
    assert_eq!(tamper.remaining(), 0);
    assert_eq!(read_back(&client, "r").await, "once");
    // The object's length says where to continue.
    let len = client
        .head_object(BUCKET, "r")
        .await
        .unwrap()
        .content_length;
    client
        .append_object(BUCKET, "r", len, "+more", &none)
        .await
        .unwrap();
    assert_eq!(read_back(&client, "r").await, "once+more");
}
