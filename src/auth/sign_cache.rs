//! The signing path a client takes on every attempt: the SignKey derived
//! once per secret and window ([`SignKeyCache`]), and the `Authorization`
//! value written without the intermediate strings [`sign`](fn@super::sign) keeps.

use std::cell::RefCell;
use std::fmt;
use std::sync::Mutex;

use hmac::Mac;
use sha1::{Digest, Sha1};

use super::sign::{
    canonical_pairs, push_hex, sign_key_mac, sign_with_mac, HmacSha1, KeyTime, SignableRequest,
    Signature, HEX_LOWER,
};
use super::{Credentials, Secret};

/// `start;end` of a [`KeyTime`] as text, held on the stack so the cache can
/// hand it out with its key and a request can write it without formatting.
#[derive(Clone, Copy)]
struct Window {
    /// Two `i64` of at most 20 characters each and the `;`.
    text: [u8; 41],
    len: usize,
}

impl Window {
    fn new(key_time: KeyTime) -> Self {
        let mut text = String::with_capacity(41);
        key_time.push_to(&mut text);
        let mut window = Window {
            text: [0; 41],
            len: text.len(),
        };
        window.text[..text.len()].copy_from_slice(text.as_bytes());
        window
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits, `-` and `;` were written.
        std::str::from_utf8(&self.text[..self.len]).unwrap_or_default()
    }
}

/// The `Authorization` value of [`sign_with_mac`], and nothing else: what a
/// client sends. The canonical strings are hashed as they are written into
/// a buffer kept per thread, and the string to sign is fed to the HMAC in
/// pieces, so the only allocation is the value returned. The tests hold it
/// to [`sign_with_mac`]'s value byte for byte.
fn authorization_with_mac(
    secret_id: &str,
    mut mac: HmacSha1,
    key_time: KeyTime,
    window: &Window,
    request: &SignableRequest<'_>,
) -> String {
    thread_local! {
        /// The HttpString and the `q-url-param-list` being written.
        static SCRATCH: RefCell<(String, String)> = const { RefCell::new((String::new(), String::new())) };
    }
    /// A buffer grown past this by an unusual request is not kept.
    const KEEP: usize = 16 * 1024;
    SCRATCH.with(|scratch| {
        // Nothing signs while a signature is being written on this thread;
        // should that ever change, the allocating path stays correct.
        let Ok(mut scratch) = scratch.try_borrow_mut() else {
            return sign_with_mac(secret_id, mac, key_time, request).authorization;
        };
        let (http_string, param_list) = &mut *scratch;
        http_string.clear();
        param_list.clear();
        http_string.extend(request.method.chars().map(|c| c.to_ascii_lowercase()));
        http_string.push('\n');
        http_string.push_str(request.path);
        http_string.push('\n');
        canonical_pairs(request.params, http_string, param_list);
        http_string.push('\n');

        let window = window.as_str();
        // The fixed parts are 98 bytes and the signature 40.
        let mut authorization = String::with_capacity(
            138 + secret_id.len()
                + 2 * window.len()
                + param_list.len()
                + request
                    .headers
                    .iter()
                    .map(|(k, _)| k.len() + 1)
                    .sum::<usize>(),
        );
        authorization.push_str("q-sign-algorithm=sha1&q-ak=");
        authorization.push_str(secret_id);
        authorization.push_str("&q-sign-time=");
        authorization.push_str(window);
        authorization.push_str("&q-key-time=");
        authorization.push_str(window);
        authorization.push_str("&q-header-list=");
        // The header names go straight into the value.
        canonical_pairs(request.headers, http_string, &mut authorization);
        http_string.push('\n');
        authorization.push_str("&q-url-param-list=");
        authorization.push_str(param_list);

        // StringToSign = "sha1\n" KeyTime "\n" sha1hex(HttpString) "\n".
        let mut digest = [0u8; 40];
        for (pair, b) in digest
            .chunks_exact_mut(2)
            .zip(Sha1::digest(http_string.as_bytes()))
        {
            pair[0] = HEX_LOWER[(b >> 4) as usize];
            pair[1] = HEX_LOWER[(b & 0x0f) as usize];
        }
        mac.update(b"sha1\n");
        mac.update(window.as_bytes());
        mac.update(b"\n");
        mac.update(&digest);
        mac.update(b"\n");
        authorization.push_str("&q-signature=");
        push_hex(&mut authorization, &mac.finalize().into_bytes());

        if http_string.capacity() > KEEP {
            *http_string = String::new();
        }
        if param_list.capacity() > KEEP {
            *param_list = String::new();
        }
        authorization
    })
}

/// Signs like [`sign`](fn@super::sign), remembering the SignKey of the last secret and
/// window so it is derived once per window instead of once per request.
///
/// The window's start is in whole seconds, so a client signing many requests
/// a second derives the key about once a second. The cached key is never
/// shown by `Debug`. A lock held by another thread is not waited for: that
/// call derives the key itself.
///
/// ```
/// use coscls::auth::{sign, Credentials, KeyTime, SignKeyCache, SignableRequest};
/// let creds = Credentials::new("AKIDexample", "secret").unwrap();
/// let request = SignableRequest { method: "GET", path: "/a", params: &[], headers: &[("host", "h")] };
/// let cache = SignKeyCache::new();
/// let kt = KeyTime::new(1700000000, 1700003600);
/// assert_eq!(cache.sign(&creds, kt, &request), sign(&creds, kt, &request));
/// assert_eq!(cache.sign(&creds, kt, &request), sign(&creds, kt, &request));
/// ```
#[derive(Default)]
pub struct SignKeyCache {
    last: Mutex<Option<CachedKey>>,
}

struct CachedKey {
    secret_key: Secret,
    key_time: KeyTime,
    window: Window,
    mac: HmacSha1,
}

