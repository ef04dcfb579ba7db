//! Presigned URLs: the signature travels in the query instead of a header, so
//! a plain HTTP client (a browser, curl) can use the URL until it expires.

use super::encode::{path_encode, uri_encode};
use super::sign::{sign, KeyTime, SignableRequest};
use super::Credentials;

/// Where the signature goes in the URL (docs/protocol/cos.md §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PresignStyle {
    /// The seven `q-*` fields as separate parameters, then the caller's
    /// parameters (the Python and Go SDKs' default).
    #[default]
    Query,
    /// The caller's parameters, then one `sign=<encoded Authorization>` (Go's `SignMerged`).
    Merged,
}

/// What to presign.
#[derive(Debug, Clone, Copy)]
pub struct PresignRequest<'a> {
    /// HTTP method the URL is for.
    pub method: &'a str,
    /// Scheme, host and optional port, without a trailing `/`: `https://b-125.cos.ap-guangzhou.myqcloud.com`.
    pub base_url: &'a str,
    /// Decoded path, starting with `/`.
    pub path: &'a str,
    /// Decoded query parameters; all are signed.
    pub params: &'a [(&'a str, &'a str)],
    /// Headers the user of the URL must send verbatim; normally `Host`, plus
    /// `Content-Type` to pin the type of an upload.
    pub headers: &'a [(&'a str, &'a str)],
    /// Where the signature goes.
    pub style: PresignStyle,
}

/// The query parameter that carries an STS session token.
pub const SECURITY_TOKEN_PARAM: &str = "x-cos-security-token";

/// Builds a presigned URL. With temporary credentials the session token is
/// added as a *signed* `x-cos-security-token` parameter, so it cannot be
/// stripped or swapped (the Python SDK leaves this to the caller, docs/protocol/cos.md §1.4).
///
/// ```
/// use coscls::auth::{presign_url, Credentials, KeyTime, PresignRequest, PresignStyle};
/// let creds = Credentials::new("AKIDexample", "secret").unwrap().with_session_token("tok+/=").unwrap();
/// let host = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com";
/// let url = presign_url(&creds, KeyTime::new(1700000000, 1700000600), &PresignRequest {
///     method: "GET",
///     base_url: &format!("https://{host}"),
///     path: "/a b.txt",
///     params: &[],
///     headers: &[("Host", host)],
///     style: PresignStyle::Query,
/// });
/// assert!(url.starts_with("https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/a%20b.txt?q-sign-algorithm=sha1&q-ak=AKIDexample&q-sign-time=1700000000%3B1700000600"));
/// assert!(url.contains("q-url-param-list=x-cos-security-token"));
/// assert!(url.ends_with("&x-cos-security-token=tok%2B%2F%3D"));
/// ```
pub fn presign_url(
    credentials: &Credentials,
    key_time: KeyTime,
    request: &PresignRequest<'_>,
) -> String {
    let mut params: Vec<(&str, &str)> = request.params.to_vec();
    if let Some(token) = credentials.session_token() {
        if !params
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(SECURITY_TOKEN_PARAM))
        {
            params.push((SECURITY_TOKEN_PARAM, token.expose()));
        }
    }
    let signature = sign(
        credentials,
        key_time,
        &SignableRequest {
            method: request.method,
            path: request.path,
            params: &params,
            headers: request.headers,
        },
    );
    let user_params = params
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v)));
    let query: Vec<String> = match request.style {
        PresignStyle::Query => {
            let kt = key_time.to_string();
            let fields = [
                ("q-sign-algorithm", "sha1"),
                ("q-ak", credentials.secret_id()),
                ("q-sign-time", kt.as_str()),
                ("q-key-time", kt.as_str()),
                ("q-header-list", signature.header_list.as_str()),
                ("q-url-param-list", signature.param_list.as_str()),
                ("q-signature", signature.signature.as_str()),
            ];
            fields
                .iter()
                .map(|(k, v)| format!("{k}={}", uri_encode(v)))
                .chain(user_params)
                .collect()
        }
        PresignStyle::Merged => user_params
            .chain(std::iter::once(format!(
                "sign={}",
                uri_encode(&signature.authorization)
            )))
            .collect(),
    };
    format!(
        "{}{}?{}",
        request.base_url,
        path_encode(request.path),
        query.join("&")
    )
}
