//! The transfer managers: objects of any size moved in parts with bounded
//! memory, resumable through checkpoint files.

pub(crate) mod checkpoint;
pub(crate) mod copy;
pub(crate) mod download;
pub(crate) mod resume;
pub(crate) mod stale;
