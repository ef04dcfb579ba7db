//! The names users build dashboards and alerts on. They are a public contract: changing one is a
//! breaking change, and `docs/telemetry.md` lists them in tables.

/// Span attribute keys.
///
/// Operation spans (`COS PutObject`, `CLS UploadLog`) carry all of them that
/// apply; the per-attempt spans (named by the HTTP method) carry the HTTP ones.
pub mod attr {
    /// Always `tencent_cloud`.
    pub const CLOUD_PROVIDER: &str = "cloud.provider";
    /// The region (`ap-guangzhou`).
    pub const CLOUD_REGION: &str = "cloud.region";
    /// Always [`RPC_SYSTEM`](super::RPC_SYSTEM) (`tencent_cloud-api`), on
    /// operation and attempt spans: the RPC conventions require it.
    pub const RPC_SYSTEM: &str = "rpc.system";
    /// `COS` or `CLS`.
    pub const RPC_SERVICE: &str = "rpc.service";
    /// The API name (`PutObject`, `UploadLog`).
    pub const RPC_METHOD: &str = "rpc.method";
    /// The bucket (`examplebucket-1250000000`).
    pub const COS_BUCKET: &str = "tencent_cloud.cos.bucket";
    /// The object key (spans only; never a metric label).
    pub const COS_KEY: &str = "tencent_cloud.cos.key";
    /// The multipart upload id.
    pub const COS_UPLOAD_ID: &str = "tencent_cloud.cos.upload_id";
    /// The multipart part number (integer).
    pub const COS_PART_NUMBER: &str = "tencent_cloud.cos.part_number";
    /// The CLS topic id.
    pub const CLS_TOPIC_ID: &str = "tencent_cloud.cls.topic_id";
    /// `x-cos-request-id` / `X-Cls-Requestid` of the last response.
    pub const REQUEST_ID: &str = "tencent_cloud.request_id";
    /// `GET`, `PUT`, `POST`…
    pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
    /// The HTTP status of the (last) response (integer).
    pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
    /// Host the request went to.
    pub const SERVER_ADDRESS: &str = "server.address";
    /// Port the request went to (integer; attempt spans).
    pub const SERVER_PORT: &str = "server.port";
    /// The request URL with signature and token query values redacted.
    pub const URL_FULL: &str = "url.full";
    /// Request body bytes (integer).
    pub const HTTP_REQUEST_BODY_SIZE: &str = "http.request.body.size";
    /// Response body bytes (integer): read by the caller on operation spans,
    /// `Content-Length` on attempt spans.
    pub const HTTP_RESPONSE_BODY_SIZE: &str = "http.response.body.size";
    /// How many times the request was resent (integer; absent on the first try).
    pub const HTTP_REQUEST_RESEND_COUNT: &str = "http.request.resend_count";
    /// The COS/CLS error code, or a transport class (`connect`, `timeout`…).
    pub const ERROR_TYPE: &str = "error.type";
}

/// Metric instrument names.
pub mod metric {
    /// Histogram, seconds: one sample per operation, streamed body included.
    pub const OPERATION_DURATION: &str = "coscls.client.operation.duration";
    /// Counter, bytes: request bodies sent and response bodies read.
    pub const TRANSFERRED: &str = "coscls.client.transferred";
    /// Counter: retries, by reason.
    pub const RETRIES: &str = "coscls.client.retries";
    /// Observable counter: logs a CLS producer accepted, sent, failed or refused.
    pub const PRODUCER_LOGS: &str = "coscls.cls.producer.logs";
    /// Observable counter: batches a CLS producer sent or failed to send.
    pub const PRODUCER_BATCHES: &str = "coscls.cls.producer.batches";
    /// Observable gauge, bytes: memory held by logs accepted and not yet finished.
    pub const PRODUCER_QUEUED: &str = "coscls.cls.producer.queued";
}

/// Metric attribute keys. Low cardinality only: never a key, path or request id.
pub mod label {
    /// `cos` or `cls`.
    pub const SERVICE: &str = "service";
    /// The API name.
    pub const OPERATION: &str = "operation";
    /// The bucket; empty string for CLS or bucket-less calls.
    pub const BUCKET: &str = "bucket";
    /// The region; empty string when unknown.
    pub const REGION: &str = "region";
    /// The CLS topic id; empty string for COS.
    pub const TOPIC: &str = "topic";
    /// `ok`, or the error code / transport class.
    pub const STATUS: &str = "status";
    /// `upload` (request bodies) or `download` (response bodies).
    pub const DIRECTION: &str = "direction";
    /// Why a retry happened (`slow_down`, `throttled`, `timeout`…).
    pub const REASON: &str = "reason";
    /// The name an application gave a CLS producer.
    pub const PRODUCER: &str = "producer";
    /// Producer log and batch states: `accepted`, `sent`, `failed`, `refused`.
    pub const STATE: &str = "state";
}

/// Value of [`attr::RPC_SYSTEM`]. The OTel RPC conventions name no value
/// for Tencent Cloud; this one follows the AWS SDK conventions' `aws-api`,
/// prefixed with the conventions' own `cloud.provider` value
/// (`tencent_cloud`), so a backend can tell these calls from other RPCs.
pub const RPC_SYSTEM: &str = "tencent_cloud-api";

/// Value of [`label::STATUS`] for a successful operation.
pub const STATUS_OK: &str = "ok";

/// Value of [`label::STATUS`] / `error.type` when the caller dropped the
/// operation's future before it completed.
pub const STATUS_CANCELLED: &str = "cancelled";

/// Bucket boundaries of [`metric::OPERATION_DURATION`], in seconds: storage
/// latency from a 1 ms cache hit to a 60 s large part.
pub const DURATION_BOUNDARIES: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// Instrumentation scope of the coscls tracer and meter.
pub const SCOPE_NAME: &str = "coscls";
