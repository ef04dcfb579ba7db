//! Operation spans created with the OpenTelemetry API directly, for
//! subscribers that carry an [`OperationSpans`] layer (the ones
//! `telemetry::init` and `TelemetryBuilder::install` set up do).
//!
//! The operation span is then an SDK span started with that layer's tracer:
//! no `tracing` span, no `tracing-opentelemetry` bridge between coscls and
//! the exporter. What holds either way:
//!
//! - the span's name, kind, attributes, status and events are the ones the
//!   bridged `tracing` span gets (a test compares the two);
//! - its parent is the caller's current OpenTelemetry context, which is the
//!   caller's current `tracing` span when the bridge activates contexts (its
//!   default; otherwise that span's context is looked up), or the operation
//!   this task is already running;
//! - attempt spans (opt-in) are its children and `traceparent` names it;
//! - it is only created while the subscribers enable `INFO` at all, so
//!   `RUST_LOG=warn` leaves it out as it leaves out the bridged span (a
//!   per-target directive such as `coscls=off` does not: that would cost a
//!   walk through every layer's filter per operation).
//!
//! Without the `otlp` feature there is no SDK tracer to hold: the layer does
//! not exist and every operation span is a `tracing` span.

#[cfg(feature = "otlp")]
pub use imp::OperationSpans;
#[cfg(feature = "otlp")]
pub(super) use imp::{installed, start, DirectSpan};
#[cfg(not(feature = "otlp"))]
pub(super) use none::{installed, start, DirectSpan};

#[cfg(feature = "otlp")]
mod imp {
    use std::borrow::Cow;
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{
        Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
    };
    use opentelemetry::{Context, Key, KeyValue, Value};
    use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

    use super::super::instruments::scope;
    use super::super::operation::{lock, with_current, Late};
    use super::super::schema::{attr, RPC_SYSTEM};
    use super::super::OperationInfo;

    /// A `tracing` layer that makes coscls create its operation spans with
    /// the OpenTelemetry API and `provider`'s tracer, instead of as
    /// `tracing` spans exported through `tracing-opentelemetry`: the same
    /// spans, for about half the cost per operation (BENCHMARKS.md,
    /// "Telemetry cost").
    ///
    /// It records nothing itself; coscls finds it in the current subscriber
    /// when an operation starts. Add it beside the `tracing-opentelemetry`
    /// layer built on the same provider (which still carries the attempt
    /// spans, and gives the operation span its parent). The trade-off:
    /// while an operation runs, the events it logs (a retry, a checksum
    /// retry) have the caller's span as parent in other layers, not the
    /// operation span.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt as _;
    /// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(coscls::telemetry::layer(&provider))
    ///     .with(coscls::telemetry::OperationSpans::new(&provider));
    /// # let _ = subscriber;
    /// ```
    #[derive(Debug, Clone)]
    pub struct OperationSpans {
        tracer: SdkTracer,
    }

