//! Fault injection: what can go wrong on purpose, and the per-request dice.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Faults the emulator injects, changeable at run time with
/// [`Emulator::set_faults`](crate::Emulator::set_faults) or
/// `PUT /_emulator/faults` (JSON, `latency` as `latency_ms`); both refuse
/// what [`validate`](Self::validate) refuses and keep the current faults.
///
/// Admin requests (`/_emulator/...`) are never affected.
///
/// ```
/// use coscls_emulator::FaultConfig;
/// let f = FaultConfig { error_rate: 0.3, error_status: 503, ..Default::default() };
/// assert!(f.validate().is_ok());
/// let json = serde_json::to_value(&f).unwrap();
/// assert_eq!(json["latency_ms"], 0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    /// Probability (0..=1) that a request fails with `error_status` before it is handled.
    pub error_rate: f64,
    /// Status of injected failures: 503 is COS `SlowDown` / CLS `InternalError`,
    /// 500 is `InternalError`, 429 is CLS `SpeedQuotaExceed`; any 4xx/5xx is accepted.
    pub error_status: u16,
    /// The next N requests fail with `error_status` (deterministic, for tests).
    pub fail_next: u32,
    /// Extra latency added before each request is handled.
    #[serde(rename = "latency_ms", with = "millis")]
    pub latency: Duration,
    /// Probability that the connection is closed mid-response (after the
    /// request took effect): half of a body is sent, or nothing when the
    /// response has no body.
    pub drop_rate: f64,
    /// Server clock skew in seconds: the emulator's "now" for signature
    /// windows and its `Date` header is the real time plus this.
    pub clock_offset_secs: i64,
    /// Probability that a GET object body is altered after its CRC64 header
    /// was computed, so clients that verify checksums notice.
    pub corrupt_body_rate: f64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            error_rate: 0.0,
            error_status: 503,
            fail_next: 0,
            latency: Duration::ZERO,
            drop_rate: 0.0,
            clock_offset_secs: 0,
            corrupt_body_rate: 0.0,
        }
    }
}

impl FaultConfig {
    /// The largest clock skew accepted either way: a century, in seconds.
    /// The skewed clock must stay a date that `Date` headers and listings can
    /// write (years 1970..=9999 for HTTP dates); a century of skew keeps it
    /// there and far exceeds any skew a client test needs.
    pub const MAX_CLOCK_OFFSET_SECS: i64 = 100 * 366 * 86_400;

    /// The longest injected latency accepted: one day. Longer ones are no
    /// test of a client's timeouts, and a deadline computed from them could
    /// overflow the clock.
    pub const MAX_LATENCY: Duration = Duration::from_secs(86_400);

    /// Checks rates are probabilities, the status is an error status, and the
    /// clock offset and latency are within [`MAX_CLOCK_OFFSET_SECS`] and
    /// [`MAX_LATENCY`]; the error names the first bad field.
    ///
    /// [`MAX_CLOCK_OFFSET_SECS`]: Self::MAX_CLOCK_OFFSET_SECS
    /// [`MAX_LATENCY`]: Self::MAX_LATENCY
    ///
    /// ```
    /// use coscls_emulator::FaultConfig;
    /// let skewed = FaultConfig { clock_offset_secs: i64::MAX, ..Default::default() };
    /// assert_eq!(skewed.validate().unwrap_err().field(), "clock_offset_secs");
    /// ```
    pub fn validate(&self) -> Result<(), InvalidFault> {
        for (field, rate) in [
            ("error_rate", self.error_rate),
            ("drop_rate", self.drop_rate),
            ("corrupt_body_rate", self.corrupt_body_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(InvalidFault::new(
                    field,
                    format!("must be between 0 and 1, got {rate}"),
                ));
            }
        }
        if !(-Self::MAX_CLOCK_OFFSET_SECS..=Self::MAX_CLOCK_OFFSET_SECS)
            .contains(&self.clock_offset_secs)
        {
            return Err(InvalidFault::new(
                "clock_offset_secs",
                format!(
                    "must be between -{max} and {max} (a century), got {}",
                    self.clock_offset_secs,
                    max = Self::MAX_CLOCK_OFFSET_SECS
                ),
            ));
        }
        if self.latency > Self::MAX_LATENCY {
            return Err(InvalidFault::new(
                "latency_ms",
                format!(
                    "must be at most {} (one day), got {}",
                    Self::MAX_LATENCY.as_millis(),
                    self.latency.as_millis()
                ),
            ));
        }
        if !(400..=599).contains(&self.error_status) {
            return Err(InvalidFault::new(
                "error_status",
                format!("must be a 4xx or 5xx status, got {}", self.error_status),
            ));
        }
        Ok(())
    }

