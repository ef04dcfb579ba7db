//! Bucket, region and key rules, and where a request for them goes.
//!
//! All checks run before any network call, so a typo in a bucket name is a
//! clear local error rather than a 403 from the far side of the world.

use std::fmt;

use super::Error;
use crate::auth::{encode_into, path_encode};

/// Longest host name COS accepts for a bucket (docs/protocol/cos.md §4).
pub const MAX_BUCKET_HOST_LEN: usize = 60;
/// Longest object key, in UTF-8 bytes (docs/protocol/cos.md §4).
pub const MAX_KEY_BYTES: usize = 850;

/// A bucket name in `<name>-<appid>` form.
///
/// ```
/// use coscls::cos::BucketName;
/// let b = BucketName::parse("examplebucket-1250000000").unwrap();
/// assert_eq!(b.appid(), "1250000000");
/// assert!(BucketName::parse("Example-1250000000").is_err());
/// assert!(BucketName::parse("examplebucket").is_err());
/// ```
///
/// The name is shared, not copied, when the value is cloned: a client
/// hands the same checked name to every request for that bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BucketName(std::sync::Arc<str>);

impl BucketName {
    /// Checks the name: lower-case letters, digits and `-`, not starting or
    /// ending with `-`, ending in `-<appid>` where the APPID is all digits.
    pub fn parse(name: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Err(Error::invalid_input("bucket", name, reason));
        if name.is_empty() {
            return bad("is empty");
        }
        // Checked byte by byte; the offending character is decoded only
        // for the message. A non-ASCII byte always fails the check, and a
        // valid `str` starts a character there.
        if let Some(at) = name
            .bytes()
            .position(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            let c = name.get(at..).and_then(|rest| rest.chars().next());
            let c = c.unwrap_or_default();
            return bad(&format!(
                "contains {c:?}; only lower-case letters, digits and '-' are allowed"
            ));
        }
        if name.starts_with('-') || name.ends_with('-') {
            return bad("must not start or end with '-'");
        }
        match name.rsplit_once('-') {
            Some((short, appid))
                if !short.is_empty() && appid.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(BucketName(name.into()))
            }
            _ => bad("must be <name>-<appid>, e.g. examplebucket-1250000000"),
        }
    }

    /// The full name, `<name>-<appid>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The APPID suffix.
    pub fn appid(&self) -> &str {
        self.0.rsplit_once('-').map(|(_, a)| a).unwrap_or_default()
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A region such as `ap-guangzhou`.
///
/// ```
/// use coscls::cos::Region;
/// assert!(Region::parse("ap-guangzhou").is_ok());
/// assert!(Region::parse("ap guangzhou").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Region(String);

impl Region {
    /// Lower-case letters, digits and `-`, starting with a letter, at most 32
    /// characters. The list of regions grows, so no fixed list is enforced.
    pub fn parse(region: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Err(Error::invalid_input("region", region, reason));
        if region.is_empty() {
            return bad("is empty");
        }
        if region.len() > 32 {
            return bad("is longer than 32 characters");
        }
        if !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return bad("may contain only lower-case letters, digits and '-', e.g. ap-guangzhou");
        }
        if !region.as_bytes()[0].is_ascii_lowercase() || region.ends_with('-') {
            return bad("must start with a letter and not end with '-'");
        }
        Ok(Region(region.to_string()))
    }

    /// The region string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks an object key: non-empty UTF-8 of at most 850 bytes, no control
/// characters, not starting with `/` or `\`, and not a path such as `a/..`
/// that the server would normalise to the bucket root (which would turn a
/// GetObject into a ListObjects, docs/protocol/cos.md §4).
///
/// ```
/// use coscls::cos::validate_key;
/// assert!(validate_key("dir/文件 +%.txt").is_ok());
/// assert!(validate_key("").is_err());
/// assert!(validate_key("/leading").is_err());
/// assert!(validate_key("a/..").is_err());
/// ```
pub fn validate_key(key: &str) -> Result<(), Error> {
    let bad = |reason: &str| Err(Error::invalid_input("object key", key, reason));
    if key.is_empty() {
        return bad("is empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return bad(&format!(
            "is {} bytes; the limit is {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    if key.starts_with('/') || key.starts_with('\\') {
        return bad("must not start with '/' or '\\'");
    }
    if key.chars().any(char::is_control) {
        return bad("contains control characters");
    }
    let mut depth = 0i32;
    for segment in key.split('/') {
        match segment {
            "" | "." => {}
            ".." => depth -= 1,
            _ => depth += 1,
        }
    }
    if depth <= 0 {
        return bad("resolves to the bucket root ('.' and '..' segments)");
    }
    Ok(())
}

/// Whether requests go to `<bucket>.<host>` or `<host>/<bucket>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// Bucket in the Host header (the only style new COS buckets accept).
    VirtualHosted,
    /// Bucket as the first path segment (IP and localhost endpoints).
    PathStyle,
}

/// Where COS requests are sent.
///
/// ```
/// use coscls::cos::{BucketName, Endpoint, Region};
/// let region = Region::parse("ap-guangzhou").unwrap();
/// let bucket = BucketName::parse("examplebucket-1250000000").unwrap();
/// let ep = Endpoint::for_region(&region);
/// let url = ep.object_url(&bucket, "a b.txt", &[]).unwrap();
/// assert_eq!(url.url, "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/a%20b.txt");
/// assert_eq!(url.signed_path, "/a b.txt");
///
/// let local = Endpoint::custom("http://127.0.0.1:9000").unwrap();
/// let url = local.object_url(&bucket, "k", &[("uploads", "")]).unwrap();
/// assert_eq!(url.url, "http://127.0.0.1:9000/examplebucket-1250000000/k?uploads=");
/// assert_eq!(url.host, "127.0.0.1:9000");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: String,
    /// Service host, to which `<bucket>.` is prepended when virtual-hosted.
    host: String,
    port: Option<u16>,
    addressing: Addressing,
}

