//! Percent-encoding and query parsing (pure), written from the protocol
//! description (COS "Request Signature", step 3) rather than shared with the
//! SDK: the emulator's verifier and the SDK's signer are two readings of the
//! same rules, so a misreading in either shows up as a refused signature.

/// `UrlEncode` of the signature rules: the UTF-8 bytes of `input`, each
/// byte outside `A-Z a-z 0-9 - _ . ~` written `%XX` with upper-case hex.
/// A space is `%20`, `/` is `%2F`.
pub(crate) fn uri_encode(input: &str) -> String {
    encode(input, false)
}

/// [`uri_encode`] that leaves `/` as it is, for paths written in listings.
pub(crate) fn path_encode(input: &str) -> String {
    encode(input, true)
}

fn encode(input: &str, keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for &b in input.as_bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Decodes `%XX` escapes (either hex case); with `plus_as_space`, `+` is a
/// space as in form-encoded queries. `None` when an escape is cut short or
/// not hex, or the bytes are not UTF-8.
pub(crate) fn percent_decode(input: &str, plus_as_space: bool) -> Option<String> {
    let mut out = Vec::with_capacity(input.len());
    let mut bytes = input.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hi = hex_digit(bytes.next()?)?;
                let lo = hex_digit(bytes.next()?)?;
                out.push(hi << 4 | lo);
            }
            b'+' if plus_as_space => out.push(b' '),
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The decoded `(name, value)` pairs of a raw query string, in order; a name
/// without `=` (`?uploads`) has the empty value, and empty pieces (`a=1&&b`)
/// are skipped. `None` when any piece does not decode.
pub(crate) fn parse_query(query: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        pairs.push((percent_decode(name, true)?, percent_decode(value, true)?));
    }
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_escapes_everything_but_the_unreserved_bytes() {
        assert_eq!(uri_encode("AZaz09-_.~"), "AZaz09-_.~");
        // The character table of the COS signature document.
        assert_eq!(
            uri_encode("!'()*+,;:=&@$#?[]\"<>\\^`{|}% /"),
            "%21%27%28%29%2A%2B%2C%3B%3A%3D%26%40%24%23%3F%5B%5D%22%3C%3E%5C%5E%60%7B%7C%7D%25%20%2F"
        );
        assert_eq!(uri_encode("腾讯云"), "%E8%85%BE%E8%AE%AF%E4%BA%91");
        assert_eq!(path_encode("/a b/c+"), "/a%20b/c%2B");
    }

    #[test]
    fn decoding_accepts_both_hex_cases_and_refuses_broken_escapes() {
        assert_eq!(percent_decode("%e8%85%BE", false).as_deref(), Some("腾"));
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(percent_decode("a+b", true).as_deref(), Some("a b"));
        for bad in ["%", "%4", "%zz", "%E8%85", "%FF"] {
            assert_eq!(percent_decode(bad, false), None, "{bad}");
        }
        for s in ["", "a b", "中文/+%", "~._-"] {
            assert_eq!(percent_decode(&uri_encode(s), false).as_deref(), Some(s));
        }
    }

    #[test]
    fn queries_keep_bare_names_and_order() {
        assert_eq!(
            parse_query("uploads&a=1&&b=x+y%2B&c=").unwrap(),
            vec![
                ("uploads".to_string(), String::new()),
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x y+".to_string()),
                ("c".to_string(), String::new()),
            ]
        );
        assert_eq!(parse_query("a=%zz"), None);
        assert_eq!(parse_query(""), Some(Vec::new()));
    }
}
