//! The COS client and its builder.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::auth::{EnvProvider, ProvideCredentials};
use crate::instrument::{self, Operation, OperationInfo, TracedSend};
use crate::transport::retry::RetryPolicy;
use crate::transport::{
    HttpSend, Pipeline, PreparedRequest, ReqwestTransport, ResponseBody, Signer, SigningProfile,
    Timeouts,
};

use super::request::{self, Target};
use super::response::{self, XML_BODY_LIMIT};
use super::{Addressing, BucketName, Endpoint, Error, Region};

/// A COS client: cheap to clone (an `Arc`), safe to share across tasks, and
/// holding one connection pool for all of them.
///
/// Every operation validates its arguments locally, then sends through the
/// transport pipeline, which signs each attempt afresh, retries transient
/// failures with backoff under a deadline, and corrects a skewed clock;
/// each operation is one telemetry span and duration sample, ended with
/// the `Result` it returns.
///
/// ```
/// use coscls::auth::Credentials;
/// use coscls::cos::Client;
///
/// let client = Client::builder()
///     .region("ap-guangzhou")
///     .credentials(Credentials::new("AKIDexample", "secret").unwrap())
///     .build()
///     .unwrap();
/// assert_eq!(client.region().as_str(), "ap-guangzhou");
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) pipeline: Pipeline,
    pub(crate) endpoint: Endpoint,
    pub(crate) region: Region,
    pub(crate) provider: Arc<dyn ProvideCredentials>,
    pub(crate) verify_crc: bool,
}

/// Configures a [`Client`].
///
/// Defaults: credentials from the environment ([`EnvProvider`]), the public
/// HTTPS endpoint of the region, connect timeout 5 s, read (idle) timeout
/// 30 s, no total request timeout (a large part on a slow link legitimately
/// takes long), 4 attempts with full-jitter backoff within 120 s, CRC-64
/// verification on.
///
/// The setters share their names and argument shapes with
/// [`cls::ClientBuilder`](crate::cls::ClientBuilder): `region`, `endpoint`
/// (a URL string, checked by `build`), `credentials` /
/// `credentials_provider`, `timeouts` and the three single timeouts,
/// `retry_policy`, `http_client`, `transport`.
///
/// ```
/// use std::time::Duration;
/// use coscls::cos::Client;
/// use coscls::transport::retry::RetryPolicy;
///
/// let client = Client::builder()
///     .region("ap-guangzhou")
///     .endpoint("http://127.0.0.1:9000") // emulator, private cloud…
///     .connect_timeout(Duration::from_secs(3))
///     .read_timeout(Duration::from_secs(20))
///     .retry_policy(RetryPolicy::default().with_max_attempts(6))
///     .build()
///     .unwrap();
/// assert_eq!(client.endpoint().service_url(), "http://127.0.0.1:9000");
///
/// // A bad URL is a typed error naming it, at build time.
/// let err = Client::builder().region("ap-guangzhou").endpoint("127.0.0.1:9000").build().unwrap_err();
/// assert!(matches!(err, coscls::cos::Error::InvalidInput { what: "endpoint", .. }), "{err}");
/// assert!(err.to_string().contains("127.0.0.1:9000"), "{err}");
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct ClientBuilder {
    region: Option<String>,
    endpoint: Option<String>,
    addressing: Option<Addressing>,
    accelerate: bool,
    provider: Option<Arc<dyn ProvideCredentials>>,
    timeouts: Timeouts,
    retry: Option<RetryPolicy>,
    http_client: Option<reqwest::Client>,
    transport: Option<Arc<dyn HttpSend>>,
    disable_crc: bool,
}

impl ClientBuilder {
    /// The bucket region, e.g. `ap-guangzhou` (required).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Where requests go instead of `https://<bucket>.cos.<region>.myqcloud.com`:
    /// `scheme://host[:port]` of the emulator, a private cloud, a custom
    /// domain. Checked by [`build`](Self::build) as [`Endpoint::custom`]
    /// checks it; an IP or `localhost` host is addressed path-style, any
    /// other virtual-hosted (see [`addressing`](Self::addressing)).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Overrides the addressing style the custom [`endpoint`](Self::endpoint)
    /// would get from its host (ignored without a custom endpoint).
    pub fn addressing(mut self, addressing: Addressing) -> Self {
        self.addressing = Some(addressing);
        self
    }