impl SignKeyCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// [`sign`](fn@super::sign), reusing the SignKey when the secret and window are the last ones.
    pub fn sign(
        &self,
        credentials: &Credentials,
        key_time: KeyTime,
        request: &SignableRequest<'_>,
    ) -> Signature {
        let (mac, _) = self.mac(credentials, key_time);
        sign_with_mac(credentials.secret_id(), mac, key_time, request)
    }

    /// The `Authorization` value of [`sign`](Self::sign), without the
    /// intermediate strings (what the pipeline sends on every attempt).
    pub(crate) fn authorization(
        &self,
        credentials: &Credentials,
        key_time: KeyTime,
        request: &SignableRequest<'_>,
    ) -> String {
        let (mac, window) = self.mac(credentials, key_time);
        authorization_with_mac(credentials.secret_id(), mac, key_time, &window, request)
    }

    /// The HMAC keyed with the SignKey of `credentials` for `key_time`, and
    /// the window as text.
    fn mac(&self, credentials: &Credentials, key_time: KeyTime) -> (HmacSha1, Window) {
        let secret = credentials.secret_key();
        match self.last.try_lock() {
            Ok(mut last) => match last.as_ref() {
                Some(c) if c.key_time == key_time && c.secret_key == *secret => {
                    (c.mac.clone(), c.window)
                }
                _ => {
                    let mac = sign_key_mac(secret.expose(), key_time);
                    let window = Window::new(key_time);
                    *last = Some(CachedKey {
                        secret_key: secret.clone(),
                        key_time,
                        window,
                        mac: mac.clone(),
                    });
                    (mac, window)
                }
            },
            // Busy (or poisoned): derive the key without the cache.
            Err(_) => (
                sign_key_mac(secret.expose(), key_time),
                Window::new(key_time),
            ),
        }
    }
}

impl fmt::Debug for SignKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The SignKey authorises requests for its whole window.
        f.debug_struct("SignKeyCache").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sign::{sign, sign_with_key};

    #[test]
    fn the_sign_key_cache_signs_like_sign_across_keys_and_windows() {
        let a = Credentials::new("AKIDa", "secret-a").unwrap();
        let b = Credentials::new("AKIDb", "secret-b").unwrap();
        let request = SignableRequest {
            method: "PUT",
            path: "/k",
            params: &[("partNumber", "1")],
            headers: &[("host", "h"), ("content-length", "3")],
        };
        let cache = SignKeyCache::new();
        for (creds, kt) in [
            (&a, KeyTime::new(1, 10)),
            (&a, KeyTime::new(1, 10)),
            (&b, KeyTime::new(1, 10)),
            (&a, KeyTime::new(2, 11)),
            (&a, KeyTime::new(2, 11)),
        ] {
            assert_eq!(
                cache.authorization(creds, kt, &request),
                sign(creds, kt, &request).authorization
            );
        }
        for (creds, kt) in [
            (&a, KeyTime::new(1, 10)),
            (&a, KeyTime::new(1, 10)),
            (&b, KeyTime::new(1, 10)),
            (&a, KeyTime::new(2, 11)),
            (&a, KeyTime::new(2, 11)),
        ] {
            assert_eq!(cache.sign(creds, kt, &request), sign(creds, kt, &request));
        }
        assert!(!format!("{cache:?}").contains("secret"));
    }

    /// The allocation-free `Authorization` is the one [`sign`] makes, for
    /// short and long header lists, repeated and non-ASCII names, bare and
    /// valued parameters, and windows of any sign and length.
    #[test]
    fn the_authorization_alone_matches_sign() {
        let many: Vec<(String, String)> = (0..20)
            .map(|i| (format!("X-Cos-Meta-M{i:02}"), format!("v {i}")))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let headers: &[&[(&str, &str)]] = &[
            &[],
            &[("host", "h")],
            &[
                ("Host", "b-1.cos.r.myqcloud.com"),
                ("Content-Length", "4096"),
            ],
            &[
                ("X-Cos-Meta-Ä", "ü"),
                ("x-cos-meta-a b", "1 2"),
                ("dup", "b"),
                ("DUP", "a"),
            ],
            &many,
        ];
        let params: &[&[(&str, &str)]] = &[
            &[],
            &[("uploads", "")],
            &[
                ("partNumber", "1"),
                ("uploadId", "a/b+c"),
                ("versionId", ""),
            ],
            &many[..17],
        ];
        let windows = [
            KeyTime::new(1557989151, 1557996351),
            KeyTime::new(0, 0),
            KeyTime::new(-61, 9),
            KeyTime::new(i64::MIN, i64::MAX),
        ];
        for method in ["GET", "put", "Post"] {
            for headers in headers {
                for params in params {
                    for kt in windows {
                        let request = SignableRequest {
                            method,
                            path: "/dir/exampleobject(腾讯云) +",
                            params,
                            headers,
                        };
                        let expected = sign_with_key("AKIDx", "secret", kt, &request);
                        assert_eq!(
                            authorization_with_mac(
                                "AKIDx",
                                sign_key_mac("secret", kt),
                                kt,
                                &Window::new(kt),
                                &request
                            ),
                            expected.authorization,
                            "{method} {headers:?} {params:?} {kt:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn key_times_are_written_as_display_writes_them() {
        for (start, end) in [
            (0, 0),
            (1, 22),
            (-1, -1234567890),
            (i64::MIN, i64::MAX),
            (1700000000, 1700003600),
        ] {
            let kt = KeyTime::new(start, end);
            let mut out = String::from("x");
            kt.push_to(&mut out);
            assert_eq!(out, format!("x{kt}"));
            assert_eq!(Window::new(kt).as_str(), kt.to_string());
        }
    }
}
