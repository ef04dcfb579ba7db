//! The CLS client and its builder: where requests go, how they are signed,
//! timed out and retried. The upload itself is in `put_logs.rs`.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use super::compress::Compression;
use super::Error;
use crate::auth::{EnvProvider, ProvideCredentials};
use crate::instrument::{self, TracedSend};
use crate::transport::retry::RetryPolicy;
use crate::transport::{HttpSend, Pipeline, ReqwestTransport, Signer, SigningProfile, Timeouts};

/// A CLS client. Cheap to clone; clones share the connection pool.
///
/// ```no_run
/// # async fn demo() -> Result<(), coscls::cls::Error> {
/// use coscls::auth::Credentials;
/// use coscls::cls::{Client, Log, LogGroup, LogGroupList};
/// let client = Client::builder()
///     .region("ap-guangzhou")
///     .credentials(Credentials::new("AKID...", "secret")?)
///     .build()?;
/// let logs = LogGroupList::new(vec![LogGroup::new(vec![Log::now().field("msg", "hello")])]);
/// let out = client.put_logs("0e69453c-0727-4c9c-9d4f-3b6b1c2a9e11", &logs).await?;
/// println!("request id {:?}", out.request_id);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) pipeline: Pipeline,
    pub(super) base_url: String,
    pub(super) host: HeaderValue,
    pub(super) region: Option<String>,
    pub(super) compression: Compression,
}

impl Client {
    /// A builder; set a region or an endpoint.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// `scheme://host[:port]` requests go to.
    pub fn endpoint(&self) -> &str {
        &self.inner.base_url
    }

    /// The default body compression.
    pub fn compression(&self) -> Compression {
        self.inner.compression
    }
}

/// Builds a [`Client`].
///
/// The setters share their names and argument shapes with
/// [`cos::ClientBuilder`](crate::cos::ClientBuilder): `region`, `endpoint`
/// (a URL string, checked by `build`), `credentials` /
/// `credentials_provider`, `timeouts` and the three single timeouts,
/// `retry_policy`, `http_client`, `transport`.
///
/// ```
/// use std::time::Duration;
/// use coscls::auth::Credentials;
/// use coscls::cls::Client;
///
/// let client = Client::builder()
///     .endpoint("http://127.0.0.1:9000") // the emulator, a proxy
///     .credentials(Credentials::new("AKIDexample", "secret").unwrap())
///     .connect_timeout(Duration::from_secs(3))
///     .build()
///     .unwrap();
/// assert_eq!(client.endpoint(), "http://127.0.0.1:9000");
///
/// // A bad URL is a typed error naming it, at build time.
/// let err = Client::builder().endpoint("127.0.0.1:9000").build().unwrap_err();
/// assert!(matches!(err, coscls::cls::Error::InvalidInput { what: "endpoint", .. }), "{err}");
/// assert!(err.to_string().contains("127.0.0.1:9000"), "{err}");
/// ```
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    region: Option<String>,
    intranet: bool,
    endpoint: Option<String>,
    provider: Option<Arc<dyn ProvideCredentials>>,
    transport: Option<Arc<dyn HttpSend>>,
    http_client: Option<reqwest::Client>,
    timeouts: Timeouts,
    retry: Option<RetryPolicy>,
    compression: Compression,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            region: None,
            intranet: false,
            endpoint: None,
            provider: None,
            transport: None,
            http_client: None,
            // A request is at most 6 MiB, so unlike COS it gets a total cap.
            timeouts: Timeouts {
                request: Some(Duration::from_secs(60)),
                ..Timeouts::default()
            },
            retry: None,
            compression: Compression::default(),
        }
    }
}

impl ClientBuilder {
    /// The region, e.g. `ap-guangzhou`: requests go to
    /// `https://<region>.cls.tencentcs.com` unless an endpoint is set.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Uses the intranet host `<region>.cls.tencentyun.com` (reachable only
    /// from Tencent Cloud machines in the same region).
    pub fn intranet(mut self, intranet: bool) -> Self {
        self.intranet = intranet;
        self
    }

    /// An explicit endpoint, `http(s)://host[:port]` (the emulator, a proxy).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
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

