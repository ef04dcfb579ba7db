//! Which service, bucket and key a request is for (pure).
//!
//! COS names the bucket in the Host header (`<bucket>.cos.<region>.<domain>`,
//! virtual-hosted) or, on an IP or `localhost` host, in the first path segment
//! (path-style). The signed path differs: virtual-hosted requests sign `/<key>`,
//! path-style requests sign the whole decoded path `/<bucket>/<key>`.

use crate::canonical::percent_decode;

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

/// The host a request was addressed to, when its request target and its Host
/// header name different hosts (or Host is repeated or unreadable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostMismatch(pub(crate) String);

/// The one host a request is routed by and verified against.
///
/// An absolute-form target (`GET http://b.cos.x/k`, as sent to a proxy) names
/// its host in the target; RFC 9112 §3.2.2 makes that authority win over Host.
/// The signature, though, covers the Host header the client signed, so the
/// two must name the same host (case-insensitively, a default port written or
/// not): otherwise a request signed for bucket A could be routed to bucket B.
/// Without an absolute-form target the Host header is the host; with
/// neither, the empty string (path-style, and a listed `host` is absent).
pub(crate) fn request_host(
    scheme: Option<&str>,
    target_authority: Option<&str>,
    host_headers: &[&[u8]],
) -> Result<String, HostMismatch> {
    let host_header = match host_headers {
        [] => None,
        [one] => Some(
            std::str::from_utf8(one)
                .map_err(|_| HostMismatch("the Host header is not valid UTF-8".to_string()))?,
        ),
        _ => {
            return Err(HostMismatch(format!(
                "the request carries {} Host headers; exactly one is allowed",
                host_headers.len()
            )))
        }
    };
    match (target_authority, host_header) {
        (Some(target), Some(host)) => {
            if same_host(scheme, target, host) {
                Ok(target.to_string())
            } else {
                Err(HostMismatch(format!(
                    "the request target names host {target:?} but the Host header is {host:?}"
                )))
            }
        }
        (Some(target), None) => Ok(target.to_string()),
        (None, Some(host)) => Ok(host.to_string()),
        (None, None) => Ok(String::new()),
    }
}

/// Whether two authorities name the same host: ASCII case ignored, and the
/// scheme's default port (80, or 443 for https) equal to no port.
fn same_host(scheme: Option<&str>, a: &str, b: &str) -> bool {
    let default_port = if scheme.is_some_and(|s| s.eq_ignore_ascii_case("https")) {
        "443"
    } else {
        "80"
    };
    let canonical = |h: &str| -> String {
        let h = h.trim().to_ascii_lowercase();
        match h.rsplit_once(':') {
            Some((name, port)) if port == default_port && !name.ends_with(':') => name.to_string(),
            _ => h,
        }
    };
    canonical(a) == canonical(b)
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
    fn one_host_for_routing_and_signing() {
        let a = "a-1.cos.ap-x.myqcloud.com";
        let b = "b-1.cos.ap-x.myqcloud.com";
        // Origin form: the Host header.
        assert_eq!(request_host(None, None, &[a.as_bytes()]).unwrap(), a);
        // Absolute form through a proxy, Host repeating the target.
        assert_eq!(
            request_host(Some("http"), Some(b), &[b.as_bytes()]).unwrap(),
            b
        );
        assert_eq!(
            request_host(
                Some("http"),
                Some("B-1.cos.ap-x.myqcloud.com:80"),
                &[b.as_bytes()]
            )
            .unwrap(),
            "B-1.cos.ap-x.myqcloud.com:80"
        );
        assert!(request_host(Some("https"), Some("h:443"), &[b"h".as_slice()]).is_ok());
        // Absolute form alone.
        assert_eq!(request_host(Some("http"), Some(b), &[]).unwrap(), b);
        assert_eq!(request_host(None, None, &[]).unwrap(), "");
        // Signed for A, sent to B.
        let e = request_host(Some("http"), Some(b), &[a.as_bytes()]).unwrap_err();
        assert!(e.0.contains(a) && e.0.contains(b), "{e:?}");
        // A port that is not the default is a different host.
        assert!(request_host(Some("http"), Some("h:8080"), &[b"h".as_slice()]).is_err());
        assert!(request_host(Some("https"), Some("h:80"), &[b"h".as_slice()]).is_err());
        // Two Host headers, or one that is not text.
        assert!(request_host(None, None, &[a.as_bytes(), b.as_bytes()]).is_err());
        assert!(request_host(Some("http"), Some(b), &[b"\xff".as_slice()]).is_err());
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
