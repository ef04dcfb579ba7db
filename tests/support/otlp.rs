//! What leaves the process: OTLP receivers built on the official protobuf
//! definitions (gRPC with tonic, and HTTP/protobuf), and a small HTTP server
//! that plays COS for a client, recording what it was sent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coscls::telemetry::{Protocol, Telemetry, TelemetryGuard};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, HistogramDataPoint, NumberDataPoint};
use opentelemetry_proto::tonic::trace::v1::{status::StatusCode, Span};
use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Everything a receiver got.
#[derive(Default)]
pub struct Collected {
    pub traces: Vec<ExportTraceServiceRequest>,
    pub metrics: Vec<ExportMetricsServiceRequest>,
    /// The protobuf bytes of every export (as sent over HTTP; re-encoded for gRPC).
    pub raw: Vec<Vec<u8>>,
    /// `service.name` of every resource seen.
    pub service_names: Vec<String>,
    /// The `grpc-encoding` (gRPC) or `content-encoding` (HTTP) of every
    /// export, empty when there was none.
    pub encodings: Vec<String>,
}

/// An OTLP receiver on a random loopback port, on its own runtime thread so
/// it outlives any one test's runtime.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub collected: Arc<Mutex<Collected>>,
    /// `http`, or `https` for the TLS receivers.
    pub scheme: &'static str,
}

fn note_encoding(c: &Mutex<Collected>, encoding: Option<&str>) {
    c.lock()
        .unwrap()
        .encodings
        .push(encoding.unwrap_or_default().to_string());
}

struct Grpc(Arc<Mutex<Collected>>);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let encoding = request.metadata().get("grpc-encoding");
        note_encoding(&self.0, encoding.and_then(|v| v.to_str().ok()));
        store_traces(&self.0, request.into_inner(), None);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let encoding = request.metadata().get("grpc-encoding");
        note_encoding(&self.0, encoding.and_then(|v| v.to_str().ok()));
        store_metrics(&self.0, request.into_inner(), None);
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

fn store_traces(c: &Mutex<Collected>, req: ExportTraceServiceRequest, raw: Option<Vec<u8>>) {
    let mut c = c.lock().unwrap();
    c.raw.push(raw.unwrap_or_else(|| req.encode_to_vec()));
    for rs in &req.resource_spans {
        if let Some(r) = &rs.resource {
            c.service_names
                .extend(string_attr(&r.attributes, "service.name"));
        }
    }
    c.traces.push(req);
}

fn store_metrics(c: &Mutex<Collected>, req: ExportMetricsServiceRequest, raw: Option<Vec<u8>>) {
    let mut c = c.lock().unwrap();
    c.raw.push(raw.unwrap_or_else(|| req.encode_to_vec()));
    c.metrics.push(req);
}

fn spawn_runtime_thread<F>(f: impl FnOnce() -> F + Send + 'static) -> SocketAddr
where
    F: std::future::Future<Output = (SocketAddr, tokio::task::JoinHandle<()>)>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (addr, task) = f().await;
            tx.send(addr).unwrap();
            let _ = task.await;
        });
    });
    rx.recv().unwrap()
}

impl Receiver {
    /// OTLP/gRPC (traces and metrics services), accepting gzip.
    pub fn grpc() -> Self {
        Self::grpc_with(None)
    }

    /// OTLP/gRPC over TLS with `identity` (a PEM certificate and key).
    pub fn grpc_tls(cert_pem: &str, key_pem: &str) -> Self {
        Self::grpc_with(Some(tonic::transport::Identity::from_pem(
            cert_pem, key_pem,
        )))
    }

