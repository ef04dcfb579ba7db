//! A `tracing` layer that reads the SDK's own operation spans and turns them
//! into the table the quickstart prints: the same spans that go to Jaeger.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Samples of one operation: (duration, bytes moved).
type Samples = Vec<(Duration, u64)>;

/// Per-operation samples, keyed by span name (`COS PutObject`).
#[derive(Clone, Default)]
pub struct Stats(Arc<Mutex<BTreeMap<String, Samples>>>);

struct Open {
    name: String,
    started: Instant,
    bytes: u64,
}

#[derive(Default)]
struct Fields {
    name: Option<String>,
    bytes: u64,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "otel.name" {
            self.name = Some(value.to_string());
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if matches!(
            field.name(),
            "http.request.body.size" | "http.response.body.size"
        ) {
            self.bytes += value.max(0) as u64;
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "otel.name" {
            self.name = Some(format!("{value:?}").trim_matches('"').to_string());
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Stats {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "coscls.operation" {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(span), Some(name)) = (ctx.span(id), fields.name) {
            span.extensions_mut().insert(Open {
                name,
                started: Instant::now(),
                bytes: fields.bytes,
            });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(open) = span.extensions_mut().get_mut::<Open>() {
                let mut fields = Fields::default();
                values.record(&mut fields);
                open.bytes += fields.bytes;
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            if let Some(open) = span.extensions_mut().remove::<Open>() {
                if let Ok(mut map) = self.0.lock() {
                    map.entry(open.name)
                        .or_default()
                        .push((open.started.elapsed(), open.bytes));
                }
            }
        }
    }
}

impl Stats {
    /// `operation  count  p50  p99  bytes`, one row per operation.
    pub fn table(&self) -> String {
        let map = self.0.lock().map(|m| m.clone()).unwrap_or_default();
        let mut out = format!(
            "{:<32} {:>6} {:>10} {:>10} {:>12}\n",
            "operation", "count", "p50 ms", "p99 ms", "bytes"
        );
        for (name, samples) in map {
            let mut d: Vec<Duration> = samples.iter().map(|(d, _)| *d).collect();
            d.sort();
            let pct = |p: f64| d[((d.len() as f64 * p).ceil() as usize).clamp(1, d.len()) - 1];
            let bytes: u64 = samples.iter().map(|(_, b)| b).sum();
            let _ = writeln!(
                out,
                "{:<32} {:>6} {:>10.2} {:>10.2} {:>12}",
                name,
                samples.len(),
                pct(0.50).as_secs_f64() * 1e3,
                pct(0.99).as_secs_f64() * 1e3,
                bytes
            );
        }
        out
    }
}
