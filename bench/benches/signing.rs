//! Signing cost: coscls vs `reqsign-tencent-cos` (the signer OpenDAL uses).
//!
//! Both sign the same PutObject (and an UploadPart with two query
//! parameters): host, content-length, content-type, content-md5 and three
//! `x-cos-meta-*` headers. coscls's header filter and reqsign's "sign every
//! header" pick the same set here, so both compute the same canonical strings;
//! `check_equivalence` proves it before anything is timed by signing with
//! reqsign's key time and comparing the two `Authorization` values byte for byte.
//!
//! Three measurements per request:
//! - `coscls/auth::sign`: the pure signer on an already split request.
//! - `coscls/request`: request level, like reqsign, through coscls's public
//!   signing API: fetch the credentials from the provider, pick the headers
//!   of a `HeaderMap` with `HeaderRule::Cos`, sign with a `SignKeyCache`,
//!   insert `Authorization`. (The clients' own per-attempt signer is
//!   crate-private and not benched here; it does the same steps.)
//! - `reqsign/sign_request`: reqsign's `RequestSigner::sign_request` on
//!   `http::request::Parts` (it also inserts a `Date` header).
//!
//! The request-level pair is the like-for-like comparison. A fresh request
//! head is cloned for every iteration outside the timed section (reqsign signs
//! every header, so re-signing a signed head would sign `Authorization` too).
//!
//! Run: `cd bench && cargo bench --bench signing`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Instant;

use coscls::auth::{
    sign, Credentials, HeaderRule, KeyTime, ProvideCredentials, SignKeyCache, SignableRequest,
    StaticProvider,
};
use criterion::{criterion_group, BatchSize, Criterion};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use reqsign_core::SignRequest;

const SECRET_ID: &str = "AKIDZfbOA78asKUYBcXFrJD0a1ICvR98JM";
const SECRET_KEY: &str = "XbrVyfuNTozN5A6tg4DGr4lb4NkpsK0A";
const HOST: &str = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com";

/// A request ready to sign (what a client builds before its attempt).
struct Prepared {
    method: Method,
    path: String,
    params: Vec<(String, String)>,
    headers: HeaderMap,
}

/// One request to sign, in the shapes each signer takes.
struct Case {
    name: &'static str,
    method: Method,
    /// Encoded path and query, as on the wire.
    path_and_query: &'static str,
    /// Decoded path (what COS signs).
    path: &'static str,
    params: Vec<(&'static str, &'static str)>,
    headers: Vec<(&'static str, &'static str)>,
}

impl Case {
    fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in &self.headers {
            map.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        map
    }

    fn parts(&self) -> http::request::Parts {
        let mut parts = http::Request::builder()
            .method(self.method.clone())
            .uri(format!("https://{HOST}{}", self.path_and_query))
            .body(())
            .expect("static request")
            .into_parts()
            .0;
        parts.headers = self.header_map();
        parts
    }

    /// The request as a client holds it before signing: decoded path and
    /// query parameters, headers in a `HeaderMap`.
    fn prepared(&self) -> Prepared {
        Prepared {
            method: self.method.clone(),
            path: self.path.to_string(),
            params: self
                .params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers: self.header_map(),
        }
    }

    fn signable<'a>(&'a self, headers: &'a [(&'a str, &'a str)]) -> SignableRequest<'a> {
        SignableRequest {
            method: self.method.as_str(),
            path: self.path,
            params: &self.params,
            headers,
        }
    }
}

fn cases() -> Vec<Case> {
    let common = vec![
        ("host", HOST),
        ("content-length", "4096"),
        ("content-type", "image/jpeg"),
        ("content-md5", "pTiIbkPZ1zFX0ksB5gpkWg=="),
        ("x-cos-meta-author", "bench"),
        ("x-cos-meta-project", "coscls-benchmarks"),
        ("x-cos-meta-checksum", "0d3f9a1c6b2e4f58"),
    ];
    vec![
        Case {
            name: "put_object",
            method: Method::PUT,
            path_and_query: "/photos/2026/holiday%20picture%20%281%29.jpg",
            path: "/photos/2026/holiday picture (1).jpg",
            params: vec![],
            headers: common.clone(),
        },
        Case {
            name: "upload_part",
            method: Method::PUT,
            path_and_query: "/backups/db.tar?partNumber=3&uploadId=1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361",
            path: "/backups/db.tar",
            params: vec![
                ("partNumber", "3"),
                (
                    "uploadId",
                    "1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361",
                ),
            ],
            headers: common,
        },
    ]
}

/// Drives a future that never waits (both signers only await ready values).
fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut
        .as_mut()
        .poll(&mut TaskContext::from_waker(Waker::noop()))
    {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("signer future was not immediately ready"),
    }
}

fn field<'a>(auth: &'a str, name: &str) -> &'a str {
    auth.split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{name} missing from {auth}"))
}

/// Signs with reqsign, then with coscls over reqsign's window: the
/// Authorization values must be identical, or the comparison is not fair.
fn check_equivalence(case: &Case, creds: &Credentials, cred: &reqsign_tencent_cos::Credential) {
    let signer = reqsign_tencent_cos::RequestSigner::new();
    let mut parts = case.parts();
    ready(signer.sign_request(&reqsign_core::Context::new(), &mut parts, Some(cred), None))
        .expect("reqsign signs");
    let theirs = parts.headers[http::header::AUTHORIZATION]
        .to_str()
        .expect("ascii")
        .to_string();
    let (start, end) = field(&theirs, "q-key-time")
        .split_once(';')
        .expect("key time");
    let key_time = KeyTime::new(start.parse().expect("start"), end.parse().expect("end"));
    let ours = sign(creds, key_time, &case.signable(&case.headers)).authorization;
    assert_eq!(ours, theirs, "{}: the two signers disagree", case.name);
}