    fn grpc_with(identity: Option<tonic::transport::Identity>) -> Self {
        use tonic::codec::CompressionEncoding::Gzip;
        let collected = Arc::new(Mutex::new(Collected::default()));
        let c = collected.clone();
        let scheme = if identity.is_some() { "https" } else { "http" };
        let addr = spawn_runtime_thread(move || async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let mut server = tonic::transport::Server::builder();
            if let Some(identity) = identity {
                server = server
                    .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
                    .unwrap();
            }
            let task = tokio::spawn(async move {
                server
                    .add_service(TraceServiceServer::new(Grpc(c.clone())).accept_compressed(Gzip))
                    .add_service(MetricsServiceServer::new(Grpc(c)).accept_compressed(Gzip))
                    .serve_with_incoming(incoming)
                    .await
                    .unwrap();
            });
            (addr, task)
        });
        Receiver {
            addr,
            collected,
            scheme,
        }
    }

    /// OTLP/HTTP with protobuf bodies (`POST /v1/traces`, `POST /v1/metrics`),
    /// gzip bodies decoded.
    pub fn http() -> Self {
        Self::http_with(None)
    }

    /// OTLP/HTTP over TLS with a PEM certificate and key.
    pub fn http_tls(cert_pem: &str, key_pem: &str) -> Self {
        use tokio_rustls::rustls;
        let certs: Vec<rustls::pki_types::CertificateDer<'static>> =
            rustls::pki_types::pem::PemObject::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        let key = <rustls::pki_types::PrivateKeyDer<'static> as rustls::pki_types::pem::PemObject>::from_pem_slice(key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        Self::http_with(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }

    fn http_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let collected = Arc::new(Mutex::new(Collected::default()));
        let c = collected.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let addr = spawn_runtime_thread(move || async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let task = tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let c = c.clone();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        let handle = move |req: &SeenRequest| otlp_http(&c, req);
                        match tls {
                            // A failed handshake (an untrusting client) just ends the connection.
                            Some(tls) => {
                                if let Ok(stream) = tls.accept(stream).await {
                                    serve_http(stream, handle).await;
                                }
                            }
                            None => serve_http(stream, handle).await,
                        }
                    });
                }
            });
            (addr, task)
        });
        Receiver {
            addr,
            collected,
            scheme,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// The encoding of every export received so far.
    pub fn encodings(&self) -> Vec<String> {
        self.collected.lock().unwrap().encodings.clone()
    }

    /// All spans received so far.
    pub fn spans(&self) -> Vec<Span> {
        let c = self.collected.lock().unwrap();
        c.traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| ss.spans.clone())
            .collect()
    }

    /// The latest export's metric called `name` (cumulative temporality).
    pub fn latest_metric(&self, name: &str) -> Option<metric::Data> {
        let c = self.collected.lock().unwrap();
        c.metrics
            .iter()
            .rev()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .find(|m| m.name == name)
            .and_then(|m| m.data.clone())
    }

    /// Histogram points of `name` whose attributes include all of `labels`.
    pub fn histogram_points(&self, name: &str, labels: &[(&str, &str)]) -> Vec<HistogramDataPoint> {
        match self.latest_metric(name) {
            Some(metric::Data::Histogram(h)) => h
                .data_points
                .into_iter()
                .filter(|p| has_labels(&p.attributes, labels))
                .collect(),
            _ => vec![],
        }
    }

    /// Sum (counter) points of `name` whose attributes include all of `labels`.
    pub fn sum_points(&self, name: &str, labels: &[(&str, &str)]) -> Vec<NumberDataPoint> {
        match self.latest_metric(name) {
            Some(metric::Data::Sum(s)) => s
                .data_points
                .into_iter()
                .filter(|p| has_labels(&p.attributes, labels))
                .collect(),
            _ => vec![],
        }
    }

    pub fn raw_exports(&self) -> Vec<Vec<u8>> {
        self.collected.lock().unwrap().raw.clone()
    }

    pub fn service_names(&self) -> Vec<String> {
        self.collected.lock().unwrap().service_names.clone()
    }
}

/// A receiver and a guard exporting to it, shared by every test of a binary
/// (coscls's metric instruments are process-wide, so one guard serves the
/// binary and each test filters on its own bucket). Metrics leave only when a
/// test flushes.
pub struct Shared {
    pub receiver: Receiver,
    pub guard: TelemetryGuard,
}

impl Shared {
    /// An OTLP/gRPC receiver and a guard for `service_name` sending to it.
    pub fn grpc(service_name: &str) -> Self {
        let receiver = Receiver::grpc();
        let guard = Telemetry::builder()
            .service_name(service_name)
            .protocol(Protocol::Grpc)
            .endpoint(receiver.endpoint())
            .metric_interval(Duration::from_secs(3600))
            .build()
            .expect("telemetry builds");
        Shared { receiver, guard }
    }
}

/// How a subscriber has coscls make its operation spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spans {
    /// As `tracing` spans, exported through the `tracing-opentelemetry`
    /// layer (`guard.layer()` alone).
    Bridge,
    /// Through the OpenTelemetry API, with `guard.operation_spans()` beside
    /// the bridge (what `telemetry::init` installs).
    Direct,
}

impl Shared {
    /// Sends this thread's spans to the shared guard until the returned
    /// guard drops.
    pub fn subscribe(&self) -> tracing::subscriber::DefaultGuard {
        self.subscribe_with(Spans::Bridge)
    }

