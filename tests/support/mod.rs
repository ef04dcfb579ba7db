//! Support shared by the integration tests (each includes it with
//! `mod support;`):
//!
//! - here: an embedded emulator, a client pointed at it, test data;
//! - [`scripted`]: the one test transport (scripted answers, or the real
//!   transport with per-request tampering, requests recorded);
//! - [`recorder`]: the one in-memory telemetry observer (spans through
//!   `tracing-opentelemetry`, metrics through an in-memory reader);
//! - [`otlp`]: OTLP receivers and a plain HTTP stand-in for COS, for the
//!   tests of what leaves the process;
//! - [`hostile`]: a misbehaving raw HTTP server.
//!
//! Each test binary uses part of it.

#![allow(dead_code, unused_imports)]

use std::sync::Arc;
use std::time::Duration;

use coscls::auth::Credentials;
use coscls::cos::{Client, ClientBuilder};
use coscls::transport::retry::RetryPolicy;
use coscls::transport::HttpSend;
use coscls_emulator::Emulator;

pub const BUCKET: &str = "examplebucket-1250000000";
pub const SECRET_ID: &str = "AKIDtest";
pub const SECRET_KEY: &str = "test-secret";
pub const MIB: usize = 1024 * 1024;

pub async fn emulator() -> Emulator {
    Emulator::builder()
        .credentials(SECRET_ID, SECRET_KEY)
        .bucket(BUCKET)
        .start()
        .await
        .expect("emulator starts")
}

/// Retries quickly so fault tests stay fast.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(10)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(20))
}

pub fn builder(emu: &Emulator) -> ClientBuilder {
    Client::builder()
        .region("ap-guangzhou")
        .endpoint(emu.endpoint())
        .credentials(Credentials::new(SECRET_ID, SECRET_KEY).expect("credentials"))
        .retry_policy(fast_retries())
}

pub fn client(emu: &Emulator) -> Client {
    builder(emu).build().expect("client")
}

pub fn client_with_transport(emu: &Emulator, transport: Arc<dyn HttpSend>) -> Client {
    builder(emu).transport(transport).build().expect("client")
}

pub async fn setup() -> (Emulator, Client) {
    let emu = emulator().await;
    let client = client(&emu);
    (emu, client)
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// `upload_stream` with 1 MiB parts, the smallest COS allows, so a few MiB
/// of test data make several parts.
pub async fn upload_in_mib_parts(
    client: &Client,
    key: &str,
    body: &[u8],
) -> Result<coscls::cos::UploadOutput, coscls::cos::Error> {
    let opts = coscls::cos::UploadOptions::default().part_size(MIB as u64);
    client.upload_stream(BUCKET, key, body, &opts).await
}

/// The whole object as stored, read back in one GET.
pub async fn read_back(client: &Client, key: &str) -> bytes::Bytes {
    client
        .get_object(BUCKET, key)
        .await
        .expect("get_object")
        .body
        .bytes()
        .await
        .expect("object body")
}

/// Nothing is left half-uploaded in the bucket.
pub async fn assert_no_pending_uploads(client: &Client) {
    let pending = client
        .list_multipart_uploads(BUCKET, None)
        .await
        .expect("list_multipart_uploads");
    assert!(pending.is_empty(), "uploads left behind: {pending:?}");
}

pub mod hostile;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "otlp")]
pub mod recorder;
pub mod scripted;

pub use scripted::{Act, Reply, Rule, Scripted, When};

/// A client of the hostile server at `endpoint`: quick retries, 3 attempts,
/// and a short read timeout so a stalled answer fails quickly.
pub fn hostile_client(endpoint: &str) -> Client {
    Client::builder()
        .region("ap-guangzhou")
        .endpoint(endpoint)
        .credentials(Credentials::new(SECRET_ID, SECRET_KEY).expect("credentials"))
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(3)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .read_timeout(Duration::from_millis(500))
        .build()
        .expect("client")
}
