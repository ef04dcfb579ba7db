//! What every request builder shares: [`Target`] turns a validated
//! method, key, parameters, headers and body into an unsigned
//! [`PreparedRequest`] for one bucket. The builders themselves live with
//! their operation under `ops/`. No I/O, no clock; the pipeline signs and
//! sends what they return, once per attempt.

use http::{HeaderMap, HeaderValue, Method};

use super::{validate_key, BucketName, Endpoint, Error};
use crate::transport::{PreparedRequest, RequestBody};

pub(crate) const USER_AGENT: &str = concat!("coscls/", env!("CARGO_PKG_VERSION"));

/// The bucket a request is about and where it goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) endpoint: &'a Endpoint,
    pub(crate) bucket: &'a BucketName,
}

impl Target<'_> {
    pub(crate) fn build(
        &self,
        method: Method,
        key: &str,
        params: Vec<(String, String)>,
        mut headers: HeaderMap,
        body: RequestBody,
    ) -> Result<PreparedRequest, Error> {
        let borrowed: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let resolved = self.endpoint.object_url(self.bucket, key, &borrowed)?;
        // The host string becomes the header value without a copy.
        let host = HeaderValue::try_from(resolved.host).map_err(|_| {
            Error::invalid_input(
                "endpoint",
                &self.endpoint.service_url(),
                "does not make a valid Host",
            )
        })?;
        headers.insert(http::header::HOST, host);
        // Strict signature mode wants Content-Length signed on every write,
        // including empty ones (docs/protocol/cos.md §1.2).
        if !body.is_empty() || method == Method::PUT || method == Method::POST {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(USER_AGENT),
        );
        Ok(PreparedRequest {
            method,
            url: resolved.url,
            signed_path: resolved.signed_path,
            params,
            headers,
            body,
        })
    }

    pub(crate) fn object(
        &self,
        method: Method,
        key: &str,
        params: Vec<(String, String)>,
        headers: HeaderMap,
        body: RequestBody,
    ) -> Result<PreparedRequest, Error> {
        validate_key(key)?;
        self.build(method, key, params, headers, body)
    }
}

/// Owned query parameters from borrowed pairs.
pub(crate) fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A copy of `request` for another attempt; `None` for a streamed body.
pub(crate) fn try_clone(request: &PreparedRequest) -> Option<PreparedRequest> {
    Some(PreparedRequest {
        method: request.method.clone(),
        url: request.url.clone(),
        signed_path: request.signed_path.clone(),
        params: request.params.clone(),
        headers: request.headers.clone(),
        body: request.body.try_clone()?,
    })
}

/// Helpers of the request builders' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::cos::Region;

    pub(crate) fn target_parts() -> (Endpoint, BucketName) {
        (
            Endpoint::for_region(&Region::parse("ap-guangzhou").unwrap()),
            BucketName::parse("examplebucket-1250000000").unwrap(),
        )
    }

    pub(crate) fn param<'a>(r: &'a PreparedRequest, name: &str) -> Option<&'a str> {
        r.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