    /// [`subscribe`](Self::subscribe), with the operation spans made as
    /// `spans` says.
    pub fn subscribe_with(&self, spans: Spans) -> tracing::subscriber::DefaultGuard {
        use tracing_subscriber::layer::SubscriberExt;
        tracing::subscriber::set_default(
            tracing_subscriber::registry()
                .with(self.guard.layer())
                .with(self.operation_spans(spans)),
        )
    }

    /// The layer a subscriber adds for `spans` (none for the bridge).
    pub fn operation_spans(&self, spans: Spans) -> Option<coscls::telemetry::OperationSpans> {
        match spans {
            Spans::Bridge => None,
            Spans::Direct => self.guard.operation_spans(),
        }
    }
}

/// One OTLP/HTTP export: the body decoded (gunzipped when its
/// `content-encoding` says gzip) and stored.
fn otlp_http(c: &Mutex<Collected>, req: &SeenRequest) -> Vec<u8> {
    let encoding = req.headers.get("content-encoding").map(String::as_str);
    let body = match encoding {
        Some("gzip") => {
            let mut out = Vec::new();
            let mut d = flate2::read::GzDecoder::new(&req.body[..]);
            if std::io::Read::read_to_end(&mut d, &mut out).is_err() {
                return reply(400, &[], b"bad gzip");
            }
            out
        }
        None => req.body.clone(),
        Some(_) => return reply(415, &[], b"unsupported encoding"),
    };
    match req.path.as_str() {
        "/v1/traces" => {
            let msg = ExportTraceServiceRequest::decode(&body[..]).unwrap();
            note_encoding(c, encoding);
            store_traces(c, msg, Some(body));
            reply(200, &[("content-type", "application/x-protobuf")], b"")
        }
        "/v1/metrics" => {
            let msg = ExportMetricsServiceRequest::decode(&body[..]).unwrap();
            note_encoding(c, encoding);
            store_metrics(c, msg, Some(body));
            reply(200, &[("content-type", "application/x-protobuf")], b"")
        }
        _ => reply(404, &[], b""),
    }
}

/// A self-signed certificate for `127.0.0.1` and `localhost`: (certificate
/// PEM, private key PEM).
pub fn self_signed() -> (String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

/// A bucket name no other test uses.
pub fn unique_bucket(prefix: &str) -> String {
    format!("{prefix}-{:08x}-1250000000", fastrand::u32(..))
}

impl Receiver {
    /// Spans called `name` on `bucket`, oldest first.
    pub fn spans_on(&self, name: &str, bucket: &str) -> Vec<Span> {
        let mut v: Vec<Span> = self
            .spans()
            .into_iter()
            .filter(|s| {
                s.name == name
                    && string_attr(&s.attributes, "tencent_cloud.cos.bucket").as_deref()
                        == Some(bucket)
            })
            .collect();
        v.sort_by_key(|s| s.start_time_unix_nano);
        v
    }

    /// The oldest span called `name` on `bucket`, once it has arrived.
    pub async fn first_span_on(&self, name: &str, bucket: &str) -> Span {
        wait_for(&format!("the {name} span on {bucket}"), || {
            !self.spans_on(name, bucket).is_empty()
        })
        .await;
        self.spans_on(name, bucket).remove(0)
    }

    /// The points of the duration histogram on `bucket`, once there are any.
    pub async fn duration_points_on(&self, bucket: &str) -> Vec<HistogramDataPoint> {
        let points =
            || self.histogram_points("coscls.client.operation.duration", &[("bucket", bucket)]);
        wait_for(&format!("a duration sample on {bucket}"), || {
            !points().is_empty()
        })
        .await;
        points()
    }

    /// The samples counted so far by the operation-duration points carrying
    /// every one of `labels`.
    pub fn duration_count(&self, labels: &[(&str, &str)]) -> u64 {
        self.histogram_points("coscls.client.operation.duration", labels)
            .iter()
            .map(|p| p.count)
            .sum()
    }

    /// The child spans of `parent`, oldest first.
    pub fn children_of(&self, parent: &Span) -> Vec<Span> {
        let mut c: Vec<Span> = self
            .spans()
            .into_iter()
            .filter(|s| s.parent_span_id == parent.span_id && s.trace_id == parent.trace_id)
            .collect();
        c.sort_by_key(|s| s.start_time_unix_nano);
        c
    }
}

/// Whether the span's status is Error.
pub fn is_error(span: &Span) -> bool {
    span.status.as_ref().map(|s| s.code) == Some(StatusCode::Error as i32)
}

fn has_labels(attrs: &[KeyValue], labels: &[(&str, &str)]) -> bool {
    labels
        .iter()
        .all(|(k, v)| string_attr(attrs, k).as_deref() == Some(*v))
}

/// The string value of attribute `key`.
pub fn string_attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    match attr(attrs, key)? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// The integer value of attribute `key` (None if absent or not an integer).
pub fn int_attr(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attrs, key)? {
        any_value::Value::IntValue(i) => Some(i),
        _ => None,
    }
}

