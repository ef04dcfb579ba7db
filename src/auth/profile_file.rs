//! The shared credentials file of the official TencentCloud SDKs.
//!
//! Where it is (the Go SDK's order, then the Python SDK's system-wide file):
//! 1. the path in `TENCENTCLOUD_CREDENTIALS_FILE`, when that variable is set
//!    (set but empty is an error, as in the Go SDK);
//! 2. `~/.tencentcloud/credentials` (`$HOME`, or `%USERPROFILE%` on Windows);
//! 3. `/etc/tencentcloud/credentials`.
//!
//! What it holds: INI, the `[default]` section's `secret_id` and
//! `secret_key` (both SDKs read exactly these). `token` is read too, for
//! temporary credentials (a coscls addition; the SDKs ignore it). Lines
//! starting with `#` or `;` are comments; keys and values are trimmed, and a
//! value wrapped in double quotes (as the Python SDK's docstring writes
//! them) is unwrapped.

use std::path::{Path, PathBuf};

use super::credentials::{BoxFuture, Credentials, ProvideCredentials};
use super::Error;

/// The variable naming the credentials file (the Go SDK's).
pub const CREDENTIALS_FILE_VAR: &str = "TENCENTCLOUD_CREDENTIALS_FILE";

/// The largest credentials file read; real ones are a few hundred bytes.
const FILE_LIMIT: u64 = 64 * 1024;

/// A parsed credentials file: its sections and their keys.
///
/// ```
/// use coscls::auth::ProfileFile;
/// let file = ProfileFile::parse("[default]\nsecret_id = AKIDx\nsecret_key = \"key\"\n").unwrap();
/// let creds = file.credentials("default", "~/.tencentcloud/credentials").unwrap();
/// assert_eq!(creds.secret_id(), "AKIDx");
/// assert_eq!(creds.secret_key().expose(), "key");
/// ```
#[derive(Clone, Default)]
pub struct ProfileFile {
    sections: Vec<(String, Vec<(String, String)>)>,
}

impl std::fmt::Debug for ProfileFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Section and key names only: the values are secrets.
        let mut list = f.debug_map();
        for (name, keys) in &self.sections {
            list.entry(name, &keys.iter().map(|(k, _)| k).collect::<Vec<_>>());
        }
        list.finish()
    }
}

impl ProfileFile {
    /// Parses INI text.
    ///
    /// # Errors
    /// [`Error::ProfileFile`] naming the line of a malformed section header
    /// (`[` without `]`, or `[]`); the line's text is not repeated.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut sections: Vec<(String, Vec<(String, String)>)> = vec![(String::new(), Vec::new())];
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(header) = line.strip_prefix('[') {
                let name = header.strip_suffix(']').map(str::trim);
                match name {
                    Some(name) if !name.is_empty() => {
                        sections.push((name.to_string(), Vec::new()));
                        continue;
                    }
                    _ => {
                        return Err(Error::ProfileFile {
                            path: "<input>".to_string(),
                            reason: format!("line {}: malformed section header", index + 1),
                        })
                    }
                }
            }
            if let Some((key, value)) = line.split_once('=') {
                let key = key.trim();
                let mut value = value.trim();
                if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
                    value = &value[1..value.len() - 1];
                }
                if let Some((_, keys)) = sections.last_mut() {
                    keys.retain(|(k, _)| k != key);
                    keys.push((key.to_string(), value.to_string()));
                }
            }
        }
        Ok(ProfileFile { sections })
    }

    /// The value of `key` in `section` (the last one when repeated).
    fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .iter()
            .rev()
            .filter(|(name, _)| name == section)
            .find_map(|(_, keys)| keys.iter().find(|(k, _)| k == key))
            .map(|(_, v)| v.as_str())
    }

    /// The credentials of `section`; `path` only names the file in errors.
    ///
    /// # Errors
    /// [`Error::ProfileFile`] naming the missing section or key, or the
    /// field whose value is unusable (never the value).
    pub fn credentials(&self, section: &str, path: &str) -> Result<Credentials, Error> {
        let broken = |reason: String| Error::ProfileFile {
            path: path.to_string(),
            reason,
        };
        if !self.sections.iter().any(|(name, _)| name == section) {
            return Err(broken(format!("no [{section}] section")));
        }
        let value = |key: &str| {
            self.get(section, key)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| broken(format!("section [{section}] has no {key}")))
        };
        let id = value("secret_id")?;
        let key = value("secret_key")?;
        let invalid = |e: Error| broken(format!("section [{section}]: {e}"));
        let creds = Credentials::new(id, key).map_err(invalid)?;
        match self.get(section, "token").filter(|t| !t.is_empty()) {
            Some(token) => creds.with_session_token(token).map_err(invalid),
            None => Ok(creds),
        }
    }
}