/// A request target resolved from an endpoint, bucket and key (see
/// [`Endpoint::object_url`]): the fields are read, never built outside.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedUrl {
    /// The full URL to send to.
    pub url: String,
    /// The `Host` header value (with `:port` when not the scheme's default).
    pub host: String,
    /// The decoded path the signature covers.
    pub signed_path: String,
}

impl Endpoint {
    /// The public endpoint of a region: `https://<bucket>.cos.<region>.myqcloud.com`.
    pub fn for_region(region: &Region) -> Self {
        Endpoint {
            scheme: "https".into(),
            host: format!("cos.{region}.myqcloud.com"),
            port: None,
            addressing: Addressing::VirtualHosted,
        }
    }

    /// The global acceleration endpoint `<bucket>.cos.accelerate.myqcloud.com`.
    pub fn accelerate() -> Self {
        Endpoint {
            scheme: "https".into(),
            host: "cos.accelerate.myqcloud.com".into(),
            port: None,
            addressing: Addressing::VirtualHosted,
        }
    }

    /// A custom service endpoint: `scheme://host[:port]`, e.g. a private cloud
    /// (`https://cos.ap-guangzhou.example.internal`, buckets become
    /// `<bucket>.cos.ap-guangzhou.example.internal`) or the emulator
    /// (`http://127.0.0.1:9000`, path-style because an IP or `localhost` has no
    /// sub-domains).
    pub fn custom(url: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Err(Error::invalid_input("endpoint", url, reason));
        let Some((scheme, rest)) = url.split_once("://") else {
            return bad("must start with http:// or https://");
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return bad("scheme must be http or https");
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty()
            || authority.contains(['/', '?', '#', '@'])
            || authority.contains(char::is_whitespace)
        {
            return bad("must be scheme://host[:port] with no path, query or user info");
        }
        let Some((host, port)) = split_host_port(authority) else {
            return bad("has an invalid port");
        };
        if host.is_empty() {
            return bad("has no host");
        }
        let ip_like = host == "localhost"
            || host.parse::<std::net::IpAddr>().is_ok()
            || host.starts_with('[');
        if !ip_like
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return bad("host may contain only letters, digits, '-' and '.'");
        }
        Ok(Endpoint {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            addressing: if ip_like {
                Addressing::PathStyle
            } else {
                Addressing::VirtualHosted
            },
        })
    }

    /// Overrides the addressing style.
    pub fn with_addressing(mut self, addressing: Addressing) -> Self {
        self.addressing = addressing;
        self
    }

    /// The addressing style in use.
    pub fn addressing(&self) -> Addressing {
        self.addressing
    }

    /// `scheme://host[:port]` of the service, without a bucket.
    pub fn service_url(&self) -> String {
        format!("{}://{}", self.scheme, self.authority(&self.host))
    }

    fn authority(&self, host: &str) -> String {
        let mut authority = host.to_string();
        self.push_port(&mut authority);
        authority
    }

