//! `url.full` without secrets: query values that are signatures, access key
//! ids or session tokens are replaced, user info is masked, the fragment is
//! dropped. Pure functions, tested below.

use std::borrow::Cow;

/// What replaces a secret value.
pub(crate) const REDACTED: &str = "REDACTED";

/// Whether a query parameter (name compared case-insensitively, after
/// percent-decoding) carries a credential.
pub fn is_secret_param(name: &str) -> bool {
    let decoded = crate::auth::percent_decode(name, true).unwrap_or_else(|| name.to_string());
    let lower = decoded.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "q-signature" | "q-ak" | "sign" | "authorization" | "x-amz-credential"
    ) || lower.contains("token")
        || lower.contains("signature")
        || lower.contains("secret")
}

/// `url` as it may appear in telemetry. Borrowed when nothing needed hiding.
///
/// ```
/// use coscls::telemetry::redact_url;
/// let url = "https://b-1.cos.ap-guangzhou.myqcloud.com/a.txt?q-sign-algorithm=sha1&q-ak=AKID&q-signature=abc&x-cos-security-token=tok";
/// assert_eq!(
///     redact_url(url),
///     "https://b-1.cos.ap-guangzhou.myqcloud.com/a.txt?q-sign-algorithm=sha1&q-ak=REDACTED&q-signature=REDACTED&x-cos-security-token=REDACTED"
/// );
/// ```
pub fn redact_url(url: &str) -> Cow<'_, str> {
    // Without `?`, `#` or `@` there is no query, fragment or user info:
    // one scan settles the common case.
    if !url.bytes().any(|b| matches!(b, b'?' | b'#' | b'@')) {
        return Cow::Borrowed(url);
    }
    let without_fragment = url.split_once('#').map_or(url, |(u, _)| u);
    let (head, query) = match without_fragment.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (without_fragment, None),
    };
    let userinfo = userinfo_range(head);
    let query_has_secret = query.is_some_and(|q| {
        q.split('&')
            .any(|pair| is_secret_param(pair.split_once('=').map_or(pair, |(k, _)| k)))
    });
    if userinfo.is_none() && !query_has_secret && without_fragment.len() == url.len() {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len());
    match userinfo {
        Some((start, end)) => {
            out.push_str(&head[..start]);
            out.push_str("REDACTED:REDACTED");
            out.push_str(&head[end..]);
        }
        None => out.push_str(head),
    }
    if let Some(q) = query {
        out.push('?');
        for (i, pair) in q.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((k, _)) if is_secret_param(k) => {
                    out.push_str(k);
                    out.push('=');
                    out.push_str(REDACTED);
                }
                _ => out.push_str(pair),
            }
        }
    }
    Cow::Owned(out)
}

/// Where the authority of an absolute URL starts: just after `://`.
/// (A byte scan: `str::find` with a pattern builds a two-way searcher,
/// which costs more than scanning the few bytes of a scheme.)
pub(crate) fn scheme_end(url: &str) -> Option<usize> {
    url.as_bytes()
        .windows(3)
        .position(|w| w == b"://")
        .map(|i| i + 3)
}

/// Byte range of `user:password` in `scheme://user:password@host/...`.
fn userinfo_range(head: &str) -> Option<(usize, usize)> {
    let authority_start = scheme_end(head)?;
    let rest = &head[authority_start..];
    let authority_len = rest.find('/').unwrap_or(rest.len());
    let at = rest[..authority_len].rfind('@')?;
    Some((authority_start, authority_start + at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_urls_are_borrowed_unchanged() {
        let url = "http://127.0.0.1:9000/bucket-1250000000/dir/a%20b.txt?uploadId=x&partNumber=3";
        assert!(matches!(redact_url(url), Cow::Borrowed(u) if u == url));
    }

    #[test]
    fn cos_presign_parameters_are_redacted() {
        let url = "https://b.cos.r.myqcloud.com/k?q-sign-algorithm=sha1&q-ak=AKIDx&q-sign-time=1;2&q-key-time=1;2&q-header-list=host&q-url-param-list=&q-signature=deadbeef&x-cos-security-token=tok";
        let r = redact_url(url);
        assert!(!r.contains("AKIDx"), "{r}");
        assert!(!r.contains("deadbeef"), "{r}");
        assert!(!r.contains("=tok"), "{r}");
        assert!(r.contains("q-sign-time=1;2"), "{r}");
        assert!(r.contains("q-signature=REDACTED"), "{r}");
    }

    #[test]
    fn names_are_matched_case_insensitively_and_decoded() {
        let r =
            redact_url("http://h/k?Q-Signature=s1&x%2Dcos%2Dsecurity%2Dtoken=t1&X-Cls-Token=t2");
        assert!(
            !r.contains("s1") && !r.contains("t1") && !r.contains("t2"),
            "{r}"
        );
    }

    #[test]
    fn user_info_is_masked_and_the_fragment_dropped() {
        assert_eq!(
            redact_url("http://user:pw@h:1/p?a=1#frag"),
            "http://REDACTED:REDACTED@h:1/p?a=1"
        );
        assert_eq!(redact_url("http://h/p@x"), "http://h/p@x");
    }

    #[test]
    fn valueless_and_odd_parameters_survive() {
        assert_eq!(redact_url("http://h/?acl&&="), "http://h/?acl&&=");
        assert_eq!(redact_url("http://h/?q-signature"), "http://h/?q-signature");
    }
}