/// The three signers under test, set up once with the same credentials.
struct Signers {
    creds: Credentials,
    key_time: KeyTime,
    provider: StaticProvider,
    cache: SignKeyCache,
    reqsign: reqsign_tencent_cos::RequestSigner,
    reqsign_ctx: reqsign_core::Context,
    reqsign_cred: reqsign_tencent_cos::Credential,
}

impl Signers {
    fn new() -> Self {
        let creds = Credentials::new(SECRET_ID, SECRET_KEY).expect("credentials");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs() as i64;
        Signers {
            key_time: KeyTime::new(now, now + 3600),
            provider: StaticProvider::new(creds.clone()),
            creds,
            cache: SignKeyCache::new(),
            reqsign: reqsign_tencent_cos::RequestSigner::new(),
            reqsign_ctx: reqsign_core::Context::new(),
            reqsign_cred: reqsign_tencent_cos::Credential {
                secret_id: SECRET_ID.to_string(),
                secret_key: SECRET_KEY.to_string(),
                ..Default::default()
            },
        }
    }

    /// The pure signer on a request already split into parts.
    fn pure(&self, case: &Case) -> String {
        sign(
            black_box(&self.creds),
            black_box(self.key_time),
            black_box(&case.signable(&case.headers)),
        )
        .authorization
    }

    /// Request-level signing through the public API: credentials from the
    /// provider, the COS header rule over the `HeaderMap`, the cached
    /// SignKey, `Authorization` inserted.
    fn ours(&self, req: &mut Prepared) {
        let req = black_box(req);
        let creds = ready(self.provider.provide()).expect("static credentials");
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .filter(|(name, _)| HeaderRule::Cos.selects(name.as_str()))
            .map(|(name, value)| (name.as_str(), value.to_str().expect("ascii header")))
            .collect();
        let params: Vec<(&str, &str)> = req
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let signature = self.cache.sign(
            &creds,
            self.key_time,
            &SignableRequest {
                method: req.method.as_str(),
                path: &req.path,
                params: &params,
                headers: &headers,
            },
        );
        let value = HeaderValue::from_str(&signature.authorization).expect("ascii authorization");
        req.headers.insert(http::header::AUTHORIZATION, value);
    }

    /// reqsign's request-level signing, as OpenDAL does it.
    fn reqsign(&self, head: &mut http::request::Parts) {
        ready(self.reqsign.sign_request(
            &self.reqsign_ctx,
            black_box(head),
            Some(&self.reqsign_cred),
            None,
        ))
        .expect("reqsign signs");
    }
}

fn bench_signing(c: &mut Criterion) {
    let s = Signers::new();
    for case in cases() {
        check_equivalence(&case, &s.creds, &s.reqsign_cred);
        // The request-level path signs what the pure signer signs.
        let mut req = case.prepared();
        s.ours(&mut req);
        assert_eq!(
            req.headers[http::header::AUTHORIZATION],
            s.pure(&case).as_str(),
            "{}: request-level and pure signing disagree",
            case.name
        );
        let mut group = c.benchmark_group(format!("sign_{}", case.name));
        group.bench_function("coscls/auth::sign", |b| b.iter(|| black_box(s.pure(&case))));
        group.bench_function("coscls/request", |b| {
            b.iter_batched(
                || case.prepared(),
                |mut req| {
                    s.ours(&mut req);
                    req
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function("reqsign/sign_request", |b| {
            b.iter_batched(
                || case.parts(),
                |mut parts| {
                    s.reqsign(&mut parts);
                    parts
                },
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

/// Median ns/op of `blocks` alternating timed blocks of `per_block` calls
/// each, for the two request-level signers and the pure one. Interleaving
/// keeps a shared machine's load changes from landing on one side only.
fn interleaved_report() {
    let s = Signers::new();
    let (blocks, per_block) = (31, 2000);
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    eprintln!("interleaved ({blocks} blocks x {per_block} signatures per signer, median ns/op):");
    for case in cases() {
        let (mut pure, mut ours, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..blocks {
            let start = Instant::now();
            for _ in 0..per_block {
                black_box(s.pure(&case));
            }
            pure.push(start.elapsed().as_nanos() as f64 / per_block as f64);

            let mut reqs: Vec<_> = (0..per_block).map(|_| case.prepared()).collect();
            let start = Instant::now();
            for req in &mut reqs {
                s.ours(req);
            }
            ours.push(start.elapsed().as_nanos() as f64 / per_block as f64);
            drop(black_box(reqs));

            let mut heads: Vec<_> = (0..per_block).map(|_| case.parts()).collect();
            let start = Instant::now();
            for head in &mut heads {
                s.reqsign(head);
            }
            theirs.push(start.elapsed().as_nanos() as f64 / per_block as f64);
            drop(black_box(heads));
        }
        let (pure, ours, theirs) = (median(pure), median(ours), median(theirs));
        eprintln!(
            "  {:<11} coscls auth::sign {pure:>7.0}  coscls request {ours:>7.0}  reqsign sign_request {theirs:>7.0}  \
             reqsign/request = {:.2}x  reqsign/auth::sign = {:.2}x",
            case.name,
            theirs / ours,
            theirs / pure
        );
    }
}

criterion_group!(benches, bench_signing);

fn main() {
    interleaved_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
