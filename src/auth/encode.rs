//! Percent-encoding as COS and CLS sign and send it.
//!
//! One encoder serves both the signature and the wire, because the commonest
//! COS signing bug (docs/protocol/cos.md §8.1) is a client that encodes the two differently.

/// RFC 3986 encoding with upper-case hex: every byte except `A-Z a-z 0-9 - _ . ~`
/// becomes `%XX`. Space is `%20`, never `+`; `/` is `%2F`.
///
/// ```
/// assert_eq!(coscls::auth::uri_encode("a b+c/d~"), "a%20b%2Bc%2Fd~");
/// ```
pub fn uri_encode(input: &str) -> String {
    encode_with(input, |_| false)
}

/// Like [`uri_encode`] but keeps `/`, for object paths on the wire.
///
/// `+` is always sent as `%2B`: COS decodes a raw `+` in a path as a space
/// (docs/protocol/cos.md §1.6).
///
/// ```
/// assert_eq!(coscls::auth::path_encode("/dir/a b+.txt"), "/dir/a%20b%2B.txt");
/// ```
pub fn path_encode(input: &str) -> String {
    encode_with(input, |b| b == b'/')
}

fn encode_with(input: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(input.len() * 3 / 2);
    encode_into(&mut out, input, keep);
    out
}

/// Whether `b` is one of RFC 3986's unreserved bytes, which are never escaped.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Appends the encoding of `input` to `out` (the signer writes its canonical
/// strings in place instead of allocating one `String` per value).
/// Runs of bytes that stay as they are are copied whole: keys and values
/// are mostly such runs, and a per-byte push costs a capacity check each.
/// Only ASCII bytes are ever kept, so every run starts and ends on a
/// character boundary.
pub(crate) fn encode_into(out: &mut String, input: &str, keep: impl Fn(u8) -> bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut run_start = 0;
    for (i, &b) in input.as_bytes().iter().enumerate() {
        if b.is_ascii() && (is_unreserved(b) || keep(b)) {
            continue;
        }
        if let Some(run) = input.get(run_start..i) {
            out.push_str(run);
        }
        out.push('%');
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0x0f) as usize] as char);
        run_start = i + 1;
    }
    if let Some(run) = input.get(run_start..) {
        out.push_str(run);
    }
}

/// Decodes `%XX` sequences; with `plus_as_space`, `+` becomes a space as in
/// `application/x-www-form-urlencoded` queries. Returns `None` when an escape is
/// malformed or the result is not UTF-8, so servers can answer with a clear error.
///
/// ```
/// use coscls::auth::percent_decode;
/// assert_eq!(percent_decode("a%20b+c", true).as_deref(), Some("a b c"));
/// assert_eq!(percent_decode("%zz", false), None);
/// ```
pub fn percent_decode(input: &str, plus_as_space: bool) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = hex_value(*bytes.get(i + 1)?)?;
                let lo = hex_value(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses a raw query string (`a=1&b&c=x%20y`) into decoded pairs; a name
/// without `=` has the empty value, as `?uploads` does.
pub fn parse_query(query: &str) -> Option<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            Some((percent_decode(k, true)?, percent_decode(v, true)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_bytes_pass_through_and_others_are_upper_hex() {
        assert_eq!(uri_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(
            uri_encode("!'()*+,;:=&@$#?[]\"<>\\^`{|}% "),
            "%21%27%28%29%2A%2B%2C%3B%3A%3D%26%40%24%23%3F%5B%5D%22%3C%3E%5C%5E%60%7B%7C%7D%25%20"
        );
        assert_eq!(uri_encode("腾"), "%E8%85%BE");
    }

    #[test]
    fn path_encoding_matches_the_python_sdk_wire_path() {
        // py_put_object_special_key in docs/protocol/cos.md §2
        assert_eq!(
            path_encode("/dir/sub dir/文件 +!*'()~@$&=;:,.txt"),
            "/dir/sub%20dir/%E6%96%87%E4%BB%B6%20%2B%21%2A%27%28%29~%40%24%26%3D%3B%3A%2C.txt"
        );
    }

    /// The byte-at-a-time definition the run-copying encoder must match.
    fn encode_bytewise(input: &str, keep: impl Fn(u8) -> bool) -> String {
        input
            .bytes()
            .map(|b| {
                if b.is_ascii() && (is_unreserved(b) || keep(b)) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    #[test]
    fn runs_are_copied_as_the_bytewise_encoder_writes_them() {
        for s in [
            "",
            "a",
            " ",
            "abc",
            "a b",
            " ab",
            "ab ",
            "  ",
            "/a/b/",
            "文",
            "a文",
            "文a",
            "文件/x y+z~",
            "%%",
            "k/文/🦀/ end",
        ] {
            assert_eq!(uri_encode(s), encode_bytewise(s, |_| false), "{s:?}");
            assert_eq!(path_encode(s), encode_bytewise(s, |b| b == b'/'), "{s:?}");
            // A rule that would keep everything still escapes non-ASCII bytes.
            let mut out = String::new();
            encode_into(&mut out, s, |_| true);
            assert_eq!(out, encode_bytewise(s, |_| true), "{s:?}");
        }
    }

    #[test]
    fn decode_round_trips_encode() {
        for s in ["", "a b", "中文/+%", "~._-"] {
            assert_eq!(percent_decode(&uri_encode(s), false).as_deref(), Some(s));
        }
        assert_eq!(percent_decode("%E8%85", false), None, "truncated UTF-8");
        assert_eq!(percent_decode("%4", false), None, "truncated escape");
    }

    #[test]
    fn query_parsing_keeps_empty_values() {
        assert_eq!(
            parse_query("uploads&a=1&b=x+y%2B").unwrap(),
            vec![
                ("uploads".to_string(), String::new()),
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x y+".to_string())
            ]
        );
    }
}
