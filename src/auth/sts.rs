//! Temporary credentials for a CAM role from STS `AssumeRole` (TencentCloud
//! API 3.0, version 2018-08-13), signed with TC3-HMAC-SHA256 by long-lived
//! source credentials, cached and renewed before they expire.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::credentials::{
    BoxFuture, Credentials, FetchCredentials, ProvideCredentials, RefreshingProvider,
};
use super::instance::{check_endpoint, expiry, printable, read_limited};
use super::tc3::{tc3_headers, Tc3Call};
use super::{chain_message, uri_encode, Error};

/// The public STS endpoint.
pub const DEFAULT_STS_ENDPOINT: &str = "https://sts.tencentcloudapi.com";

const SERVICE: &str = "STS AssumeRole";
const ACTION: &str = "AssumeRole";
const VERSION: &str = "2018-08-13";

/// Fetches temporary credentials of a role with STS `AssumeRole`; wrap it
/// with [`AssumeRole::into_provider`] to cache and renew them.
///
/// The request carries `RoleArn`, `RoleSessionName`, `DurationSeconds`
/// (default 7200, at most 43200) and, when set, `Policy` (URL-encoded, as
/// the API requires), in region `ap-guangzhou` unless told otherwise (the
/// official SDKs' default). The source credentials are asked for at every
/// call, so they may themselves rotate.
///
/// ```no_run
/// use coscls::auth::{AssumeRole, Credentials, EnvProvider};
/// use coscls::cos::Client;
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let provider = AssumeRole::new(EnvProvider::new(), "qcs::cam::uin/100000000001:roleName/uploader", "nightly-job")?
///     .with_duration_seconds(3600)?
///     .into_provider();
/// let client = Client::builder().region("ap-guangzhou").credentials(provider).build()?;
/// # let _ = client; Ok(()) }
/// ```
#[derive(Debug)]
pub struct AssumeRole {
    source: Arc<dyn ProvideCredentials>,
    role_arn: String,
    session_name: String,
    duration_seconds: u32,
    policy: Option<String>,
    region: String,
    endpoint: String,
    host: String,
    timeout: Duration,
    client: OnceLock<reqwest::Client>,
}

/// [`AssumeRole`] behind a cache that renews before expiry.
pub type AssumeRoleProvider = RefreshingProvider<AssumeRole>;

#[derive(Serialize)]
struct RequestBody<'a> {
    #[serde(rename = "RoleArn")]
    role_arn: &'a str,
    #[serde(rename = "RoleSessionName")]
    role_session_name: &'a str,
    #[serde(rename = "DurationSeconds")]
    duration_seconds: u32,
    #[serde(rename = "Policy", skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Response")]
    response: Option<ResponseBody>,
}

#[derive(Deserialize)]
struct ResponseBody {
    #[serde(rename = "Credentials")]
    credentials: Option<TmpCredentials>,
    #[serde(rename = "ExpiredTime")]
    expired_time: Option<u64>,
    #[serde(rename = "Expiration")]
    expiration: Option<String>,
    #[serde(rename = "RequestId")]
    request_id: Option<String>,
    #[serde(rename = "Error")]
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct TmpCredentials {
    #[serde(rename = "TmpSecretId")]
    tmp_secret_id: Option<String>,
    #[serde(rename = "TmpSecretKey")]
    tmp_secret_key: Option<String>,
    #[serde(rename = "Token")]
    token: Option<String>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
}

impl AssumeRole {
    /// Assumes `role_arn` (`qcs::cam::uin/<uin>:roleName/<name>`) under the
    /// session name `session_name`, signing with `source`'s credentials.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`]: `role_arn` empty or holding whitespace or
    /// control characters; `session_name` not 2–128 characters of letters,
    /// digits and `_+=,.@-` (the API's rule).
    pub fn new(
        source: impl ProvideCredentials + 'static,
        role_arn: &str,
        session_name: &str,
    ) -> Result<Self, Error> {
        check_role_arn(role_arn)?;
        check_session_name(session_name)?;
        let endpoint = DEFAULT_STS_ENDPOINT.to_string();
        Ok(AssumeRole {
            source: Arc::new(source),
            role_arn: role_arn.to_string(),
            session_name: session_name.to_string(),
            duration_seconds: 7200,
            policy: None,
            region: "ap-guangzhou".to_string(),
            host: host_of(&endpoint),
            endpoint,
            timeout: Duration::from_secs(10),
            client: OnceLock::new(),
        })
    }