    /// Uses the global acceleration domain `<bucket>.cos.accelerate.myqcloud.com`.
    pub fn accelerate(mut self, on: bool) -> Self {
        self.accelerate = on;
        self
    }

    /// The credentials source: fixed [`Credentials`](crate::auth::Credentials),
    /// a [`RefreshingProvider`](crate::auth::RefreshingProvider) for STS, or your own.
    /// Without one, the environment is read ([`EnvProvider`]).
    pub fn credentials(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.provider = Some(Arc::new(provider));
        self
    }

    /// Like [`credentials`](Self::credentials) for a provider already shared
    /// (asked before every signature, so one STS rotation serves many clients).
    pub fn credentials_provider(mut self, provider: Arc<dyn ProvideCredentials>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// All three timeouts of the default transport at once.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Time to establish a connection (TCP and TLS).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.timeouts.connect = t;
        self
    }

    /// Longest silence while reading a response; catches stalled transfers
    /// without capping the length of healthy ones.
    pub fn read_timeout(mut self, t: Duration) -> Self {
        self.timeouts.read = t;
        self
    }

    /// Cap on each request from start to last byte (none by default).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.timeouts.request = Some(t);
        self
    }

    /// How many attempts, how long to back off, and the overall deadline.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Reuses an application's `reqwest::Client` (its pool, proxy, TLS
    /// settings). Its own timeouts apply; the builder's are ignored.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Sends through any [`HttpSend`] (tests, a custom stack).
    pub fn transport(mut self, transport: Arc<dyn HttpSend>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Turns CRC-64 verification of uploads and downloads off (it is cheap;
    /// keep it on unless a proxy rewrites bodies).
    pub fn disable_crc_check(mut self) -> Self {
        self.disable_crc = true;
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let region_text = self.region.ok_or_else(|| {
            Error::invalid_input("region", "", "is required, e.g. .region(\"ap-guangzhou\")")
        })?;
        let region = Region::parse(&region_text)?;
        let endpoint = match (self.endpoint, self.accelerate) {
            (Some(_), true) => {
                return Err(Error::invalid_input(
                    "endpoint",
                    "custom + accelerate",
                    "choose either a custom endpoint or acceleration",
                ))
            }
            (Some(url), false) => {
                let endpoint = Endpoint::custom(&url)?;
                match self.addressing {
                    Some(addressing) => endpoint.with_addressing(addressing),
                    None => endpoint,
                }
            }
            (None, true) => Endpoint::accelerate(),
            (None, false) => Endpoint::for_region(&region),
        };
        let transport: Arc<dyn HttpSend> = match (self.transport, self.http_client) {
            (Some(t), _) => t,
            (None, Some(client)) => Arc::new(ReqwestTransport::from_client(client)),
            (None, None) => Arc::new(ReqwestTransport::new(self.timeouts)?),
        };
        let provider = self
            .provider
            .unwrap_or_else(|| Arc::new(EnvProvider::new()) as Arc<dyn ProvideCredentials>);
        let signer = Arc::new(Signer::new(provider.clone(), SigningProfile::COS));
        // Instrumentation observes the transport from outside: attempts
        // through the decorator, retries through the observer.
        let transport: Arc<dyn HttpSend> = Arc::new(TracedSend::new(transport));
        let pipeline = Pipeline::new(transport, signer, self.retry.unwrap_or_default())
            .with_retry_observer(instrument::record_retry);
        Ok(Client {
            inner: Arc::new(Inner {
                pipeline,
                endpoint,
                region,
                provider,
                verify_crc: !self.disable_crc,
            }),
        })
    }
}

impl Client {
    /// A builder; see [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The region the client was built for.
    pub fn region(&self) -> &Region {
        &self.inner.region
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// Seconds added to the local clock when signing, learned from the
    /// server's `Date` after a `RequestTimeTooSkewed` answer (0 until then).
    ///
    /// ```
    /// let client = coscls::cos::Client::builder().region("ap-guangzhou").build().unwrap();
    /// assert_eq!(client.clock_offset(), 0);
    /// ```
    pub fn clock_offset(&self) -> i64 {
        self.inner.pipeline.signer().clock_offset()
    }

    /// `bucket` checked ([`BucketName::parse`]). The name last checked on
    /// this thread is kept: an application works with a few buckets, so
    /// the usual request finds its name there and shares it (a reference
    /// count) instead of checking and copying it again.
    pub(crate) fn bucket(bucket: &str) -> Result<BucketName, Error> {
        thread_local! {
            static LAST: std::cell::RefCell<Option<BucketName>> =
                const { std::cell::RefCell::new(None) };
        }
        LAST.with(|last| {
            let Ok(mut last) = last.try_borrow_mut() else {
                return BucketName::parse(bucket);
            };
            if let Some(known) = last.as_ref().filter(|known| known.as_str() == bucket) {
                return Ok(known.clone());
            }
            let checked = BucketName::parse(bucket)?;
            *last = Some(checked.clone());
            Ok(checked)
        })
    }

    pub(crate) fn target<'a>(&'a self, bucket: &'a BucketName) -> Target<'a> {
        Target {
            endpoint: &self.inner.endpoint,
            bucket,
        }
    }

    pub(crate) fn info<'a>(
        &'a self,
        operation: &'static str,
        bucket: &'a BucketName,
    ) -> OperationInfo<'a> {
        OperationInfo::cos(operation, self.inner.region.as_str(), bucket.as_str())
    }

    pub(crate) fn verify_crc(&self) -> bool {
        self.inner.verify_crc
    }

    /// Runs `body` as the operation `info` describes: one span and one
    /// duration sample, ended with the `Result` that `body` returns (so
    /// every check made after the response head counts). Every public
    /// operation is one call of this around all of its work:
    ///
    /// ```ignore
    /// let bucket = Self::bucket(bucket)?;
    /// self.operation(self.info("PutBucketTagging", &bucket), async {
    ///     let req = request::put_bucket_tagging(self.target(&bucket), tags)?;
    ///     let (parts, body) = self.send_for_body(req).await?;
    ///     parse(&parts, &body)
    /// })
    /// .await
    /// ```
    ///
    /// Not an `async fn`: that would hold `body` twice (its argument and
    /// the future it awaits). The operation starts here, when the caller
    /// builds the future it awaits at once.
    pub(crate) fn operation<T, F>(
        &self,
        info: OperationInfo<'_>,
        body: F,
    ) -> impl std::future::Future<Output = Result<T, Error>>
    where
        F: std::future::Future<Output = Result<T, Error>>,
    {
        Operation::start(&info).run(body)
    }

    /// Sends `request` through the pipeline; replayable bodies are cloned
    /// per attempt, a streamed one is sent once. Call it inside
    /// [`operation`](Self::operation).
    pub(crate) async fn send(
        &self,
        request: PreparedRequest,
    ) -> Result<http::Response<ResponseBody>, Error> {
        let slot = Mutex::new(Some(request));
        let build = || {
            let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(copy) = guard.as_ref().and_then(request::try_clone) {
                return Ok(copy);
            }
            guard
                .take()
                .ok_or_else(|| Error::protocol("a streamed request body cannot be sent twice"))
        };
        self.inner
            .pipeline
            .execute(build, response::parse_error)
            .await
    }

    /// Like [`send`](Self::send) for a request that `build` can make again:
    /// the first attempt sends the first request built and only a retry
    /// builds another, so the usual single-attempt call copies nothing.
    /// The pipeline's own future, not another one around it.
    pub(crate) fn send_rebuilding<'a>(
        &'a self,
        build: impl Fn() -> Result<PreparedRequest, Error> + 'a,
    ) -> impl std::future::Future<Output = Result<http::Response<ResponseBody>, Error>> + 'a {
        self.inner.pipeline.execute(build, response::parse_error)
    }

    /// Like [`send`](Self::send), and reads the (XML) body of the answer.
    /// COS may answer 200 and then fail (a copy, a completion): an `<Error>`
    /// document is an error here.
    pub(crate) async fn send_for_body(
        &self,
        request: PreparedRequest,
    ) -> Result<(http::response::Parts, bytes::Bytes), Error> {
        let response = self.send(request).await?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect(XML_BODY_LIMIT).await?;
        if super::xml::is_error_document(&bytes) {
            return Err(super::response::service_error(
                parts.status,
                &parts.headers,
                &bytes,
            ));
        }
        Ok((parts, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Credentials;

    /// The per-thread last name never lets an unchecked name through and
    /// always gives the name asked for: the same name shares the kept
    /// value, another name (good or bad) is checked on its own.
    #[test]
    fn bucket_names_are_checked_once_per_thread_and_never_mixed_up() {
        let a = Client::bucket("alpha-1250000000").unwrap();
        let again = Client::bucket("alpha-1250000000").unwrap();
        assert_eq!(again, a);
        assert!(
            std::ptr::eq(a.as_str(), again.as_str()),
            "the kept name is shared"
        );
        for bad in ["Alpha-1250000000", "alpha-1250000000 ", "alpha", ""] {
            assert!(Client::bucket(bad).is_err(), "{bad:?}");
            assert_eq!(
                Client::bucket("alpha-1250000000").unwrap().as_str(),
                "alpha-1250000000"
            );
        }
        let b = Client::bucket("beta-1250000000").unwrap();
        assert_eq!(b.as_str(), "beta-1250000000");
        assert!(Client::bucket("alpha-125000000").is_ok_and(|n| n.as_str() == "alpha-125000000"));
        assert_eq!(
            Client::bucket("alpha-1250000000").unwrap().as_str(),
            "alpha-1250000000"
        );
    }

    #[test]
    fn builder_validation() {
        let e = Client::builder().build().unwrap_err();
        assert!(e.to_string().contains("region"), "{e}");
        assert!(Client::builder().region("AP").build().is_err());
        let e = Client::builder()
            .region("ap-guangzhou")
            .accelerate(true)
            .endpoint("http://127.0.0.1:1")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("acceleration"), "{e}");
        let e = Client::builder()
            .region("ap-guangzhou")
            .endpoint("ftp://127.0.0.1:1")
            .build()
            .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput { what: "endpoint", value, .. } if value == "ftp://127.0.0.1:1"),
            "{e}"
        );
    }

    #[test]
    fn endpoints() {
        let c = Client::builder()
            .region("ap-beijing")
            .credentials(Credentials::new("a", "b").unwrap())
            .build()
            .unwrap();
        assert_eq!(
            c.endpoint(),
            &Endpoint::for_region(&Region::parse("ap-beijing").unwrap())
        );
        assert!(
            c.endpoint().service_url().starts_with("https://"),
            "https by default"
        );
        let c = Client::builder()
            .region("ap-beijing")
            .accelerate(true)
            .build()
            .unwrap();
        assert_eq!(c.endpoint(), &Endpoint::accelerate());
        let local = |addressing: Option<Addressing>| {
            let b = Client::builder()
                .region("ap-beijing")
                .endpoint("http://127.0.0.1:9000");
            let b = match addressing {
                Some(a) => b.addressing(a),
                None => b,
            };
            b.build().unwrap().endpoint().addressing()
        };
        assert_eq!(
            local(None),
            Addressing::PathStyle,
            "an IP host is path-style"
        );
        assert_eq!(
            local(Some(Addressing::VirtualHosted)),
            Addressing::VirtualHosted
        );
        let shared = reqwest::Client::new();
        assert!(Client::builder()
            .region("ap-beijing")
            .http_client(shared)
            .build()
            .is_ok());
    }
}
