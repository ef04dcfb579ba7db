//! Spans and metrics around every COS and CLS operation (ARCHITECTURE.md,
//! "Telemetry schema").

/// Counts one retry of the current operation (`coscls.client.retries`).
pub(crate) fn record_retry(_reason: &'static str) {}
