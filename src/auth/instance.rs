//! Temporary credentials of the CAM role bound to a CVM instance or TKE node,
//! from the instance metadata service.
//!
//! `GET …/cam/security-credentials/` names the role; `GET …/<role>` answers
//! `{"TmpSecretId","TmpSecretKey","Token","ExpiredTime","Expiration","Code"}`
//! (the official Go and Python SDKs read the same endpoint and fields). The
//! credentials are cached and fetched again a margin before `ExpiredTime`.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::credentials::{BoxFuture, Credentials, FetchCredentials, RefreshingProvider};
use super::{chain_message, uri_encode, Error};

/// The metadata service's role-credentials directory.
pub const DEFAULT_METADATA_ENDPOINT: &str =
    "http://metadata.tencentyun.com/latest/meta-data/cam/security-credentials/";

/// The largest metadata or STS answer read; real ones are under 4 KiB.
pub(super) const BODY_LIMIT: usize = 64 * 1024;

const SERVICE: &str = "instance metadata";

/// Fetches the instance role's credentials from the metadata service; wrap
/// it with [`InstanceRole::into_provider`] to cache and refresh them.
///
/// Short timeouts (1 s to connect, 2 s per request by default): off a CVM
/// the metadata host does not resolve or answer, and a credential chain must
/// not hang on it. Redirects are not followed and proxies are not used (the
/// service is link-local to the instance).
///
/// ```no_run
/// use coscls::auth::{InstanceRole, ProvideCredentials};
/// # async fn run() -> Result<(), coscls::auth::Error> {
/// let provider = InstanceRole::new().into_provider();
/// let creds = provider.provide().await?; // refreshed 5 minutes before expiry
/// # let _ = creds; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct InstanceRole {
    endpoint: String,
    role: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
    client: OnceLock<reqwest::Client>,
}

/// [`InstanceRole`] behind a cache that refreshes before expiry.
pub type InstanceRoleProvider = RefreshingProvider<InstanceRole>;

impl Default for InstanceRole {
    fn default() -> Self {
        Self::new()
    }
}

impl InstanceRole {
    /// The metadata service at its documented address, role discovered.
    pub fn new() -> Self {
        InstanceRole {
            endpoint: DEFAULT_METADATA_ENDPOINT.to_string(),
            role: None,
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            client: OnceLock::new(),
        }
    }

    /// Another base URL for the role directory (a test stand-in, a proxy
    /// sidecar). A trailing `/` is added when missing.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (`endpoint`) unless it is an `http://` or
    /// `https://` URL without user info.
    pub fn with_endpoint(mut self, endpoint: &str) -> Result<Self, Error> {
        self.endpoint = check_endpoint(endpoint)?;
        if !self.endpoint.ends_with('/') {
            self.endpoint.push('/');
        }
        Ok(self)
    }

    /// Uses this role instead of asking the metadata service for it.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (`role`) when empty, or holding `/`,
    /// whitespace or control characters.
    pub fn with_role(mut self, role: &str) -> Result<Self, Error> {
        check_role(role)?;
        self.role = Some(role.to_string());
        Ok(self)
    }