    /// How long the credentials live, 1 to 43200 seconds (default 7200).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (`duration_seconds`) outside that range.
    pub fn with_duration_seconds(mut self, seconds: u32) -> Result<Self, Error> {
        if !(1..=43_200).contains(&seconds) {
            return Err(Error::InvalidArgument {
                field: "duration_seconds",
                reason: format!("{seconds} is outside 1..=43200"),
            });
        }
        self.duration_seconds = seconds;
        Ok(self)
    }

    /// A session policy (JSON) narrowing the role's permissions; sent
    /// URL-encoded as the API requires.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (`policy`) when it is not JSON.
    pub fn with_policy(mut self, policy_json: &str) -> Result<Self, Error> {
        serde_json::from_str::<serde_json::Value>(policy_json).map_err(|e| {
            Error::InvalidArgument {
                field: "policy",
                reason: format!("is not JSON ({e})"),
            }
        })?;
        self.policy = Some(uri_encode(policy_json));
        Ok(self)
    }

    /// The `X-TC-Region` header (default `ap-guangzhou`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (`region`) unless lower-case letters,
    /// digits and `-`.
    pub fn with_region(mut self, region: &str) -> Result<Self, Error> {
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(Error::InvalidArgument {
                field: "region",
                reason: "must be lower-case letters, digits and '-'".into(),
            });
        }
        self.region = region.to_string();
        Ok(self)
    }

    /// Another STS endpoint (`https://sts.internal.tencentcloudapi.com`, a
    /// test stand-in). The request goes to its `/`; its host is signed.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (`endpoint`) unless an `http(s)://` URL
    /// without user info, query or path.
    pub fn with_endpoint(mut self, endpoint: &str) -> Result<Self, Error> {
        let endpoint = check_endpoint(endpoint)?;
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let host = host_of(&endpoint);
        if endpoint.len() != endpoint.find("://").map_or(0, |i| i + 3) + host.len() {
            return Err(Error::InvalidArgument {
                field: "endpoint",
                reason: "must not hold a path".into(),
            });
        }
        self.host = host;
        self.endpoint = endpoint;
        Ok(self)
    }

