//! Service limits shared by several operations (docs/protocol/cos.md §3):
//! checked locally so a request COS would refuse is never sent.

/// The most metadata COS stores per object, names and values together (docs/protocol/cos.md §3).
pub const MAX_METADATA_BYTES: usize = 2048;
/// Smallest part of a multipart upload except the last (1 MiB).
pub const MIN_PART_SIZE: u64 = 1024 * 1024;
/// Largest part of a multipart upload and largest single PUT (5 GiB).
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Most parts in one multipart upload.
pub const MAX_PARTS: u32 = 10_000;
/// `x-cos-traffic-limit` bounds, in bit/s (docs/protocol/cos.md §3).
pub const TRAFFIC_LIMIT_RANGE: std::ops::RangeInclusive<u64> = 819_200..=838_860_800;
