//! Building one signal's OTLP exporter from its plan: gRPC (tonic) or
//! HTTP, with TLS trusting the system's roots or the configured
//! certificate, and compression.

use std::time::Duration;

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};

use super::plan::{CertificateSource, SignalPlan};
use super::{ExportRuntime, Protocol, TelemetryError};

/// Builds one signal's exporter with `grpc` or `http` (per the plan's
/// protocol), inside the export runtime when there is one (tonic needs a
/// reactor at construction).
///
/// TLS: an `https://` gRPC endpoint gets a rustls configuration trusting the
/// system's roots, or only the plan's certificate when there is one; over
/// HTTP the exporter's own client already trusts the system's roots, and a
/// client trusting only the certificate replaces it when there is one.
pub(super) fn build_exporter<E>(
    what: &str,
    signal: &SignalPlan,
    runtime: Option<&ExportRuntime>,
    grpc: impl FnOnce(
        Option<tonic::transport::ClientTlsConfig>,
    ) -> Result<E, opentelemetry_otlp::ExporterBuildError>,
    http: impl FnOnce(
        Option<reqwest::blocking::Client>,
    ) -> Result<E, opentelemetry_otlp::ExporterBuildError>,
) -> Result<E, TelemetryError> {
    let pem = match &signal.certificate {
        Some(cert) if signal.endpoint.starts_with("https://") => Some(read_certificate(cert)?),
        _ => None,
    };
    let built = match signal.protocol {
        Protocol::Grpc => {
            let tls = signal.endpoint.starts_with("https://").then(|| {
                let tls = tonic::transport::ClientTlsConfig::new();
                match &pem {
                    Some(pem) => tls.ca_certificate(tonic::transport::Certificate::from_pem(pem)),
                    None => tls.with_native_roots(),
                }
            });
            let _entered = runtime.and_then(ExportRuntime::handle).map(|h| h.enter());
            grpc(tls)
        }
        Protocol::HttpProtobuf => {
            let client = match (&pem, &signal.certificate) {
                (Some(pem), Some(cert)) => Some(http_client_trusting(pem, cert, signal.timeout)?),
                _ => None,
            };
            http(client)
        }
    };
    built.map_err(|e| TelemetryError::config(format!("building the OTLP {what} exporter: {e}")))
}

/// A gRPC exporter builder (spans or metrics) with the plan's endpoint,
/// timeout, compression and TLS configuration: the two signals are set up
/// the same way.
pub(super) fn grpc_settings<B: WithExportConfig + WithTonicConfig>(
    builder: B,
    signal: &SignalPlan,
    tls: Option<tonic::transport::ClientTlsConfig>,
) -> B {
    let b = builder
        .with_endpoint(&signal.endpoint)
        .with_timeout(signal.timeout);
    let b = match signal.compression {
        Some(c) => b.with_compression(c.to_otlp()),
        None => b,
    };
    match tls {
        Some(tls) => b.with_tls_config(tls),
        None => b,
    }
}

/// An OTLP/HTTP (protobuf) exporter builder (spans or metrics) with the
/// plan's endpoint, timeout and compression, and `client` when the plan
/// needs one of its own (a custom CA).
pub(super) fn http_settings<B: WithExportConfig + WithHttpConfig>(
    builder: B,
    signal: &SignalPlan,
    client: Option<reqwest::blocking::Client>,
) -> B {
    let b = builder
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(&signal.endpoint)
        .with_timeout(signal.timeout);
    let b = match signal.compression {
        Some(c) => WithHttpConfig::with_compression(b, c.to_otlp()),
        None => b,
    };
    match client {
        Some(client) => b.with_http_client(client),
        None => b,
    }
}

/// Reads the PEM file a [`CertificateSource`] names.
pub(super) fn read_certificate(cert: &CertificateSource) -> Result<Vec<u8>, TelemetryError> {
    let pem = std::fs::read(&cert.path).map_err(|e| {
        TelemetryError::config(format!(
            "reading the collector certificate {} (from {}): {e}",
            cert.path.display(),
            cert.from
        ))
    })?;
    // Both TLS stacks skip what is not a certificate; an empty trust store
    // would only fail later, on every export.
    if !pem
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(TelemetryError::config(format!(
            "the collector certificate {} (from {}) holds no PEM certificate",
            cert.path.display(),
            cert.from
        )));
    }
    Ok(pem)
}

/// A blocking reqwest client (what the HTTP exporter uses by default) that
/// trusts only the certificates in `pem`. Built on its own thread, as the
/// exporter does, because a blocking client must not be created or dropped
/// inside an async runtime.
fn http_client_trusting(
    pem: &[u8],
    cert: &CertificateSource,
    timeout: Duration,
) -> Result<reqwest::blocking::Client, TelemetryError> {
    let named = |e: &dyn std::fmt::Display| {
        TelemetryError::config(format!(
            "the collector certificate {} (from {}): {e}",
            cert.path.display(),
            cert.from
        ))
    };
    let roots = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| named(&e))?;
    std::thread::Builder::new()
        .name("coscls-otlp-client".into())
        .spawn(move || {
            reqwest::blocking::Client::builder()
                .timeout(timeout)
                .tls_certs_only(roots)
                .build()
        })
        .map_err(|e| named(&e))?
        .join()
        .map_err(|_| named(&"building the HTTP client panicked"))?
        .map_err(|e| named(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_that_is_not_pem_is_refused_before_any_export() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, b"not a certificate").unwrap();
        let source = CertificateSource {
            path: path.clone(),
            from: "OTEL_EXPORTER_OTLP_CERTIFICATE".into(),
        };
        let e = read_certificate(&source).unwrap_err().to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
        assert!(e.contains("OTEL_EXPORTER_OTLP_CERTIFICATE"), "{e}");
        let missing = CertificateSource {
            path: dir.path().join("absent.pem"),
            from: "OTEL_EXPORTER_OTLP_CERTIFICATE".into(),
        };
        let e = read_certificate(&missing).unwrap_err().to_string();
        assert!(e.contains("absent.pem"), "{e}");
    }
}
