//! `coscls-emulator`: a local Tencent Cloud COS + CLS server that verifies
//! every signature.
//!
//! No COS or CLS can be reached from a laptop or a CI runner, and an
//! emulator that accepted any signature would hide signing bugs. This one
//! recomputes the `q-sign` signature of every request over exactly the
//! headers and parameters the client listed, checks the key-time window and
//! session tokens, and refuses the way COS (`403 SignatureDoesNotMatch` with
//! the server's `StringToSign`/`FormatString`, `InvalidAccessKeyId`,
//! `RequestTimeTooSkewed`, `AccessDenied "Request has expired"`) and CLS
//! (`401 Unauthorized`) do.
//!
//! It serves, on loopback:
//!
//! * COS objects: PutObject, GetObject (Range, `If-*`, `response-*`),
//!   HeadObject, DeleteObject, DeleteMultipleObjects, CopyObject, and
//!   multipart upload (Initiate, UploadPart, UploadPartCopy, Complete with order/ETag/size
//!   checks, Abort, ListParts, ListMultipartUploads), with `x-cos-meta-*`,
//!   `ETag` and `x-cos-hash-crc64ecma` (CRC-64/XZ);
//! * archives: `ARCHIVE` / `DEEP_ARCHIVE` objects answer GET with 403
//!   `InvalidObjectState` until PostRestore (`?restore`) made a copy, which
//!   takes its tier's time on an object clock that tests move with
//!   [`Emulator::advance_object_clock`] (or [`EmulatorBuilder::restore_delay`])
//!   and expires after the days asked for; HEAD reports `x-cos-restore`;
//! * AppendObject (`?append&position=`) with `AppendPositionErr` and
//!   `ObjectNotAppendable`, and POST Object (browser form uploads) whose
//!   policy signature, expiry and conditions are checked;
//! * COS buckets: PutBucket, HeadBucket, DeleteBucket, GET Bucket (prefix,
//!   delimiter, marker, max-keys, encoding-type) and GET Service;
//! * ACLs on unsigned requests: a GET/HEAD of an object passes when its ACL
//!   (or, without one, its bucket's) is `public-read` or grants AllUsers
//!   READ, and such a bucket lists unsigned; anything else unsigned is
//!   403 `AccessDenied`. Signed requests act as the owner;
//! * CLS `POST /structuredlog?topic_id=` with protobuf `LogGroupList`, raw
//!   LZ4 block, zstd frame or uncompressed, and the CLS request limits (the
//!   6 MiB limit applies to the decompressed body and stops decompression);
//! * an unsigned admin API under `/_emulator/` (see [`admin`](crate#admin-api)).
//!
//! The bucket comes from the Host header (`<bucket>.cos.<region>.<domain>`,
//! signed path `/<key>`) or, on an IP or `localhost` host, from the first
//! path segment (signed path: the whole decoded path `/<bucket>/<key>`).
//! Absolute-form request targets are accepted, so unmodified SDKs reach the
//! emulator through their HTTP proxy setting; the target's host must then be
//! the Host header's (a default port aside), because routing and signature
//! verification use that one host: otherwise `403 AccessDenied` (CLS: `401`).
//!
//! Objects live in memory (as 1 MiB chunks) or, with
//! [`EmulatorBuilder::data_dir`], in files that survive a restart; bodies
//! stream in both directions, so a large upload to a data directory takes
//! little memory.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use coscls_emulator::{Emulator, FaultConfig};
//! let emu = Emulator::builder()
//!     .credentials("AKIDtest", "test-secret")
//!     .temporary_credentials("AKIDsts", "sts-secret", "sts-token")
//!     .bucket("examplebucket-1250000000")
//!     .start()
//!     .await?;
//! println!("COS and CLS at {}", emu.endpoint());
//! emu.set_faults(FaultConfig { error_rate: 0.3, error_status: 503, ..Default::default() })?;
//! assert_eq!(emu.stats().requests, 0);
//! emu.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Admin API
//!
//! | request | answer |
//! |---|---|
//! | `GET /_emulator/stats` | [`Stats`] as JSON; `DELETE` resets |
//! | `GET`/`PUT /_emulator/faults` | [`FaultConfig`] as JSON (`latency` as `latency_ms`) |
//! | `GET /_emulator/cls/{topic_id}/logs` | JSON array of [`ReceivedLog`]; `DELETE` clears |
//! | `GET /_emulator/cls/topics` | topics that received logs |
//! | `GET /_emulator/health` | `{"status":"ok"}` |
//! | `POST /_emulator/clock/advance/{secs}` | moves the object clock (archive restores) forward |
//!
//! # Standalone
//!
//! ```text
//! cargo run -p coscls-emulator -- --listen 127.0.0.1:9000 --secret-id ID --secret-key KEY
//! ```
//! prints `coscls-emulator listening on http://127.0.0.1:9000`; `--help` lists every flag.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod admin;
mod body;
mod builder;
mod canonical;
mod cls;
mod cos;
mod faults;
mod routing;
mod server;
mod state;
mod store;
mod time;
mod verify;
mod wire_case;

#[cfg(test)]
mod vector_tests;

pub use builder::{
    Emulator, EmulatorBuilder, StartError, DEFAULT_MIN_PART_SIZE, DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
};
pub use faults::{FaultConfig, InvalidFault};
pub use state::{ReceivedLog, Stats};
