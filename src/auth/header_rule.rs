//! Which request headers a `q-sign` signature covers: the COS SDKs' list,
//! the CLS SDKs' list, or every header given.

use std::cmp::Ordering;

/// Which request headers a signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderRule {
    /// The official COS SDKs' filter (docs/protocol/cos.md §1.2): the Python list plus the
    /// Go SDK's CORS pre-flight names, and every `x-cos-*` / `x-ci-*` header.
    /// It covers everything "strict signature mode" demands.
    Cos,
    /// What the official CLS SDKs sign: `content-type`, `content-md5`, `host`.
    Cls,
    /// Every header given (reqsign's behaviour; the doc vectors use it).
    All,
}

const COS_SIGNED_HEADERS: &[&str] = &[
    "access-control-request-headers",
    "access-control-request-method",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-length",
    "content-md5",
    "content-type",
    "expect",
    "expires",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-unmodified-since",
    "origin",
    "pic-operations",
    "range",
    "transfer-encoding",
];

/// Prefixes of the header families the COS rule signs whole.
const COS_SIGNED_PREFIXES: &[&str] = &["x-cos-", "x-ci-"];

/// The headers the CLS rule signs, when present.
const CLS_SIGNED_HEADERS: &[&str] = &["content-type", "content-md5", "host"];

impl HeaderRule {
    /// Whether a header of this name is signed under this rule.
    ///
    /// ```
    /// use coscls::auth::HeaderRule;
    /// assert!(HeaderRule::Cos.selects("X-Cos-Meta-Author"));
    /// assert!(!HeaderRule::Cos.selects("User-Agent"));
    /// assert!(!HeaderRule::Cls.selects("x-cls-compress-type"));
    /// ```
    pub fn selects(self, name: &str) -> bool {
        // Case-insensitive without lower-casing into a new `String`: the
        // pipeline asks this for every header of every request.
        match self {
            HeaderRule::All => true,
            HeaderRule::Cls => CLS_SIGNED_HEADERS
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n)),
            HeaderRule::Cos => {
                COS_SIGNED_HEADERS
                    .binary_search_by(|probe| cmp_lower(probe, name))
                    .is_ok()
                    || COS_SIGNED_PREFIXES
                        .iter()
                        .any(|p| starts_with_ignore_case(name, p))
            }
        }
    }

    /// [`selects`](Self::selects) for a name known to be lower-case, as an
    /// `http::HeaderName` always is: plain byte comparisons, no case folding.
    pub(crate) fn selects_lowercase(self, name: &str) -> bool {
        match self {
            HeaderRule::All => true,
            HeaderRule::Cls => CLS_SIGNED_HEADERS.contains(&name),
            // A linear scan of the table: `&str` equality compares lengths
            // first, so most entries are passed over without a `memcmp`
            // (a binary search calls it at every probe).
            HeaderRule::Cos => {
                COS_SIGNED_HEADERS.contains(&name)
                    || COS_SIGNED_PREFIXES.iter().any(|p| name.starts_with(p))
            }
        }
    }

    /// The headers of `all` that this rule signs, in their original order.
    pub fn select<'a>(self, all: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        all.iter()
            .copied()
            .filter(|(k, _)| self.selects(k))
            .collect()
    }
}

/// Orders the lower-case `probe` against `name` as if `name` were lower-cased.
fn cmp_lower(probe: &str, name: &str) -> Ordering {
    probe
        .bytes()
        .cmp(name.bytes().map(|b| b.to_ascii_lowercase()))
}

fn starts_with_ignore_case(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cos_rule_matches_the_sdk_lists() {
        for signed in [
            "Host",
            "content-type",
            "Content-Length",
            "x-cos-security-token",
            "X-CI-Foo",
            "Range",
            "If-Match",
        ] {
            assert!(HeaderRule::Cos.selects(signed), "{signed}");
        }
        for unsigned in [
            "Date",
            "User-Agent",
            "Accept",
            "Connection",
            "Authorization",
            "traceparent",
        ] {
            assert!(!HeaderRule::Cos.selects(unsigned), "{unsigned}");
        }
        let mut sorted = COS_SIGNED_HEADERS.to_vec();
        sorted.sort();
        assert_eq!(
            sorted, COS_SIGNED_HEADERS,
            "binary_search needs a sorted list"
        );
    }

    #[test]
    fn the_lowercase_shortcut_agrees_with_selects() {
        let mut names: Vec<String> = COS_SIGNED_HEADERS.iter().map(|n| n.to_string()).collect();
        names.extend(
            [
                "x-cos-meta-a",
                "x-cos-",
                "x-ci-process",
                "x-co",
                "x-cosfoo",
                "x-cls-token",
                "user-agent",
                "hostess",
                "content-lengthx",
                "authorization",
                "date",
                "",
                "a",
                "zzz",
                "accept",
                "traceparent",
                "content-type",
                "content-md5",
                "host",
            ]
            .map(String::from),
        );
        for name in &names {
            for rule in [HeaderRule::Cos, HeaderRule::Cls, HeaderRule::All] {
                assert_eq!(
                    rule.selects_lowercase(name),
                    rule.selects(name),
                    "{rule:?} {name}"
                );
            }
        }
        // The table must stay sorted for `selects`'s binary search.
        assert!(COS_SIGNED_HEADERS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn selects_ignores_case_without_matching_lookalikes() {
        assert!(HeaderRule::Cos.selects("CONTENT-MD5"));
        assert!(HeaderRule::Cos.selects("x-COS-acl"));
        assert!(!HeaderRule::Cos.selects("x-co"));
        assert!(!HeaderRule::Cos.selects("x-cosfoo"));
        assert!(!HeaderRule::Cos.selects("content-lengthx"));
        assert!(!HeaderRule::Cos.selects("hostess"));
        assert!(!HeaderRule::Cos.selects("é"));
        assert!(HeaderRule::Cls.selects("Content-Type"));
        assert!(!HeaderRule::Cls.selects("content-length"));
    }
}
