//! Configuring and starting an emulator; the running handle.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::faults::{FaultConfig, InvalidFault};
use crate::state::{Config, ReceivedLog, State, Stats};
use crate::store::Store;
use crate::verify::KeyEntry;

/// SecretId accepted when no credentials are configured.
pub const DEFAULT_SECRET_ID: &str = "AKIDcosclsEmulatorDefault";
/// SecretKey of [`DEFAULT_SECRET_ID`].
pub const DEFAULT_SECRET_KEY: &str = "coscls-emulator-default-secret";
/// Smallest part COS accepts except the last (1 MiB).
pub const DEFAULT_MIN_PART_SIZE: u64 = 1024 * 1024;

/// Why an emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The data directory could not be opened or read.
    #[error("cannot use data directory {}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A setting is invalid; the message names it.
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    /// The initial [`EmulatorBuilder::faults`] are refused by [`FaultConfig::validate`].
    #[error("invalid emulator configuration: {0}")]
    Faults(#[from] InvalidFault),
}

/// Configures an [`Emulator`]; see [`Emulator::builder`].
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    listen: SocketAddr,
    keys: Vec<(String, KeyEntry)>,
    buckets: Vec<String>,
    data_dir: Option<PathBuf>,
    faults: FaultConfig,
    region: String,
    min_part_size: u64,
    max_object_size: u64,
    topics: BTreeSet<String>,
    max_logs_per_topic: usize,
    restore_delay: Option<std::time::Duration>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            keys: Vec::new(),
            buckets: Vec::new(),
            data_dir: None,
            faults: FaultConfig::default(),
            region: "ap-guangzhou".into(),
            min_part_size: DEFAULT_MIN_PART_SIZE,
            max_object_size: 48 * 1024 * 1024 * 1024 * 1024,
            topics: BTreeSet::new(),
            max_logs_per_topic: 1_000_000,
            restore_delay: None,
        }
    }
}

impl EmulatorBuilder {
    /// Where to listen; default `127.0.0.1:0` (a free port). Only loopback
    /// addresses are accepted: the emulator has no TLS and an admin API.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Accepts `secret_id` signing with `secret_key`. May be called several times.
    pub fn credentials(
        mut self,
        secret_id: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        self.keys.push((
            secret_id.into(),
            KeyEntry {
                secret_key: secret_key.into(),
                token: None,
            },
        ));
        self
    }

    /// Accepts temporary credentials: requests must also carry `token`
    /// (`x-cos-security-token` header or query parameter, CLS `X-Cls-Token`).
    pub fn temporary_credentials(
        mut self,
        secret_id: impl Into<String>,
        secret_key: impl Into<String>,
        token: impl Into<String>,
    ) -> Self {
        self.keys.push((
            secret_id.into(),
            KeyEntry {
                secret_key: secret_key.into(),
                token: Some(token.into()),
            },
        ));
        self
    }

    /// Creates a bucket at start (if a data directory does not already hold it).
    pub fn bucket(mut self, name: impl Into<String>) -> Self {
        self.buckets.push(name.into());
        self
    }

    /// Stores objects under `dir` so they survive a restart (default: memory).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Initial faults.
    pub fn faults(mut self, faults: FaultConfig) -> Self {
        self.faults = faults;
        self
    }

    /// Region reported by HeadBucket and ListBuckets (default `ap-guangzhou`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Smallest size of every multipart part but the last (default 1 MiB, as
    /// COS). Lower it so tests can use small parts.
    pub fn min_part_size(mut self, bytes: u64) -> Self {
        self.min_part_size = bytes;
        self
    }

    /// Largest object accepted (default 48.82 TB; single PUTs and parts are
    /// also capped at 5 GB as in COS). Lower it to test `EntityTooLarge`.
    pub fn max_object_size(mut self, bytes: u64) -> Self {
        self.max_object_size = bytes;
        self
    }

    /// Declares a CLS topic. Once any topic is declared, uploads to other
    /// topics get 404 `TopicNotExist`; with none declared every topic exists.
    pub fn topic(mut self, topic_id: impl Into<String>) -> Self {
        self.topics.insert(topic_id.into());
        self
    }

    /// How many received logs to keep per topic (oldest dropped; default 1 000 000).
    pub fn max_logs_per_topic(mut self, n: usize) -> Self {
        self.max_logs_per_topic = n;
        self
    }

    /// Makes every PostRestore of an ARCHIVE / DEEP_ARCHIVE object complete
    /// `delay` after it is asked for (emulator object clock), whatever its
    /// tier. By default a restore takes its tier's time as COS documents it
    /// (ARCHIVE: Expedited 5 min, Standard 5 h, Bulk 12 h; DEEP_ARCHIVE:
    /// Standard 24 h, Bulk 48 h); [`Emulator::advance_object_clock`] lets
    /// that time pass at once.
    pub fn restore_delay(mut self, delay: std::time::Duration) -> Self {
        self.restore_delay = Some(delay);
        self
    }

