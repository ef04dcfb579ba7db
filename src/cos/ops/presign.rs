//! Presigned URLs: a time-limited URL anyone can use without credentials.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;

use crate::auth::{presign_url, Credentials, KeyTime, PresignRequest, PresignStyle};
use crate::cos::headers::header_value;
use crate::cos::{validate_key, Client, Error};

/// Longest validity accepted for a presigned URL.
pub const MAX_PRESIGN_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a presigned URL allows.
///
/// ```
/// use std::time::Duration;
/// use coscls::cos::PresignOptions;
/// let upload = PresignOptions::put(Duration::from_secs(600)).content_type("image/png");
/// assert_eq!(upload.method, http::Method::PUT);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PresignOptions {
    /// The method the URL is for.
    pub method: Method,
    /// How long the URL stays valid (at most 7 days, and never beyond
    /// temporary credentials' expiry).
    pub expires_in: Duration,
    /// Extra signed query parameters (`response-content-type`, `versionId`…).
    pub params: Vec<(String, String)>,
    /// Headers the user of the URL must send with exactly these values
    /// (e.g. `Content-Type` to pin an upload's type). `Host` is always signed.
    pub headers: Vec<(String, String)>,
}

impl PresignOptions {
    /// A download URL.
    pub fn get(expires_in: Duration) -> Self {
        PresignOptions {
            method: Method::GET,
            expires_in,
            params: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// An upload URL.
    pub fn put(expires_in: Duration) -> Self {
        PresignOptions {
            method: Method::PUT,
            ..Self::get(expires_in)
        }
    }

    /// Pins the `Content-Type` the uploader must send.
    pub fn content_type(mut self, value: impl Into<String>) -> Self {
        self.headers.push(("content-type".into(), value.into()));
        self
    }

    /// Adds a header the user of the URL must send with exactly this value.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a signed query parameter.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The signing window of something presigned for `expires_in`: from a
/// minute ago (clocks differ) to `expires_in` from now, on the clock
/// corrected by `offset`, and never past temporary credentials' expiry.
pub(crate) fn window(
    creds: &Credentials,
    expires_in: Duration,
    offset: i64,
) -> Result<KeyTime, Error> {
    let now = unix_now() + offset;
    let mut end = now + expires_in.as_secs() as i64;
    if let Some(exp) = creds.expires_at() {
        let exp = exp
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
            + offset;
        end = end.min(exp);
    }
    if end <= now {
        return Err(Error::invalid_input(
            "expires_in",
            &format!("{expires_in:?}"),
            "the credentials expire before the URL would become valid",
        ));
    }
    Ok(KeyTime::new(now - 60, end))
}

impl Client {
    /// A presigned URL for `key`. `Host` is signed; with temporary
    /// credentials the session token is added as a *signed*
    /// `x-cos-security-token` parameter. The window starts a minute in the
    /// past and follows the clock offset learned from the server, so a URL
    /// made on a machine with a skewed clock still works.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use std::time::Duration;
    /// use coscls::cos::PresignOptions;
    /// let url = client
    ///     .presigned_url("examplebucket-1250000000", "report.pdf", &PresignOptions::get(Duration::from_secs(3600)))
    ///     .await?;
    /// println!("curl '{url}'");
    /// # Ok(()) }
    /// ```
    pub async fn presigned_url(
        &self,
        bucket: &str,
        key: &str,
        opts: &PresignOptions,
    ) -> Result<String, Error> {
        let bucket = Self::bucket(bucket)?;
        validate_key(key)?;
        if opts.expires_in.is_zero() || opts.expires_in > MAX_PRESIGN_VALIDITY {
            return Err(Error::invalid_input(
                "expires_in",
                &format!("{:?}", opts.expires_in),
                "must be more than 0 and at most 7 days",
            ));
        }
        for (name, value) in &opts.headers {
            header_value("presigned header", value)?;
            if name.eq_ignore_ascii_case("host") {
                return Err(Error::invalid_input(
                    "presigned header",
                    name,
                    "Host is always signed; do not add it",
                ));
            }
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::invalid_input("presigned header", name, "is not a header name")
            })?;
        }
        let resolved = self.inner.endpoint.object_url(&bucket, key, &[])?;
        let creds = self.inner.provider.provide().await?;
        let key_time = window(&creds, opts.expires_in, self.clock_offset())?;
        let scheme_end = resolved.url.find("://").map_or(0, |i| i + 3);
        let base_url = format!("{}{}", &resolved.url[..scheme_end], resolved.host);
        let mut headers: Vec<(&str, &str)> = vec![("host", resolved.host.as_str())];
        headers.extend(opts.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let params: Vec<(&str, &str)> = opts
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Ok(presign_url(
            &creds,
            key_time,
            &PresignRequest {
                method: opts.method.as_str(),
                base_url: &base_url,
                path: &resolved.signed_path,
                params: &params,
                headers: &headers,
                style: PresignStyle::Query,
            },
        ))
    }
}
