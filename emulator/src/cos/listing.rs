//! GET Bucket paging: prefix, delimiter, marker, max-keys (pure).

use std::collections::BTreeMap;
use std::ops::Bound;

/// What to list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListParams<'a> {
    pub(crate) prefix: &'a str,
    /// `None` (or empty) lists flat.
    pub(crate) delimiter: Option<&'a str>,
    pub(crate) marker: &'a str,
    pub(crate) max_keys: usize,
}

/// One page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page<'a, T> {
    pub(crate) contents: Vec<(&'a str, &'a T)>,
    pub(crate) common_prefixes: Vec<String>,
    pub(crate) truncated: bool,
    /// The last key or common prefix of the page, when truncated.
    pub(crate) next_marker: Option<String>,
}

/// Lists keys after `marker` that start with `prefix`; with a delimiter,
/// keys sharing `prefix…delimiter` roll up into one common prefix, which
/// counts as one entry and is not repeated on later pages.
pub(crate) fn list<'a, T>(map: &'a BTreeMap<String, T>, p: ListParams<'_>) -> Page<'a, T> {
    let delimiter = p.delimiter.filter(|d| !d.is_empty());
    let start = if p.marker >= p.prefix {
        Bound::Excluded(p.marker)
    } else {
        Bound::Included(p.prefix)
    };
    let mut page = Page {
        contents: Vec::new(),
        common_prefixes: Vec::new(),
        truncated: false,
        next_marker: None,
    };
    let mut count = 0usize;
    let mut last: Option<String> = None;
    for (key, value) in map.range::<str, _>((start, Bound::Unbounded)) {
        if !key.starts_with(p.prefix) {
            break;
        }
        let rolled = delimiter.and_then(|d| {
            key[p.prefix.len()..]
                .find(d)
                .map(|i| &key[..p.prefix.len() + i + d.len()])
        });
        if let Some(cp) = rolled {
            if cp <= p.marker || last.as_deref() == Some(cp) {
                continue;
            }
        }
        if count == p.max_keys {
            page.truncated = true;
            break;
        }
        count += 1;
        match rolled {
            Some(cp) => {
                page.common_prefixes.push(cp.to_string());
                last = Some(cp.to_string());
            }
            None => {
                page.contents.push((key.as_str(), value));
                last = Some(key.clone());
            }
        }
    }
    if page.truncated {
        page.next_marker = last;
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(keys: &[&str]) -> BTreeMap<String, ()> {
        keys.iter().map(|k| (k.to_string(), ())).collect()
    }

    fn keys<'a, T>(p: &Page<'a, T>) -> Vec<&'a str> {
        p.contents.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn flat_paging_with_marker() {
        let m = map(&["a", "b", "c", "d"]);
        let p = list(
            &m,
            ListParams {
                prefix: "",
                delimiter: None,
                marker: "",
                max_keys: 2,
            },
        );
        assert_eq!(keys(&p), ["a", "b"]);
        assert!(p.truncated);
        assert_eq!(p.next_marker.as_deref(), Some("b"));
        let p = list(
            &m,
            ListParams {
                prefix: "",
                delimiter: None,
                marker: "b",
                max_keys: 2,
            },
        );
        assert_eq!(keys(&p), ["c", "d"]);
        assert!(!p.truncated && p.next_marker.is_none());
    }

    #[test]
    fn delimiter_rolls_up_and_pages_past_prefixes() {
        let m = map(&[
            "photos/2024/a.jpg",
            "photos/2024/b.jpg",
            "photos/2025/c.jpg",
            "photos/x.jpg",
            "readme",
        ]);
        let p = list(
            &m,
            ListParams {
                prefix: "photos/",
                delimiter: Some("/"),
                marker: "",
                max_keys: 1000,
            },
        );
        assert_eq!(p.common_prefixes, ["photos/2024/", "photos/2025/"]);
        assert_eq!(keys(&p), ["photos/x.jpg"]);
        let p = list(
            &m,
            ListParams {
                prefix: "photos/",
                delimiter: Some("/"),
                marker: "",
                max_keys: 1,
            },
        );
        assert_eq!(p.common_prefixes, ["photos/2024/"]);
        assert_eq!(p.next_marker.as_deref(), Some("photos/2024/"));
        let p = list(
            &m,
            ListParams {
                prefix: "photos/",
                delimiter: Some("/"),
                marker: "photos/2024/",
                max_keys: 1,
            },
        );
        assert_eq!(p.common_prefixes, ["photos/2025/"]);
        assert!(p.truncated);
        let p = list(
            &m,
            ListParams {
                prefix: "",
                delimiter: Some("/"),
                marker: "",
                max_keys: 10,
            },
        );
        assert_eq!(p.common_prefixes, ["photos/"]);
        assert_eq!(keys(&p), ["readme"]);
    }

    #[test]
    fn prefix_bounds_the_scan() {
        let m = map(&["a/1", "b/1", "b/2", "c"]);
        let p = list(
            &m,
            ListParams {
                prefix: "b/",
                delimiter: None,
                marker: "a",
                max_keys: 10,
            },
        );
        assert_eq!(keys(&p), ["b/1", "b/2"]);
        let p = list(
            &m,
            ListParams {
                prefix: "b/",
                delimiter: None,
                marker: "b/1",
                max_keys: 10,
            },
        );
        assert_eq!(keys(&p), ["b/2"]);
    }
}
