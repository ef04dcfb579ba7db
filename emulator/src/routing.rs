//! Which service, bucket and key a request is for (pure).
//!
//! COS names the bucket in the Host header (`<bucket>.cos.<region>.<domain>`,
//! virtual-hosted) or, on an IP or `localhost` host, in the first path segment
//! (path-style). The signed path differs: virtual-hosted requests sign `/<key>`,
//! path-style requests sign the whole decoded path `/<bucket>/<key>`.

use coscls::auth::percent_decode;

/// Prefix of the unsigned admin API.
pub(crate) const ADMIN_PREFIX: &str = "/_emulator/";

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// The admin API; the path after `/_emulator/`.
    Admin(String),
    /// CLS `/structuredlog`.
    Cls,
    /// A COS request.
    Cos(CosTarget),
}

/// How the bucket was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Bucket in the Host header.
    VirtualHosted,
    /// Bucket in the first path segment.
    PathStyle,
}

/// A COS request's bucket and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CosTarget {
    /// `None` addresses the service (ListBuckets).
    pub(crate) bucket: Option<String>,
    /// Decoded key; empty for bucket operations.
    pub(crate) key: String,
    /// The decoded path the client signed.
    pub(crate) signed_path: String,
    pub(crate) style: Style,
}

/// The request's path could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidUri(pub(crate) String);

/// The host name without a port; IPv6 literals keep their brackets.
pub(crate) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(i) => &host[..=i],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Whether a host has no sub-domains to carry a bucket.
pub(crate) fn is_ip_like(host: &str) -> bool {
    let h = strip_port(host);
    h.eq_ignore_ascii_case("localhost")
        || h.starts_with('[')
        || h.parse::<std::net::IpAddr>().is_ok()
}

/// The bucket named by a virtual-hosted COS host (`b-125.cos.ap-x.domain`,
/// also `.cos-internal.` and `.cos.accelerate.`).
pub(crate) fn bucket_from_host(host: &str) -> Option<&str> {
    let h = strip_port(host);
    if is_ip_like(h) {
        return None;
    }
    let (bucket, _) = h
        .split_once(".cos.")
        .or_else(|| h.split_once(".cos-internal."))?;
    (!bucket.is_empty() && !bucket.contains('.')).then_some(bucket)
}

/// Resolves a request from its raw (percent-encoded) path and its host.
pub(crate) fn resolve(raw_path: &str, host: &str) -> Result<Route, InvalidUri> {
    if let Some(rest) = raw_path.strip_prefix(ADMIN_PREFIX) {
        return Ok(Route::Admin(rest.to_string()));
    }
    let path = percent_decode(raw_path, false).ok_or_else(|| {
        InvalidUri(format!(
            "the path {raw_path:?} is not valid percent-encoded UTF-8"
        ))
    })?;
    if !path.starts_with('/') {
        return Err(InvalidUri(format!(
            "the path {raw_path:?} does not start with '/'"
        )));
    }
    let vhost_bucket = bucket_from_host(host);
    if path == "/structuredlog" && vhost_bucket.is_none() {
        return Ok(Route::Cls);
    }
    if let Some(bucket) = vhost_bucket {
        let service = bucket == "service";
        return Ok(Route::Cos(CosTarget {
            bucket: (!service).then(|| bucket.to_string()),
            key: path[1..].to_string(),
            signed_path: path,
            style: Style::VirtualHosted,
        }));
    }
    let rest = &path[1..];
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    Ok(Route::Cos(CosTarget {
        bucket: (!bucket.is_empty()).then(|| bucket.to_string()),
        key: key.to_string(),
        signed_path: path.clone(),
        style: Style::PathStyle,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(raw: &str, host: &str) -> CosTarget {
        match resolve(raw, host).unwrap() {
            Route::Cos(t) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn virtual_hosted_signs_the_key_path() {
        let t = cos(
            "/dir/a%20b%2B.txt",
            "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com",
        );
        assert_eq!(t.bucket.as_deref(), Some("examplebucket-1250000000"));
        assert_eq!(t.key, "dir/a b+.txt");
        assert_eq!(t.signed_path, "/dir/a b+.txt");
        assert_eq!(t.style, Style::VirtualHosted);
        let t = cos("/", "b-1.cos.ap-x.tencentcos.cn:8080");
        assert_eq!((t.bucket.as_deref(), t.key.as_str()), (Some("b-1"), ""));
        let t = cos("/k", "b-1.cos-internal.ap-x.tencentcos.cn");
        assert_eq!(t.bucket.as_deref(), Some("b-1"));
    }

    #[test]
    fn ip_hosts_are_path_style_and_sign_the_whole_path() {
        let t = cos("/b-1/dir/%E6%96%87", "127.0.0.1:9000");
        assert_eq!(t.bucket.as_deref(), Some("b-1"));
        assert_eq!(t.key, "dir/文");
        assert_eq!(t.signed_path, "/b-1/dir/文");
        let t = cos("/b-1/", "localhost:1");
        assert_eq!((t.bucket.as_deref(), t.key.as_str()), (Some("b-1"), ""));
        assert_eq!(t.signed_path, "/b-1/");
        let t = cos("/b-1", "[::1]:9000");
        assert_eq!((t.bucket.as_deref(), t.key.as_str()), (Some("b-1"), ""));
        assert_eq!(cos("/", "127.0.0.1").bucket, None);
    }

    #[test]
    fn service_host_and_cls_and_admin() {
        assert_eq!(cos("/", "service.cos.myqcloud.com").bucket, None);
        assert_eq!(
            resolve("/structuredlog", "127.0.0.1:9").unwrap(),
            Route::Cls
        );
        assert_eq!(
            resolve("/structuredlog", "ap-guangzhou.cls.tencentcs.com").unwrap(),
            Route::Cls
        );
        // On a bucket host it is an object key.
        assert!(matches!(
            resolve("/structuredlog", "b-1.cos.ap-x.myqcloud.com").unwrap(),
            Route::Cos(_)
        ));
        assert_eq!(
            resolve("/_emulator/stats", "b-1.cos.ap-x.myqcloud.com").unwrap(),
            Route::Admin("stats".into())
        );
    }

    #[test]
    fn bad_escapes_are_refused() {
        assert!(resolve("/b-1/%zz", "127.0.0.1").is_err());
        assert!(resolve("/b-1/%FF", "127.0.0.1").is_err());
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("a.b:80"), "a.b");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("a.b"), "a.b");
        assert!(is_ip_like("LOCALHOST:3"));
        assert!(!is_ip_like("b-1.cos.x.y"));
    }
}
