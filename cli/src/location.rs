//! Where a command reads or writes: a `cos://bucket/key` URL, a local path,
//! or `-` for standard input/output; and the pure rules that turn a source
//! and a destination into the object keys and file paths of a copy.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// A parsed `cos://<bucket>[/<key>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CosUrl {
    pub(crate) bucket: String,
    /// Empty when the URL names the bucket (or a listing prefix of "").
    pub(crate) key: String,
}

impl CosUrl {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let rest = s.strip_prefix("cos://").ok_or_else(|| {
            format!("{s:?} is not a cos:// URL (expected cos://<bucket>-<appid>/<key>)")
        })?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{s:?} has no bucket"));
        }
        Ok(CosUrl {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// The key, failing when the URL names only a bucket or a "directory"
    /// (a key ending in `/`), which no single-object command can act on.
    pub(crate) fn object_key(&self) -> Result<&str, String> {
        if self.key.is_empty() {
            Err(format!(
                "{self} names a bucket; an object key is needed (cos://{}/<key>)",
                self.bucket
            ))
        } else if self.key.ends_with('/') {
            Err(format!(
                "{self} is a prefix, not an object; use -r/--recursive to act on every key under it"
            ))
        } else {
            Ok(&self.key)
        }
    }

    /// The URL of `key` in the same bucket.
    pub(crate) fn with_key(&self, key: impl Into<String>) -> CosUrl {
        CosUrl {
            bucket: self.bucket.clone(),
            key: key.into(),
        }
    }

    /// The key as a prefix of a recursive operation: `dir` and `dir/` both
    /// mean the keys under `dir/` (never `dirt.txt`); empty means the bucket.
    pub(crate) fn dir_prefix(&self) -> String {
        dir_prefix(&self.key)
    }
}

impl FromStr for CosUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CosUrl::parse(s)
    }
}

impl fmt::Display for CosUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cos://{}/{}", self.bucket, self.key)
    }
}

/// A source or destination of `cp`, `mv` and `sync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    Remote(CosUrl),
    Local(PathBuf),
    /// `-`: standard input as a source, standard output as a destination.
    Stdio,
}

impl FromStr for Location {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "-" {
            Ok(Location::Stdio)
        } else if s.starts_with("cos://") {
            CosUrl::parse(s).map(Location::Remote)
        } else if let Some((scheme, _)) = s.split_once("://") {
            Err(format!(
                "{s:?}: {scheme}:// is not supported; use cos://<bucket>/<key> or a local path"
            ))
        } else if s.is_empty() {
            Err("an empty path".into())
        } else {
            Ok(Location::Local(PathBuf::from(s)))
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Remote(u) => u.fmt(f),
            Location::Local(p) => p.display().fmt(f),
            Location::Stdio => f.write_str("-"),
        }
    }
}

/// `key` as a "directory" prefix: empty stays empty, else it ends in `/`.
pub(crate) fn dir_prefix(key: &str) -> String {
    if key.is_empty() || key.ends_with('/') {
        key.to_string()
    } else {
        format!("{key}/")
    }
}

/// The last path segment of a key (`a/b/c.txt` → `c.txt`).
pub(crate) fn base_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// The key an upload or copy of a single object named `name` gets: a
/// destination naming a bucket or ending in `/` is a directory, as in
/// `cp a.txt cos://b/dir/` → `dir/a.txt`.
pub(crate) fn dest_key(dest: &CosUrl, name: &str) -> String {
    if dest.key.is_empty() || dest.key.ends_with('/') {
        format!("{}{name}", dest.key)
    } else {
        dest.key.clone()
    }
}

/// The file a download of `key` writes: into `dest` when it is an existing
/// directory or ends with a separator, else `dest` itself.
pub(crate) fn dest_path(dest: &Path, key: &str, dest_is_dir: bool) -> PathBuf {
    let text = dest.as_os_str().to_string_lossy();
    if dest_is_dir || text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR) {
        dest.join(base_name(key))
    } else {
        dest.to_path_buf()
    }
}

