//! Streams an object up and down without holding it in memory, and measures
//! how much the process's peak resident memory grew.
//!
//! The default size (64 MiB) keeps `cargo test` quick; set
//! `COSCLS_BIG_TESTS=1` for the 1 GiB run. Data is generated on the fly,
//! uploaded with `upload_stream` (8 MiB parts, 4 in flight), stored by the
//! emulator on disk, and read back with a streaming `get_object` into a
//! hashing sink. This is the only test in its binary, so the peak memory
//! figure is its own (client and embedded emulator together).

mod support;

use std::pin::Pin;
use std::task::{Context, Poll};

use coscls::cos::crc64::Crc64;
use coscls::cos::UploadOptions;
use futures_util::StreamExt;
use support::*;
use tokio::io::{AsyncRead, ReadBuf};

/// Yields `len` bytes of a fixed random block, each 64 KiB stamped with its
/// index so no two parts are alike, and hashes what it yields.
struct Generator {
    block: Vec<u8>,
    len: u64,
    pos: u64,
    crc: Crc64,
}

impl Generator {
    fn new(len: u64) -> Self {
        Generator {
            block: data(64 * 1024, 99),
            len,
            pos: 0,
            crc: Crc64::new(),
        }
    }
}

impl AsyncRead for Generator {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let block_len = self.block.len() as u64;
        let left = self.len - self.pos;
        let in_block = self.pos % block_len;
        let n = (block_len - in_block).min(left).min(buf.remaining() as u64) as usize;
        if n == 0 {
            return Poll::Ready(Ok(()));
        }
        let start = in_block as usize;
        let mut chunk = self.block[start..start + n].to_vec();
        if in_block == 0 {
            let stamp = (self.pos / block_len).to_le_bytes();
            let k = stamp.len().min(chunk.len());
            chunk[..k].copy_from_slice(&stamp[..k]);
        }
        self.crc.update(&chunk);
        self.pos += n as u64;
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_object_streams_up_and_down_in_bounded_memory() {
    let big = std::env::var("COSCLS_BIG_TESTS").is_ok_and(|v| v == "1");
    let len: u64 = if big { 1 << 30 } else { 64 << 20 };
    let store = tempfile::tempdir().unwrap();
    let emu = coscls_emulator::Emulator::builder()
        .credentials(SECRET_ID, SECRET_KEY)
        .bucket(BUCKET)
        .data_dir(store.path())
        .start()
        .await
        .unwrap();
    let c = client(&emu);
    let rss_before = status_kib("VmRSS:");
    let started = std::time::Instant::now();

    let mut source = Generator::new(len);
    let out = c
        .upload_stream(BUCKET, "big.bin", &mut source, &UploadOptions::default())
        .await
        .unwrap();
    let uploaded = started.elapsed();
    assert_eq!(out.size, len);
    assert_eq!(out.parts as u64, len.div_ceil(8 << 20));
    assert_eq!(
        out.crc64,
        Some(source.crc.value()),
        "server CRC = generated CRC"
    );

    let mut sink = Crc64::new();
    let mut body = c.get_object(BUCKET, "big.bin").await.unwrap().body;
    while let Some(chunk) = body.next().await {
        sink.update(&chunk.unwrap());
    }
    let total = started.elapsed();
    assert_eq!(sink.len(), len);
    assert_eq!(sink.value(), source.crc.value());

    let peak = status_kib("VmHWM:");
    let growth_mib = peak.saturating_sub(rss_before) / 1024;
    println!(
        "streamed {} MiB up in {:.1?} and down in {:.1?}; RSS before {} MiB, peak {} MiB, growth {growth_mib} MiB",
        len >> 20,
        uploaded,
        total - uploaded,
        rss_before / 1024,
        peak / 1024,
    );
    assert!(
        growth_mib < 512,
        "peak memory grew by {growth_mib} MiB for a {} MiB object",
        len >> 20
    );
}
