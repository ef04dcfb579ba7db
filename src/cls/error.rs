//! The CLS error type.

use crate::transport::retry::{Classify, RetryDecision};
use crate::{auth, transport};

/// A failed CLS call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input caught before any network call (a limit, an empty topic id…).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What was checked.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// CLS answered with an error (JSON `{"errorcode","errormessage"}`).
    /// Fields may be added, so patterns end with `..`.
    #[non_exhaustive]
    #[error("CLS {code} (HTTP {status}): {message}{}", request_id.as_deref().map(|id| format!(" [request id {id}]")).unwrap_or_default())]
    Service {
        /// HTTP status.
        status: u16,
        /// `errorcode`, or one derived from the status when the body has none.
        code: String,
        /// `errormessage`.
        message: String,
        /// `X-Cls-Requestid`.
        request_id: Option<String>,
        /// The response's `Date`: the server's clock, which a signature-time
        /// refusal is corrected from.
        server_date: Option<std::time::SystemTime>,
    },
    /// The request did not complete at the HTTP level.
    #[error("CLS request failed")]
    Transport(#[from] transport::Error),
    /// Credentials could not be obtained.
    #[error("CLS credentials unavailable")]
    Credentials(#[from] auth::Error),
    /// The producer's memory cap is reached: the record was not accepted.
    #[non_exhaustive]
    #[error("producer buffer full: {requested} more bytes do not fit in the {limit}-byte cap (waited {waited:?})")]
    BufferFull {
        /// Bytes the record needs.
        requested: usize,
        /// The producer's memory cap.
        limit: usize,
        /// How long the call waited for room.
        waited: std::time::Duration,
    },
    /// The producer was closed: the record was not accepted.
    #[error("producer is closed")]
    ProducerClosed,
    /// Another producer failure (no runtime, bad configuration).
    #[error("producer: {0}")]
    Producer(String),
}

impl Error {
    /// A local validation error.
    pub(crate) fn invalid_input(what: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            what,
            reason: reason.into(),
        }
    }

    /// Whether another attempt may succeed: 429, 5xx and network failures.
    /// Other 4xx (bad signature, limits, closed topic) never will.
    pub fn retryable(&self) -> bool {
        self.retry_decision() != RetryDecision::DoNotRetry
    }

    /// Whether the failed request may nevertheless have been stored, so that
    /// sending it again can store its logs twice: the connection failed
    /// after the request was sent (reset, timeout, broken answer), or the
    /// server or a gateway failed after receiving it (500, 502, 504). A
    /// connection that never opened, a throttle (429), a 503 and every 4xx
    /// mean the logs were not stored.
    pub fn may_have_been_stored(&self) -> bool {
        match self {
            Error::Transport(t) => matches!(
                t.kind(),
                transport::ErrorKind::Request
                    | transport::ErrorKind::Timeout
                    | transport::ErrorKind::Body
            ),
            Error::Service { status, .. } => matches!(status, 500 | 502 | 504),
            _ => false,
        }
    }

    /// The `errorcode`, if CLS answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether CLS refused the signature's time window: a 401 whose message
    /// says the signature expired or is not yet valid (the documented
    /// "signature expire" cause), or a 401 whose `Date` is further from the
    /// local clock than the window's 60 s backdate allows. Re-signing with
    /// the clock corrected from that `Date` fixes it.
    pub fn is_clock_skew(&self) -> bool {
        let Error::Service {
            status: 401,
            message,
            server_date: Some(date),
            ..
        } = self
        else {
            return false;
        };
        let m = message.to_ascii_lowercase();
        if m.contains("expire") || m.contains("not yet valid") {
            return true;
        }
        let skew = match date.duration_since(std::time::SystemTime::now()) {
            Ok(ahead) => ahead,
            Err(behind) => behind.duration(),
        };
        skew > std::time::Duration::from_secs(60)
    }

    /// The request id, if CLS answered.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Service { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// A low-cardinality name for telemetry's `error.type` / `status`.
    pub fn type_name(&self) -> String {
        match self {
            Error::InvalidInput { .. } => "invalid_input".into(),
            Error::Service { code, .. } => code.clone(),
            Error::Transport(t) => t.kind().as_str().into(),
            Error::Credentials(_) => "credentials".into(),
            Error::BufferFull { .. } => "buffer_full".into(),
            Error::ProducerClosed => "producer_closed".into(),
            Error::Producer(_) => "producer".into(),
        }
    }
}

