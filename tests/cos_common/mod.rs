//! Shared setup of the COS integration tests: an embedded emulator and a
//! client pointed at it.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use coscls::auth::Credentials;
use coscls::cos::{Client, ClientBuilder, Endpoint};
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
        .endpoint(Endpoint::custom(&emu.endpoint()).expect("emulator endpoint"))
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