    /// Binds, loads the data directory, creates the configured buckets and
    /// starts serving.
    pub async fn start(self) -> Result<Emulator, StartError> {
        if !self.listen.ip().is_loopback() {
            return Err(StartError::Config(format!(
                "listen address {} is not loopback; the emulator only serves 127.0.0.1 / ::1",
                self.listen
            )));
        }
        self.faults.validate()?;
        for b in &self.buckets {
            coscls::cos::BucketName::parse(b).map_err(|e| StartError::Config(e.to_string()))?;
        }
        let mut keys: HashMap<String, KeyEntry> = HashMap::new();
        for (id, entry) in self.keys {
            if id.is_empty() || entry.secret_key.is_empty() {
                return Err(StartError::Config(
                    "a SecretId or SecretKey is empty".into(),
                ));
            }
            keys.insert(id, entry);
        }
        if keys.is_empty() {
            keys.insert(
                DEFAULT_SECRET_ID.into(),
                KeyEntry {
                    secret_key: DEFAULT_SECRET_KEY.into(),
                    token: None,
                },
            );
        }
        let store = match &self.data_dir {
            None => Store::in_memory(),
            Some(dir) => {
                let dir2 = dir.clone();
                tokio::task::spawn_blocking(move || Store::open(&dir2))
                    .await
                    .map_err(|e| StartError::DataDir {
                        path: dir.clone(),
                        source: std::io::Error::other(e),
                    })?
                    .map_err(|source| StartError::DataDir {
                        path: dir.clone(),
                        source,
                    })?
            }
        };
        let now = crate::time::unix(std::time::SystemTime::now());
        for b in &self.buckets {
            if !store.has_bucket(b) {
                store
                    .create_bucket(b, now)
                    .map_err(|e| StartError::DataDir {
                        path: self.data_dir.clone().unwrap_or_default(),
                        source: std::io::Error::other(e.to_string()),
                    })?;
            }
        }
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: self.listen,
            source,
        })?;
        let config = Config {
            region: self.region,
            min_part_size: self.min_part_size,
            max_object_size: self.max_object_size,
            topics: (!self.topics.is_empty()).then_some(self.topics),
            max_logs_per_topic: self.max_logs_per_topic.max(1),
            restore_delay_secs: self
                .restore_delay
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        };
        let state = Arc::new(State::new(keys, store, config, self.faults));
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(crate::server::serve(listener, state.clone(), rx));
        Ok(Emulator {
            addr,
            state,
            shutdown: tx,
            task: Some(task),
            data_dir: self.data_dir,
        })
    }
}

/// A running emulator. Dropping it stops the server; [`Emulator::shutdown`]
/// also waits until every connection is closed.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use coscls_emulator::{Emulator, FaultConfig};
/// let emu = Emulator::builder()
///     .credentials("AKIDtest", "test-secret")
///     .bucket("examplebucket-1250000000")
///     .start()
///     .await?;
/// assert!(emu.endpoint().starts_with("http://127.0.0.1:"));
/// emu.set_faults(FaultConfig { fail_next: 1, error_status: 503, ..Default::default() })?;
/// assert_eq!(emu.faults().fail_next, 1);
/// assert!(emu.cls_logs("topic").is_empty());
/// emu.shutdown().await;
/// # Ok(()) }
/// ```
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    data_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// A builder with defaults: `127.0.0.1:0`, memory store, the default credentials.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// `http://127.0.0.1:PORT`, for `cos::Endpoint::custom` (path-style) and the CLS client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The region reported to clients.
    pub fn region(&self) -> &str {
        &self.state.config.region
    }

    /// The data directory, when objects are stored on disk.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    /// Replaces the fault configuration (it takes effect for the next
    /// request) when [`FaultConfig::validate`] accepts it; otherwise keeps the
    /// current one and says which field is wrong. `PUT /_emulator/faults`
    /// answers 400 for the same values.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use coscls_emulator::{Emulator, FaultConfig};
    /// let emu = Emulator::builder().start().await?;
    /// let skew = FaultConfig { clock_offset_secs: i64::MAX, ..Default::default() };
    /// assert_eq!(emu.set_faults(skew).unwrap_err().field(), "clock_offset_secs");
    /// assert_eq!(emu.faults().clock_offset_secs, 0);
    /// emu.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn set_faults(&self, faults: FaultConfig) -> Result<(), InvalidFault> {
        faults.validate()?;
        self.state.set_faults(faults);
        Ok(())
    }

    /// The current fault configuration (`fail_next` counts down as it fires).
    pub fn faults(&self) -> FaultConfig {
        self.state.faults()
    }

    /// Logs received for `topic_id`, in arrival order.
    pub fn cls_logs(&self, topic_id: &str) -> Vec<ReceivedLog> {
        self.state.logs(topic_id)
    }

    /// Forgets the logs received for `topic_id`.
    pub fn clear_cls_logs(&self, topic_id: &str) {
        self.state.clear_logs(topic_id);
    }

    /// Request counters.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Zeroes the request counters.
    pub fn reset_stats(&self) {
        self.state.reset_stats();
    }

    /// Moves the object clock forward by `by`: archive restores complete,
    /// and restored copies expire, as if that much time had passed. Request
    /// signatures are still checked against the real clock (skew it with
    /// [`FaultConfig::clock_offset_secs`]). Returns the total advance so far.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let emu = coscls_emulator::Emulator::builder().start().await?;
    /// emu.advance_object_clock(Duration::from_secs(3600));
    /// assert_eq!(emu.advance_object_clock(Duration::from_secs(60)), Duration::from_secs(3660));
    /// emu.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn advance_object_clock(&self, by: std::time::Duration) -> std::time::Duration {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        let total = self.state.advance_object_clock(secs);
        std::time::Duration::from_secs(total.unsigned_abs())
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
