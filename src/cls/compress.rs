//! Body compression for `/structuredlog` (docs/protocol/cls.md §1): a raw LZ4 block (no
//! frame, no size prefix) by default, a zstd frame, or none.

use bytes::Bytes;

use super::Error;

/// How request bodies are compressed.
///
/// ```
/// use coscls::cls::Compression;
/// let c = Compression::default().compress(b"hello hello hello hello").unwrap();
/// assert_eq!(c.header, Some("lz4"));
/// assert_eq!(Compression::Lz4.decompress(&c.body, 23).unwrap(), b"hello hello hello hello");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// No compression; no `x-cls-compress-type` header.
    None,
    /// A raw LZ4 block, as every official SDK but JS sends by default.
    #[default]
    Lz4,
    /// A zstd frame at `level` (1–22; 3 is zstd's default). Needs the
    /// crate feature `zstd`; without it, building a client with it fails.
    Zstd {
        /// Compression level.
        level: i32,
    },
}

/// A compressed body and the `x-cls-compress-type` value that names it.
#[derive(Debug, Clone)]
pub struct Compressed {
    /// The bytes to send.
    pub body: Bytes,
    /// `x-cls-compress-type`, or `None` when uncompressed.
    pub header: Option<&'static str>,
}

impl Compression {
    /// The `x-cls-compress-type` value.
    pub fn header_value(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Lz4 => Some("lz4"),
            Compression::Zstd { .. } => Some("zstd"),
        }
    }

    /// Fails when this build cannot produce the format (zstd without the feature)
    /// or the level is out of range.
    pub fn check(self) -> Result<(), Error> {
        match self {
            Compression::Zstd { level } => {
                if !cfg!(feature = "zstd") {
                    return Err(Error::invalid_input(
                        "compression",
                        "zstd needs coscls built with the `zstd` feature",
                    ));
                }
                if !(1..=22).contains(&level) {
                    return Err(Error::invalid_input(
                        "compression",
                        format!("zstd level {level} is outside 1..=22"),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Compresses `raw`.
    pub fn compress(self, raw: &[u8]) -> Result<Compressed, Error> {
        let body = match self {
            Compression::None => Bytes::copy_from_slice(raw),
            Compression::Lz4 => Bytes::from(lz4_flex::block::compress(raw)),
            Compression::Zstd { level } => {
                self.check()?;
                Bytes::from(zstd_compress(raw, level)?)
            }
        };
        Ok(Compressed {
            body,
            header: self.header_value(),
        })
    }

    /// Reverses [`compress`](Self::compress); `raw_len` is the exact size of
    /// the original (an LZ4 block does not record it).
    pub fn decompress(self, body: &[u8], raw_len: usize) -> Result<Vec<u8>, Error> {
        let corrupt = |e: &dyn std::fmt::Display| {
            Error::invalid_input("compressed body", format!("does not decompress: {e}"))
        };
        let raw = match self {
            Compression::None => body.to_vec(),
            Compression::Lz4 => {
                lz4_flex::block::decompress(body, raw_len).map_err(|e| corrupt(&e))?
            }
            Compression::Zstd { .. } => zstd_decompress(body, raw_len)?,
        };
        if raw.len() != raw_len {
            return Err(corrupt(&format!("{} bytes, expected {raw_len}", raw.len())));
        }
        Ok(raw)
    }
}

#[cfg(feature = "zstd")]
fn zstd_compress(raw: &[u8], level: i32) -> Result<Vec<u8>, Error> {
    zstd::bulk::compress(raw, level)
        .map_err(|e| Error::invalid_input("compression", format!("zstd failed: {e}")))
}

#[cfg(feature = "zstd")]
fn zstd_decompress(body: &[u8], raw_len: usize) -> Result<Vec<u8>, Error> {
    zstd::bulk::decompress(body, raw_len)
        .map_err(|e| Error::invalid_input("compressed body", format!("does not decompress: {e}")))
}

#[cfg(not(feature = "zstd"))]
fn zstd_compress(_: &[u8], _: i32) -> Result<Vec<u8>, Error> {
    Err(Error::invalid_input(
        "compression",
        "zstd needs coscls built with the `zstd` feature",
    ))
}

#[cfg(not(feature = "zstd"))]
fn zstd_decompress(_: &[u8], _: usize) -> Result<Vec<u8>, Error> {
    zstd_compress(&[], 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..10_000u32)
            .flat_map(|i| format!("line {} level=INFO ", i % 97).into_bytes())
            .collect()
    }

    #[test]
    fn lz4_is_a_raw_block_without_a_size_prefix() {
        let raw = sample();
        let c = Compression::Lz4.compress(&raw).unwrap();
        assert!(c.body.len() < raw.len() / 4);
        // A size-prefixed block would start with the little-endian length.
        assert_ne!(&c.body[..4], &(raw.len() as u32).to_le_bytes());
        assert_eq!(
            lz4_flex::block::decompress(&c.body, raw.len()).unwrap(),
            raw
        );
        assert!(Compression::Lz4.decompress(&c.body, raw.len() + 1).is_err());
    }

    #[test]
    fn incompressible_and_empty_bodies_round_trip() {
        let noise: Vec<u8> = (0..4096).map(|_| fastrand::u8(..)).collect();
        for raw in [noise, Vec::new()] {
            for c in [Compression::None, Compression::Lz4] {
                let out = c.compress(&raw).unwrap();
                assert_eq!(c.decompress(&out.body, raw.len()).unwrap(), raw);
            }
        }
        assert_eq!(Compression::None.compress(b"x").unwrap().header, None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512), len in 0usize..4096) {
            for c in [Compression::None, Compression::Lz4, Compression::Zstd { level: 3 }] {
                let _ = c.decompress(&body, len);
            }
        }

        #[test]
        fn lz4_round_trips_anything(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
            let c = Compression::Lz4.compress(&raw).unwrap();
            proptest::prop_assert_eq!(Compression::Lz4.decompress(&c.body, raw.len()).unwrap(), raw);
        }
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_is_a_standard_frame() {
        let raw = sample();
        let c = Compression::Zstd { level: 3 }.compress(&raw).unwrap();
        assert_eq!(c.header, Some("zstd"));
        assert_eq!(&c.body[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd frame magic");
        assert_eq!(zstd::stream::decode_all(&c.body[..]).unwrap(), raw);
        assert!(Compression::Zstd { level: 0 }.check().is_err());
    }

    #[cfg(not(feature = "zstd"))]
    #[test]
    fn zstd_without_the_feature_is_a_clear_error() {
        let err = Compression::Zstd { level: 3 }.check().unwrap_err();
        assert!(err.to_string().contains("`zstd` feature"), "{err}");
        assert!(Compression::Zstd { level: 3 }.compress(b"x").is_err());
    }
}