    /// Appends `:port` to a host, unless the port is the scheme's default
    /// (then it is left out of `Host` and the URL).
    fn push_port(&self, host: &mut String) {
        match self.port {
            Some(p)
                if !(self.scheme == "http" && p == 80 || self.scheme == "https" && p == 443) =>
            {
                use std::fmt::Write as _;
                let _ = write!(host, ":{p}");
            }
            _ => {}
        }
    }

    /// The URL, Host header and signed path of a request for `key` in
    /// `bucket` (an empty `key` addresses the bucket itself).
    pub fn object_url(
        &self,
        bucket: &BucketName,
        key: &str,
        params: &[(&str, &str)],
    ) -> Result<ResolvedUrl, Error> {
        // Built by appending into buffers sized up front: this runs for
        // every request, and `format!` would cost an allocation per piece.
        let mut host = String::with_capacity(bucket.as_str().len() + self.host.len() + 7);
        let mut path = String::with_capacity(bucket.as_str().len() + key.len() + 3);
        match self.addressing {
            Addressing::VirtualHosted => {
                host.push_str(bucket.as_str());
                host.push('.');
                host.push_str(&self.host);
                if host.len() > MAX_BUCKET_HOST_LEN && self.host.ends_with(".myqcloud.com") {
                    return Err(Error::invalid_input(
                        "bucket",
                        bucket.as_str(),
                        &format!(
                            "makes the host {host} longer than {MAX_BUCKET_HOST_LEN} characters"
                        ),
                    ));
                }
                path.push('/');
                path.push_str(key);
            }
            Addressing::PathStyle => {
                host.push_str(&self.host);
                path.push('/');
                path.push_str(bucket.as_str());
                path.push('/');
                path.push_str(key);
            }
        }
        self.push_port(&mut host);
        let mut url = String::with_capacity(self.scheme.len() + 3 + host.len() + path.len() * 2);
        url.push_str(&self.scheme);
        url.push_str("://");
        url.push_str(&host);
        encode_into(&mut url, &path, |b| b == b'/');
        if !params.is_empty() {
            url.push('?');
            url.push_str(&query_string(params));
        }
        Ok(ResolvedUrl {
            url,
            host,
            signed_path: path,
        })
    }
}

impl Endpoint {
    /// Where GET Service (ListBuckets) goes: `service.cos.myqcloud.com` for
    /// the public and accelerated endpoints, as the official SDKs send it
    /// (the region is a `region` filter, not a host), and the endpoint's own
    /// host otherwise (a private cloud, the emulator). The path is `/`.
    pub(crate) fn service_request_url(&self, params: &[(&str, &str)]) -> ResolvedUrl {
        let mut host = if self.host.ends_with(".myqcloud.com") {
            "service.cos.myqcloud.com".to_string()
        } else {
            self.host.clone()
        };
        self.push_port(&mut host);
        let mut url = format!("{}://{host}/", self.scheme);
        if !params.is_empty() {
            url.push('?');
            url.push_str(&query_string(params));
        }
        ResolvedUrl {
            url,
            host,
            signed_path: "/".to_string(),
        }
    }
}

impl Endpoint {
    /// The `x-cos-copy-source` value naming `key` in `bucket`:
    /// `<bucket>.cos.<region>.myqcloud.com/<encoded key>` for the public
    /// (and accelerated) endpoints, `<bucket>.<host>/<key>` for a custom
    /// virtual-hosted endpoint, and `<host>/<bucket>/<key>` for a path-style one.
    ///
    /// ```
    /// use coscls::cos::{BucketName, Endpoint, Region};
    /// let region = Region::parse("ap-guangzhou").unwrap();
    /// let bucket = BucketName::parse("src-1250000000").unwrap();
    /// assert_eq!(
    ///     Endpoint::accelerate().copy_source(&bucket, &region, "a b.txt", None),
    ///     "src-1250000000.cos.ap-guangzhou.myqcloud.com/a%20b.txt"
    /// );
    /// assert_eq!(
    ///     Endpoint::custom("http://127.0.0.1:9000").unwrap().copy_source(&bucket, &region, "k", Some("v1")),
    ///     "127.0.0.1:9000/src-1250000000/k?versionId=v1"
    /// );
    /// ```
    pub fn copy_source(
        &self,
        bucket: &BucketName,
        region: &Region,
        key: &str,
        version_id: Option<&str>,
    ) -> String {
        let key = path_encode(key);
        let mut source = match self.addressing {
            Addressing::VirtualHosted if self.host.ends_with(".myqcloud.com") => {
                format!("{bucket}.cos.{region}.myqcloud.com/{key}")
            }
            Addressing::VirtualHosted => {
                format!(
                    "{}/{key}",
                    self.authority(&format!("{bucket}.{}", self.host))
                )
            }
            Addressing::PathStyle => format!("{}/{bucket}/{key}", self.authority(&self.host)),
        };
        if let Some(v) = version_id {
            source.push_str("?versionId=");
            source.push_str(&crate::auth::uri_encode(v));
        }
        source
    }
}