/// Reads credentials from the shared credentials file, once, and keeps
/// them.
///
/// ```no_run
/// use coscls::auth::{ProfileFileProvider, ProvideCredentials};
/// # async fn run() -> Result<(), coscls::auth::Error> {
/// let creds = ProfileFileProvider::new().provide().await?;
/// # let _ = creds; Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProfileFileProvider {
    path: Option<PathBuf>,
    section: String,
    cached: tokio::sync::OnceCell<Credentials>,
}

impl Default for ProfileFileProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl ProfileFileProvider {
    /// The file found as the module documentation describes, `[default]`.
    pub fn new() -> Self {
        ProfileFileProvider {
            path: None,
            section: "default".to_string(),
            cached: tokio::sync::OnceCell::new(),
        }
    }

    /// This file instead of looking for one.
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Another section than `[default]`.
    pub fn with_section(mut self, section: impl Into<String>) -> Self {
        self.section = section.into();
        self
    }

    /// The file to read given an environment lookup and an existence test
    /// (tests pass closures instead of touching the real environment).
    ///
    /// # Errors
    /// [`Error::NoProfileFile`] naming every path looked at when none
    /// exists; [`Error::InvalidArgument`] when the variable is set but empty.
    ///
    /// ```
    /// use coscls::auth::ProfileFileProvider;
    /// use std::path::Path;
    /// let env = |name: &str| (name == "HOME").then(|| "/home/u".to_string());
    /// let path = ProfileFileProvider::locate(env, |p| p == Path::new("/home/u/.tencentcloud/credentials"));
    /// assert_eq!(path.unwrap(), Path::new("/home/u/.tencentcloud/credentials"));
    /// ```
    pub fn locate(
        env: impl Fn(&str) -> Option<String>,
        exists: impl Fn(&Path) -> bool,
    ) -> Result<PathBuf, Error> {
        if let Some(path) = env(CREDENTIALS_FILE_VAR) {
            if path.is_empty() {
                return Err(Error::InvalidArgument {
                    field: CREDENTIALS_FILE_VAR,
                    reason: "is set but empty".into(),
                });
            }
            // Named explicitly: a missing file is an error, not a miss.
            return Ok(PathBuf::from(path));
        }
        let home_var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
        let mut candidates = Vec::new();
        if let Some(home) = env(home_var).filter(|h| !h.is_empty()) {
            candidates.push(Path::new(&home).join(".tencentcloud").join("credentials"));
        }
        candidates.push(PathBuf::from("/etc/tencentcloud/credentials"));
        if let Some(found) = candidates.iter().find(|p| exists(p)) {
            return Ok(found.clone());
        }
        Err(Error::NoProfileFile {
            looked_at: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    async fn load(&self) -> Result<Credentials, Error> {
        let path = match &self.path {
            Some(p) => p.clone(),
            None => Self::locate(|n| std::env::var(n).ok(), Path::exists)?,
        };
        let shown = path.display().to_string();
        let broken = |reason: String| Error::ProfileFile {
            path: shown.clone(),
            reason,
        };
        let text = read_small(&path).await.map_err(broken)?;
        let file = ProfileFile::parse(&text).map_err(|e| match e {
            Error::ProfileFile { reason, .. } => broken(reason),
            other => other,
        })?;
        file.credentials(&self.section, &shown)
    }
}

async fn read_small(path: &Path) -> Result<String, String> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("cannot be opened ({e})"))?;
    let mut bytes = Vec::new();
    file.take(FILE_LIMIT + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| format!("cannot be read ({e})"))?;
    if bytes.len() as u64 > FILE_LIMIT {
        return Err(format!("is larger than {FILE_LIMIT} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| "is not UTF-8".to_string())
}

impl ProvideCredentials for ProfileFileProvider {
    fn provide(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
        Box::pin(async move { self.cached.get_or_try_init(|| self.load()).await.cloned() })
    }

    fn provide_now(&self) -> Option<Credentials> {
        self.cached.get().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_comments_and_quotes() {
        let text = "app=x\n# comment\n; other\n[default]\r\n secret_id = AKIDd \nsecret_key=\"KEYd\"\n\n[ci]\nsecret_id=AKIDc\nsecret_key=KEYc\ntoken=TOKc\n";
        let f = ProfileFile::parse(text).unwrap();
        let d = f.credentials("default", "p").unwrap();
        assert_eq!((d.secret_id(), d.secret_key().expose()), ("AKIDd", "KEYd"));
        assert!(d.session_token().is_none());
        let c = f.credentials("ci", "p").unwrap();
        assert_eq!(c.session_token().unwrap().expose(), "TOKc");
        assert!(!format!("{f:?}").contains("KEY"), "{f:?}");
    }

    #[test]
    fn errors_name_the_key_or_line_never_the_value() {
        let f = ProfileFile::parse("[default]\nsecret_id=AKIDx\n").unwrap();
        let e = f.credentials("default", "/f").unwrap_err().to_string();
        assert_eq!(
            e,
            "credentials file /f: section [default] has no secret_key"
        );
        let f = ProfileFile::parse("[default]\nsecret_id=AKIDx\nsecret_key= \n").unwrap();
        assert!(f.credentials("default", "/f").is_err());
        let f = ProfileFile::parse("[other]\nsecret_id=a\nsecret_key=b\n").unwrap();
        assert_eq!(
            f.credentials("default", "/f").unwrap_err().to_string(),
            "credentials file /f: no [default] section"
        );
        let f =
            ProfileFile::parse("[default]\nsecret_id=AKID x\nsecret_key=SECRETvalue\n").unwrap();
        let e = f.credentials("default", "/f").unwrap_err().to_string();
        assert!(e.contains("secret id contains whitespace"), "{e}");
        assert!(!e.contains("SECRETvalue"));
        let e = ProfileFile::parse("[default\nsecret_key=SECRETvalue\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "credentials file <input>: line 1: malformed section header"
        );
        assert!(ProfileFile::parse("[]\n").is_err());
    }

    #[test]
    fn locate_follows_the_sdk_order() {
        let none = |_: &str| None;
        let e = ProfileFileProvider::locate(none, |_| false).unwrap_err();
        assert!(e.is_absent());
        assert_eq!(
            e.to_string(),
            "no credentials file (looked at /etc/tencentcloud/credentials)"
        );
        let home = |n: &str| (n == "HOME" || n == "USERPROFILE").then(|| "/h".to_string());
        let etc = ProfileFileProvider::locate(home, |p| p.starts_with("/etc")).unwrap();
        assert_eq!(etc, Path::new("/etc/tencentcloud/credentials"));
        let both = ProfileFileProvider::locate(home, |_| true).unwrap();
        assert_eq!(
            both,
            Path::new("/h").join(".tencentcloud").join("credentials")
        );
        let named = |n: &str| (n == CREDENTIALS_FILE_VAR).then(|| "/x/creds".to_string());
        assert_eq!(
            ProfileFileProvider::locate(named, |_| false).unwrap(),
            Path::new("/x/creds")
        );
        let empty = |n: &str| (n == CREDENTIALS_FILE_VAR).then(String::new);
        let e = ProfileFileProvider::locate(empty, |_| true).unwrap_err();
        assert!(!e.is_absent());
    }
}