    /// The timeout of one STS call (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.client = OnceLock::new();
        self
    }

    /// Sends through an application's `reqwest::Client` (its proxy, TLS
    /// roots); the timeout set here still applies to each call.
    pub fn with_http_client(self, client: reqwest::Client) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(client);
        AssumeRole {
            client: cell,
            ..self
        }
    }

    /// Caches the credentials and renews them 5 minutes before expiry.
    pub fn into_provider(self) -> AssumeRoleProvider {
        RefreshingProvider::new(self)
    }

    /// The JSON body of the `AssumeRole` call.
    ///
    /// ```
    /// use coscls::auth::{AssumeRole, Credentials};
    /// let source = Credentials::new("AKIDlong", "key").unwrap();
    /// let call = AssumeRole::new(source, "qcs::cam::uin/1:roleName/r", "s1").unwrap();
    /// assert_eq!(
    ///     String::from_utf8(call.request_body()).unwrap(),
    ///     r#"{"RoleArn":"qcs::cam::uin/1:roleName/r","RoleSessionName":"s1","DurationSeconds":7200}"#
    /// );
    /// ```
    pub fn request_body(&self) -> Vec<u8> {
        let body = RequestBody {
            role_arn: &self.role_arn,
            role_session_name: &self.session_name,
            duration_seconds: self.duration_seconds,
            policy: self.policy.as_deref(),
        };
        // Strings and an integer always serialise.
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// Reads an `AssumeRole` answer: `Response.Credentials` with
    /// `Response.ExpiredTime` (or `Expiration`), or `Response.Error`.
    ///
    /// # Errors
    /// [`Error::Api`] with the code, message and request id of an error
    /// answer; [`Error::Service`] when the answer is not a credential
    /// response (names the missing field, never a value).
    ///
    /// ```
    /// use coscls::auth::{AssumeRole, Error};
    /// let err = AssumeRole::parse_response(br#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure",
    ///     "Message":"The provided credentials could not be validated."},"RequestId":"r-1"}}"#).unwrap_err();
    /// assert!(matches!(err, Error::Api { ref code, .. } if code == "AuthFailure.SignatureFailure"));
    /// ```
    pub fn parse_response(body: &[u8]) -> Result<Credentials, Error> {
        let broken = |reason: String| Error::Service {
            service: SERVICE,
            reason,
            transient: false,
        };
        let envelope: Envelope = serde_json::from_slice(body)
            .map_err(|e| broken(format!("the answer is not JSON ({e})")))?;
        let response = envelope
            .response
            .ok_or_else(|| broken("the answer has no Response".into()))?;
        let request_id = response.request_id.as_deref().map(printable);
        if let Some(error) = response.error {
            return Err(Error::Api {
                action: ACTION,
                code: printable(error.code.as_deref().unwrap_or("(no code)")),
                message: error
                    .message
                    .as_deref()
                    .unwrap_or("")
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(512)
                    .collect(),
                request_id: request_id.unwrap_or_else(|| "(none)".into()),
            });
        }
        let missing = |field: &str| broken(format!("the answer has no {field}"));
        let creds = response
            .credentials
            .ok_or_else(|| missing("Response.Credentials"))?;
        let id = creds
            .tmp_secret_id
            .ok_or_else(|| missing("Credentials.TmpSecretId"))?;
        let key = creds
            .tmp_secret_key
            .ok_or_else(|| missing("Credentials.TmpSecretKey"))?;
        let token = creds.token.ok_or_else(|| missing("Credentials.Token"))?;
        let expires = expiry(response.expired_time, response.expiration.as_deref())
            .ok_or_else(|| missing("usable ExpiredTime or Expiration"))?;
        Ok(Credentials::new(id, key)?
            .with_session_token(token)?
            .with_expiry(expires))
    }

    fn client(&self) -> Result<&reqwest::Client, Error> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let built = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5).min(self.timeout))
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Service {
                service: SERVICE,
                reason: format!("building the HTTP client: {}", chain_message(&e)),
                transient: false,
            })?;
        Ok(self.client.get_or_init(|| built))
    }

    async fn call(&self) -> Result<Credentials, Error> {
        let source = match self.source.provide_now() {
            Some(c) => c,
            None => self.source.provide().await?,
        };
        let body = self.request_body();
        let call = Tc3Call {
            host: &self.host,
            service: "sts",
            action: ACTION,
            version: VERSION,
            region: Some(&self.region),
            payload: &body,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let headers = tc3_headers(&source, &call, now)?;
        let mut request = self
            .client()?
            .post(format!("{}/", self.endpoint))
            .timeout(self.timeout);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let unreachable = |reason: String| Error::Service {
            service: SERVICE,
            reason,
            transient: true,
        };
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(chain_message(&e)))?;
        let status = response.status().as_u16();
        let answer = read_limited(response).await.map_err(unreachable)?;
        match Self::parse_response(&answer) {
            Err(Error::Service { reason, .. }) if !(200..300).contains(&status) => {
                Err(Error::Service {
                    service: SERVICE,
                    reason: format!("HTTP {status}: {reason}"),
                    transient: status >= 500 || status == 429,
                })
            }
            other => other,
        }
    }
}

impl FetchCredentials for AssumeRole {
    fn fetch(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
        let span = tracing::debug_span!(
            "coscls.credentials.assume_role",
            role_arn = %self.role_arn,
            session = %self.session_name,
        );
        Box::pin(self.call().instrument(span))
    }
}

/// `host[:port]` of an endpoint URL already checked by `check_endpoint`.
fn host_of(endpoint: &str) -> String {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.split('/').next().unwrap_or("").to_ascii_lowercase()
}

fn check_role_arn(arn: &str) -> Result<(), Error> {
    let reason = if arn.is_empty() {
        "is empty"
    } else if arn.len() > 1024 {
        "is longer than 1024 bytes"
    } else if arn.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "contains whitespace or control characters"
    } else {
        return Ok(());
    };
    Err(Error::InvalidArgument {
        field: "role_arn",
        reason: reason.into(),
    })
}

