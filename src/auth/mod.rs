//! Credentials, their sources, and the signatures: `q-sign` used by both COS
//! and CLS, and TC3-HMAC-SHA256 used by the TencentCloud API 3.0 (STS).
//!
//! Signing is pure: the signers take the time as an argument so they can be
//! tested against fixed vectors and so every retry attempt can sign afresh.
//! The providers that do I/O (environment, credentials file, instance role,
//! STS AssumeRole, and the chain over them) each live in their own file.

mod chain;
mod credentials;
mod encode;
mod header_rule;
mod instance;
mod presign;
mod profile_file;
mod sign;
mod sign_cache;
mod sts;
mod tc3;

pub use chain::ChainProvider;
pub use credentials::{
    BoxFuture, Credentials, EnvProvider, FetchCredentials, ProvideCredentials, RefreshingProvider,
    Secret, StaticProvider,
};
pub(crate) use encode::encode_into;
pub use encode::{parse_query, path_encode, percent_decode, uri_encode};
pub use header_rule::HeaderRule;
pub use instance::{InstanceRole, InstanceRoleProvider, DEFAULT_METADATA_ENDPOINT};
pub use presign::{presign_url, PresignRequest, PresignStyle, SECURITY_TOKEN_PARAM};
pub use profile_file::{ProfileFile, ProfileFileProvider, CREDENTIALS_FILE_VAR};
#[cfg(test)]
pub(crate) use sign::parse_authorization;
pub(crate) use sign::sign_key;
pub use sign::{sign, sign_with_key, KeyTime, SignableRequest, Signature};
pub use sign_cache::SignKeyCache;
pub use sts::{AssumeRole, AssumeRoleProvider, DEFAULT_STS_ENDPOINT};
pub use tc3::{
    tc3_canonical_request, tc3_headers, tc3_sign, tc3_signing_key, tc3_string_to_sign,
    tc3_utc_date, Tc3Call, Tc3Request, Tc3Signature, TC3_ALGORITHM, TC3_JSON_CONTENT_TYPE,
};

/// Why credentials could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// None of the environment variables was set.
    #[error("credentials not found in the environment: set {names}")]
    MissingEnv {
        /// The variables looked at.
        names: &'static str,
    },
    /// A value was unusable; the message names the field, never its value.
    #[error("invalid credentials: {field} {reason}")]
    InvalidCredentials {
        /// Which field (`secret id`, `secret key`, `session token`).
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A [`FetchCredentials`] implementation failed.
    #[error("refreshing temporary credentials failed: {}", chain_message(.0.as_ref()))]
    Refresh(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A setting of a credential source was unusable; names the field,
    /// never a secret.
    #[error("invalid argument: {field} {reason}")]
    InvalidArgument {
        /// Which setting (`role_arn`, `duration_seconds`, `endpoint`…).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No shared credentials file exists where one is looked for.
    #[error("no credentials file (looked at {looked_at})")]
    NoProfileFile {
        /// The paths looked at, or why none could be formed.
        looked_at: String,
    },
    /// The credentials file exists but does not hold usable credentials.
    #[error("credentials file {path}: {reason}")]
    ProfileFile {
        /// The file.
        path: String,
        /// What is wrong (a line number or a missing key, never a value).
        reason: String,
    },
    /// No instance role: the metadata service is unreachable (not a CVM or
    /// TKE node) or no role is bound to the instance.
    #[error("no instance role: {reason}")]
    NoInstanceRole {
        /// What the metadata service probe found.
        reason: String,
    },
    /// The metadata service named a role but gave no usable credentials.
    #[error("instance role {role}: {reason}")]
    InstanceRole {
        /// The role name.
        role: String,
        /// What is wrong (the `Code`, a missing field…).
        reason: String,
    },
    /// A TencentCloud API 3.0 call (STS AssumeRole) answered with an error.
    #[error("{action} failed with {code}: {message} (request id {request_id})")]
    Api {
        /// The action called (`AssumeRole`).
        action: &'static str,
        /// `Response.Error.Code`, e.g. `AuthFailure.SignatureFailure`.
        code: String,
        /// `Response.Error.Message`.
        message: String,
        /// `Response.RequestId`, for a support ticket.
        request_id: String,
    },
    /// A credential service could not be reached, or answered something
    /// that is not a credential response.
    #[error("{service}: {reason}")]
    Service {
        /// `STS AssumeRole` or `instance metadata`.
        service: &'static str,
        /// What went wrong.
        reason: String,
        /// Whether asking again may succeed (network errors, 5xx).
        transient: bool,
    },
    /// No source of a [`ChainProvider`] yielded credentials; names each
    /// source with what it found.
    #[error("no credentials found: {tried}")]
    NoCredentials {
        /// `source: reason` for each source tried, separated by `; `.
        tried: String,
    },
}

impl Error {
    /// Whether trying again may succeed: a failed refresh, unless what failed
    /// is known to be permanent (an STS `AuthFailure`, a bad setting).
    pub fn retryable(&self) -> bool {
        match self {
            Error::Refresh(source) => source
                .downcast_ref::<Error>()
                .is_none_or(|inner| inner.transient()),
            other => other.transient(),
        }
    }

    fn transient(&self) -> bool {
        match self {
            Error::Refresh(_) => self.retryable(),
            Error::Service { transient, .. } => *transient,
            Error::Api { code, .. } => {
                code.starts_with("InternalError")
                    || code.starts_with("RequestLimitExceeded")
                    || code.starts_with("ServiceUnavailable")
            }
            _ => false,
        }
    }

    /// Whether the error only says a source is not configured here (no
    /// variables, no file, no metadata service), so a [`ChainProvider`]
    /// moves on to the next source. Anything else means a source is present
    /// but broken, and the chain stops rather than silently using another
    /// identity.
    pub fn is_absent(&self) -> bool {
        match self {
            Error::MissingEnv { .. }
            | Error::NoProfileFile { .. }
            | Error::NoInstanceRole { .. } => true,
            Error::Refresh(source) => source.downcast_ref::<Error>().is_some_and(Error::is_absent),
            _ => false,
        }
    }
}

/// An error and its sources joined with `: `, for one-line messages.
pub(crate) fn chain_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        next = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_authorization_value_parses_into_its_fields() {
        let p = parse_authorization(
            "q-sign-algorithm=sha1&q-ak=AK&q-sign-time=1;2&q-key-time=1;2\
             &q-header-list=host&q-url-param-list=&q-signature=ab",
        )
        .unwrap();
        assert_eq!(p.secret_id, "AK");
        assert_eq!(p.header_list, vec!["host"]);
        assert!(parse_authorization("q-ak=AK").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Moved here from `tests/no_panic.rs` when the parser became
        /// crate-private: any text is an error or a parse, never a panic.
        #[test]
        fn parse_authorization_never_panics(s in any::<String>()) {
            let _ = parse_authorization(&s);
        }
    }
}
