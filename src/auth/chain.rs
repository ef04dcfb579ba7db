//! A chain of credential sources, the first that yields winning, as in the
//! official SDKs' default provider chains.

use std::sync::Arc;

use super::credentials::{BoxFuture, Credentials, EnvProvider, ProvideCredentials};
use super::instance::InstanceRole;
use super::profile_file::ProfileFileProvider;
use super::{chain_message, Error};

/// Tries its sources in order; the first that yields credentials wins and
/// is used from then on. Until one has, every call walks the chain again
/// (a metadata service may come up after the process), so with nothing
/// configured each call costs the instance-role probe's timeout.
///
/// A source that is merely *absent* ([`Error::is_absent`]: no variables, no
/// file, no metadata service) passes to the next one. A source that is
/// present but broken (a credentials file without `secret_key`, a variable
/// holding whitespace) stops the chain: silently falling through to another
/// identity (the instance's role) would hide the mistake and may grant other
/// permissions. Either way the error names every source tried and what it
/// found, never a secret.
///
/// [`ChainProvider::default_chain`] is environment → credentials file →
/// instance role, the order of the Go and Python SDKs: explicit settings of
/// this process first, then those of this user or machine, and last the
/// metadata service, the only source that needs the network. The chain is
/// opt-in: a client built without credentials reads the environment only
/// ([`EnvProvider`]).
///
/// ```no_run
/// use coscls::auth::ChainProvider;
/// use coscls::cos::Client;
/// # fn run() -> Result<(), coscls::cos::Error> {
/// let client = Client::builder()
///     .region("ap-guangzhou")
///     .credentials(ChainProvider::default_chain())
///     .build()?;
/// # let _ = client; Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct ChainProvider {
    sources: Vec<(String, Arc<dyn ProvideCredentials>)>,
    chosen: tokio::sync::OnceCell<usize>,
}

impl ChainProvider {
    /// An empty chain; add sources with [`with`](Self::with).
    pub fn new() -> Self {
        Self::default()
    }

    /// Environment ([`EnvProvider`]), then the credentials file
    /// ([`ProfileFileProvider`]), then the instance role
    /// ([`InstanceRole`], 1 s connect / 2 s request timeouts, refreshed 5
    /// minutes before expiry).
    pub fn default_chain() -> Self {
        Self::new()
            .with("environment", EnvProvider::new())
            .with("credentials file", ProfileFileProvider::new())
            .with("instance role", InstanceRole::new().into_provider())
    }

    /// Appends a source; `name` labels it in errors.
    ///
    /// ```
    /// use coscls::auth::{ChainProvider, Credentials, EnvProvider, ProvideCredentials};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let chain = ChainProvider::new()
    ///     .with("environment", EnvProvider::new())
    ///     .with("fallback", Credentials::new("AKIDfallback", "key").unwrap());
    /// # std::env::remove_var("TENCENTCLOUD_SECRET_ID"); std::env::remove_var("COS_SECRET_ID");
    /// assert_eq!(chain.provide().await.unwrap().secret_id(), "AKIDfallback");
    /// # });
    /// ```
    pub fn with(
        mut self,
        name: impl Into<String>,
        source: impl ProvideCredentials + 'static,
    ) -> Self {
        self.sources.push((name.into(), Arc::new(source)));
        self
    }

    /// The name of the source in use, once one has yielded credentials.
    pub fn chosen(&self) -> Option<&str> {
        let index = *self.chosen.get()?;
        self.sources.get(index).map(|(name, _)| name.as_str())
    }

    async fn resolve(&self) -> Result<Credentials, Error> {
        if let Some(&index) = self.chosen.get() {
            if let Some((_, source)) = self.sources.get(index) {
                return source.provide().await;
            }
        }
        let mut tried = Vec::new();
        for (index, (name, source)) in self.sources.iter().enumerate() {
            match source.provide().await {
                Ok(creds) => {
                    let _ = self.chosen.set(index);
                    tracing::debug!(source = %name, "credentials source chosen");
                    return Ok(creds);
                }
                Err(e) => {
                    tried.push(format!("{name}: {}", chain_message(&e)));
                    if !e.is_absent() {
                        break;
                    }
                }
            }
        }
        if tried.is_empty() {
            tried.push("the chain has no sources".into());
        }
        Err(Error::NoCredentials {
            tried: tried.join("; "),
        })
    }
}

impl ProvideCredentials for ChainProvider {
    fn provide(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
        Box::pin(self.resolve())
    }

    fn provide_now(&self) -> Option<Credentials> {
        let index = *self.chosen.get()?;
        self.sources.get(index)?.1.provide_now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct Fixed(Result<&'static str, fn() -> Error>, AtomicUsize);
    impl ProvideCredentials for Fixed {
        fn provide(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
            self.1.fetch_add(1, Ordering::SeqCst);
            let r = match self.0 {
                Ok(id) => Credentials::new(id, "KEYsecret"),
                Err(f) => Err(f()),
            };
            Box::pin(async move { r })
        }
    }
    fn ok(id: &'static str) -> Fixed {
        Fixed(Ok(id), AtomicUsize::new(0))
    }
    fn err(f: fn() -> Error) -> Fixed {
        Fixed(Err(f), AtomicUsize::new(0))
    }
    fn absent() -> Error {
        Error::MissingEnv { names: "X" }
    }
    fn broken() -> Error {
        Error::ProfileFile {
            path: "/f".into(),
            reason: "section [default] has no secret_key".into(),
        }
    }

    #[tokio::test]
    async fn first_yielding_source_wins_and_sticks() {
        let (a, b, c) = (Arc::new(err(absent)), Arc::new(ok("B")), Arc::new(ok("C")));
        let chain = ChainProvider::new()
            .with("a", a.clone())
            .with("b", b.clone())
            .with("c", c.clone());
        assert_eq!(chain.provide().await.unwrap().secret_id(), "B");
        assert_eq!(chain.chosen(), Some("b"));
        assert_eq!(chain.provide().await.unwrap().secret_id(), "B");
        // The choice is remembered: `a` is not asked again, `c` never.
        let calls = |f: &Arc<Fixed>| f.1.load(Ordering::SeqCst);
        assert_eq!((calls(&a), calls(&b), calls(&c)), (1, 2, 0));
    }

    #[tokio::test]
    async fn absent_sources_are_all_named_and_broken_ones_stop_the_chain() {
        let chain = ChainProvider::new()
            .with("env", err(absent))
            .with("file", err(absent));
        let e = chain.provide().await.unwrap_err().to_string();
        assert_eq!(
            e,
            "no credentials found: env: credentials not found in the environment: set X; \
             file: credentials not found in the environment: set X"
        );
        let chain = ChainProvider::new()
            .with("env", err(absent))
            .with("file", err(broken))
            .with("role", ok("ROLE"));
        let e = chain.provide().await.unwrap_err().to_string();
        assert!(
            e.contains("file: credentials file /f: section [default] has no secret_key"),
            "{e}"
        );
        assert!(!e.contains("ROLE"));
        assert!(chain.chosen().is_none());
        let e = ChainProvider::new().provide().await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "no credentials found: the chain has no sources"
        );
    }
}