    /// The per-request timeout (default 2 s; connecting is capped at 1 s or
    /// this, whichever is shorter).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.connect_timeout = self.connect_timeout.min(timeout);
        self.client = OnceLock::new();
        self
    }

    /// Caches the credentials and fetches them again 5 minutes before they
    /// expire (the official SDKs use 300 s too).
    pub fn into_provider(self) -> InstanceRoleProvider {
        RefreshingProvider::new(self)
    }

    fn client(&self) -> Result<&reqwest::Client, Error> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let built = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| Error::Service {
                service: SERVICE,
                reason: format!("building the HTTP client: {}", chain_message(&e)),
                transient: false,
            })?;
        Ok(self.client.get_or_init(|| built))
    }

    async fn role_name(&self) -> Result<String, Error> {
        if let Some(role) = &self.role {
            return Ok(role.clone());
        }
        let url = self.endpoint.clone();
        let (status, body) = get(self.client()?, &url)
            .await
            .map_err(|reason| Error::NoInstanceRole { reason })?;
        if status == 404 {
            return Err(Error::NoInstanceRole {
                reason: format!("{url} answered 404: no role is bound to this instance"),
            });
        }
        if !(200..300).contains(&status) {
            return Err(Error::Service {
                service: SERVICE,
                reason: format!("{url} answered HTTP {status}"),
                transient: status >= 500,
            });
        }
        let text = String::from_utf8_lossy(&body);
        let role = text.lines().map(str::trim).find(|l| !l.is_empty());
        match role {
            Some(role) if check_role(role).is_ok() => Ok(role.to_string()),
            Some(_) => Err(Error::Service {
                service: SERVICE,
                reason: format!("{url} answered something that is not a role name"),
                transient: false,
            }),
            None => Err(Error::NoInstanceRole {
                reason: format!("{url} names no role"),
            }),
        }
    }

    /// Reads one credentials answer of the metadata service.
    ///
    /// # Errors
    /// [`Error::InstanceRole`] naming the role and what is wrong: a `Code`
    /// other than `Success`, a missing field, no expiry.
    ///
    /// ```
    /// use coscls::auth::InstanceRole;
    /// let body = br#"{"TmpSecretId":"AKIDtmp","TmpSecretKey":"k","Token":"t",
    ///                 "ExpiredTime":4102444800,"Expiration":"2100-01-01T00:00:00Z","Code":"Success"}"#;
    /// let creds = InstanceRole::parse_credentials("my-role", body).unwrap();
    /// assert_eq!(creds.secret_id(), "AKIDtmp");
    /// assert!(InstanceRole::parse_credentials("my-role", br#"{"Code":"Failed"}"#).is_err());
    /// ```
    pub fn parse_credentials(role: &str, body: &[u8]) -> Result<Credentials, Error> {
        let broken = |reason: String| Error::InstanceRole {
            role: role.to_string(),
            reason,
        };
        let answer: RoleAnswer = serde_json::from_slice(body)
            .map_err(|e| broken(format!("the answer is not the expected JSON ({e})")))?;
        let code = answer.code.as_deref().unwrap_or("");
        if code != "Success" {
            return Err(broken(format!(
                "the metadata service answered Code {:?}",
                printable(code)
            )));
        }
        let missing = |field: &str| broken(format!("the answer has no {field}"));
        let id = answer.tmp_secret_id.ok_or_else(|| missing("TmpSecretId"))?;
        let key = answer
            .tmp_secret_key
            .ok_or_else(|| missing("TmpSecretKey"))?;
        let token = answer.token.ok_or_else(|| missing("Token"))?;
        let expires = expiry(answer.expired_time, answer.expiration.as_deref())
            .ok_or_else(|| missing("usable ExpiredTime or Expiration"))?;
        Ok(Credentials::new(id, key)?
            .with_session_token(token)?
            .with_expiry(expires))
    }
}

impl FetchCredentials for InstanceRole {
    fn fetch(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
        Box::pin(async move {
            let role = self.role_name().await?;
            let url = format!("{}{}", self.endpoint, uri_encode(&role));
            let (status, body) =
                get(self.client()?, &url)
                    .await
                    .map_err(|reason| Error::Service {
                        service: SERVICE,
                        reason,
                        transient: true,
                    })?;
            if status == 404 {
                return Err(Error::InstanceRole {
                    role,
                    reason: "the metadata service answered 404 for the role".into(),
                });
            }
            if !(200..300).contains(&status) {
                return Err(Error::Service {
                    service: SERVICE,
                    reason: format!("{url} answered HTTP {status}"),
                    transient: status >= 500,
                });
            }
            let creds = Self::parse_credentials(&role, &body)?;
            tracing::debug!(role = %role, "fetched instance role credentials");
            Ok(creds)
        })
    }
}

#[derive(Deserialize)]
struct RoleAnswer {
    #[serde(rename = "TmpSecretId")]
    tmp_secret_id: Option<String>,
    #[serde(rename = "TmpSecretKey")]
    tmp_secret_key: Option<String>,
    #[serde(rename = "Token")]
    token: Option<String>,
    #[serde(rename = "ExpiredTime")]
    expired_time: Option<u64>,
    #[serde(rename = "Expiration")]
    expiration: Option<String>,
    #[serde(rename = "Code")]
    code: Option<String>,
}

/// `GET url`, answering the status and at most [`BODY_LIMIT`] bytes of body;
/// a network failure is described in one line.
async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, Vec<u8>), String> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| chain_message(&e))?;
    let status = response.status().as_u16();
    let body = read_limited(response)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    Ok((status, body))
}

