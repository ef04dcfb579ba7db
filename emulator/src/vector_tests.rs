//! The published signing vectors, fed to both implementations: the SDK's
//! signer must produce each `expected_authorization`, and the emulator's own
//! canonicaliser and verifier (written separately from the protocol
//! description) must reproduce the same canonical strings and accept it.

use coscls::auth::{sign_with_key, HeaderRule, KeyTime, SignableRequest};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::canonical::parse_query;
use crate::verify::{
    canonicalise, parse_authorization, verify, AuthError, AuthRequest, KeyEntry, Signed,
};

fn load(relative: &str) -> Vec<Value> {
    let path = format!(
        "{}/../tests/data/vectors/{relative}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let all: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(!all.is_empty(), "{path} holds no vectors");
    all
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no string {field}", v["name"]))
}

fn pairs(v: &Value, field: &str) -> Vec<(String, String)> {
    v[field]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, val)| (k.clone(), val.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn refs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    map
}

/// The emulator's verifier on one vector: accepted as published, refused
/// with one signature digit changed.
fn emulator_accepts(
    v: &Value,
    headers: HeaderMap,
    query: &[(String, String)],
    authorization_in_query: bool,
    now: i64,
    token_header: &'static str,
) {
    let name = text(v, "name");
    let secret_id = text(v, "secret_id").to_string();
    let entry = KeyEntry {
        secret_key: text(v, "secret_key").to_string(),
        token: None,
    };
    let lookup = |id: &str| (id == secret_id).then(|| entry.clone());
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let check = |headers: &HeaderMap, query: &[(String, String)]| {
        verify(
            &AuthRequest {
                method: text(v, "method"),
                signed_path: text(v, "path"),
                query,
                headers,
                authority: &host,
                now,
                token_header,
                allow_query_auth: token_header == "x-cos-security-token",
            },
            lookup,
        )
    };
    let verified = check(&headers, query).unwrap_or_else(|e| panic!("{name}: refused: {e:?}"));
    assert_eq!(verified.presigned, authorization_in_query, "{name}");

    // Tampered: the last signature digit changed, wherever it travels.
    let expected = text(v, "expected_authorization");
    let last = expected.chars().last().unwrap_or('0');
    let other = if last == '0' { '1' } else { '0' };
    let tampered = format!("{}{other}", &expected[..expected.len() - 1]);
    let (mut headers, mut query) = (headers, query.to_vec());
    if authorization_in_query {
        for (k, val) in query.iter_mut() {
            if k == "sign" {
                *val = tampered.clone();
            } else if k == "q-signature" {
                val.pop();
                val.push(other);
            }
        }
    } else {
        headers.insert("authorization", HeaderValue::from_str(&tampered).unwrap());
    }
    assert!(
        matches!(check(&headers, &query), Err(AuthError::Mismatch { .. })),
        "{name}: a changed signature is accepted"
    );
}

#[test]
fn cos_vectors_sign_and_verify_alike() {
    for v in load("cos_sign/official.json") {
        let name = text(&v, "name");
        let (start, end) = (v["start"].as_i64().unwrap(), v["end"].as_i64().unwrap());
        let params = pairs(&v, "params");
        let headers = pairs(&v, "headers");
        let expected = text(&v, "expected_authorization");

        // The SDK's signer.
        let (p, h) = (refs(&params), refs(&headers));
        let sdk = sign_with_key(
            text(&v, "secret_id"),
            text(&v, "secret_key"),
            KeyTime::new(start, end),
            &SignableRequest {
                method: text(&v, "method"),
                path: text(&v, "path"),
                params: &p,
                headers: &h,
            },
        );
        assert_eq!(sdk.authorization, expected, "{name}: SDK signer");
        assert_eq!(sdk.http_string, text(&v, "http_string"), "{name}: SDK");

        // The emulator's canonicaliser, on the same inputs.
        let key_time = format!("{start};{end}");
        let emu = canonicalise(
            text(&v, "secret_key"),
            &key_time,
            &Signed {
                method: text(&v, "method"),
                path: text(&v, "path"),
                params: &params,
                headers: &headers,
            },
        );
        assert_eq!(emu.http_string, text(&v, "http_string"), "{name}: emulator");
        assert_eq!(
            emu.string_to_sign,
            text(&v, "string_to_sign"),
            "{name}: emulator"
        );
        let parsed = parse_authorization(expected).unwrap();
        assert_eq!(emu.signature, parsed.signature, "{name}: emulator");

        // The emulator's verifier on the request as sent.
        match v.get("expected_presigned_query").and_then(Value::as_str) {
            Some(presigned) => {
                let query = parse_query(presigned).unwrap();
                emulator_accepts(
                    &v,
                    header_map(&headers),
                    &query,
                    true,
                    start,
                    "x-cos-security-token",
                );
            }
            None => {
                let mut map = header_map(&headers);
                map.insert("authorization", HeaderValue::from_str(expected).unwrap());
                emulator_accepts(&v, map, &params, false, start, "x-cos-security-token");
            }
        }
    }
}

#[test]
fn cls_vectors_sign_and_verify_alike() {
    for v in load("cls/sign.json") {
        let name = text(&v, "name");
        let (start, end) = (v["start"].as_i64().unwrap(), v["end"].as_i64().unwrap());
        let params = pairs(&v, "params");
        // Every header the SDK sent; only some are signed.
        let all_headers = pairs(&v, "headers");
        let expected = text(&v, "expected_authorization");

        let (p, all) = (refs(&params), refs(&all_headers));
        let selected = HeaderRule::Cls.select(&all);
        let sdk = sign_with_key(
            text(&v, "secret_id"),
            text(&v, "secret_key"),
            KeyTime::new(start, end),
            &SignableRequest {
                method: text(&v, "method"),
                path: text(&v, "path"),
                params: &p,
                headers: &selected,
            },
        );
        assert_eq!(sdk.authorization, expected, "{name}: SDK signer");

        // The emulator signs over what the Authorization lists.
        let parsed = parse_authorization(expected).unwrap();
        let listed: Vec<(String, String)> = all_headers
            .iter()
            .filter(|(k, _)| parsed.header_list.contains(&k.to_ascii_lowercase()))
            .cloned()
            .collect();
        let emu = canonicalise(
            text(&v, "secret_key"),
            &parsed.key_time,
            &Signed {
                method: text(&v, "method"),
                path: text(&v, "path"),
                params: &params,
                headers: &listed,
            },
        );
        let intermediate = &v["intermediate"];
        assert_eq!(
            emu.http_string,
            text(intermediate, "format_string"),
            "{name}: emulator"
        );
        assert_eq!(
            emu.string_to_sign,
            text(intermediate, "string_to_sign"),
            "{name}: emulator"
        );
        assert_eq!(emu.signature, parsed.signature, "{name}: emulator");

        let mut map = header_map(&all_headers);
        map.insert("authorization", HeaderValue::from_str(expected).unwrap());
        let now = v["now"].as_i64().unwrap();
        emulator_accepts(&v, map, &params, false, now, "x-cls-token");
    }
}
