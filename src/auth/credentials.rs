//! Credentials and the providers that supply them.
//!
//! A provider is asked for credentials before every signature, so temporary
//! (STS) credentials can rotate under a long-lived client without a restart.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Error;

/// A boxed future, so providers can be stored as `Arc<dyn ProvideCredentials>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A string that never shows up in `Debug` or `Display` output.
///
/// Shared, not copied, when cloned: providers hand out credentials for every
/// signature.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The secret itself; call sites that need it are few and easy to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"** redacted **\"")
    }
}

/// A Tencent Cloud API key pair, with the session token of temporary credentials.
///
/// `Debug` prints the SecretId (it names the key and is sent in clear in every
/// `Authorization` header) but never the SecretKey or the token.
///
/// ```
/// use coscls::auth::Credentials;
/// let creds = Credentials::new("AKIDexample", "very-secret").unwrap();
/// assert!(!format!("{creds:?}").contains("very-secret"));
/// assert!(Credentials::new("AKID", " padded ").is_err());
/// ```
#[derive(Clone)]
pub struct Credentials {
    secret_id: Arc<str>,
    secret_key: Secret,
    session_token: Option<Secret>,
    expires_at: Option<SystemTime>,
}

impl Credentials {
    /// Long-lived credentials. Both values must be non-empty and free of
    /// whitespace and control characters (the official SDKs reject padded keys,
    /// which are almost always a copy-paste mistake).
    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<String>) -> Result<Self, Error> {
        let secret_id = secret_id.into();
        let secret_key = secret_key.into();
        check_value("secret id", &secret_id)?;
        check_value("secret key", &secret_key)?;
        Ok(Credentials {
            secret_id: Arc::from(secret_id),
            secret_key: Secret::new(secret_key),
            session_token: None,
            expires_at: None,
        })
    }

    /// Adds the session token of temporary (STS) credentials.
    pub fn with_session_token(mut self, token: impl Into<String>) -> Result<Self, Error> {
        let token = token.into();
        check_value("session token", &token)?;
        self.session_token = Some(Secret::new(token));
        Ok(self)
    }

    /// Records when temporary credentials stop working; signatures are never
    /// made valid beyond it and [`RefreshingProvider`] renews ahead of it.
    pub fn with_expiry(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// The SecretId (`q-ak`).
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// The SecretKey, for the signer.
    pub fn secret_key(&self) -> &Secret {
        &self.secret_key
    }

    /// The STS session token, if these are temporary credentials.
    pub fn session_token(&self) -> Option<&Secret> {
        self.session_token.as_ref()
    }

    /// When these credentials expire, if they do.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &self.secret_key)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

fn check_value(field: &'static str, value: &str) -> Result<(), Error> {
    let reason = if value.is_empty() {
        "is empty"
    } else if value.chars().any(|c| c.is_whitespace()) {
        "contains whitespace"
    } else if value.chars().any(|c| c.is_control()) {
        "contains control characters"
    } else {
        return Ok(());
    };
    Err(Error::InvalidCredentials { field, reason })
}

/// Supplies credentials for each signature.
pub trait ProvideCredentials: Send + Sync + fmt::Debug {
    /// Returns credentials valid now.
    fn provide(&self) -> BoxFuture<'_, Result<Credentials, Error>>;

    /// Credentials available without waiting: fixed ones, or a cache that is
    /// still fresh. The signer asks this first and awaits
    /// [`provide`](Self::provide) only on `None`, so the common request
    /// skips a boxed future. The default is `None`.
    fn provide_now(&self) -> Option<Credentials> {
        None
    }
}

impl ProvideCredentials for Credentials {
    fn provide(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
        let creds = self.clone();
        Box::pin(async move { Ok(creds) })
    }

    fn provide_now(&self) -> Option<Credentials> {
        Some(self.clone())
    }
}

impl<T: ProvideCredentials + ?Sized> ProvideCredentials for Arc<T> {
    fn provide(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
        (**self).provide()
    }

    fn provide_now(&self) -> Option<Credentials> {
        (**self).provide_now()
    }
}

/// Fixed credentials.
#[derive(Debug, Clone)]
pub struct StaticProvider(Credentials);

impl StaticProvider {
    /// Provides `credentials` unchanged forever.
    pub fn new(credentials: Credentials) -> Self {
        StaticProvider(credentials)
    }
}

impl ProvideCredentials for StaticProvider {
    fn provide(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
        self.0.provide()
    }

    fn provide_now(&self) -> Option<Credentials> {
        Some(self.0.clone())
    }
}

/// Reads credentials from the environment at every call.
///
/// Looks at `TENCENTCLOUD_SECRET_ID` / `TENCENTCLOUD_SECRET_KEY` /
/// `TENCENTCLOUD_SESSION_TOKEN` first, then the `COS_SECRET_ID` /
/// `COS_SECRET_KEY` names that the official tools use.
///
/// ```
/// use coscls::auth::EnvProvider;
/// let vars = [("COS_SECRET_ID", "AKIDx"), ("COS_SECRET_KEY", "key")];
/// let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
/// let creds = EnvProvider::from_lookup(lookup).unwrap();
/// assert_eq!(creds.secret_id(), "AKIDx");
/// ```
#[derive(Debug, Clone, Default)]
pub struct EnvProvider;

impl EnvProvider {
    /// Primary variable names, in the order they are tried.
    pub const SECRET_ID_VARS: [&'static str; 2] = ["TENCENTCLOUD_SECRET_ID", "COS_SECRET_ID"];
    /// Secret key variable names, in the order they are tried.
    pub const SECRET_KEY_VARS: [&'static str; 2] = ["TENCENTCLOUD_SECRET_KEY", "COS_SECRET_KEY"];
    /// Session token variable names, in the order they are tried.
    pub const TOKEN_VARS: [&'static str; 2] = ["TENCENTCLOUD_SESSION_TOKEN", "COS_SESSION_TOKEN"];

    /// A provider reading the process environment.
    pub fn new() -> Self {
        EnvProvider
    }

    /// Reads the process environment once.
    pub fn load() -> Result<Credentials, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds credentials from any variable lookup (tests pass a closure
    /// instead of mutating the process environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Credentials, Error> {
        let first = |names: &[&'static str]| {
            names
                .iter()
                .find_map(|n| lookup(n).filter(|v| !v.is_empty()))
        };
        let id = first(&Self::SECRET_ID_VARS).ok_or(Error::MissingEnv {
            names: "TENCENTCLOUD_SECRET_ID or COS_SECRET_ID",
        })?;
        let key = first(&Self::SECRET_KEY_VARS).ok_or(Error::MissingEnv {
            names: "TENCENTCLOUD_SECRET_KEY or COS_SECRET_KEY",
        })?;
        let creds = Credentials::new(id, key)?;
        match first(&Self::TOKEN_VARS) {
            Some(token) => creds.with_session_token(token),
            None => Ok(creds),
        }
    }
}

impl ProvideCredentials for EnvProvider {
    fn provide(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
        Box::pin(async { Self::load() })
    }
}

/// Fetches fresh temporary credentials (from STS, a CVM role, a vault…).
pub trait FetchCredentials: Send + Sync + fmt::Debug {
    /// Returns new credentials, normally with [`Credentials::with_expiry`] set.
    fn fetch(&self) -> BoxFuture<'_, Result<Credentials, Error>>;
}

/// Caches credentials from a [`FetchCredentials`] and refreshes them a margin
/// before they expire, so no request is signed with a token about to lapse.
///
/// ```
/// use coscls::auth::{BoxFuture, Credentials, Error, FetchCredentials, ProvideCredentials, RefreshingProvider};
/// use std::time::{Duration, SystemTime};
///
/// #[derive(Debug)]
/// struct Sts;
/// impl FetchCredentials for Sts {
///     fn fetch(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
///         Box::pin(async {
///             Ok(Credentials::new("AKIDtmp", "tmpkey")?
///                 .with_session_token("token")?
///                 .with_expiry(SystemTime::now() + Duration::from_secs(1800)))
///         })
///     }
/// }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let provider = RefreshingProvider::new(Sts);
/// assert_eq!(provider.provide().await.unwrap().secret_id(), "AKIDtmp");
/// # });
/// ```
#[derive(Debug)]
pub struct RefreshingProvider<F> {
    fetcher: F,
    margin: Duration,
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

impl<F: FetchCredentials> RefreshingProvider<F> {
    /// Refreshes 5 minutes before expiry by default.
    pub fn new(fetcher: F) -> Self {
        RefreshingProvider {
            fetcher,
            margin: Duration::from_secs(300),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// Sets how long before expiry credentials are renewed.
    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The cached credentials, unless a refresh is due.
    fn fresh(&self, cached: &Option<Credentials>) -> Option<Credentials> {
        cached
            .as_ref()
            .filter(|c| self.still_fresh(c, SystemTime::now()))
            .cloned()
    }

    fn still_fresh(&self, creds: &Credentials, now: SystemTime) -> bool {
        match creds.expires_at {
            None => true,
            Some(at) => at.duration_since(now).is_ok_and(|left| left > self.margin),
        }
    }
}

impl<F: FetchCredentials> ProvideCredentials for RefreshingProvider<F> {
    fn provide(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
        Box::pin(async move {
            // Holding the lock while fetching makes concurrent callers wait for
            // one refresh instead of stampeding the credential service.
            let mut cached = self.cached.lock().await;
            if let Some(creds) = self.fresh(&cached) {
                return Ok(creds);
            }
            let fresh = self
                .fetcher
                .fetch()
                .await
                .map_err(|e| Error::Refresh(Box::new(e)))?;
            *cached = Some(fresh.clone());
            Ok(fresh)
        })
    }

    /// The cached credentials while they are fresh; `None` when a refresh
    /// is due or another task holds the cache (it may be refreshing).
    fn provide_now(&self) -> Option<Credentials> {
        self.fresh(&*self.cached.try_lock().ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn debug_never_prints_key_or_token() {
        let c = Credentials::new("AKIDvisible", "KEYhidden")
            .unwrap()
            .with_session_token("TOKENhidden")
            .unwrap();
        let dbg = format!("{c:?}");
        assert!(dbg.contains("AKIDvisible"));
        assert!(!dbg.contains("KEYhidden"));
        assert!(!dbg.contains("TOKENhidden"));
    }

    #[test]
    fn bad_values_are_named_in_the_error() {
        let err = Credentials::new("", "k").unwrap_err();
        assert_eq!(err.to_string(), "invalid credentials: secret id is empty");
        let err = Credentials::new("id", "k\n").unwrap_err();
        assert!(err.to_string().contains("secret key contains whitespace"));
    }

    #[test]
    fn env_prefers_tencentcloud_names_and_falls_back_to_cos_names() {
        let vars = [
            ("TENCENTCLOUD_SECRET_ID", "A"),
            ("COS_SECRET_ID", "B"),
            ("COS_SECRET_KEY", "K"),
            ("TENCENTCLOUD_SESSION_TOKEN", "T"),
        ];
        let lookup = |n: &str| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        };
        let c = EnvProvider::from_lookup(lookup).unwrap();
        assert_eq!(c.secret_id(), "A");
        assert_eq!(c.secret_key().expose(), "K");
        assert_eq!(c.session_token().unwrap().expose(), "T");
        let missing = EnvProvider::from_lookup(|_| None).unwrap_err();
        assert!(missing
            .to_string()
            .contains("TENCENTCLOUD_SECRET_ID or COS_SECRET_ID"));
    }

    #[derive(Debug, Default)]
    struct Counting(AtomicUsize, u64);
    impl FetchCredentials for Counting {
        fn fetch(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            let ttl = self.1;
            Box::pin(async move {
                Ok(Credentials::new(format!("id{n}"), "k")?
                    .with_expiry(SystemTime::now() + Duration::from_secs(ttl)))
            })
        }
    }

    #[tokio::test]
    async fn refresh_happens_only_inside_the_margin() {
        let long = RefreshingProvider::new(Counting(AtomicUsize::new(0), 3600));
        assert_eq!(long.provide().await.unwrap().secret_id(), "id0");
        assert_eq!(long.provide().await.unwrap().secret_id(), "id0");
        let short = RefreshingProvider::new(Counting(AtomicUsize::new(0), 60));
        assert_eq!(short.provide().await.unwrap().secret_id(), "id0");
        assert_eq!(short.provide().await.unwrap().secret_id(), "id1");
    }

    /// The signer's fast path: cached credentials while they are fresh,
    /// `None` before the first fetch and once a refresh is due.
    #[tokio::test]
    async fn provide_now_answers_only_from_a_fresh_cache() {
        let long = RefreshingProvider::new(Counting(AtomicUsize::new(0), 3600));
        assert!(long.provide_now().is_none(), "nothing fetched yet");
        long.provide().await.unwrap();
        assert_eq!(long.provide_now().unwrap().secret_id(), "id0");
        assert_eq!(long.fetcher.0.load(Ordering::SeqCst), 1, "no fetch");
        let short = RefreshingProvider::new(Counting(AtomicUsize::new(0), 60));
        short.provide().await.unwrap();
        assert!(short.provide_now().is_none(), "inside the margin");
        let fixed = StaticProvider::new(Credentials::new("AKID", "k").unwrap());
        assert_eq!(fixed.provide_now().unwrap().secret_id(), "AKID");
        let shared: Arc<dyn ProvideCredentials> = Arc::new(fixed);
        assert_eq!(shared.provide_now().unwrap().secret_id(), "AKID");
    }
}
