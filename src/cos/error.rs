//! The COS error type.

use std::time::SystemTime;

use crate::transport::retry::{Classify, RetryDecision};
use crate::{auth, transport};

/// A failed COS call.
///
/// Service errors carry the COS code, message, HTTP status and request id,
/// and for `SignatureDoesNotMatch` the server's canonical strings, so a
/// support ticket can be written from the error alone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input caught before any network call.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        /// What was checked (`bucket`, `object key`, `region`, …).
        what: &'static str,
        /// The offending value, shortened.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// COS answered with an error.
    #[error("{0}")]
    Service(Box<ServiceError>),
    /// The request did not complete at the HTTP level.
    #[error("COS request failed: {0}")]
    Transport(#[from] transport::Error),
    /// Credentials could not be obtained.
    #[error("COS credentials unavailable: {0}")]
    Credentials(#[from] auth::Error),
    /// Downloaded or uploaded bytes do not match the server's CRC-64.
    #[error("CRC-64 mismatch on {what}: server says {server}, computed {computed}")]
    ChecksumMismatch {
        /// Which transfer (`GetObject docs/a.txt`, `part 3`…).
        what: String,
        /// `x-cos-hash-crc64ecma` from the server.
        server: u64,
        /// What the client computed over the bytes.
        computed: u64,
    },
    /// The response was not what the protocol promises (bad XML, missing header).
    #[error("unexpected COS response: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
        /// The parse error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Local file I/O failed (upload from or download to a file).
    #[error("local I/O failed: {context}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The details of an error answer from COS. The fields are read directly;
/// a value is made with [`new`](Self::new) and the `with_` setters (a test
/// double answering like COS), so that adding a field is not a breaking change.
///
/// ```
/// use coscls::cos::{Error, ServiceError};
/// let e = Error::Service(Box::new(ServiceError::new(404, "NoSuchKey", "gone").with_request_id("req-1")));
/// assert!(e.is_not_found());
/// assert_eq!(e.request_id(), Some("req-1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServiceError {
    /// HTTP status.
    pub status: u16,
    /// COS error code (`NoSuchKey`, `SlowDown`…); for body-less HEAD errors a
    /// code derived from the status (`NoSuchResource` for 404, as the Python SDK does).
    pub code: String,
    /// Human message.
    pub message: String,
    /// `x-cos-request-id`.
    pub request_id: Option<String>,
    /// `x-cos-trace-id`.
    pub trace_id: Option<String>,
    /// The resource named in the error body.
    pub resource: Option<String>,
    /// Server `StringToSign` of a `SignatureDoesNotMatch`.
    pub string_to_sign: Option<String>,
    /// Server `FormatString` (HttpString) of a `SignatureDoesNotMatch`.
    pub format_string: Option<String>,
    /// The server's `Date`, used to correct clock skew.
    pub server_date: Option<SystemTime>,
    /// Attempts made before giving up.
    pub attempts: u32,
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "COS {} (HTTP {}): {}",
            self.code, self.status, self.message
        )?;
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        Ok(())
    }
}

impl ServiceError {
    /// An error answer with this status, code and message; every other
    /// field empty.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError {
            status,
            code: code.into(),
            message: message.into(),
            ..ServiceError::default()
        }
    }

    /// Sets [`request_id`](Self::request_id).
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Sets [`server_date`](Self::server_date).
    pub fn with_server_date(mut self, date: SystemTime) -> Self {
        self.server_date = Some(date);
        self
    }

    /// Whether the server refused the signature time (skewed clock or an
    /// expired window), which a corrected clock fixes.
    pub fn is_clock_skew(&self) -> bool {
        self.code == "RequestTimeTooSkewed"
            || (self.code == "AccessDenied"
                && self
                    .message
                    .to_ascii_lowercase()
                    .contains("request has expired"))
    }
}

impl Error {
    /// A local validation error. Long values are shortened so a 10 KB key does
    /// not flood a log line.
    pub(crate) fn invalid_input(what: &'static str, value: &str, reason: &str) -> Self {
        let value = if value.chars().count() > 80 {
            format!("{}…", value.chars().take(80).collect::<String>())
        } else {
            value.to_string()
        };
        Error::InvalidInput {
            what,
            value,
            reason: reason.to_string(),
        }
    }

