//! Blobs kept in memory as 1 MiB chunks (never one huge allocation).

use std::io;
use std::sync::Arc;

use bytes::Bytes;

use super::{Blob, ByteStream};

/// Streams `len` bytes from `start` as slices of the stored chunks.
pub(super) fn read(chunks: &Arc<Vec<Bytes>>, start: u64, len: u64) -> ByteStream {
    let mut out = Vec::new();
    let mut offset = 0u64;
    let end = start.saturating_add(len);
    for chunk in chunks.iter() {
        let chunk_end = offset + chunk.len() as u64;
        if chunk_end > start && offset < end {
            let from = start.saturating_sub(offset) as usize;
            let to = (end.min(chunk_end) - offset) as usize;
            out.push(Ok(chunk.slice(from..to)));
        }
        offset = chunk_end;
        if offset >= end {
            break;
        }
    }
    Box::pin(futures_util::stream::iter(out))
}

/// Joins blobs by sharing their chunks.
pub(super) fn concat(blobs: &[Blob]) -> io::Result<Blob> {
    let mut chunks = Vec::new();
    for blob in blobs {
        match blob {
            Blob::Memory(c) => chunks.extend(c.iter().cloned()),
            Blob::File(_) => {
                return Err(io::Error::other("a file blob in the memory store"));
            }
        }
    }
    Ok(Blob::Memory(Arc::new(chunks)))
}