/// The local path of `key` under `dir` for a recursive download, where
/// `prefix` (a [`dir_prefix`]) is stripped from the key. `None` for keys
/// that are "directory" markers. Keys that would escape `dir` (`..`, an
/// absolute path, empty segments) are refused: a listing must not be able to
/// write anywhere on the user's disk.
pub(crate) fn local_path_of(
    dir: &Path,
    prefix: &str,
    key: &str,
) -> Result<Option<PathBuf>, String> {
    let rel = key.strip_prefix(prefix).unwrap_or(key);
    if rel.is_empty() || rel.ends_with('/') {
        return Ok(None);
    }
    let mut path = dir.to_path_buf();
    for segment in rel.split('/') {
        let bad = segment.is_empty()
            || segment == "."
            || segment == ".."
            || segment.contains('\\')
            || Path::new(segment)
                .components()
                .any(|c| !matches!(c, Component::Normal(_)));
        if bad {
            return Err(format!(
                "key {key:?} does not map to a file under {}; skipped",
                dir.display()
            ));
        }
        path.push(segment);
    }
    Ok(Some(path))
}

/// The key part for a file at `rel` (relative to the walked directory):
/// its components joined with `/`. Names that are not UTF-8 cannot be keys.
pub(crate) fn key_of_relative(rel: &Path) -> Result<String, String> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(
                s.to_str()
                    .ok_or_else(|| format!("{} is not valid UTF-8", rel.display()))?,
            ),
            Component::CurDir => {}
            _ => return Err(format!("{} is not a relative path", rel.display())),
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_key() {
        let u = CosUrl::parse("cos://b-1/dir/a b.txt").unwrap();
        assert_eq!((u.bucket.as_str(), u.key.as_str()), ("b-1", "dir/a b.txt"));
        assert_eq!(CosUrl::parse("cos://b-1").unwrap().key, "");
        assert!(CosUrl::parse("s3://b/k").is_err());
        assert!(CosUrl::parse("cos:///k").is_err());
        assert!(CosUrl::parse("cos://b-1")
            .unwrap()
            .object_key()
            .unwrap_err()
            .contains("names a bucket"));
        assert!(CosUrl::parse("cos://b-1/dir/")
            .unwrap()
            .object_key()
            .unwrap_err()
            .contains("-r/--recursive"));
    }

    #[test]
    fn locations() {
        assert_eq!("-".parse::<Location>().unwrap(), Location::Stdio);
        assert_eq!(
            "a/b".parse::<Location>().unwrap(),
            Location::Local("a/b".into())
        );
        assert!(matches!(
            "cos://b-1/k".parse::<Location>().unwrap(),
            Location::Remote(u) if u.key == "k"
        ));
        assert!("s3://b/k"
            .parse::<Location>()
            .unwrap_err()
            .contains("s3:// is not supported"));
    }

    #[test]
    fn destination_naming() {
        let u = |s: &str| CosUrl::parse(s).unwrap();
        assert_eq!(dest_key(&u("cos://b-1"), "a.txt"), "a.txt");
        assert_eq!(dest_key(&u("cos://b-1/dir/"), "a.txt"), "dir/a.txt");
        assert_eq!(dest_key(&u("cos://b-1/x.txt"), "a.txt"), "x.txt");
        assert_eq!(dir_prefix("dir"), "dir/");
        assert_eq!(dir_prefix("dir/"), "dir/");
        assert_eq!(dir_prefix(""), "");
        assert_eq!(
            dest_path(Path::new("some/dir/"), "x/k.txt", false),
            Path::new("some/dir/k.txt")
        );
        assert_eq!(
            dest_path(Path::new("some/dir"), "x/k.txt", true),
            Path::new("some/dir/k.txt")
        );
        assert_eq!(
            dest_path(Path::new("out.txt"), "x/k.txt", false),
            Path::new("out.txt")
        );
    }

    #[test]
    fn recursive_download_paths_stay_inside_the_directory() {
        let dir = Path::new("/tmp/d");
        assert_eq!(
            local_path_of(dir, "p/", "p/a/b.txt").unwrap(),
            Some(PathBuf::from("/tmp/d/a/b.txt"))
        );
        assert_eq!(local_path_of(dir, "p/", "p/a/").unwrap(), None);
        assert_eq!(local_path_of(dir, "p/", "p/").unwrap(), None);
        for evil in ["p/../x", "p/a/../../x", "p//x", "p/./x", "p/a\\..\\x"] {
            assert!(local_path_of(dir, "p/", evil).is_err(), "{evil}");
        }
        assert_eq!(
            key_of_relative(Path::new("a/b/c.txt")).unwrap(),
            "a/b/c.txt"
        );
        assert!(key_of_relative(Path::new("../c.txt")).is_err());
    }
}
