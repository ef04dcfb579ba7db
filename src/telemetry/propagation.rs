//! The global text-map propagator chosen by `OTEL_PROPAGATORS`: which
//! headers (`traceparent`, `baggage`) carry the trace to COS and CLS.
//!
//! Follows the OpenTelemetry specification: a comma-separated list, unset
//! or empty means `tracecontext,baggage`, `none` means no propagation, and
//! an unknown name is warned about and skipped rather than failing start-up.

use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

/// The specification's default value of `OTEL_PROPAGATORS`.
const DEFAULT: &str = "tracecontext,baggage";

/// The propagator for an `OTEL_PROPAGATORS` value (`None` when unset), and
/// what was ignored in it, one message per problem.
pub(crate) fn from_env_value(value: Option<&str>) -> (TextMapCompositePropagator, Vec<String>) {
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    let mut warnings = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for name in value.unwrap_or(DEFAULT).split(',').map(str::trim) {
        if name.is_empty() || names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            continue;
        }
        names.push(name);
    }
    let none = names.iter().any(|n| n.eq_ignore_ascii_case("none"));
    let mut propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
    for name in names {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "none" => {}
            _ if none => warnings.push(format!(
                "OTEL_PROPAGATORS names \"none\" and {name:?}: {name:?} is ignored, nothing is propagated"
            )),
            "tracecontext" => propagators.push(Box::new(TraceContextPropagator::new())),
            "baggage" => propagators.push(Box::new(BaggagePropagator::new())),
            _ => warnings.push(format!(
                "OTEL_PROPAGATORS: unsupported propagator {name:?} is ignored (supported: tracecontext, baggage, none)"
            )),
        }
    }
    (TextMapCompositePropagator::new(propagators), warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::baggage::BaggageExt as _;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{Context, KeyValue};
    use std::collections::HashMap;

    /// What `value`'s propagator injects for a sampled span with baggage.
    fn injected(value: Option<&str>) -> (HashMap<String, String>, Vec<String>) {
        let (propagator, warnings) = from_env_value(value);
        let span = SpanContext::new(
            TraceId::from_bytes([0x4b; 16]),
            SpanId::from_bytes([0x1f; 8]),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let cx = Context::new()
            .with_remote_span_context(span)
            .with_baggage([KeyValue::new("tenant", "acme")]);
        let mut headers = HashMap::new();
        propagator.inject_context(&cx, &mut headers);
        (headers, warnings)
    }

    const TRACEPARENT: &str = "00-4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b-1f1f1f1f1f1f1f1f-01";

    fn keys(headers: &HashMap<String, String>) -> Vec<&str> {
        let mut k: Vec<&str> = headers.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn unset_or_empty_means_tracecontext_and_baggage() {
        for value in [None, Some(""), Some("  ")] {
            let (headers, warnings) = injected(value);
            assert_eq!(
                keys(&headers),
                ["baggage", "traceparent", "tracestate"],
                "{value:?}"
            );
            assert_eq!(headers["traceparent"], TRACEPARENT);
            // The W3C propagator always writes `tracestate`, empty here.
            assert_eq!(headers["tracestate"], "");
            assert_eq!(headers["baggage"], "tenant=acme");
            assert!(warnings.is_empty());
        }
    }

    #[test]
    fn each_name_alone_injects_only_its_header() {
        let (headers, _) = injected(Some("tracecontext"));
        assert_eq!(keys(&headers), ["traceparent", "tracestate"]);
        assert_eq!(headers["traceparent"], TRACEPARENT);
        let (headers, _) = injected(Some("baggage"));
        assert_eq!(keys(&headers), ["baggage"]);
        assert_eq!(headers["baggage"], "tenant=acme");
    }

    #[test]
    fn none_injects_nothing() {
        let (headers, warnings) = injected(Some("none"));
        assert!(headers.is_empty(), "{headers:?}");
        assert!(warnings.is_empty());
        // `none` with others: still nothing, and the others are named.
        let (headers, warnings) = injected(Some("tracecontext, none"));
        assert!(headers.is_empty(), "{headers:?}");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("\"tracecontext\""), "{warnings:?}");
    }

    #[test]
    fn lists_are_trimmed_case_insensitive_and_unknown_names_warn() {
        let (headers, warnings) = injected(Some(" Baggage , b3, tracecontext,baggage,"));
        assert_eq!(keys(&headers), ["baggage", "traceparent", "tracestate"]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("\"b3\""), "{warnings:?}");
        let (headers, warnings) = injected(Some("xray"));
        assert!(headers.is_empty());
        assert_eq!(warnings.len(), 1);
    }
}
