//! Exporter wrappers that keep telemetry from ever bothering the application:
//!
//! - the first failed export is reported once, clearly (and again only
//!   after an export succeeded in between);
//! - gRPC exports run on a small dedicated Tokio runtime, because the SDK's
//!   batch processors export from plain threads with no reactor;
//! - nothing the exporter itself does is traced (no feedback loop).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

/// Tracks whether exports fail, to say so once.
#[derive(Debug)]
pub(crate) struct ExportHealth {
    failing: AtomicBool,
    destination: String,
}

impl ExportHealth {
    pub(crate) fn new(destination: String) -> Self {
        ExportHealth {
            failing: AtomicBool::new(false),
            destination,
        }
    }

    /// Whether the last export failed.
    pub(crate) fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    fn observe(&self, signal: &str, result: &OTelSdkResult) {
        match result {
            Err(e) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    report(&format!(
                        "coscls telemetry: exporting {signal} failed: {e}. Collector: {}. \
                         The application keeps running; spans and metrics are dropped until \
                         the collector is reachable. This is reported once.",
                        self.destination
                    ));
                }
            }
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(target: "coscls::telemetry", destination = %self.destination, "telemetry export works again");
                }
            }
        }
    }
}

/// Prints `message` through `tracing` when a subscriber listens for it, on
/// stderr otherwise, so it is never lost.
pub(crate) fn report(message: &str) {
    if tracing::enabled!(target: "coscls::telemetry", tracing::Level::WARN) {
        tracing::warn!(target: "coscls::telemetry", "{message}");
    } else {
        eprintln!("{message}");
    }
}

/// A multi-thread runtime with one worker, shut down in the background when
/// dropped (dropping a runtime inside async code would panic).
#[derive(Debug)]
pub(crate) struct ExportRuntime(Option<tokio::runtime::Runtime>);

impl ExportRuntime {
    pub(crate) fn new() -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("coscls-otlp")
            .enable_all()
            .on_thread_start(|| {
                // The exporter's own HTTP/2 machinery must never be traced.
                std::mem::forget(tracing::subscriber::set_default(
                    tracing::subscriber::NoSubscriber::default(),
                ));
            })
            .build()?;
        Ok(ExportRuntime(Some(rt)))
    }

    pub(crate) fn handle(&self) -> Option<&tokio::runtime::Handle> {
        self.0.as_ref().map(|rt| rt.handle())
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs `fut` with tracing switched off on this thread, on `runtime` when given.
async fn untraced<F: Future<Output = OTelSdkResult> + Send>(
    runtime: Option<&ExportRuntime>,
    fut: F,
) -> OTelSdkResult {
    match runtime.and_then(ExportRuntime::handle) {
        // The SDK calls exporters from its own threads, outside any runtime,
        // so blocking on the dedicated runtime here is allowed.
        Some(handle) => without_tracing(|| handle.block_on(fut)),
        None => Untraced(Box::pin(fut)).await,
    }
}

fn without_tracing<T>(f: impl FnOnce() -> T) -> T {
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), f)
}

struct Untraced<'a>(Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>);

impl Future for Untraced<'_> {
    type Output = OTelSdkResult;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OTelSdkResult> {
        without_tracing(|| self.0.as_mut().poll(cx))
    }
}

/// The OTLP span exporter with failure reporting.
#[derive(Debug)]
pub(crate) struct ReportingSpanExporter {
    pub(crate) inner: opentelemetry_otlp::SpanExporter,
    pub(crate) runtime: Option<Arc<ExportRuntime>>,
    pub(crate) health: Arc<ExportHealth>,
}

impl SpanExporter for ReportingSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = untraced(self.runtime.as_deref(), self.inner.export(batch)).await;
        self.health.observe("traces", &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The OTLP metric exporter with failure reporting.
#[derive(Debug)]
pub(crate) struct ReportingMetricExporter {
    pub(crate) inner: opentelemetry_otlp::MetricExporter,
    pub(crate) runtime: Option<Arc<ExportRuntime>>,
    pub(crate) health: Arc<ExportHealth>,
}

impl PushMetricExporter for ReportingMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = untraced(self.runtime.as_deref(), self.inner.export(metrics)).await;
        self.health.observe("metrics", &result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
