//! The one place where coscls reads OpenTelemetry state out of `tracing`
//! spans (through `tracing-opentelemetry`) and writes trace context into
//! request headers.
//!
//! With the `otlp` feature the span's OpenTelemetry context comes from the
//! `tracing-opentelemetry` layer; without it there is no bridge, spans have
//! no OpenTelemetry context, and nothing is injected. Everything else in
//! the instrumentation uses only `tracing` and the `opentelemetry` API.

use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::Injector;
#[cfg(feature = "otlp")]
use opentelemetry::trace::SpanContext;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::Context;

/// The OpenTelemetry context of `span`, when an OpenTelemetry layer
/// records it and its span context is valid.
#[cfg(feature = "otlp")]
pub(crate) fn context_of(span: &tracing::Span) -> Option<Context> {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    if span.is_disabled() {
        return None;
    }
    let cx = span.context();
    cx.span().span_context().is_valid().then_some(cx)
}

/// Makes `cx` the parent of `span` (an attempt span whose operation span
/// was created through the OpenTelemetry API). Without a bridge layer there
/// is nothing to set.
#[cfg(feature = "otlp")]
pub(crate) fn set_parent(span: &tracing::Span, cx: Context) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    if !span.is_disabled() {
        let _ = span.set_parent(cx);
    }
}

/// Without the `otlp` feature there is no bridge and no direct span.
#[cfg(not(feature = "otlp"))]
pub(crate) fn set_parent(_span: &tracing::Span, _cx: Context) {}

/// Without the `otlp` feature no layer bridges spans to OpenTelemetry.
#[cfg(not(feature = "otlp"))]
pub(crate) fn context_of(_span: &tracing::Span) -> Option<Context> {
    None
}

/// The span context behind span `id` of `dispatch` (for log records that
/// name their trace), when it is valid.
#[cfg(feature = "otlp")]
pub(crate) fn span_context_in(
    dispatch: &tracing::Dispatch,
    id: &tracing::span::Id,
) -> Option<SpanContext> {
    let cx = tracing_opentelemetry::get_otel_context(id, dispatch)?;
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}

/// Writes the trace context of `cx` into `headers` with the global text
/// map propagator (`opentelemetry::global::set_text_map_propagator`; the
/// telemetry set-up installs the one `OTEL_PROPAGATORS` names).
///
/// While no propagator is installed and `OTEL_PROPAGATORS` is unset, W3C
/// `traceparent`/`tracestate` are written (the trace-context half of the
/// specification's default, which needs no SDK).
pub(crate) fn inject(cx: &Context, headers: &mut HeaderMap) {
    let mut carrier = HeaderInjector(headers);
    let installed = opentelemetry::global::get_text_map_propagator(|p| {
        if p.fields().next().is_none() {
            return false;
        }
        p.inject_context(cx, &mut carrier);
        true
    });
    if !installed && env_names_no_propagator() {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let traceparent = traceparent(
            sc.trace_id().to_bytes(),
            sc.span_id().to_bytes(),
            sc.trace_flags().to_u8(),
        );
        if let Ok(v) = HeaderValue::from_bytes(&traceparent) {
            headers.insert(TRACEPARENT, v);
        }
        let state = sc.trace_state().header();
        if !state.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&state) {
                headers.insert(TRACESTATE, v);
            }
        }
    }
}

/// Whether `OTEL_PROPAGATORS` is unset (read once): when it is set, whoever
/// set it installs what it names, `none` included.
fn env_names_no_propagator() -> bool {
    static UNSET: OnceLock<bool> = OnceLock::new();
    *UNSET.get_or_init(|| std::env::var_os("OTEL_PROPAGATORS").is_none())
}

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
const BAGGAGE: HeaderName = HeaderName::from_static("baggage");

/// `00-<trace id>-<span id>-<flags>`, lower-case hex (W3C Trace Context).
pub(crate) fn traceparent(trace_id: [u8; 16], span_id: [u8; 8], flags: u8) -> [u8; 55] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 55];
    out[0] = b'0';
    out[1] = b'0';
    let mut put = |at: usize, bytes: &[u8]| {
        for (i, b) in bytes.iter().enumerate() {
            out[at + 2 * i] = HEX[usize::from(b >> 4)];
            out[at + 2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
    };
    put(3, &trace_id);
    put(36, &span_id);
    put(53, &[flags]);
    out
}

/// Request headers as a propagation carrier; a value that is not a valid
/// header is left out.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // An empty value says nothing (the SDK's W3C propagator sets an
        // empty `tracestate` when the trace has none): no header is sent,
        // which W3C Trace Context allows and the server need not parse.
        if value.is_empty() {
            return;
        }
        // The names the W3C propagators write are known: parsing them
        // again for every request is not needed.
        let name = match key {
            "traceparent" => TRACEPARENT,
            "tracestate" => TRACESTATE,
            "baggage" => BAGGAGE,
            _ => match HeaderName::from_bytes(key.as_bytes()) {
                Ok(name) => name,
                Err(_) => return,
            },
        };
        // Takes the string's buffer instead of copying it.
        if let Ok(value) = HeaderValue::try_from(value) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    #[test]
    fn the_default_is_w3c_trace_context() {
        let sc = SpanContext::new(
            TraceId::from_bytes([0xab; 16]),
            SpanId::from_bytes([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let cx = Context::new().with_remote_span_context(sc);
        let mut headers = HeaderMap::new();
        inject(&cx, &mut headers);
        if env_names_no_propagator() {
            assert_eq!(
                headers["traceparent"],
                "00-abababababababababababababababab-0123456789abcdef-01"
            );
        }
    }

    #[test]
    fn traceparent_is_the_w3c_layout() {
        let tp = traceparent(
            [0xab; 16],
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
            1,
        );
        assert_eq!(
            std::str::from_utf8(&tp).unwrap(),
            "00-abababababababababababababababab-0123456789abcdef-01"
        );
    }
}