pub fn attr(attrs: &[KeyValue], key: &str) -> Option<any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone())
        .and_then(|AnyValue { value }| value)
}

/// Attribute keys, sorted, to compare label sets.
pub fn keys(attrs: &[KeyValue]) -> Vec<String> {
    let mut k: Vec<String> = attrs.iter().map(|kv| kv.key.clone()).collect();
    k.sort();
    k
}

/// Polls `cond` until it holds, or panics with `what` after a generous bound
/// (this waits for background exports; it does not measure anything).
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

// ---------------------------------------------------------------------------
// A minimal HTTP/1.1 server.

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

pub fn reply(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

async fn serve_http(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    handle: impl Fn(&SeenRequest) -> Vec<u8> + Send + 'static,
) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let method = first.next().unwrap_or_default().to_string();
        let path = first.next().unwrap_or_default().to_string();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let body_start = head_end + 4;
        while buf.len() < body_start + len {
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[body_start..body_start + len].to_vec();
        buf.drain(..body_start + len);
        let req = SeenRequest {
            method,
            path,
            headers,
            body,
        };
        let response = handle(&req);
        if stream.write_all(&response).await.is_err() {
            return;
        }
    }
}

/// A stand-in for COS: records every request; `/slow/...` answers 503
/// SlowDown, GET answers `get_body_len` bytes, anything else 200 empty.
#[derive(Clone)]
pub struct FakeCos {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl FakeCos {
    pub async fn start(get_body_len: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let s = s.clone();
                n += 1;
                let conn = n;
                tokio::spawn(serve_http(stream, move |req| {
                    s.lock().unwrap().push(req.clone());
                    let id = format!("req-{conn}-{}", req.path.len());
                    if req.path.contains("/slow") {
                        reply(
                            503,
                            &[("x-cos-request-id", &id), ("content-type", "application/xml")],
                            b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
                        )
                    } else if req.method == "GET" {
                        reply(200, &[("x-cos-request-id", &id)], &vec![b'x'; get_body_len])
                    } else {
                        reply(200, &[("x-cos-request-id", &id)], b"")
                    }
                }));
            }
        });
        FakeCos { addr, seen }
    }

    pub fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

/// A COS client for a [`FakeCos`] at `addr` (path-style URLs, no
/// signature check there) in `region`, retrying quickly up to
/// `max_attempts` times.
pub fn fake_cos_client(
    addr: SocketAddr,
    region: &str,
    credentials: coscls::auth::Credentials,
    max_attempts: u32,
) -> coscls::cos::Client {
    coscls::cos::Client::builder()
        .region(region)
        .endpoint(format!("http://{addr}"))
        .credentials(credentials)
        .retry_policy(
            coscls::transport::retry::RetryPolicy::default()
                .with_max_attempts(max_attempts)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(2)),
        )
        .build()
        .unwrap()
}

/// A COS point of the duration histogram carries exactly the schema's
/// labels, with `service=cos` and an empty `topic`.
pub fn assert_cos_duration_labels(attrs: &[KeyValue]) {
    assert_eq!(
        keys(attrs),
        [
            "bucket",
            "operation",
            "region",
            "service",
            "status",
            "topic"
        ]
    );
    assert_eq!(string_attr(attrs, "service").as_deref(), Some("cos"));
    assert_eq!(string_attr(attrs, "topic").as_deref(), Some(""));
}

/// The attributes every COS operation span in these tests carries
/// (region `ap-guangzhou`).
pub fn assert_cos_span_attributes(attrs: &[KeyValue], operation: &str, key: &str) {
    assert_eq!(
        string_attr(attrs, "cloud.provider").as_deref(),
        Some("tencent_cloud")
    );
    assert_eq!(
        string_attr(attrs, "cloud.region").as_deref(),
        Some("ap-guangzhou")
    );
    assert_eq!(string_attr(attrs, "rpc.service").as_deref(), Some("COS"));
    assert_eq!(string_attr(attrs, "rpc.method").as_deref(), Some(operation));
    assert_eq!(
        string_attr(attrs, "tencent_cloud.cos.key").as_deref(),
        Some(key)
    );
}
