//! Fuzz target bodies, plain functions so that a stable-toolchain test
//! (`tests/replay.rs`) replays every committed corpus file through exactly
//! the code `cargo fuzz` runs.
//!
//! * [`cos_response`] and [`cls_response`] answer the real client
//!   operations with one arbitrary HTTP response, through a fake
//!   [`HttpSend`], so the operation code (status handling, header typing,
//!   XML and body checks, pagination) runs as it would against a server.
//! * [`emulator_request`] writes arbitrary bytes to an in-process
//!   `coscls_emulator` over loopback TCP, so its HTTP parsing, routing,
//!   signature checks, admin API and handlers see them as a client's.
//!
//! A target's only assertion is that nothing panics or hangs: every input
//! must end in an answer or an error.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coscls::auth::{BoxFuture, Credentials};
use coscls::transport::retry::RetryPolicy;
use coscls::transport::{self, HttpSend, RequestBody, ResponseBody};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BUCKET: &str = "examplebucket-1250000000";

/// One response, parsed from fuzz bytes: `[op, status_hi, status_lo]`, then
/// `name: value` header lines, a blank line (`\n\n`), and the body.
#[derive(Debug, Clone)]
struct Scripted {
    op: u8,
    status: http::StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
    /// Size of the body's chunks as the transport yields them.
    chunk: usize,
}

impl Scripted {
    fn parse(data: &[u8]) -> Option<Self> {
        let (&[op, hi, lo], rest) = data.split_first_chunk::<3>()?;
        let code = 100 + u16::from_be_bytes([hi, lo]) % 900;
        let status = http::StatusCode::from_u16(code).ok()?;
        let split = rest.windows(2).position(|w| w == b"\n\n");
        let (head, body) = match split {
            Some(i) => (&rest[..i], &rest[i + 2..]),
            None => (rest, &[][..]),
        };
        let mut headers = http::HeaderMap::new();
        for line in head.split(|&b| b == b'\n') {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let name = http::HeaderName::from_bytes(&line[..colon]);
            let value = http::HeaderValue::from_bytes(line[colon + 1..].trim_ascii());
            if let (Ok(name), Ok(value)) = (name, value) {
                headers.append(name, value);
            }
        }
        Some(Scripted {
            op: op & 0x0f,
            status,
            headers,
            body: Bytes::copy_from_slice(body),
            chunk: 1 + usize::from(op >> 4) * 7,
        })
    }
}

impl HttpSend for Scripted {
    fn send(
        &self,
        _request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, transport::Error>> {
        let chunks: Vec<Result<Bytes, transport::Error>> = self
            .body
            .chunks(self.chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut response =
            http::Response::new(ResponseBody::new(futures_util::stream::iter(chunks)));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        Box::pin(std::future::ready(Ok(response)))
    }
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    RUNTIME.with(|rt| rt.block_on(f))
}

fn credentials() -> Credentials {
    Credentials::new("AKIDfuzz", "fuzz-secret").expect("credentials")
}

/// Answers one COS operation (chosen by the first byte) with the scripted
/// response; each outcome is fine as long as it is reached.
pub fn cos_response(data: &[u8]) {
    let Some(scripted) = Scripted::parse(data) else {
        return;
    };
    let op = scripted.op;
    let client = coscls::cos::Client::builder()
        .region("ap-guangzhou")
        .credentials(credentials())
        .retry_policy(RetryPolicy::none())
        .transport(Arc::new(scripted))
        .build()
        .expect("client");
    block_on(async move {
        use coscls::cos::{ByteRange, CompletedPart, GetOptions, ListOptions};
        let c = &client;
        match op {
            0 => {
                if let Ok(o) = c.get_object(BUCKET, "k").await {
                    let _ = o.meta();
                    let _ = o.body.bytes().await;
                }
            }
            1 => {
                let opts = GetOptions::default().range(ByteRange::from(5));
                if let Ok(o) = c.get_object_with(BUCKET, "k", &opts).await {
                    let _ = o.content_range();
                    let mut sink = Vec::new();
                    let _ = o.body.write_to(&mut sink).await;
                }
            }
            2 => drop(c.head_object(BUCKET, "k").await),
            3 => drop(c.list_objects(BUCKET, &ListOptions::default()).await),
            4 => {
                // Every page is the same answer: the stream must end by itself.
                let pages: Vec<_> = c
                    .list_objects_stream(BUCKET, ListOptions::default())
                    .take(5)
                    .collect()
                    .await;
                assert!(pages.len() < 5, "a repeated page did not end the listing");
            }
            5 => drop(c.list_parts(BUCKET, "k", "u1").await),
            6 => drop(c.list_multipart_uploads(BUCKET, None).await),
            7 => drop(
                c.create_multipart_upload(BUCKET, "k", &Default::default())
                    .await,
            ),
            8 => {
                let parts = [CompletedPart::new(1, "\"e\"", 3, 7)];
                drop(c.complete_multipart_upload(BUCKET, "k", "u1", &parts).await)
            }
            9 => drop(
                c.copy_object(BUCKET, "a", BUCKET, "b", &Default::default())
                    .await,
            ),
            10 => drop(c.delete_objects(BUCKET, ["a", "b"]).await),
            11 => drop(c.put_object(BUCKET, "k", "hello").await),
            12 => drop(c.head_bucket(BUCKET).await),
            13 => drop(c.object_exists(BUCKET, "k").await),
            14 => drop(
                c.upload_part(BUCKET, "k", "u1", 1, "abc", &Default::default())
                    .await,
            ),
            _ => drop(c.delete_object(BUCKET, "k").await),
        }
    });
}

/// Answers one CLS upload with the scripted response.
pub fn cls_response(data: &[u8]) {
    let Some(scripted) = Scripted::parse(data) else {
        return;
    };
    let client = coscls::cls::Client::builder()
        .region("ap-guangzhou")
        .credentials(credentials())
        .retry_policy(RetryPolicy::none())
        .transport(Arc::new(scripted))
        .build()
        .expect("client");
    block_on(async move {
        use coscls::cls::{Log, LogGroup, LogGroupList};
        let logs = LogGroupList::new(vec![LogGroup::new(vec![Log::new(1).field("k", "v")])]);
        let _ = client
            .put_logs("0b8b2a0f-0000-4000-8000-000000000000", &logs)
            .await;
    });
}

thread_local! {
    static EMULATOR: RefCell<Option<coscls_emulator::Emulator>> = const { RefCell::new(None) };
}

/// Sends `data` as raw bytes on one connection to an in-process emulator
/// and reads the answer until the emulator closes the connection (or a
/// second of silence). Faults an input set through the admin API are reset
/// afterwards, so inputs do not leak into each other.
pub fn emulator_request(data: &[u8]) {
    let endpoint = EMULATOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        let emu = cell.get_or_insert_with(|| {
            block_on(
                coscls_emulator::Emulator::builder()
                    .credentials("AKIDfuzz", "fuzz-secret")
                    .bucket(BUCKET)
                    .start(),
            )
            .expect("the emulator starts")
        });
        emu.endpoint()
    });
    let addr = endpoint.trim_start_matches("http://").to_string();
    block_on(async move {
        let Ok(mut stream) = tokio::net::TcpStream::connect(&addr).await else {
            return;
        };
        if stream.write_all(data).await.is_err() {
            return;
        }
        let _ = stream.shutdown().await;
        let mut buf = [0u8; 64 * 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => continue,
                _ => break,
            }
        }
    });
    EMULATOR.with(|cell| {
        if let Some(emu) = cell.borrow().as_ref() {
            emu.set_faults(coscls_emulator::FaultConfig::default());
        }
    });
}