    /// A protocol error with a message.
    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Error::Protocol {
            message: message.into(),
            source: None,
        }
    }

    /// The service error, if COS answered with one.
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            Error::Service(s) => Some(s),
            _ => None,
        }
    }

    /// The COS error code, if COS answered with one.
    pub fn code(&self) -> Option<&str> {
        self.service().map(|s| s.code.as_str())
    }

    /// The HTTP status, if a response arrived.
    pub fn status(&self) -> Option<u16> {
        self.service().map(|s| s.status)
    }

    /// The `x-cos-request-id`, if a response arrived.
    pub fn request_id(&self) -> Option<&str> {
        self.service().and_then(|s| s.request_id.as_deref())
    }

    /// Whether the object or bucket does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether another attempt may succeed: network failures, 5xx, 429,
    /// `SlowDown`, `RequestTimeout` and clock-skew refusals.
    pub fn retryable(&self) -> bool {
        self.retry_decision() != RetryDecision::DoNotRetry
    }

    /// A low-cardinality name for telemetry's `error.type` / `status`.
    pub fn type_name(&self) -> String {
        match self {
            Error::InvalidInput { .. } => "invalid_input".into(),
            Error::Service(s) => s.code.clone(),
            Error::Transport(t) => t.kind().as_str().into(),
            Error::Credentials(_) => "credentials".into(),
            Error::ChecksumMismatch { .. } => "checksum_mismatch".into(),
            Error::Protocol { .. } => "protocol".into(),
            Error::Io { .. } => "io".into(),
        }
    }
}

impl Classify for Error {
    fn retry_decision(&self) -> RetryDecision {
        match self {
            Error::Service(s) if s.is_clock_skew() => RetryDecision::Immediately,
            Error::Service(s)
                if s.status >= 500 || s.status == 429 || s.code == "RequestTimeout" =>
            {
                RetryDecision::Backoff
            }
            Error::Transport(t) if t.retryable() => RetryDecision::Backoff,
            Error::Credentials(c) if c.retryable() => RetryDecision::Backoff,
            _ => RetryDecision::DoNotRetry,
        }
    }

    fn retry_reason(&self) -> &'static str {
        match self {
            Error::Service(s) if s.is_clock_skew() => "clock_skew",
            Error::Service(s) if s.code == "SlowDown" => "slow_down",
            Error::Service(s) if s.status == 429 => "throttled",
            Error::Service(s) if s.status >= 500 => "server_error",
            Error::Service(_) => "request_timeout",
            Error::Transport(t) => t.kind().as_str(),
            _ => "other",
        }
    }

    fn set_attempts(&mut self, attempts: u32) {
        if let Error::Service(s) = self {
            s.attempts = attempts;
        }
    }
}

impl crate::transport::PipelineError for Error {
    fn clock_skew_date(&self) -> Option<SystemTime> {
        self.service()
            .filter(|s| s.is_clock_skew())
            .and_then(|s| s.server_date)
    }

    fn type_name(&self) -> String {
        Error::type_name(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: u16, code: &str, message: &str) -> Error {
        Error::Service(Box::new(ServiceError {
            status,
            code: code.into(),
            message: message.into(),
            request_id: Some("req-1".into()),
            ..Default::default()
        }))
    }

    #[test]
    fn classification_table() {
        use RetryDecision::*;
        let cases = [
            (service(503, "SlowDown", "x"), Backoff),
            (service(500, "InternalError", "x"), Backoff),
            (service(429, "TooManyRequests", "x"), Backoff),
            (service(400, "RequestTimeout", "x"), Backoff),
            (service(403, "RequestTimeTooSkewed", "x"), Immediately),
            (
                service(403, "AccessDenied", "Request has expired"),
                Immediately,
            ),
            (service(403, "AccessDenied", "no"), DoNotRetry),
            (service(404, "NoSuchKey", "x"), DoNotRetry),
            (service(403, "SignatureDoesNotMatch", "x"), DoNotRetry),
            (
                Error::Transport(transport::Error::new(transport::ErrorKind::Connect, "x")),
                Backoff,
            ),
            (
                Error::Transport(transport::Error::new(
                    transport::ErrorKind::InvalidRequest,
                    "x",
                )),
                DoNotRetry,
            ),
            (Error::invalid_input("bucket", "B", "bad"), DoNotRetry),
        ];
        for (err, want) in cases {
            assert_eq!(err.retry_decision(), want, "{err}");
        }
    }

    #[test]
    fn display_carries_code_status_and_request_id() {
        let mut e = service(404, "NoSuchKey", "The specified key does not exist.");
        e.set_attempts(3);
        assert_eq!(
            e.to_string(),
            "COS NoSuchKey (HTTP 404): The specified key does not exist. [request id req-1] after 3 attempts"
        );
        assert!(e.is_not_found());
    }

    #[test]
    fn long_invalid_values_are_shortened() {
        let e = Error::invalid_input("object key", &"k".repeat(1000), "too long");
        assert!(e.to_string().len() < 200);
    }
}
