//! Producer settings, with defaults no worse than the official Go producer's
//! (docs/protocol/cls.md §5) and hard limits never above the service's (§4).

use std::time::Duration;

use crate::cls::limits::{MAX_GROUP_CONTENT_BYTES, MAX_LOGS_PER_GROUP};
use crate::cls::Error;
use crate::transport::retry::RetryPolicy;

/// The longest duration a [`ProducerConfig`] accepts for `linger` and the
/// retry policy's delays and deadline (7 days). Every deadline the producer
/// computes is "now + one of these", so a bound far below what `Instant`
/// can represent keeps that sum from overflowing on every platform.
pub const MAX_CONFIG_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// What [`Producer::send`](super::Producer::send) does when the memory cap is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait up to this long for delivered batches to free room, then fail
    /// with [`Error::BufferFull`]. `Duration::MAX` waits forever.
    Block(Duration),
    /// Fail with [`Error::BufferFull`] at once.
    FailFast,
}

/// How a producer batches, buffers and retries. Made with
/// [`default`](Default::default) and the setters, so that adding a setting
/// is not a breaking change; the fields stay readable (and assignable).
///
/// ```
/// use coscls::cls::{ProducerConfig, WhenFull};
/// use std::time::Duration;
/// let config = ProducerConfig::default()
///     .linger(Duration::from_millis(200))
///     .when_full(WhenFull::FailFast);
/// assert!(config.validate().is_ok());
/// assert!(config.batch_max_logs(20_000).validate().is_err());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// A batch is sent once its encoded logs reach this many bytes
    /// (default 512 KiB, at most 5 MiB).
    pub batch_max_bytes: usize,
    /// A batch is sent once it holds this many logs (default 4096, at most 10 000).
    pub batch_max_logs: usize,
    /// A batch is sent at the latest this long after its first log (default 2 s,
    /// at most [`MAX_CONFIG_DURATION`]).
    pub linger: Duration,
    /// Total memory of logs accepted and not yet delivered or failed
    /// (default 100 MiB), as [`Producer::memory_bytes`](super::Producer::memory_bytes) counts it.
    /// Counted exactly: taken when a log is accepted, returned when its
    /// outcome is reported.
    pub memory_limit: usize,
    /// What `send` does when the memory cap is reached (default: block up to 60 s).
    pub when_full: WhenFull,
    /// Batches being sent at once (default 16).
    pub max_in_flight: usize,
    /// How each batch is retried on 429, 5xx and network failures. It
    /// replaces the client's own policy for the producer's requests: one
    /// schedule decides every HTTP attempt of a batch (default 10 attempts
    /// in total, backoff from 100 ms doubling up to 50 s with full jitter,
    /// no new attempt after 10 min; a signature-time refusal is retried once
    /// at once with a corrected clock). `close` cuts this short.
    pub retry: RetryPolicy,
    /// `LogGroup.source` (usually the sender's IP).
    pub source: Option<String>,
    /// `LogGroup.hostname`.
    pub hostname: Option<String>,
    /// `LogGroup.filename`.
    pub filename: Option<String>,
    /// `LogGroup.logTags`, on every batch.
    pub tags: Vec<(String, String)>,
    /// Sets `LogGroup.contextFlow` to `<producer id>-<batch id>` in hex, as
    /// the Go producer does, so a batch can be traced (default true).
    pub context_flow: bool,
    /// When set, every accepted log gets one more field with this key and
    /// the value `<producer id, 16 hex digits>-<sequence number>`, unique per
    /// log within a producer and identical in every copy a resend may store,
    /// so consumers can de-duplicate (default `None`: delivery is at least
    /// once, see [`CloseReport::possibly_duplicated`](super::CloseReport::possibly_duplicated)).
    pub log_id_field: Option<String>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            batch_max_bytes: 512 * 1024,
            batch_max_logs: 4096,
            linger: Duration::from_secs(2),
            memory_limit: 100 * 1024 * 1024,
            when_full: WhenFull::Block(Duration::from_secs(60)),
            max_in_flight: 16,
            retry: RetryPolicy::default()
                .with_max_attempts(10)
                .with_backoff(Duration::from_millis(100), Duration::from_secs(50))
                .with_deadline(Duration::from_secs(600)),
            source: None,
            hostname: None,
            filename: None,
            tags: Vec::new(),
            context_flow: true,
            log_id_field: None,
        }
    }
}

impl ProducerConfig {
    /// Sets [`batch_max_bytes`](Self::batch_max_bytes).
    pub fn batch_max_bytes(mut self, bytes: usize) -> Self {
        self.batch_max_bytes = bytes;
        self
    }

    /// Sets [`batch_max_logs`](Self::batch_max_logs).
    pub fn batch_max_logs(mut self, logs: usize) -> Self {
        self.batch_max_logs = logs;
        self
    }

