//! Property tests: the signer and the name/endpoint rules never panic, and
//! what they accept is well-formed.

use coscls::auth::{
    parse_query, percent_decode, presign_url, sign_with_key, uri_encode, Credentials, KeyTime,
    PresignRequest, PresignStyle, SignableRequest,
};
use coscls::cos::{validate_key, BucketName, Endpoint, Region};
use proptest::prelude::*;

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((any::<String>(), any::<String>()), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn signing_never_panics(
        id in any::<String>(), key in any::<String>(), method in any::<String>(), path in any::<String>(),
        start in any::<i64>(), end in any::<i64>(), params in pairs(), headers in pairs(),
    ) {
        let p: Vec<(&str, &str)> = params.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let h: Vec<(&str, &str)> = headers.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let sig = sign_with_key(&id, &key, KeyTime::new(start, end), &SignableRequest { method: &method, path: &path, params: &p, headers: &h });
        prop_assert_eq!(sig.signature.len(), 40);
        if let Ok(creds) = Credentials::new(id, key) {
            let url = presign_url(&creds, KeyTime::new(start, end), &PresignRequest {
                method: &method, base_url: "https://h", path: &path, params: &p, headers: &h, style: PresignStyle::Query,
            });
            prop_assert!(url.is_ascii());
        }
    }

    #[test]
    fn encoding_round_trips(s in any::<String>()) {
        prop_assert_eq!(percent_decode(&uri_encode(&s), false), Some(s));
    }

    #[test]
    fn parsers_never_panic(s in any::<String>()) {
        let _ = percent_decode(&s, true);
        let _ = parse_query(&s);
        let _ = Credentials::new(s.clone(), s.clone());
    }

    #[test]
    fn name_rules_never_panic(bucket in any::<String>(), region in any::<String>(), key in any::<String>(), endpoint in any::<String>()) {
        let b = BucketName::parse(&bucket);
        let _ = Region::parse(&region);
        let k = validate_key(&key);
        let _ = Endpoint::custom(&endpoint);
        if let (Ok(b), Ok(())) = (b, k) {
            let ep = Endpoint::custom("http://127.0.0.1:9000").unwrap();
            let url = ep.object_url(&b, &key, &[]).unwrap();
            prop_assert!(url.url.is_ascii());
            prop_assert!(url.signed_path.ends_with(&key));
        }
    }

    #[test]
    fn plausible_names_are_checked_consistently(name in "[a-z0-9-]{0,20}", appid in "[0-9]{0,12}", region in "[a-z0-9-]{0,12}") {
        let full = format!("{name}-{appid}");
        let ok = BucketName::parse(&full).is_ok();
        let want = !name.is_empty() && !appid.is_empty() && !name.starts_with('-');
        prop_assert_eq!(ok, want, "{}", full);
        if let Ok(r) = Region::parse(&region) {
            prop_assert!(r.as_str().as_bytes()[0].is_ascii_lowercase());
        }
        if let (Ok(b), Ok(r)) = (BucketName::parse(&full), Region::parse(&region)) {
            let host_len = format!("{b}.cos.{r}.myqcloud.com").len();
            prop_assert_eq!(Endpoint::for_region(&r).object_url(&b, "k", &[]).is_ok(), host_len <= 60);
        }
    }
}
