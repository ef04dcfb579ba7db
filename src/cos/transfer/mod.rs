//! The transfer managers: objects of any size moved in parts with bounded
//! memory, retried per part, resumable through checkpoint files. They are
//! built on the operations in `ops/` and add no wire format of their own.

use std::fmt;
use std::sync::Arc;

pub(crate) mod checkpoint;
pub(crate) mod copy;
pub(crate) mod download;
pub(crate) mod plan;
pub(crate) mod resume;
pub(crate) mod stale;
pub(crate) mod upload;

/// How far a transfer has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes confirmed so far.
    pub transferred: u64,
    /// Total bytes, when known.
    pub total: Option<u64>,
}

impl Progress {
    /// `transferred` bytes of `total`.
    pub fn new(transferred: u64, total: Option<u64>) -> Self {
        Progress { transferred, total }
    }
}

/// A progress callback; called from the transfer's tasks, so keep it quick.
#[derive(Clone)]
pub struct ProgressCallback(Arc<dyn Fn(Progress) + Send + Sync>);

impl ProgressCallback {
    /// Wraps a closure.
    pub fn new(f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        ProgressCallback(Arc::new(f))
    }

    pub(crate) fn call(&self, p: Progress) {
        (self.0)(p)
    }
}

impl fmt::Debug for ProgressCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressCallback")
    }
}
