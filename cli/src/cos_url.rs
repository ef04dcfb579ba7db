//! `cos://bucket/key` addresses.

use std::fmt;

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

    /// The URL with a key, failing when it names only a bucket.
    pub(crate) fn require_key(&self) -> Result<&str, String> {
        if self.key.is_empty() {
            Err(format!(
                "{self} names a bucket; an object key is needed (cos://{}/<key>)",
                self.bucket
            ))
        } else {
            Ok(&self.key)
        }
    }
}

impl fmt::Display for CosUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cos://{}/{}", self.bucket, self.key)
    }
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
        assert!(CosUrl::parse("cos://b-1").unwrap().require_key().is_err());
    }
}