    /// Sets [`linger`](Self::linger).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Sets [`memory_limit`](Self::memory_limit).
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Sets [`when_full`](Self::when_full).
    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }

    /// Sets [`max_in_flight`](Self::max_in_flight).
    pub fn max_in_flight(mut self, batches: usize) -> Self {
        self.max_in_flight = batches;
        self
    }

    /// Sets [`retry`](Self::retry).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets [`source`](Self::source).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sets [`hostname`](Self::hostname).
    pub fn hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = Some(hostname.into());
        self
    }

    /// Sets [`filename`](Self::filename).
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// Adds one tag to [`tags`](Self::tags).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Sets [`context_flow`](Self::context_flow).
    pub fn context_flow(mut self, on: bool) -> Self {
        self.context_flow = on;
        self
    }

    /// Sets [`log_id_field`](Self::log_id_field).
    pub fn log_id_field(mut self, key: impl Into<String>) -> Self {
        self.log_id_field = Some(key.into());
        self
    }

    /// Refuses settings outside the service's limits instead of clamping them.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |reason: String| Err(Error::invalid_input("producer config", reason));
        if !(1..=MAX_GROUP_CONTENT_BYTES).contains(&self.batch_max_bytes) {
            return bad(format!(
                "batch_max_bytes {} is outside 1..={MAX_GROUP_CONTENT_BYTES}",
                self.batch_max_bytes
            ));
        }
        if !(1..=MAX_LOGS_PER_GROUP).contains(&self.batch_max_logs) {
            return bad(format!(
                "batch_max_logs {} is outside 1..={MAX_LOGS_PER_GROUP}",
                self.batch_max_logs
            ));
        }
        if self.memory_limit == 0 || self.memory_limit > (u32::MAX as usize) {
            return bad(format!(
                "memory_limit {} is outside 1..={}",
                self.memory_limit,
                u32::MAX
            ));
        }
        for (field, d) in [
            ("linger", self.linger),
            ("retry.base_delay", self.retry.base_delay),
            ("retry.max_delay", self.retry.max_delay),
            ("retry.deadline", self.retry.deadline),
        ] {
            if d > MAX_CONFIG_DURATION {
                return bad(format!(
                    "{field} {d:?} is longer than the {MAX_CONFIG_DURATION:?} a producer can schedule"
                ));
            }
        }
        if let WhenFull::Block(d) = self.when_full {
            if d > MAX_CONFIG_DURATION && d != Duration::MAX {
                return bad(format!(
                    "when_full Block({d:?}) is longer than {MAX_CONFIG_DURATION:?}; use Duration::MAX to wait forever"
                ));
            }
        }
        if self.max_in_flight == 0 {
            return bad("max_in_flight must be at least 1".into());
        }
        if let Some(field) = &self.log_id_field {
            if field.is_empty() || field.starts_with("__") {
                return bad(format!(
                    "log_id_field {field:?} must be a non-empty key that does not start with \"__\" (reserved by CLS)"
                ));
            }
        }
        for (k, v) in &self.tags {
            if k.is_empty() {
                return bad(format!("tag with value {v:?} has an empty key"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_or_beat_the_go_producer_and_stay_within_service_limits() {
        let c = ProducerConfig::default();
        c.validate().unwrap();
        assert_eq!(c.batch_max_bytes, 524_288);
        assert_eq!(c.batch_max_logs, 4096);
        assert_eq!(c.linger, Duration::from_secs(2));
        assert_eq!(c.memory_limit, 104_857_600);
        assert_eq!(c.when_full, WhenFull::Block(Duration::from_secs(60)));
        assert_eq!(c.retry.max_attempts, 10);
        for bad in [
            ProducerConfig {
                batch_max_bytes: 0,
                ..c.clone()
            },
            ProducerConfig {
                batch_max_bytes: 6 << 20,
                ..c.clone()
            },
            ProducerConfig {
                batch_max_logs: 10_001,
                ..c.clone()
            },
            ProducerConfig {
                memory_limit: 0,
                ..c.clone()
            },
            ProducerConfig {
                max_in_flight: 0,
                ..c.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_no_deadline_can_hold_are_refused_naming_the_field() {
        let c = ProducerConfig::default();
        let linger = ProducerConfig {
            linger: Duration::MAX,
            ..c.clone()
        };
        let err = linger.validate().unwrap_err().to_string();
        assert!(err.contains("linger"), "{err}");
        let retry = ProducerConfig {
            retry: c.retry.with_deadline(Duration::MAX),
            ..c.clone()
        };
        let err = retry.validate().unwrap_err().to_string();
        assert!(err.contains("retry.deadline"), "{err}");
        let backoff = ProducerConfig {
            retry: c
                .retry
                .with_backoff(Duration::from_secs(1), MAX_CONFIG_DURATION * 2),
            ..c.clone()
        };
        let err = backoff.validate().unwrap_err().to_string();
        assert!(err.contains("retry.max_delay"), "{err}");
        let block = ProducerConfig {
            when_full: WhenFull::Block(MAX_CONFIG_DURATION * 2),
            ..c.clone()
        };
        assert!(block
            .validate()
            .unwrap_err()
            .to_string()
            .contains("when_full"));
        // The largest accepted values, and waiting forever when full, pass.
        let edge = ProducerConfig {
            linger: MAX_CONFIG_DURATION,
            when_full: WhenFull::Block(Duration::MAX),
            ..c
        };
        edge.validate().unwrap();
    }
}
