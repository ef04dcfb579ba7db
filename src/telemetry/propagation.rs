//! The global text-map propagator chosen by `OTEL_PROPAGATORS`: which
//! headers (`traceparent`, `baggage`) carry the trace to COS and CLS.
//!
//! Follows the OpenTelemetry specification: a comma-separated list, unset
//! or empty means `tracecontext,baggage`, `none` means no propagation, and
//! an unknown name is warned about and skipped rather than failing start-up.

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::trace::{TraceContextExt as _, TraceFlags};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use crate::instrument::otel::traceparent;

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
            "tracecontext" => propagators.push(Box::new(W3cTraceContext::default())),
            "baggage" => propagators.push(Box::new(BaggagePropagator::new())),
            _ => warnings.push(format!(
                "OTEL_PROPAGATORS: unsupported propagator {name:?} is ignored (supported: tracecontext, baggage, none)"
            )),
        }
    }
    (TextMapCompositePropagator::new(propagators), warnings)
}

/// The SDK's W3C trace-context propagator, writing `traceparent` without
/// `core::fmt`: it runs for every request, and formatting the ids through
/// `Display` cost about as much as the rest of the injection. What it
/// writes is the SDK's, byte for byte (version `00`, the sampled flag
/// only, `tracestate` always, empty when the context has none);
/// extraction is the SDK's own.
#[derive(Debug, Default)]
struct W3cTraceContext(TraceContextPropagator);

impl TextMapPropagator for W3cTraceContext {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let value = traceparent(
            sc.trace_id().to_bytes(),
            sc.span_id().to_bytes(),
            (sc.trace_flags() & TraceFlags::SAMPLED).to_u8(),
        );
        // Hex digits and dashes only: always UTF-8.
        if let Ok(value) = std::str::from_utf8(&value) {
            injector.set("traceparent", value.to_owned());
        }
        injector.set("tracestate", sc.trace_state().header());
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        self.0.fields()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::baggage::BaggageExt as _;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
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
    fn the_w3c_propagator_writes_what_the_sdk_writes() {
        let state =
            TraceState::from_key_value([("vendor", "x1"), ("other", "y-2")]).expect("trace state");
        for (flags, state) in [
            (TraceFlags::SAMPLED, TraceState::default()),
            (TraceFlags::default(), TraceState::default()),
            // Bits other than `sampled` are not written, as by the SDK.
            (TraceFlags::new(0x03), state.clone()),
            (TraceFlags::new(0xfe), state),
        ] {
            let sc = SpanContext::new(
                TraceId::from_bytes([
                    0x00, 0x01, 0x0a, 0x10, 0x7f, 0x80, 0xff, 0xc3, 0x12, 0x34, 0x56, 0x78, 0x9a,
                    0xbc, 0xde, 0xf0,
                ]),
                SpanId::from_bytes([0x09, 0xf0, 0x00, 0x11, 0xab, 0xcd, 0xef, 0x01]),
                flags,
                false,
                state,
            );
            let cx = Context::new().with_remote_span_context(sc);
            let mut ours = HashMap::new();
            W3cTraceContext::default().inject_context(&cx, &mut ours);
            let mut sdk = HashMap::new();
            TraceContextPropagator::new().inject_context(&cx, &mut sdk);
            assert_eq!(ours, sdk, "flags {flags:?}");
            assert_eq!(keys(&ours), ["traceparent", "tracestate"]);
        }
        // An invalid context writes nothing, as the SDK's.
        let mut ours = HashMap::new();
        W3cTraceContext::default().inject_context(&Context::new(), &mut ours);
        assert!(ours.is_empty());
        // Extraction is the SDK's: what was written reads back.
        let sc = SpanContext::new(
            TraceId::from_bytes([0x4b; 16]),
            SpanId::from_bytes([0x1f; 8]),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let mut headers = HashMap::new();
        let w3c = W3cTraceContext::default();
        w3c.inject_context(
            &Context::new().with_remote_span_context(sc.clone()),
            &mut headers,
        );
        let back = w3c.extract(&headers);
        assert_eq!(back.span().span_context(), &sc);
        assert_eq!(
            w3c.fields().collect::<Vec<_>>(),
            ["traceparent", "tracestate"]
        );
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