    impl OperationSpans {
        /// Operation spans from `provider`, with coscls's instrumentation
        /// scope (the scope the bridged spans have).
        pub fn new(provider: &SdkTracerProvider) -> Self {
            OperationSpans {
                tracer: provider.tracer_with_scope(scope()),
            }
        }
    }

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for OperationSpans {
        /// coscls's own events logged while one of these operation spans
        /// runs on this task (a retry, a CRC-64 mismatch) become events of
        /// that span, as the bridge makes them events of a `tracing`
        /// operation span: named by their message, with `level`, `target`
        /// and their fields as attributes.
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            let meta = event.metadata();
            let target = meta.target();
            if !(target == "coscls" || target.starts_with("coscls::")) {
                return;
            }
            with_current(|span| {
                if !span.recording {
                    return;
                }
                let mut fields = EventFields {
                    name: None,
                    attributes: vec![
                        KeyValue::new("level", meta.level().as_str()),
                        KeyValue::new("target", target),
                    ],
                };
                event.record(&mut fields);
                let name = fields.name.map_or(Cow::Borrowed(meta.name()), Cow::Owned);
                lock(&span.span).add_event(name, fields.attributes);
            });
        }
    }

    /// An event's message and fields, as span event name and attributes.
    struct EventFields {
        name: Option<String>,
        attributes: Vec<KeyValue>,
    }

    impl tracing::field::Visit for EventFields {
        fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
            self.attributes.push(KeyValue::new(field.name(), value));
        }
        fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
            let kv = match i64::try_from(value) {
                Ok(v) => KeyValue::new(field.name(), v),
                Err(_) => KeyValue::new(field.name(), value.to_string()),
            };
            self.attributes.push(kv);
        }
        fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
            self.attributes.push(KeyValue::new(field.name(), value));
        }
        fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
            self.attributes.push(KeyValue::new(field.name(), value));
        }
        fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
            match field.name() {
                "message" => self.name = Some(value.to_owned()),
                name => self.attributes.push(KeyValue::new(name, value.to_owned())),
            }
        }
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            match field.name() {
                "message" => self.name = Some(format!("{value:?}")),
                name => self
                    .attributes
                    .push(KeyValue::new(name, format!("{value:?}"))),
            }
        }
    }

    /// An operation span started through the OpenTelemetry API.
    #[derive(Debug)]
    pub(in crate::instrument) struct DirectSpan {
        span: Mutex<opentelemetry_sdk::trace::Span>,
        /// The caller's context with this span as its active span: the
        /// parent of attempt spans and of nested operations, and what
        /// `traceparent` carries.
        cx: Context,
        recording: bool,
    }

    /// `f` of the current subscriber's [`OperationSpans`] layer, when it
    /// has one and enables `INFO`. The operation span is filtered by the
    /// maximum level the subscribers enable (`RUST_LOG=warn` leaves it
    /// out), which costs one load instead of a walk through the layers'
    /// filters.
    fn with_layer<R>(f: impl Fn(&OperationSpans) -> R) -> Option<R> {
        if tracing::level_filters::LevelFilter::current() < tracing::Level::INFO {
            return None;
        }
        tracing::dispatcher::get_default(|dispatch| {
            dispatch.downcast_ref::<OperationSpans>().map(&f)
        })
    }

    /// Whether [`start`] would find a tracer.
    pub(in crate::instrument) fn installed() -> bool {
        with_layer(|_| ()).is_some()
    }

    /// Starts the operation span of `info` when the current subscriber has
    /// an [`OperationSpans`] layer and enables coscls's operation spans.
    /// `nested_in` is the context of the operation this task already runs,
    /// if any. `bucket` and `region` are the metric label values (shared
    /// strings).
    pub(in crate::instrument) fn start(
        info: &OperationInfo<'_>,
        nested_in: Option<&Context>,
        bucket: &Value,
        region: &Value,
    ) -> Option<DirectSpan> {
        // The tracer is taken out of the subscriber first: inside
        // `get_default`, `tracing` hides the subscriber from nested calls,
        // and finding the caller's span needs it. (The bridged span is
        // filtered per callsite instead.)
        let tracer = with_layer(|layer| layer.tracer.clone())?;
        let tracer = &tracer;
        let parent = match nested_in {
            Some(cx) => cx.clone(),
            None => caller_context(),
        };
        let service = info.service.as_str();
        let mut name = String::with_capacity(service.len() + 1 + info.operation.len());
        name.push_str(service);
        name.push(' ');
        name.push_str(info.operation);
        // The attributes are added once the sampler kept the span, so
        // a dropped span costs none of them; the vector given here is
        // the span's own, sized for all of them. (Samplers see the name
        // and kind only; none of those `OTEL_TRACES_SAMPLER` names
        // reads attributes.)
        let mut span = tracer
            .span_builder(Cow::Owned(name))
            .with_kind(SpanKind::Client)
            .with_attributes(Vec::with_capacity(capacity(info)))
            .start_with_context(tracer, &parent);
        let recording = span.is_recording();
        if recording {
            for kv in attributes(info, bucket, region) {
                span.set_attribute(kv);
            }
        }
        let cx = parent.with_remote_span_context(span.span_context().clone());
        Some(DirectSpan {
            span: Mutex::new(span),
            cx,
            recording,
        })
    }

    /// How many attributes the span of `info` can get: four fixed ones,
    /// the ones `info` gives, and the late ones ([`DirectSpan::end`]), so
    /// the span's vector is allocated once and stays small.
    pub(super) fn capacity(info: &OperationInfo<'_>) -> usize {
        let given = [
            info.region.is_some(),
            info.bucket.is_some(),
            info.key.is_some(),
            info.upload_id.is_some(),
            info.part_number.is_some(),
            info.topic.is_some(),
        ];
        4 + given.into_iter().filter(|&b| b).count() + LATE
    }

    /// The caller's context: OpenTelemetry's current one, which the bridge
    /// keeps in step with the current `tracing` span while it activates
    /// contexts (its default); when it does not (`with_context_activation
    /// (false)`) and no OpenTelemetry span is active, the current `tracing`
    /// span's.
    fn caller_context() -> Context {
        let cx = Context::current();
        if cx.has_active_span() {
            return cx;
        }
        let current = tracing::Span::current();
        if current.is_none() {
            return cx;
        }
        super::super::otel::context_of(&current).unwrap_or(cx)
    }

    /// What is known when the operation starts.
    fn attributes<'a>(
        info: &'a OperationInfo<'_>,
        bucket: &'a Value,
        region: &'a Value,
    ) -> impl Iterator<Item = KeyValue> + 'a {
        let fixed = [
            KeyValue::new(attr::RPC_SYSTEM, RPC_SYSTEM),
            KeyValue::new(attr::CLOUD_PROVIDER, "tencent_cloud"),
            KeyValue::new(attr::RPC_SERVICE, info.service.as_str()),
            KeyValue::new(attr::RPC_METHOD, info.operation),
        ];
        let given = [
            info.region
                .map(|_| KeyValue::new(attr::CLOUD_REGION, region.clone())),
            info.bucket
                .map(|_| KeyValue::new(attr::COS_BUCKET, bucket.clone())),
            info.key.map(|k| KeyValue::new(attr::COS_KEY, k.to_owned())),
            info.upload_id
                .map(|id| KeyValue::new(attr::COS_UPLOAD_ID, id.to_owned())),
            info.part_number
                .map(|n| KeyValue::new(attr::COS_PART_NUMBER, n)),
            info.topic
                .map(|t| KeyValue::new(attr::CLS_TOPIC_ID, t.to_owned())),
        ];
        fixed.into_iter().chain(given.into_iter().flatten())
    }

    /// How many attributes [`DirectSpan::end`] may add (the length of its
    /// array, so the two cannot drift apart).
    const LATE: usize = 9;

    /// The methods HTTP defines, as static text: an attribute of one costs
    /// no copy.
    pub(super) fn known_method(method: &str) -> Option<&'static str> {
        const KNOWN: [&str; 9] = [
            "GET", "PUT", "POST", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
        ];
        KNOWN.into_iter().find(|known| *known == method)
    }

    impl DirectSpan {
        /// Whether the sampler kept the span.
        pub(in crate::instrument) fn records(&self) -> bool {
            self.recording
        }

        /// The caller's context with this span active.
        pub(in crate::instrument) fn context(&self) -> &Context {
            &self.cx
        }

        /// Adds an event (`checksum_mismatch_retry`) with its attributes.
        pub(in crate::instrument) fn add_event(
            &self,
            name: &'static str,
            attributes: Vec<KeyValue>,
        ) {
            if self.recording {
                lock(&self.span).add_event(name, attributes);
            }
        }

        /// Records the late attributes and the status, and ends the span.
        pub(in crate::instrument) fn end(&self, late: &Late<'_>) {
            let mut span = lock(&self.span);
            if self.recording {
                let text = |k: &'static str, v: Option<&str>| {
                    v.map(|v| KeyValue::new(Key::from_static_str(k), v.to_owned()))
                };
                let int = |k: &'static str, v: Option<i64>| {
                    v.map(|v| KeyValue::new(Key::from_static_str(k), v))
                };
                // The method names HTTP defines and the operation's URL
                // are taken as they are; other values are copied.
                let method = late.method.map(|m| {
                    let value =
                        known_method(m).map_or_else(|| Value::from(m.to_owned()), Value::from);
                    KeyValue::new(Key::from_static_str(attr::HTTP_REQUEST_METHOD), value)
                });
                let url = late
                    .url
                    .map(|u| KeyValue::new(Key::from_static_str(attr::URL_FULL), Arc::clone(u)));
                let late_attributes: [Option<KeyValue>; LATE] = [
                    method,
                    text(attr::SERVER_ADDRESS, late.host),
                    url,
                    int(attr::HTTP_REQUEST_BODY_SIZE, late.request_body_size),
                    int(attr::HTTP_RESPONSE_STATUS_CODE, late.status),
                    text(attr::REQUEST_ID, late.request_id),
                    int(attr::HTTP_REQUEST_RESEND_COUNT, late.resend_count),
                    int(attr::HTTP_RESPONSE_BODY_SIZE, late.body_size),
                    text(attr::ERROR_TYPE, late.error),
                ];
                for kv in late_attributes.into_iter().flatten() {
                    span.set_attribute(kv);
                }
                if let Some(error) = late.error {
                    span.set_status(Status::error(error.to_owned()));
                }
            }
            span.end();
        }
    }
}

