//! Part planning shared by the transfer managers: the part size for an
//! object of a given size, and the bounds on concurrency.

use crate::cos::limits::{MAX_PARTS, MAX_PART_SIZE, MIN_PART_SIZE};
use crate::cos::Error;

/// Part size used unless the object is so large that 10 000 parts would not
/// hold it: big enough that a part's request overhead is negligible, small
/// enough that `part size × concurrency` stays modest in memory.
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;
/// Parts in flight at once by default.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// The part size for an object of `total` bytes (unknown for a stream):
/// `requested` when given and valid, else [`DEFAULT_PART_SIZE`] doubled
/// until [`MAX_PARTS`] parts hold the object.
///
/// ```
/// use coscls::cos::choose_part_size;
/// assert_eq!(choose_part_size(Some(100 << 20), None).unwrap(), 8 << 20);
/// // 100 GiB needs 16 MiB parts to stay within 10 000 parts.
/// assert_eq!(choose_part_size(Some(100 << 30), None).unwrap(), 16 << 20);
/// assert!(choose_part_size(None, Some(512 * 1024)).is_err());
/// ```
pub fn choose_part_size(total: Option<u64>, requested: Option<u64>) -> Result<u64, Error> {
    let max_object = MAX_PART_SIZE * u64::from(MAX_PARTS);
    if let Some(total) = total {
        if total > max_object {
            return Err(Error::invalid_input(
                "object size",
                &total.to_string(),
                "exceeds 10 000 parts of 5 GiB",
            ));
        }
    }
    let parts_needed = |size: u64| total.map_or(0, |t| t.div_ceil(size));
    match requested {
        Some(size) => {
            if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&size) {
                return Err(Error::invalid_input(
                    "part size",
                    &size.to_string(),
                    "must be between 1 MiB and 5 GiB",
                ));
            }
            if parts_needed(size) > u64::from(MAX_PARTS) {
                let min = total.unwrap_or(0).div_ceil(u64::from(MAX_PARTS));
                return Err(Error::invalid_input(
                    "part size",
                    &size.to_string(),
                    &format!("would need more than 10 000 parts; use at least {min} bytes"),
                ));
            }
            Ok(size)
        }
        None => {
            let mut size = DEFAULT_PART_SIZE;
            while parts_needed(size) > u64::from(MAX_PARTS) {
                size *= 2;
            }
            Ok(size.min(MAX_PART_SIZE))
        }
    }
}

pub(crate) fn check_concurrency(n: usize) -> Result<(), Error> {
    if n == 0 || n > 256 {
        return Err(Error::invalid_input(
            "concurrency",
            &n.to_string(),
            "must be between 1 and 256",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes() {
        assert_eq!(choose_part_size(None, None).unwrap(), DEFAULT_PART_SIZE);
        assert_eq!(choose_part_size(Some(0), None).unwrap(), DEFAULT_PART_SIZE);
        let tb = 1u64 << 40;
        let s = choose_part_size(Some(tb), None).unwrap();
        assert!(tb.div_ceil(s) <= 10_000 && s >= MIN_PART_SIZE, "{s}");
        assert_eq!(s, 128 << 20);
        let max = MAX_PART_SIZE * 10_000;
        assert_eq!(choose_part_size(Some(max), None).unwrap(), MAX_PART_SIZE);
        assert!(choose_part_size(Some(max + 1), None).is_err());
        assert!(choose_part_size(None, Some(MAX_PART_SIZE + 1)).is_err());
        assert!(choose_part_size(Some(tb), Some(MIN_PART_SIZE)).is_err());
        assert_eq!(choose_part_size(Some(tb), Some(1 << 30)).unwrap(), 1 << 30);
        assert!(check_concurrency(0).is_err());
        assert!(check_concurrency(4).is_ok());
    }
}
