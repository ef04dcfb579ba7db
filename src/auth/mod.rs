//! Credentials and the `q-sign` signature used by both COS and CLS.
//!
//! Everything here is pure except the environment and refresh providers; the
//! signer takes the time window as an argument so it can be tested against
//! fixed vectors and so every retry attempt can sign afresh.

mod credentials;
mod encode;
mod presign;
mod sign;

pub use credentials::{
    BoxFuture, Credentials, EnvProvider, FetchCredentials, ProvideCredentials, RefreshingProvider,
    Secret, StaticProvider,
};
pub(crate) use encode::encode_into;
pub use encode::{parse_query, path_encode, percent_decode, uri_encode};
pub use presign::{presign_url, PresignRequest, PresignStyle, SECURITY_TOKEN_PARAM};
pub use sign::{
    parse_authorization, sign, sign_key, sign_with_key, HeaderRule, KeyTime, ParsedAuthorization,
    SignKeyCache, SignableRequest, Signature,
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
    #[error("refreshing temporary credentials failed")]
    Refresh(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// Whether trying again may succeed: only a failed refresh can be transient.
    pub fn retryable(&self) -> bool {
        matches!(self, Error::Refresh(_))
    }
}