#[cfg(not(feature = "otlp"))]
mod none {
    use opentelemetry::{Context, KeyValue, Value};

    use super::super::operation::Late;
    use super::super::OperationInfo;

    /// Never made without the `otlp` feature.
    #[derive(Debug)]
    pub(in crate::instrument) enum DirectSpan {}

    /// There is no layer to install without the `otlp` feature.
    pub(in crate::instrument) fn installed() -> bool {
        false
    }

    /// Without an SDK tracer every operation span is a `tracing` span.
    pub(in crate::instrument) fn start(
        _info: &OperationInfo<'_>,
        _nested_in: Option<&Context>,
        _bucket: &Value,
        _region: &Value,
    ) -> Option<DirectSpan> {
        None
    }

    impl DirectSpan {
        pub(in crate::instrument) fn records(&self) -> bool {
            match *self {}
        }
        pub(in crate::instrument) fn context(&self) -> &Context {
            match *self {}
        }
        pub(in crate::instrument) fn add_event(
            &self,
            _name: &'static str,
            _attributes: Vec<KeyValue>,
        ) {
            match *self {}
        }
        pub(in crate::instrument) fn end(&self, _late: &Late<'_>) {
            match *self {}
        }
    }
}

#[cfg(all(test, feature = "otlp"))]
mod tests {
    use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _};
    use opentelemetry::Value;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::super::operation::Late;
    use super::super::OperationInfo;
    use super::*;

    fn provider() -> (SdkTracerProvider, InMemorySpanExporter) {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        (provider, exporter)
    }

    fn info() -> OperationInfo<'static> {
        OperationInfo::cos("PutObject", "ap-guangzhou", "b-1250000000").with_key("k")
    }

    fn start_under(dispatch: &tracing::Dispatch) -> Option<DirectSpan> {
        let v = Value::from("x");
        tracing::dispatcher::with_default(dispatch, || start(&info(), None, &v, &v))
    }

    /// Only the methods HTTP defines, spelled as HTTP spells them, are
    /// taken as static text; any other is copied as it is.
    #[test]
    fn known_methods_are_exactly_http_s() {
        for m in [
            "GET", "PUT", "POST", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
        ] {
            assert_eq!(imp::known_method(m), Some(m));
        }
        for m in ["get", "PURGE", "", "GETX"] {
            assert_eq!(imp::known_method(m), None);
        }
    }

    #[test]
    fn the_layer_is_found_behind_options_and_filters_and_only_there() {
        let (p, _) = provider();
        let with = tracing::Dispatch::new(
            tracing_subscriber::registry()
                .with(tracing_subscriber::filter::LevelFilter::INFO)
                .with(Some(OperationSpans::new(&p)))
                .with(crate::telemetry::layer(&p)),
        );
        assert!(start_under(&with).is_some());
        let without = tracing::Dispatch::new(
            tracing_subscriber::registry().with(crate::telemetry::layer(&p)),
        );
        assert!(start_under(&without).is_none(), "no layer: a tracing span");
        let none: Option<OperationSpans> = None;
        let absent = tracing::Dispatch::new(tracing_subscriber::registry().with(none));
        assert!(start_under(&absent).is_none());
    }

    #[test]
    fn the_span_has_the_schema_name_kind_attributes_and_outcome() {
        let (p, exporter) = provider();
        let dispatch =
            tracing::Dispatch::new(tracing_subscriber::registry().with(OperationSpans::new(&p)));
        let region = Value::from("ap-guangzhou");
        let bucket = Value::from("b-1250000000");
        let span =
            tracing::dispatcher::with_default(&dispatch, || start(&info(), None, &bucket, &region))
                .expect("a direct span");
        assert!(span.records());
        assert!(span.context().span().span_context().is_valid());
        span.end(&Late {
            method: Some("PUT"),
            status: Some(404),
            error: Some("NoSuchBucket"),
            ..Late::default()
        });
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!(s.name, "COS PutObject");
        assert_eq!(s.span_kind, SpanKind::Client);
        assert_eq!(s.instrumentation_scope.name(), "coscls");
        assert_eq!(
            s.status,
            Status::Error {
                description: "NoSuchBucket".into()
            }
        );
        let attr = |k: &str| {
            s.attributes
                .iter()
                .find(|kv| kv.key.as_str() == k)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(attr("rpc.system").as_deref(), Some("tencent_cloud-api"));
        assert_eq!(attr("cloud.region").as_deref(), Some("ap-guangzhou"));
        assert_eq!(
            attr("tencent_cloud.cos.bucket").as_deref(),
            Some("b-1250000000")
        );
        assert_eq!(attr("tencent_cloud.cos.key").as_deref(), Some("k"));
        assert_eq!(attr("http.request.method").as_deref(), Some("PUT"));
        assert_eq!(attr("http.response.status_code").as_deref(), Some("404"));
        assert_eq!(attr("error.type").as_deref(), Some("NoSuchBucket"));
        assert_eq!(attr("url.full"), None, "only what is known is recorded");
        assert!(
            s.attributes.len() <= imp::capacity(&info()),
            "the vector never grows"
        );
    }

    #[test]
    fn without_context_activation_the_parent_is_the_current_tracing_span() {
        let (p, exporter) = provider();
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::registry()
                .with(crate::telemetry::layer(&p).with_context_activation(false))
                .with(OperationSpans::new(&p)),
        );
        let v = Value::from("x");
        tracing::dispatcher::with_default(&dispatch, || {
            let app = tracing::info_span!("app");
            let _entered = app.enter();
            start(&info(), None, &v, &v).unwrap().end(&Late::default());
        });
        let spans = exporter.get_finished_spans().unwrap();
        let app = spans.iter().find(|s| s.name == "app").expect("app span");
        let op = spans
            .iter()
            .find(|s| s.name == "COS PutObject")
            .expect("operation span");
        assert_eq!(op.parent_span_id, app.span_context.span_id());
        assert_eq!(op.span_context.trace_id(), app.span_context.trace_id());
    }

    #[test]
    fn a_nested_operation_is_a_child_of_the_outer_one() {
        let (p, exporter) = provider();
        let dispatch =
            tracing::Dispatch::new(tracing_subscriber::registry().with(OperationSpans::new(&p)));
        let v = Value::from("x");
        let (outer, inner) = tracing::dispatcher::with_default(&dispatch, || {
            let outer = start(&info(), None, &v, &v).unwrap();
            let inner = start(&info(), Some(outer.context()), &v, &v).unwrap();
            (outer, inner)
        });
        inner.end(&Late::default());
        outer.end(&Late::default());
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].parent_span_id, spans[1].span_context.span_id());
        assert_eq!(
            spans[0].span_context.trace_id(),
            spans[1].span_context.trace_id()
        );
    }
}
