//! Where each signal goes and how: the builder's settings, then the
//! `OTEL_*` variables, then the defaults, resolved into a [`Plan`] before
//! anything is built. Pure (the environment is read through a function),
//! and unit-tested here.

use std::path::PathBuf;
use std::time::Duration;

use super::{Compression, Protocol, TelemetryBuilder, TelemetryError, DEFAULT_TIMEOUT};

/// Where one signal goes and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SignalPlan {
    pub(super) protocol: Protocol,
    pub(super) endpoint: String,
    pub(super) compression: Option<Compression>,
    /// Trusted instead of the system's roots for `https://` endpoints.
    pub(super) certificate: Option<CertificateSource>,
    pub(super) timeout: Duration,
}

/// A PEM file and the setting that named it (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CertificateSource {
    pub(super) path: PathBuf,
    pub(super) from: String,
}

/// The resolved configuration: builder settings, then `OTEL_*`, then defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    pub(super) service_name: Option<String>,
    pub(super) traces: Option<SignalPlan>,
    pub(super) metrics: Option<SignalPlan>,
    /// Values that were ignored, each said once.
    pub(super) warnings: Vec<String>,
}

impl Plan {
    pub(super) fn destination(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for s in [&self.traces, &self.metrics].into_iter().flatten() {
            let d = format!("{} ({})", s.endpoint, s.protocol.as_str());
            if !parts.contains(&d) {
                parts.push(d);
            }
        }
        parts.join(" and ")
    }
}

/// The per-signal variables of one signal (`TRACES` or `METRICS`).
struct SignalVars {
    exporter: &'static str,
    protocol: &'static str,
    endpoint: &'static str,
    compression: &'static str,
    certificate: &'static str,
    timeout: &'static str,
    path: &'static str,
}

const TRACES: SignalVars = SignalVars {
    exporter: "OTEL_TRACES_EXPORTER",
    protocol: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    endpoint: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    compression: "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    certificate: "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    timeout: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    path: "/v1/traces",
};

const METRICS: SignalVars = SignalVars {
    exporter: "OTEL_METRICS_EXPORTER",
    protocol: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    endpoint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    compression: "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
    certificate: "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
    timeout: "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    path: "/v1/metrics",
};