fn check_session_name(name: &str) -> Result<(), Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    let reason = if !(2..=128).contains(&name.len()) {
        "must be 2 to 128 characters"
    } else if !name.chars().all(allowed) {
        "may hold only letters, digits and _+=,.@-"
    } else {
        return Ok(());
    };
    Err(Error::InvalidArgument {
        field: "session_name",
        reason: reason.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Credentials {
        Credentials::new("AKIDlong", "LONGsecret").unwrap()
    }

    #[test]
    fn settings_are_checked_before_any_call() {
        let arn = "qcs::cam::uin/1:roleName/r";
        assert_eq!(
            AssumeRole::new(source(), "", "s1").unwrap_err().to_string(),
            "invalid argument: role_arn is empty"
        );
        assert!(AssumeRole::new(source(), arn, "s").is_err());
        assert!(AssumeRole::new(source(), arn, "has space").is_err());
        let ok = AssumeRole::new(source(), arn, "job_1+=,.@-").unwrap();
        assert!(ok.with_duration_seconds(43_201).is_err());
        let ok = AssumeRole::new(source(), arn, "s1").unwrap();
        assert!(ok.with_policy("{not json").is_err());
        let ok = AssumeRole::new(source(), arn, "s1").unwrap();
        assert!(ok.with_endpoint("http://127.0.0.1:9/path").is_err());
        let ok = AssumeRole::new(source(), arn, "s1").unwrap();
        let e = ok.with_region("AP guangzhou").unwrap_err();
        assert!(e.to_string().starts_with("invalid argument: region"), "{e}");
        let ok = AssumeRole::new(source(), arn, "s1")
            .unwrap()
            .with_endpoint("http://127.0.0.1:9/")
            .unwrap();
        assert_eq!(ok.host, "127.0.0.1:9");
        assert_eq!(ok.endpoint, "http://127.0.0.1:9");
    }

    #[test]
    fn body_carries_duration_and_url_encoded_policy() {
        let call = AssumeRole::new(source(), "qcs::cam::uin/1:roleName/r", "s1")
            .unwrap()
            .with_duration_seconds(900)
            .unwrap()
            .with_policy(r#"{"version":"2.0"}"#)
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&call.request_body()).unwrap();
        assert_eq!(body["DurationSeconds"], 900);
        assert_eq!(body["Policy"], "%7B%22version%22%3A%222.0%22%7D");
        assert_eq!(body["RoleSessionName"], "s1");
    }

    #[test]
    fn parses_success_and_error_answers() {
        let ok = br#"{"Response":{"Credentials":{"Token":"TOKENsecret","TmpSecretId":"AKIDtmp",
            "TmpSecretKey":"KEYsecret"},"ExpiredTime":1543914376,"Expiration":"2018-12-04T09:06:16Z",
            "RequestId":"4daec797-9cd2-4f09-9e7a-7d4c43b2a74c"}}"#;
        let c = AssumeRole::parse_response(ok).unwrap();
        assert_eq!(c.secret_id(), "AKIDtmp");
        assert_eq!(c.secret_key().expose(), "KEYsecret");
        assert_eq!(
            c.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(1543914376))
        );
        let err = br#"{"Response":{"Error":{"Code":"InvalidParameter.AccountNotAvaliable",
            "Message":"account not available"},"RequestId":"r-2"}}"#;
        let e = AssumeRole::parse_response(err).unwrap_err();
        assert_eq!(
            e.to_string(),
            "AssumeRole failed with InvalidParameter.AccountNotAvaliable: account not available (request id r-2)"
        );
        assert!(!e.retryable());
        let busy =
            br#"{"Response":{"Error":{"Code":"InternalError","Message":"x"},"RequestId":"r"}}"#;
        assert!(AssumeRole::parse_response(busy).unwrap_err().retryable());
        let partial = br#"{"Response":{"Credentials":{"TmpSecretId":"a","TmpSecretKey":"KEYsecret"},"ExpiredTime":1}}"#;
        let e = AssumeRole::parse_response(partial).unwrap_err().to_string();
        assert_eq!(e, "STS AssumeRole: the answer has no Credentials.Token");
        assert!(AssumeRole::parse_response(b"[]").is_err());
        assert!(AssumeRole::parse_response(b"{}").is_err());
    }
}