/// `k=v&k=v` with the signing encoder (space as `%20`, `+` as `%2B`).
pub(crate) fn query_string(params: &[(&str, &str)]) -> String {
    use crate::auth::uri_encode;
    params
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        // [v6]:port
        let (v6, after) = rest.split_once(']')?;
        let host = &authority[..v6.len() + 2];
        return match after.strip_prefix(':') {
            Some(p) => Some((host, Some(p.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h, Some(p.parse().ok()?))),
        None => Some((authority, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_rules() {
        for ok in ["a-1", "examplebucket-1250000000", "my-bucket-2-1250000000"] {
            assert!(BucketName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a-1",
            "a-1-",
            "a-x",
            "A-1",
            "a_b-1",
            "a.b-1",
            "1250000000",
            "a--",
        ] {
            assert!(BucketName::parse(bad).is_err(), "{bad}");
        }
        let msg = BucketName::parse("Bad-1").unwrap_err().to_string();
        assert!(msg.contains("bucket") && msg.contains("'B'"), "{msg}");
        // A character beyond ASCII is named whole, not as a byte.
        let msg = BucketName::parse("bück-1").unwrap_err().to_string();
        assert!(msg.contains("'ü'"), "{msg}");
        let msg = BucketName::parse("桶-1").unwrap_err().to_string();
        assert!(msg.contains("'桶'"), "{msg}");
    }

    #[test]
    fn the_sixty_character_host_limit_applies_to_myqcloud_hosts() {
        let region = Region::parse("ap-guangzhou").unwrap();
        let ep = Endpoint::for_region(&region);
        // ".cos.ap-guangzhou.myqcloud.com" is 30 characters, so 30 are left.
        let fits = BucketName::parse(&format!("{}-1250000000", "a".repeat(19))).unwrap();
        assert!(ep.object_url(&fits, "k", &[]).is_ok());
        let long = BucketName::parse(&format!("{}-1250000000", "a".repeat(20))).unwrap();
        let err = ep.object_url(&long, "k", &[]).unwrap_err().to_string();
        assert!(err.contains("longer than 60"), "{err}");
    }

    #[test]
    fn key_rules() {
        assert!(validate_key(&"k".repeat(850)).is_ok());
        assert!(validate_key(&"k".repeat(851)).is_err());
        assert!(validate_key(&"文".repeat(283)).is_ok(), "849 bytes");
        assert!(validate_key(&"文".repeat(284)).is_err(), "852 bytes");
        for bad in [".", "..", "./", "a/../", "a/b/../..", "\\x", "a\u{1b}b"] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        for ok in ["a/../b", "..a", "a..", "a b", "%", "+"] {
            assert!(validate_key(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn custom_endpoints() {
        let ep = Endpoint::custom("https://cos.ap-guangzhou.example.internal:8443/").unwrap();
        let b = BucketName::parse("b-1").unwrap();
        let r = ep.object_url(&b, "x/y", &[("a", "1 2")]).unwrap();
        assert_eq!(
            r.url,
            "https://b-1.cos.ap-guangzhou.example.internal:8443/x/y?a=1%202"
        );
        assert_eq!(r.host, "b-1.cos.ap-guangzhou.example.internal:8443");
        assert_eq!(r.signed_path, "/x/y");

        let local = Endpoint::custom("http://localhost:80").unwrap();
        let r = local.object_url(&b, "", &[]).unwrap();
        assert_eq!(r.url, "http://localhost/b-1/");
        assert_eq!(r.signed_path, "/b-1/");

        let v6 = Endpoint::custom("http://[::1]:9000").unwrap();
        assert_eq!(v6.object_url(&b, "k", &[]).unwrap().host, "[::1]:9000");

        for bad in [
            "127.0.0.1:9000",
            "ftp://x",
            "http://",
            "http://h/path",
            "http://h:99999",
            "http://u@h",
            "http://h h",
        ] {
            assert!(Endpoint::custom(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn accelerate_is_virtual_hosted() {
        let b = BucketName::parse("b-1").unwrap();
        assert_eq!(
            Endpoint::accelerate()
                .object_url(&b, "k", &[])
                .unwrap()
                .host,
            "b-1.cos.accelerate.myqcloud.com"
        );
    }
}