/// Resolves the builder's settings, then the `OTEL_*` variables (read
/// through `env`), then the defaults. Values the exporter cannot honour
/// (an unsupported protocol or compression, a malformed timeout) fall back
/// to the default with a warning in [`Plan::warnings`], as the OpenTelemetry
/// specification asks; only an endpoint that cannot work is an error.
pub(super) fn plan(
    b: &TelemetryBuilder,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Plan, TelemetryError> {
    let env = |k: &str| {
        env(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    // The per-signal variable, else the general one; with the name of the one used.
    let either = |specific: &'static str, general: &'static str| {
        env(specific)
            .map(|v| (specific, v))
            .or_else(|| env(general).map(|v| (general, v)))
    };
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let exporter_on = |var: &str| env(var).is_none_or(|v| !v.eq_ignore_ascii_case("none"));
    let mut warnings: Vec<String> = Vec::new();
    let mut warn = |w: String| {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    };
    let mut signal = |on: Option<bool>,
                      vars: &SignalVars,
                      explicit: &Option<String>|
     -> Result<Option<SignalPlan>, TelemetryError> {
        if !on.unwrap_or(!disabled && exporter_on(vars.exporter)) {
            return Ok(None);
        }
        let protocol = match b.protocol {
            Some(p) => p,
            None => match either(vars.protocol, "OTEL_EXPORTER_OTLP_PROTOCOL") {
                Some((var, v)) => Protocol::parse(&v).unwrap_or_else(|| {
                    warn(format!(
                        "{var}={v:?} is not supported (supported: grpc, http/protobuf); using grpc"
                    ));
                    Protocol::Grpc
                }),
                None => Protocol::Grpc,
            },
        };
        let with_path = |base: &str| match protocol {
            Protocol::Grpc => base.to_string(),
            Protocol::HttpProtobuf => format!("{}{}", base.trim_end_matches('/'), vars.path),
        };
        let endpoint = if let Some(full) = explicit {
            full.clone()
        } else if let Some(base) = &b.endpoint {
            with_path(base)
        } else if let Some(full) = env(vars.endpoint) {
            full
        } else if let Some(base) = env("OTEL_EXPORTER_OTLP_ENDPOINT") {
            with_path(&base)
        } else {
            with_path(protocol.default_base())
        };
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(TelemetryError::config(format!(
                "OTLP endpoint {endpoint:?} must start with http:// or https://"
            )));
        }
        let compression = match b.compression {
            Some(c) => Some(c),
            None => match either(vars.compression, "OTEL_EXPORTER_OTLP_COMPRESSION") {
                Some((_, v)) if v.eq_ignore_ascii_case("gzip") => Some(Compression::Gzip),
                Some((_, v)) if v.eq_ignore_ascii_case("none") => None,
                Some((var, v)) => {
                    warn(format!(
                        "{var}={v:?} is not supported (supported: gzip, none); sending uncompressed"
                    ));
                    None
                }
                None => None,
            },
        };
        let certificate = match &b.certificate {
            Some(path) => Some(CertificateSource {
                path: path.clone(),
                from: "TelemetryBuilder::certificate".into(),
            }),
            None => either(vars.certificate, "OTEL_EXPORTER_OTLP_CERTIFICATE").map(|(var, v)| {
                CertificateSource {
                    path: PathBuf::from(v),
                    from: var.into(),
                }
            }),
        };
        let timeout = match b.timeout {
            Some(t) => t,
            None => match either(vars.timeout, "OTEL_EXPORTER_OTLP_TIMEOUT") {
                Some((var, v)) => match v.parse::<u64>() {
                    Ok(ms) => Duration::from_millis(ms),
                    Err(_) => {
                        warn(format!(
                            "{var}={v:?} is not a number of milliseconds; using {} s",
                            DEFAULT_TIMEOUT.as_secs()
                        ));
                        DEFAULT_TIMEOUT
                    }
                },
                None => DEFAULT_TIMEOUT,
            },
        };
        Ok(Some(SignalPlan {
            protocol,
            endpoint,
            compression,
            certificate,
            timeout,
        }))
    };
    let traces = signal(b.traces, &TRACES, &b.traces_endpoint)?;
    let metrics = signal(b.metrics, &METRICS, &b.metrics_endpoint)?;
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are read by the SDK's
    // resource detectors; a default name only fills in when both are silent.
    let named_by_env = env("OTEL_SERVICE_NAME").is_some()
        || env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attrs| {
            attrs
                .split(',')
                .any(|kv| kv.split('=').next().map(str::trim) == Some("service.name"))
        });
    let service_name = match (&b.service_name, named_by_env) {
        (Some(name), _) => Some(name.clone()),
        (None, true) => None,
        (None, false) => b.default_service_name.clone(),
    };
    Ok(Plan {
        service_name,
        traces,
        metrics,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::super::Telemetry;
    use super::*;
    use std::collections::HashMap;

    fn plan_with(b: TelemetryBuilder, vars: &[(&str, &str)]) -> Result<Plan, TelemetryError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        plan(&b, |k| vars.get(k).cloned())
    }

    fn sig(protocol: Protocol, endpoint: &str) -> Option<SignalPlan> {
        Some(SignalPlan {
            protocol,
            endpoint: endpoint.into(),
            compression: None,
            certificate: None,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    #[test]
    fn defaults_are_grpc_to_localhost_4317_for_both_signals() {
        let p = plan_with(Telemetry::builder(), &[]).unwrap();
        assert_eq!(p.traces, sig(Protocol::Grpc, "http://localhost:4317"));
        assert_eq!(p.metrics, sig(Protocol::Grpc, "http://localhost:4317"));
        assert_eq!(p.destination(), "http://localhost:4317 (grpc)");
    }

    #[test]
    fn http_appends_signal_paths_to_base_endpoints_only() {
        let p = plan_with(
            Telemetry::builder(),
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
                ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:9/custom"),
            ],
        )
        .unwrap();
        assert_eq!(
            p.traces,
            sig(Protocol::HttpProtobuf, "http://collector:4318/v1/traces")
        );
        assert_eq!(p.metrics, sig(Protocol::HttpProtobuf, "http://m:9/custom"));
    }

    #[test]
    fn builder_settings_win_over_the_environment() {
        let b = Telemetry::builder()
            .protocol(Protocol::HttpProtobuf)
            .endpoint("http://127.0.0.1:1234")
            .metrics(true);
        let p = plan_with(
            b,
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://elsewhere:4317"),
                ("OTEL_METRICS_EXPORTER", "none"),
            ],
        )
        .unwrap();
        assert_eq!(
            p.traces,
            sig(Protocol::HttpProtobuf, "http://127.0.0.1:1234/v1/traces")
        );
        assert_eq!(
            p.metrics,
            sig(Protocol::HttpProtobuf, "http://127.0.0.1:1234/v1/metrics")
        );
    }

    #[test]
    fn per_signal_protocol_and_none_exporters_are_honoured() {
        let p = plan_with(
            Telemetry::builder(),
            &[
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
                ("OTEL_METRICS_EXPORTER", "none"),
            ],
        )
        .unwrap();
        assert_eq!(
            p.traces,
            sig(Protocol::HttpProtobuf, "http://localhost:4318/v1/traces")
        );
        assert_eq!(p.metrics, None);
        let off = plan_with(Telemetry::builder(), &[("OTEL_SDK_DISABLED", "true")]).unwrap();
        assert_eq!((off.traces, off.metrics), (None, None));
    }

    #[test]
    fn a_default_service_name_yields_to_the_environment() {
        let b = || Telemetry::builder().default_service_name("dflt");
        let name = |b, vars: &[(&str, &str)]| plan_with(b, vars).unwrap().service_name;
        assert_eq!(name(b(), &[]).as_deref(), Some("dflt"));
        // None: the SDK's resource detectors then read the variable.
        assert_eq!(name(b(), &[("OTEL_SERVICE_NAME", "my-app")]), None);
        let attrs = [("OTEL_RESOURCE_ATTRIBUTES", "team=a, service.name=my-app")];
        assert_eq!(name(b(), &attrs), None);
        let other = [("OTEL_RESOURCE_ATTRIBUTES", "service.namespace=x")];
        assert_eq!(name(b(), &other).as_deref(), Some("dflt"));
        let explicit = b().service_name("fixed");
        let vars = [("OTEL_SERVICE_NAME", "my-app")];
        assert_eq!(name(explicit, &vars).as_deref(), Some("fixed"));
    }

    #[test]
    fn an_unsupported_protocol_warns_once_and_falls_back_to_grpc() {
        let p = plan_with(
            Telemetry::builder(),
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ],
        )
        .unwrap();
        assert_eq!(p.traces, sig(Protocol::Grpc, "http://collector:4317"));
        assert_eq!(p.metrics, sig(Protocol::Grpc, "http://collector:4317"));
        // Both signals read the variable; it is said once.
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert!(p.warnings[0].contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"http/json\""));
        // A per-signal value is named as such, and only that signal falls back.
        let p = plan_with(
            Telemetry::builder(),
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "thrift"),
            ],
        )
        .unwrap();
        assert_eq!(p.metrics, sig(Protocol::Grpc, "http://localhost:4317"));
        assert_eq!(
            p.traces,
            sig(Protocol::HttpProtobuf, "http://localhost:4318/v1/traces")
        );
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].starts_with("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"));
        // Supported values never warn.
        assert!(plan_with(Telemetry::builder(), &[])
            .unwrap()
            .warnings
            .is_empty());
    }

    #[test]
    fn bad_endpoints_are_named() {
        let e = plan_with(Telemetry::builder().endpoint("localhost:4317"), &[]).unwrap_err();
        assert!(e.to_string().contains("localhost:4317"), "{e}");
    }

    #[test]
    fn compression_comes_from_the_builder_then_per_signal_then_general_variables() {
        let p = plan_with(
            Telemetry::builder(),
            &[
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "GZIP"),
                ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
            ],
        )
        .unwrap();
        assert_eq!(p.traces.unwrap().compression, Some(Compression::Gzip));
        assert_eq!(p.metrics.unwrap().compression, None);
        let b = Telemetry::builder().compression(Compression::Gzip);
        let p = plan_with(b, &[("OTEL_EXPORTER_OTLP_COMPRESSION", "none")]).unwrap();
        assert_eq!(p.metrics.unwrap().compression, Some(Compression::Gzip));
        let p = plan_with(
            Telemetry::builder(),
            &[("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd")],
        )
        .unwrap();
        assert_eq!(p.traces.unwrap().compression, None);
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("\"zstd\""), "{:?}", p.warnings);
    }

    #[test]
    fn certificates_and_timeouts_are_per_signal_with_a_general_fallback() {
        let p = plan_with(
            Telemetry::builder(),
            &[
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                    "/etc/traces-ca.pem",
                ),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
                ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "soon"),
            ],
        )
        .unwrap();
        let (traces, metrics) = (p.traces.unwrap(), p.metrics.unwrap());
        let traces_ca = traces.certificate.unwrap();
        assert_eq!(traces_ca.path, PathBuf::from("/etc/traces-ca.pem"));
        assert_eq!(traces_ca.from, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE");
        assert_eq!(
            metrics.certificate.unwrap().from,
            "OTEL_EXPORTER_OTLP_CERTIFICATE"
        );
        assert_eq!(traces.timeout, Duration::from_millis(2500));
        assert_eq!(metrics.timeout, DEFAULT_TIMEOUT);
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"));
        let b = Telemetry::builder()
            .certificate("/mine.pem")
            .timeout(Duration::from_secs(1));
        let p = plan_with(b, &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem")]).unwrap();
        let traces = p.traces.unwrap();
        assert_eq!(traces.certificate.unwrap().path, PathBuf::from("/mine.pem"));
        assert_eq!(traces.timeout, Duration::from_secs(1));
    }
}
