//! CRC-64/XZ, the checksum COS reports in `x-cos-hash-crc64ecma` (docs/protocol/cos.md §6).
//!
//! COS computes "CRC-64 per ECMA-182" the way Go's `hash/crc64` with the ECMA
//! table does: reflected polynomial, initial value and final XOR all ones,
//! which is the catalogued CRC-64/XZ. Part checksums combine into the
//! whole-object checksum without re-reading the data, which is how a
//! multipart upload or a concurrent download is verified.

use crc_fast::{checksum_combine, CrcAlgorithm, Digest};

const ALGORITHM: CrcAlgorithm = CrcAlgorithm::Crc64Xz;

/// The CRC-64/XZ of `data` in one call.
///
/// ```
/// use coscls::cos::crc64;
/// assert_eq!(crc64::checksum(b"123456789"), 0x995D_C9BB_DF19_39FA);
/// assert_eq!(crc64::checksum(b""), 0);
/// ```
pub fn checksum(data: &[u8]) -> u64 {
    crc_fast::checksum(ALGORITHM, data)
}

/// The checksum of `A ++ B` from `crc(A)`, `crc(B)` and `len(B)`.
///
/// ```
/// use coscls::cos::crc64;
/// let whole = crc64::combine(crc64::checksum(b"hello "), crc64::checksum(b"cos"), 3);
/// assert_eq!(whole, crc64::checksum(b"hello cos"));
/// ```
pub fn combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    checksum_combine(ALGORITHM, crc_a, crc_b, len_b)
}

/// A streaming CRC-64/XZ that also counts the bytes it has seen.
///
/// It keeps only the running state, not a whole `crc_fast::Digest` (which
/// carries its algorithm's key table, a few hundred bytes): every
/// downloaded body holds one, and bodies travel by value.
///
/// ```
/// use coscls::cos::crc64::Crc64;
/// let mut crc = Crc64::new();
/// crc.update(b"hello ");
/// crc.update(b"cos");
/// assert_eq!(crc.value(), 13242225731321912570);
/// assert_eq!(crc.len(), 9);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Crc64 {
    state: u64,
    len: u64,
}

/// CRC-64/XZ's initial register and final XOR are both all ones.
const ALL_ONES: u64 = u64::MAX;

impl Default for Crc64 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc64 {
    /// A digest over no bytes yet.
    pub fn new() -> Self {
        Crc64 {
            state: ALL_ONES,
            len: 0,
        }
    }

    /// Feeds more bytes.
    pub fn update(&mut self, data: &[u8]) {
        let mut digest = Digest::new_with_init_state(ALGORITHM, self.state);
        digest.update(data);
        self.state = digest.get_state();
        self.len += data.len() as u64;
    }

    /// The checksum of everything fed so far.
    pub fn value(&self) -> u64 {
        self.state ^ ALL_ONES
    }

    /// How many bytes were fed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no bytes were fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Folds per-part `(crc, len)` pairs, in part order, into the checksum of
/// the concatenation.
///
/// ```
/// use coscls::cos::crc64;
/// let parts = [(crc64::checksum(b"ab"), 2), (crc64::checksum(b""), 0), (crc64::checksum(b"c"), 1)];
/// assert_eq!(crc64::combine_all(parts), crc64::checksum(b"abc"));
/// ```
pub fn combine_all(parts: impl IntoIterator<Item = (u64, u64)>) -> u64 {
    parts
        .into_iter()
        .fold(0, |acc, (crc, len)| combine(acc, crc, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_the_python_sdk_function() {
        // docs/protocol/cos.md §6: computed with cos-python-sdk-v5's crcmod parameters.
        assert_eq!(checksum(b"123456789"), 11051210869376104954);
        assert_eq!(checksum(b"a"), 3675645893302102789);
        assert_eq!(checksum(b"hello cos"), 13242225731321912570);
        assert_eq!(checksum(b"0123456789"), 2838902930144391966);
    }

    #[test]
    fn streaming_and_combining_agree_with_one_shot() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let whole = checksum(&data);
        let mut streaming = Crc64::new();
        for chunk in data.chunks(7919) {
            streaming.update(chunk);
        }
        assert_eq!(streaming.value(), whole);
        let parts = data.chunks(10_000).map(|c| (checksum(c), c.len() as u64));
        assert_eq!(combine_all(parts), whole);
        assert_eq!(combine(whole, 0, 0), whole);
    }

    /// The running state matches crc_fast's own digest at every step,
    /// including the empty start.
    #[test]
    fn the_running_state_matches_the_library_digest() {
        let mut ours = Crc64::new();
        let mut theirs = Digest::new(ALGORITHM);
        assert_eq!(ours.value(), theirs.finalize());
        for chunk in [&b""[..], b"a", b"bc", &[0xff; 300]] {
            ours.update(chunk);
            theirs.update(chunk);
            assert_eq!(ours.value(), theirs.finalize());
        }
        assert!(std::mem::size_of::<Crc64>() <= 16);
    }
}
