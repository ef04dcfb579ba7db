//! Raw signed requests against an in-process emulator: the tests build every
//! request by hand with `coscls::auth::sign` and reqwest, so what is tested is
//! the emulator's verification, not a client's conveniences.
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use coscls::auth::{path_encode, sign, uri_encode, Credentials, KeyTime, SignableRequest};
use coscls_emulator::Emulator;

pub const ID: &str = "AKIDtest";
pub const KEY: &str = "test-secret";
pub const STS_ID: &str = "AKIDsts";
pub const STS_KEY: &str = "sts-secret";
pub const STS_TOKEN: &str = "sts-token+/=";
pub const BUCKET: &str = "examplebucket-1250000000";

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An emulator with the test credentials and bucket; small parts allowed.
pub async fn start() -> Emulator {
    Emulator::builder()
        .credentials(ID, KEY)
        .temporary_credentials(STS_ID, STS_KEY, STS_TOKEN)
        .bucket(BUCKET)
        .min_part_size(5)
        .start()
        .await
        .expect("emulator starts")
}

/// One request to sign and send.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    /// Decoded path after the bucket (`/key`), or the whole path when `bucket` is None.
    pub path: String,
    pub bucket: Option<String>,
    pub params: Vec<(String, String)>,
    /// Signed headers (besides host).
    pub headers: Vec<(String, String)>,
    /// Sent but not signed.
    pub unsigned: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub creds: Credentials,
    pub key_time: Option<KeyTime>,
}

impl Req {
    pub fn new(method: &'static str, key: &str) -> Self {
        Req {
            method,
            path: format!("/{key}"),
            bucket: Some(BUCKET.to_string()),
            params: Vec::new(),
            headers: Vec::new(),
            unsigned: Vec::new(),
            body: Vec::new(),
            creds: Credentials::new(ID, KEY).unwrap(),
            key_time: None,
        }
    }

    pub fn param(mut self, k: &str, v: &str) -> Self {
        self.params.push((k.into(), v.into()));
        self
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }

    pub fn unsigned(mut self, k: &str, v: &str) -> Self {
        self.unsigned.push((k.into(), v.into()));
        self
    }

    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }

    pub fn creds(mut self, id: &str, key: &str) -> Self {
        self.creds = Credentials::new(id, key).unwrap();
        self
    }

    pub fn sts(mut self, token: Option<&str>) -> Self {
        let mut c = Credentials::new(STS_ID, STS_KEY).unwrap();
        if let Some(t) = token {
            c = c.with_session_token(t).unwrap();
        }
        self.creds = c;
        self
    }

    pub fn window(mut self, start: i64, end: i64) -> Self {
        self.key_time = Some(KeyTime::new(start, end));
        self
    }

    /// The full decoded path (path-style: `/<bucket>/<key>`).
    pub fn signed_path(&self) -> String {
        match &self.bucket {
            Some(b) => format!("/{b}{}", self.path),
            None => self.path.clone(),
        }
    }

    /// Signs and builds the reqwest request for `emu`.
    pub fn build(&self, http: &reqwest::Client, emu: &Emulator) -> reqwest::RequestBuilder {
        self.build_for(http, emu.addr())
    }

    /// Signs and builds the request for an emulator at `addr`; the body is
    /// left to the caller when `self.body` is empty.
    pub fn build_for(
        &self,
        http: &reqwest::Client,
        addr: std::net::SocketAddr,
    ) -> reqwest::RequestBuilder {
        let host = addr.to_string();
        let mut headers = self.headers.clone();
        if let Some(t) = self.creds.session_token() {
            headers.push(("x-cos-security-token".into(), t.expose().to_string()));
        }
        headers.push(("host".into(), host.clone()));
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let p: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let path = self.signed_path();
        let kt = self
            .key_time
            .unwrap_or_else(|| KeyTime::new(now() - 60, now() + 600));
        let sig = sign(
            &self.creds,
            kt,
            &SignableRequest {
                method: self.method,
                path: &path,
                params: &p,
                headers: &h,
            },
        );
        let mut url = format!("http://{host}{}", path_encode(&path));
        if !p.is_empty() {
            url.push('?');
            url.push_str(&query_string(&p));
        }
        let mut rb = http.request(self.method.parse().unwrap(), url);
        for (k, v) in headers.iter().chain(&self.unsigned) {
            if k != "host" {
                rb = rb.header(k.as_str(), v.as_str());
            }
        }
        rb = rb.header("authorization", sig.authorization);
        if !self.body.is_empty() {
            rb = rb.body(self.body.clone());
        }
        rb
    }

    pub async fn send(&self, emu: &Emulator) -> Reply {
        let http = reqwest::Client::new();
        let mut rb = self.build(&http, emu);
        if self.body.is_empty() && matches!(self.method, "PUT" | "POST") {
            rb = rb.body(Vec::new());
        }
        let resp = rb.send().await.expect("request sent");
        Reply::read(resp).await
    }
}

/// A response read to the end.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("body").to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `<Code>` of a COS error body.
    pub fn code(&self) -> String {
        let t = self.text();
        t.split_once("<Code>")
            .and_then(|(_, r)| r.split_once("</Code>"))
            .map(|(c, _)| c.to_string())
            .unwrap_or_default()
    }

    /// Text of the first `<tag>`.
    pub fn xml(&self, tag: &str) -> Option<String> {
        let t = self.text();
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        t.split_once(&open)
            .and_then(|(_, r)| r.split_once(&close))
            .map(|(v, _)| v.to_string())
    }

    /// Text of every `<tag>`.
    pub fn xml_all(&self, tag: &str) -> Vec<String> {
        let t = self.text();
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        t.split(&open)
            .skip(1)
            .filter_map(|r| r.split_once(&close).map(|(v, _)| v.to_string()))
            .collect()
    }

    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.text());
        self
    }
}

/// CRC-64/XZ as COS computes it.
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Xz, data)
}

/// GET /_emulator/{path} as JSON.
pub async fn admin(emu: &Emulator, path: &str) -> serde_json::Value {
    let body = reqwest::get(format!("{}/_emulator/{path}", emu.endpoint()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// `k=v&k=v`, each side percent-encoded as the signature encodes it (space
/// as `%20`, `+` as `%2B`), so the URL sent carries what was signed.
fn query_string(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}