    /// Sends through this transport instead of reqwest.
    pub fn transport(mut self, transport: Arc<dyn HttpSend>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Reuses an application's reqwest client (its pool, proxy, TLS settings).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// All three timeouts of the default transport at once. By default 5 s
    /// to connect, 30 s of read silence, 60 s per request (a request is at
    /// most 6 MiB). An [`http_client`](Self::http_client)'s own timeouts
    /// apply instead.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Time to establish a connection (TCP and TLS).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.timeouts.connect = t;
        self
    }

    /// Longest silence while reading a response.
    pub fn read_timeout(mut self, t: Duration) -> Self {
        self.timeouts.read = t;
        self
    }

    /// Cap on each request from start to last byte (60 s by default).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.timeouts.request = Some(t);
        self
    }

    /// How each call retries 429, 5xx and network failures.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Body compression (LZ4 by default).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        self.compression.check()?;
        if let Some(region) = &self.region {
            check_region(region)?;
        }
        let base_url = match (&self.endpoint, &self.region) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Some(region)) => {
                let domain = if self.intranet {
                    "tencentyun.com"
                } else {
                    "tencentcs.com"
                };
                format!("https://{region}.cls.{domain}")
            }
            (None, None) => {
                return Err(Error::invalid_input(
                    "client",
                    "set a region or an endpoint",
                ))
            }
        };
        let host = parse_endpoint(&base_url)?;
        let transport: Arc<dyn HttpSend> = match (self.transport, self.http_client) {
            (Some(t), _) => t,
            (None, Some(c)) => Arc::new(ReqwestTransport::from_client(c)),
            (None, None) => Arc::new(ReqwestTransport::new(self.timeouts)?),
        };
        let provider = self
            .provider
            .unwrap_or_else(|| Arc::new(EnvProvider::new()));
        let signer = Arc::new(Signer::new(provider, SigningProfile::CLS));
        // Instrumentation observes the transport from outside: attempts
        // through the decorator, retries through the observer.
        let transport: Arc<dyn HttpSend> = Arc::new(TracedSend::new(transport));
        let pipeline = Pipeline::new(transport, signer, self.retry.unwrap_or_default())
            .with_retry_observer(instrument::record_retry);
        Ok(Client {
            inner: Arc::new(Inner {
                pipeline,
                base_url,
                host,
                region: self.region,
                compression: self.compression,
            }),
        })
    }
}

fn check_region(region: &str) -> Result<(), Error> {
    let ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "region",
            format!("{region:?} must be lower-case letters, digits and '-', e.g. ap-guangzhou"),
        ))
    }
}

/// Checks `scheme://host[:port]` and returns the `Host` header value.
fn parse_endpoint(url: &str) -> Result<HeaderValue, Error> {
    let bad = |reason: &str| {
        Err(Error::invalid_input(
            "endpoint",
            format!("{url:?} {reason}"),
        ))
    };
    let uri: http::Uri = match url.parse() {
        Ok(u) => u,
        Err(_) => return bad("is not a URL"),
    };
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return bad("must start with http:// or https://"),
    }
    if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
        return bad("must not have a path or query");
    }
    let Some(authority) = uri.authority() else {
        return bad("has no host");
    };
    if authority.as_str().contains('@') {
        return bad("must not carry user info");
    }
    HeaderValue::from_str(authority.as_str())
        .or_else(|_| bad("has a host that is not a header value"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Credentials;

    #[test]
    fn endpoints_and_regions_are_checked() {
        let b = || Client::builder().credentials(Credentials::new("a", "b").unwrap());
        assert_eq!(
            b().region("ap-guangzhou").build().unwrap().endpoint(),
            "https://ap-guangzhou.cls.tencentcs.com"
        );
        assert_eq!(
            b().region("ap-beijing")
                .intranet(true)
                .build()
                .unwrap()
                .endpoint(),
            "https://ap-beijing.cls.tencentyun.com"
        );
        assert!(b().build().is_err());
        assert!(b().region("AP Guangzhou").build().is_err());
        for bad in [
            "ftp://x",
            "http://x/path",
            "http://x?q=1",
            "not a url",
            "http://u:p@x",
        ] {
            assert!(b().endpoint(bad).build().is_err(), "{bad}");
        }
    }
}