impl Classify for Error {
    fn retry_decision(&self) -> RetryDecision {
        match self {
            e if e.is_clock_skew() => RetryDecision::Immediately,
            Error::Service { status, .. } if *status == 429 || *status >= 500 => {
                RetryDecision::Backoff
            }
            Error::Transport(t) if t.retryable() => RetryDecision::Backoff,
            Error::Credentials(c) if c.retryable() => RetryDecision::Backoff,
            _ => RetryDecision::DoNotRetry,
        }
    }

    fn retry_reason(&self) -> &'static str {
        match self {
            e if e.is_clock_skew() => "clock_skew",
            Error::Service { status: 429, .. } => "throttled",
            Error::Service { .. } => "server_error",
            Error::Transport(t) => t.kind().as_str(),
            _ => "other",
        }
    }
}

impl crate::transport::PipelineError for Error {
    fn clock_skew_date(&self) -> Option<std::time::SystemTime> {
        match self {
            Error::Service { server_date, .. } if self.is_clock_skew() => *server_date,
            _ => None,
        }
    }

    fn type_name(&self) -> String {
        Error::type_name(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: u16, code: &str) -> Error {
        Error::Service {
            status,
            code: code.into(),
            message: "m".into(),
            request_id: Some("r".into()),
            server_date: None,
        }
    }

    fn unauthorized(message: &str, skew_secs: i64) -> Error {
        let now = std::time::SystemTime::now();
        let d = std::time::Duration::from_secs(skew_secs.unsigned_abs());
        let date = if skew_secs >= 0 { now + d } else { now - d };
        Error::Service {
            status: 401,
            code: "Unauthorized".into(),
            message: message.into(),
            request_id: None,
            server_date: Some(date),
        }
    }

    #[test]
    fn only_failures_after_the_request_left_can_have_stored_it() {
        use transport::{Error as T, ErrorKind as K};
        for kind in [K::Request, K::Timeout, K::Body] {
            assert!(Error::Transport(T::new(kind, "x")).may_have_been_stored());
        }
        for kind in [K::Connect, K::InvalidRequest] {
            assert!(!Error::Transport(T::new(kind, "x")).may_have_been_stored());
        }
        assert!(service(500, "InternalError").may_have_been_stored());
        assert!(service(504, "GatewayTimeout").may_have_been_stored());
        for s in [429, 503, 400, 401, 413] {
            assert!(!service(s, "x").may_have_been_stored(), "{s}");
        }
    }

    #[test]
    fn a_signature_time_refusal_with_a_date_is_retried_at_once_after_correction() {
        use crate::transport::PipelineError;
        for e in [
            unauthorized(
                "Signature expired: q-sign-time ended at 1, server time is 2.",
                1800,
            ),
            unauthorized("Signature not yet valid: q-sign-time starts at 5", -1800),
            unauthorized("The signature expire", 0),
            unauthorized("Signature error", 1800),
        ] {
            assert!(e.is_clock_skew(), "{e}");
            assert_eq!(e.retry_decision(), RetryDecision::Immediately, "{e}");
            assert_eq!(e.retry_reason(), "clock_skew");
            assert!(e.clock_skew_date().is_some());
        }
        // A bad key with the clocks in agreement, or no Date at all, is permanent.
        let bad_key = unauthorized("The SecretId does not exist.", 0);
        assert!(!bad_key.is_clock_skew());
        assert!(!bad_key.retryable());
        let no_date = Error::Service {
            status: 401,
            code: "Unauthorized".into(),
            message: "Signature expired".into(),
            request_id: None,
            server_date: None,
        };
        assert!(!no_date.is_clock_skew());
        assert_eq!(no_date.clock_skew_date(), None);
    }

    #[test]
    fn only_throttling_server_and_network_errors_retry() {
        assert!(service(429, "SpeedQuotaExceed").retryable());
        assert!(service(500, "InternalError").retryable());
        assert!(service(503, "x").retryable());
        for (s, c) in [
            (400, "InvalidContent"),
            (401, "Unauthorized"),
            (403, "LogSizeExceed"),
            (404, "TopicNotExists"),
            (413, "x"),
        ] {
            assert!(!service(s, c).retryable(), "{s} {c}");
        }
        assert_eq!(
            service(429, "SpeedQuotaExceed").to_string(),
            "CLS SpeedQuotaExceed (HTTP 429): m [request id r]"
        );
    }
}
