//! Shared setup of the COS integration tests: an embedded emulator and a
//! client pointed at it.

#![allow(dead_code)]

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

/// What [`Tamper`] does to the matching requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mischief {
    /// Sends the request, then reports a broken connection instead of the
    /// answer: the server acted, the client does not know.
    LoseResponse,
    /// Replaces the answer's `x-cos-hash-crc64ecma` with a wrong value, as
    /// if the bytes had been damaged on the way.
    WrongCrc,
}

/// A transport that misbehaves on the first `times` requests matching
/// `method` and a query parameter, then behaves.
#[derive(Debug)]
pub struct Tamper {
    inner: coscls::transport::ReqwestTransport,
    method: http::Method,
    param: &'static str,
    mischief: Mischief,
    remaining: std::sync::atomic::AtomicU32,
}

impl Tamper {
    pub fn new(
        method: http::Method,
        param: &'static str,
        mischief: Mischief,
        times: u32,
    ) -> Arc<Self> {
        Arc::new(Tamper {
            inner: coscls::transport::ReqwestTransport::new(Default::default()).expect("transport"),
            method,
            param,
            mischief,
            remaining: std::sync::atomic::AtomicU32::new(times),
        })
    }

    pub fn remaining(&self) -> u32 {
        self.remaining.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl HttpSend for Tamper {
    fn send(
        &self,
        request: http::Request<coscls::transport::RequestBody>,
    ) -> coscls::auth::BoxFuture<
        '_,
        Result<http::Response<coscls::transport::ResponseBody>, coscls::transport::Error>,
    > {
        use std::sync::atomic::Ordering;
        let matches = request.method() == self.method
            && request.uri().query().is_some_and(|q| {
                q.split('&')
                    .any(|p| p.split('=').next() == Some(self.param))
            });
        let armed = matches
            && self
                .remaining
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        Box::pin(async move {
            let response = self.inner.send(request).await?;
            if !armed {
                return Ok(response);
            }
            match self.mischief {
                Mischief::LoseResponse => {
                    let (_, body) = response.into_parts();
                    let _ = body.collect(1 << 20).await;
                    Err(coscls::transport::Error::new(
                        coscls::transport::ErrorKind::Request,
                        "connection reset (injected by the test)",
                    ))
                }
                Mischief::WrongCrc => {
                    let (mut parts, body) = response.into_parts();
                    parts.headers.insert(
                        "x-cos-hash-crc64ecma",
                        http::HeaderValue::from_static("12345"),
                    );
                    Ok(http::Response::from_parts(parts, body))
                }
            }
        })
    }
}

pub mod hostile;

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