/// The body of `response`, refusing more than [`BODY_LIMIT`] bytes.
pub(super) async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| chain_message(&e))? {
        if body.len().saturating_add(chunk.len()) > BODY_LIMIT {
            return Err(format!("answer larger than {BODY_LIMIT} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The expiry of temporary credentials: `ExpiredTime` (Unix seconds) when
/// present, else `Expiration` (RFC 3339).
pub(super) fn expiry(expired_time: Option<u64>, expiration: Option<&str>) -> Option<SystemTime> {
    let secs = match expired_time {
        Some(t) => t,
        None => parse_rfc3339(expiration?)?,
    };
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` to Unix seconds; `None` when
/// malformed or before 1970.
pub(super) fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = frac.get(digits..)?;
    }
    let offset: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' {
                return None;
            }
            let sign = match rb[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let days = super::tc3::days_from_civil(year, month, day)?;
    let local = days
        .checked_mul(86_400)?
        .checked_add(hour * 3600 + minute * 60 + second)?;
    u64::try_from(i64::try_from(local).ok()?.checked_sub(offset)?).ok()
}

/// At most 64 printable characters of a server-supplied string, for messages.
pub(super) fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

pub(super) fn check_endpoint(endpoint: &str) -> Result<String, Error> {
    let bad = |reason: &str| Error::InvalidArgument {
        field: "endpoint",
        reason: reason.into(),
    };
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .ok_or_else(|| bad("must start with http:// or https://"))?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err(bad("has no host"));
    }
    if authority.contains('@') {
        return Err(bad("must not hold user info"));
    }
    if endpoint
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad("contains whitespace or control characters"));
    }
    if endpoint.contains(['?', '#']) {
        return Err(bad("must not hold a query or fragment"));
    }
    Ok(endpoint.to_string())
}

fn check_role(role: &str) -> Result<(), Error> {
    let reason = if role.is_empty() {
        "is empty"
    } else if role.contains('/') {
        "contains '/'"
    } else if role.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "contains whitespace or control characters"
    } else {
        return Ok(());
    };
    Err(Error::InvalidArgument {
        field: "role",
        reason: reason.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_answer_and_names_what_is_missing() {
        let ok = br#"{"TmpSecretId":"AKIDtmp","TmpSecretKey":"KEYsecret","ExpiredTime":1615590047,
            "Expiration":"2021-03-12T23:00:47Z","Token":"TOKENsecret","Code":"Success"}"#;
        let c = InstanceRole::parse_credentials("r", ok).unwrap();
        assert_eq!(c.secret_id(), "AKIDtmp");
        assert_eq!(c.session_token().unwrap().expose(), "TOKENsecret");
        assert_eq!(
            c.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(1615590047))
        );
        let no_token =
            br#"{"TmpSecretId":"a","TmpSecretKey":"KEYsecret","ExpiredTime":1,"Code":"Success"}"#;
        let e = InstanceRole::parse_credentials("r", no_token).unwrap_err();
        assert_eq!(e.to_string(), "instance role r: the answer has no Token");
        let failed = br#"{"Code":"Failed","TmpSecretKey":"KEYsecret"}"#;
        let e = InstanceRole::parse_credentials("r", failed).unwrap_err();
        assert!(e.to_string().contains("Code \"Failed\""), "{e}");
        assert!(!e.to_string().contains("KEYsecret"));
        let no_expiry = br#"{"TmpSecretId":"a","TmpSecretKey":"k","Token":"t","Code":"Success"}"#;
        assert!(InstanceRole::parse_credentials("r", no_expiry).is_err());
        assert!(InstanceRole::parse_credentials("r", b"<html>").is_err());
    }

    #[test]
    fn expiration_falls_back_to_rfc3339() {
        let c = InstanceRole::parse_credentials(
            "r",
            br#"{"TmpSecretId":"a","TmpSecretKey":"k","Token":"t","Expiration":"2021-03-12T23:00:47Z","Code":"Success"}"#,
        )
        .unwrap();
        assert_eq!(
            c.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(1615590047))
        );
    }

    #[test]
    fn rfc3339_forms() {
        assert_eq!(parse_rfc3339("2021-03-12T23:00:47Z"), Some(1615590047));
        assert_eq!(parse_rfc3339("2021-03-12T23:00:47.123Z"), Some(1615590047));
        assert_eq!(parse_rfc3339("2021-03-13T07:00:47+08:00"), Some(1615590047));
        assert_eq!(parse_rfc3339("2021-03-12T22:00:47-01:00"), Some(1615590047));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "",
            "2021-03-12",
            "2021-03-12T23:00:47",
            "2021-13-12T23:00:47Z",
            "2021-03-12T24:00:00Z",
            "2021-03-12T23:00:47+0800",
            "2021-03-12T23:00:47.Z",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00+01:00",
            "２021-03-12T23:00:47Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn settings_are_checked() {
        assert!(InstanceRole::new().with_role("a/b").is_err());
        assert!(InstanceRole::new().with_role("").is_err());
        let e = InstanceRole::new()
            .with_endpoint("ftp://x")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid argument: endpoint must start with http:// or https://"
        );
        assert!(InstanceRole::new()
            .with_endpoint("http://user:pw@host/")
            .is_err());
        let r = InstanceRole::new()
            .with_endpoint("http://127.0.0.1:1/x")
            .unwrap();
        assert_eq!(r.endpoint, "http://127.0.0.1:1/x/");
    }
}