    /// Rolls the dice for one request. Consumes one `fail_next` when set.
    pub(crate) fn decide(&mut self) -> Decision {
        let fail = if self.fail_next > 0 {
            self.fail_next -= 1;
            true
        } else {
            roll(self.error_rate)
        };
        Decision {
            latency: self.latency,
            fail: fail.then_some(self.error_status),
            drop: roll(self.drop_rate),
            corrupt: roll(self.corrupt_body_rate),
        }
    }
}

/// A [`FaultConfig`] value the emulator cannot represent, refused before it
/// is stored: [`field`](Self::field) is the field's JSON name
/// (`latency_ms` for [`FaultConfig::latency`]), so the same name serves
/// `PUT /_emulator/faults`, the command line and Rust callers.
///
/// ```
/// use coscls_emulator::FaultConfig;
/// let e = FaultConfig { drop_rate: 1.5, ..Default::default() }.validate().unwrap_err();
/// assert_eq!(e.field(), "drop_rate");
/// assert_eq!(e.to_string(), "drop_rate must be between 0 and 1, got 1.5");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct InvalidFault {
    field: &'static str,
    reason: String,
}

impl InvalidFault {
    fn new(field: &'static str, reason: String) -> Self {
        InvalidFault { field, reason }
    }

    /// The refused field, by its JSON name.
    pub fn field(&self) -> &'static str {
        self.field
    }
}

fn roll(rate: f64) -> bool {
    rate > 0.0 && (rate >= 1.0 || fastrand::f64() < rate)
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) latency: Duration,
    pub(crate) fail: Option<u16>,
    pub(crate) drop: bool,
    pub(crate) corrupt: bool,
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis().min(u64::MAX as u128) as u64)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_next_is_deterministic_and_consumed() {
        let mut f = FaultConfig {
            fail_next: 2,
            error_status: 500,
            ..Default::default()
        };
        assert_eq!(f.decide().fail, Some(500));
        assert_eq!(f.decide().fail, Some(500));
        assert_eq!(f.decide().fail, None);
        assert_eq!(f.fail_next, 0);
    }

    #[test]
    fn certain_rates_always_fire_and_zero_never() {
        let mut f = FaultConfig {
            error_rate: 1.0,
            drop_rate: 1.0,
            ..Default::default()
        };
        for _ in 0..50 {
            let d = f.decide();
            assert_eq!(d.fail, Some(503));
            assert!(d.drop && !d.corrupt);
        }
    }

    #[test]
    fn json_uses_latency_ms_and_defaults_missing_fields() {
        let f: FaultConfig =
            serde_json::from_str(r#"{"latency_ms": 250, "error_rate": 0.5}"#).unwrap();
        assert_eq!(f.latency, Duration::from_millis(250));
        assert_eq!(f.error_status, 503);
        assert_eq!(f.error_rate, 0.5);
    }

    #[test]
    fn validation_names_the_bad_field() {
        let bad = FaultConfig {
            drop_rate: 1.5,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().field(), "drop_rate");
        let bad = FaultConfig {
            error_status: 200,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().field(), "error_status");
        for offset in [i64::MAX, i64::MIN, 400_000_000_000, -400_000_000_000] {
            let bad = FaultConfig {
                clock_offset_secs: offset,
                ..Default::default()
            };
            assert_eq!(bad.validate().unwrap_err().field(), "clock_offset_secs");
        }
        let edge = FaultConfig {
            clock_offset_secs: -FaultConfig::MAX_CLOCK_OFFSET_SECS,
            latency: FaultConfig::MAX_LATENCY,
            ..Default::default()
        };
        assert!(edge.validate().is_ok());
        let bad = FaultConfig {
            latency: Duration::from_millis(u64::MAX),
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().field(), "latency_ms");
        for rate in [f64::NAN, f64::INFINITY, -0.1] {
            let bad = FaultConfig {
                corrupt_body_rate: rate,
                ..Default::default()
            };
            assert_eq!(bad.validate().unwrap_err().field(), "corrupt_body_rate");
        }
    }
}
