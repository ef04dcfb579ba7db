//! Credential sources against stand-ins: a tiny HTTP server in this file
//! plays STS (verifying each TC3-HMAC-SHA256 signature with its own
//! implementation, written here from the "Signature v3" page and sharing no
//! code with `coscls::auth::tc3`) and the CVM metadata service; the
//! credentials obtained then sign real requests to the embedded emulator,
//! which verifies those `q-sign` signatures and session tokens.
//!
//! Only `chain_order_env_then_file_then_instance_role` changes the process
//! environment; no other test here reads it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coscls::auth::{
    tc3_headers, AssumeRole, ChainProvider, Credentials, EnvProvider, Error, InstanceRole,
    ProfileFileProvider, ProvideCredentials, Tc3Call,
};
use coscls::cos::Client;
use coscls_emulator::Emulator;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const BUCKET: &str = "examplebucket-1250000000";
const LONG_ID: &str = "AKIDlongterm";
const LONG_KEY: &str = "long-term-secret";
const TMP_ID: &str = "AKIDsts";
const TMP_KEY: &str = "sts-secret";
const TMP_TOKEN: &str = "sts-token";
const ROLE_ARN: &str = "qcs::cam::uin/100000000001:roleName/uploader";

// ---------------------------------------------------------------- server

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

type Handler = Arc<dyn Fn(&Request) -> (u16, String) + Send + Sync>;

/// A one-request-per-connection HTTP/1.1 server recording what it got.
struct StandIn {
    base: String,
    seen: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl StandIn {
    async fn start(handler: Handler) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut conn).await else {
                        return;
                    };
                    let (status, body) = handler(&req);
                    log.lock().unwrap().push(req);
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = conn.write_all(head.as_bytes()).await;
                    let _ = conn.write_all(body.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        StandIn { base, seen, task }
    }

    fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(conn: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .map_or(Some(0), |v| v.parse().ok())?;
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

// ------------------------------------------------- independent TC3 check

fn hmac256(key: &[u8], msg: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(msg.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex_sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `YYYY-MM-DD` (UTC) through `httpdate`'s formatter, not the crate's
/// civil-date arithmetic.
fn utc_date(ts: u64) -> String {
    let http = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(ts));
    let p: Vec<&str> = http.split(' ').collect();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = months.iter().position(|x| *x == p[2]).unwrap() + 1;
    format!("{}-{m:02}-{}", p[3], p[1])
}

/// Verifies a TC3-HMAC-SHA256 request the way the signature page describes
/// it: `Err` names the first thing wrong.
fn verify_tc3(req: &Request, keys: &[(&str, &str)], service: &str) -> Result<String, String> {
    let auth = req.headers.get("authorization").ok_or("no Authorization")?;
    let rest = auth
        .strip_prefix("TC3-HMAC-SHA256 Credential=")
        .ok_or("not TC3-HMAC-SHA256")?;
    let (credential, rest) = rest
        .split_once(", SignedHeaders=")
        .ok_or("no SignedHeaders")?;
    let (signed, signature) = rest.split_once(", Signature=").ok_or("no Signature")?;
    let mut scope = credential.splitn(4, '/');
    let (id, date, svc, term) = (
        scope.next().ok_or("no id")?,
        scope.next().ok_or("no date")?,
        scope.next().ok_or("no service")?,
        scope.next().ok_or("no terminator")?,
    );
    if term != "tc3_request" || svc != service {
        return Err(format!("bad scope {credential}"));
    }
    let key = keys
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, v)| *v)
        .ok_or("unknown SecretId")?;
    let ts: u64 = req
        .headers
        .get("x-tc-timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or("no X-TC-Timestamp")?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now.abs_diff(ts) > 300 {
        return Err("timestamp outside 5 minutes".into());
    }
    if date != utc_date(ts) {
        return Err("scope date is not the timestamp's UTC date".into());
    }
    let names: Vec<&str> = signed.split(';').collect();
    if !names.contains(&"content-type") || !names.contains(&"host") {
        return Err("content-type and host must be signed".into());
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let value = req.headers.get(*name).ok_or("a signed header is missing")?;
        canonical_headers += &format!("{name}:{}\n", value.trim().to_lowercase());
    }
    let canonical = format!(
        "{}\n/\n\n{canonical_headers}\n{signed}\n{}",
        req.method,
        hex_sha256(&req.body)
    );
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{ts}\n{date}/{svc}/tc3_request\n{}",
        hex_sha256(canonical.as_bytes())
    );
    let k_date = hmac256(format!("TC3{key}").as_bytes(), date);
    let k_service = hmac256(&k_date, svc);
    let k_signing = hmac256(&k_service, "tc3_request");
    let expected: String = hmac256(&k_signing, &to_sign)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if expected != signature {
        return Err("signature mismatch".into());
    }
    Ok(id.to_string())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn api_error(code: &str, message: &str) -> String {
    format!(
        r#"{{"Response":{{"Error":{{"Code":"{code}","Message":"{message}"}},"RequestId":"req-err"}}}}"#
    )
}

/// STS playing by the rules: verifies the signature, the action, version and
/// region headers, then hands out the temporary credentials, valid `ttl` s.
fn sts(ttl: Arc<AtomicUsize>) -> Handler {
    Arc::new(move |req| {
        if req.method != "POST" || req.path != "/" {
            return (404, api_error("UnsupportedOperation", "POST / only"));
        }
        if let Err(why) = verify_tc3(req, &[(LONG_ID, LONG_KEY)], "sts") {
            return (200, api_error("AuthFailure.SignatureFailure", &why));
        }
        let h = |n: &str| req.headers.get(n).map(String::as_str);
        if h("x-tc-action") != Some("AssumeRole")
            || h("x-tc-version") != Some("2018-08-13")
            || h("x-tc-region").is_none()
        {
            return (200, api_error("InvalidAction", "bad action headers"));
        }
        let body: serde_json::Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => return (200, api_error("InvalidParameter", "body")),
        };
        if body["RoleArn"] != ROLE_ARN {
            return (
                200,
                api_error("InvalidParameter.RoleNotExist", "role not exist"),
            );
        }
        let expires = now() + ttl.load(Ordering::SeqCst) as u64;
        (
            200,
            format!(
                r#"{{"Response":{{"Credentials":{{"Token":"{TMP_TOKEN}","TmpSecretId":"{TMP_ID}","TmpSecretKey":"{TMP_KEY}"}},"ExpiredTime":{expires},"Expiration":"x","RequestId":"req-ok"}}}}"#
            ),
        )
    })
}

async fn emulator() -> Emulator {
    Emulator::builder()
        .temporary_credentials(TMP_ID, TMP_KEY, TMP_TOKEN)
        .bucket(BUCKET)
        .start()
        .await
        .expect("emulator starts")
}

fn cos(emu: &Emulator, provider: impl ProvideCredentials + 'static) -> Client {
    Client::builder()
        .region("ap-guangzhou")
        .endpoint(emu.endpoint())
        .credentials(provider)
        .build()
        .unwrap()
}

fn long_term() -> Credentials {
    Credentials::new(LONG_ID, LONG_KEY).unwrap()
}

// ------------------------------------------------------------------ STS

#[tokio::test]
async fn assume_role_signs_with_tc3_and_its_credentials_sign_cos_requests() {
    let stand_in = StandIn::start(sts(Arc::new(AtomicUsize::new(3600)))).await;
    let provider = AssumeRole::new(long_term(), ROLE_ARN, "nightly-job")
        .unwrap()
        .with_duration_seconds(1800)
        .unwrap()
        .with_policy(r#"{"version":"2.0","statement":[]}"#)
        .unwrap()
        .with_endpoint(&stand_in.base)
        .unwrap()
        .into_provider();
    let emu = emulator().await;
    let client = cos(&emu, provider);
    client.put_object(BUCKET, "sts.txt", "hello").await.unwrap();
    assert_eq!(
        client
            .head_object(BUCKET, "sts.txt")
            .await
            .unwrap()
            .content_length,
        5
    );
    assert_eq!(emu.stats().auth_failures, 0);

    let seen = stand_in.requests();
    assert_eq!(seen.len(), 1, "one AssumeRole call, then the cache");
    let req = &seen[0];
    assert_eq!(
        verify_tc3(req, &[(LONG_ID, LONG_KEY)], "sts"),
        Ok(LONG_ID.to_string())
    );
    assert_eq!(
        req.headers["authorization"]
            .split("SignedHeaders=")
            .nth(1)
            .unwrap()
            .split(',')
            .next(),
        Some("content-type;host;x-tc-action")
    );
    assert_eq!(req.headers["x-tc-region"], "ap-guangzhou");
    assert!(
        !req.headers.contains_key("x-tc-token"),
        "long-term source: no token"
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["RoleArn"], ROLE_ARN);
    assert_eq!(body["RoleSessionName"], "nightly-job");
    assert_eq!(body["DurationSeconds"], 1800);
    assert_eq!(
        body["Policy"],
        "%7B%22version%22%3A%222.0%22%2C%22statement%22%3A%5B%5D%7D"
    );
    emu.shutdown().await;
}

/// The verifier is not a rubber stamp: a request signed for one body and
/// sent with another, or signed with the wrong key, is refused.
#[tokio::test]
async fn the_stand_in_refuses_tampered_or_wrongly_signed_requests() {
    let signed_body = br#"{"RoleArn":"a"}"#;
    let call = Tc3Call {
        host: "sts.tencentcloudapi.com",
        service: "sts",
        action: "AssumeRole",
        version: "2018-08-13",
        region: Some("ap-guangzhou"),
        payload: signed_body,
    };
    let headers: BTreeMap<String, String> = tc3_headers(&long_term(), &call, now())
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let mut req = Request {
        method: "POST".into(),
        path: "/".into(),
        headers,
        body: signed_body.to_vec(),
    };
    assert!(verify_tc3(&req, &[(LONG_ID, LONG_KEY)], "sts").is_ok());
    assert_eq!(
        verify_tc3(&req, &[(LONG_ID, "other")], "sts"),
        Err("signature mismatch".into())
    );
    req.body = br#"{"RoleArn":"b"}"#.to_vec();
    assert_eq!(
        verify_tc3(&req, &[(LONG_ID, LONG_KEY)], "sts"),
        Err("signature mismatch".into())
    );
    req.body = signed_body.to_vec();
    req.headers
        .insert("x-tc-action".into(), "DeleteRole".into());
    assert_eq!(
        verify_tc3(&req, &[(LONG_ID, LONG_KEY)], "sts"),
        Err("signature mismatch".into()),
        "x-tc-action is signed"
    );
}

#[tokio::test]
async fn sts_error_answers_are_typed_and_name_the_code() {
    let stand_in = StandIn::start(sts(Arc::new(AtomicUsize::new(3600)))).await;
    let wrong_key = Credentials::new(LONG_ID, "not-the-key").unwrap();
    let call = AssumeRole::new(wrong_key, ROLE_ARN, "s1")
        .unwrap()
        .with_endpoint(&stand_in.base)
        .unwrap();
    let e = coscls::auth::FetchCredentials::fetch(&call)
        .await
        .unwrap_err();
    match &e {
        Error::Api {
            action,
            code,
            request_id,
            ..
        } => {
            assert_eq!(*action, "AssumeRole");
            assert_eq!(code, "AuthFailure.SignatureFailure");
            assert_eq!(request_id, "req-err");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!e.retryable());
    assert!(!e.to_string().contains("not-the-key"), "{e}");

    let other_role = AssumeRole::new(long_term(), "qcs::cam::uin/1:roleName/nope", "s1")
        .unwrap()
        .with_endpoint(&stand_in.base)
        .unwrap()
        .into_provider();
    let e = other_role.provide().await.unwrap_err();
    assert!(matches!(e, Error::Refresh(_)), "{e:?}");
    assert!(
        e.to_string().contains("InvalidParameter.RoleNotExist"),
        "the refresh error carries the code: {e}"
    );
    assert!(!e.retryable());

    // A client using it fails with the credentials error, before COS.
    let emu = emulator().await;
    let err = cos(&emu, other_role)
        .put_object(BUCKET, "k", "v")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("InvalidParameter.RoleNotExist"),
        "{err}"
    );
    assert_eq!(emu.stats().requests, 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn sts_credentials_are_renewed_inside_the_margin_only() {
    let ttl = Arc::new(AtomicUsize::new(3600));
    let stand_in = StandIn::start(sts(ttl.clone())).await;
    let provider = AssumeRole::new(long_term(), ROLE_ARN, "s1")
        .unwrap()
        .with_endpoint(&stand_in.base)
        .unwrap()
        .into_provider();
    provider.provide().await.unwrap();
    provider.provide().await.unwrap();
    assert_eq!(stand_in.requests().len(), 1, "an hour left: cached");

    // Credentials that expire within the 5-minute margin are renewed at
    // every use until a longer-lived set comes back.
    ttl.store(120, Ordering::SeqCst);
    let short = AssumeRole::new(long_term(), ROLE_ARN, "s1")
        .unwrap()
        .with_endpoint(&stand_in.base)
        .unwrap()
        .into_provider();
    short.provide().await.unwrap();
    short.provide().await.unwrap();
    assert_eq!(stand_in.requests().len(), 3);
    ttl.store(3600, Ordering::SeqCst);
    short.provide().await.unwrap();
    short.provide().await.unwrap();
    assert_eq!(stand_in.requests().len(), 4);
}

#[tokio::test]
async fn a_temporary_source_sends_its_token() {
    let stand_in = StandIn::start(Arc::new(|req: &Request| {
        let ok = verify_tc3(req, &[("AKIDsrc", "src-key")], "sts").is_ok()
            && req.headers.get("x-tc-token").map(String::as_str) == Some("src-token");
        if ok {
            (200, format!(r#"{{"Response":{{"Credentials":{{"Token":"t","TmpSecretId":"a","TmpSecretKey":"k"}},"ExpiredTime":{},"RequestId":"r"}}}}"#, now() + 3600))
        } else {
            (200, api_error("AuthFailure.TokenFailure", "token"))
        }
    }))
    .await;
    let source = Credentials::new("AKIDsrc", "src-key")
        .unwrap()
        .with_session_token("src-token")
        .unwrap();
    let provider = AssumeRole::new(source, ROLE_ARN, "s1")
        .unwrap()
        .with_endpoint(&stand_in.base)
        .unwrap()
        .into_provider();
    assert_eq!(provider.provide().await.unwrap().secret_id(), "a");
}

// ---------------------------------------------------------- instance role

const ROLE_PATH: &str = "/latest/meta-data/cam/security-credentials/";

fn metadata(role: Option<&'static str>, code: &'static str, ttl: Arc<AtomicUsize>) -> Handler {
    Arc::new(move |req| match (role, req.path.strip_prefix(ROLE_PATH)) {
        (None, Some(_)) => (404, "Not Found".into()),
        (Some(role), Some("")) => (200, format!("{role}\n")),
        (Some(role), Some(asked)) if asked == role => (
            200,
            format!(
                r#"{{"TmpSecretId":"{TMP_ID}","TmpSecretKey":"{TMP_KEY}","ExpiredTime":{},"Expiration":"x","Token":"{TMP_TOKEN}","Code":"{code}"}}"#,
                now() + ttl.load(Ordering::SeqCst) as u64
            ),
        ),
        _ => (404, "Not Found".into()),
    })
}

fn instance_role(stand_in: &StandIn) -> InstanceRole {
    InstanceRole::new()
        .with_endpoint(&format!("{}{ROLE_PATH}", stand_in.base))
        .unwrap()
}

#[tokio::test]
async fn instance_role_credentials_sign_cos_requests_and_refresh_before_expiry() {
    let ttl = Arc::new(AtomicUsize::new(3600));
    let stand_in = StandIn::start(metadata(Some("cvm-role"), "Success", ttl.clone())).await;
    let emu = emulator().await;
    let client = cos(&emu, instance_role(&stand_in).into_provider());
    client
        .put_object(BUCKET, "role.txt", "from the role")
        .await
        .unwrap();
    client.head_object(BUCKET, "role.txt").await.unwrap();
    assert_eq!(emu.stats().auth_failures, 0);
    let paths: Vec<String> = stand_in.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [ROLE_PATH.to_string(), format!("{ROLE_PATH}cvm-role")],
        "role discovered, credentials fetched once, then cached"
    );

    ttl.store(60, Ordering::SeqCst);
    let short = instance_role(&stand_in).into_provider();
    short.provide().await.unwrap();
    short.provide().await.unwrap();
    assert_eq!(
        stand_in.requests().len(),
        6,
        "inside the margin: fetched each time"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn instance_role_misses_and_failures_are_told_apart() {
    let ttl = Arc::new(AtomicUsize::new(3600));
    let none = StandIn::start(metadata(None, "Success", ttl.clone())).await;
    let e = instance_role(&none)
        .into_provider()
        .provide()
        .await
        .unwrap_err();
    assert!(e.is_absent(), "{e}");
    assert!(e.to_string().contains("no role is bound"), "{e}");

    let failing = StandIn::start(metadata(Some("r"), "Failed", ttl.clone())).await;
    let e = instance_role(&failing)
        .into_provider()
        .provide()
        .await
        .unwrap_err();
    assert!(!e.is_absent(), "{e}");
    assert!(
        e.to_string()
            .contains("instance role r: the metadata service answered Code \"Failed\""),
        "{e}"
    );

    // Nothing listening: a miss, not a hang.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = InstanceRole::new()
        .with_endpoint(&format!("http://127.0.0.1:{port}{ROLE_PATH}"))
        .unwrap();
    let e = closed.into_provider().provide().await.unwrap_err();
    assert!(e.is_absent(), "{e}");

    // Accepting but never answering: the short timeout turns it into a miss.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            held.push(c);
        }
    });
    let slow = InstanceRole::new()
        .with_endpoint(&format!("http://{addr}{ROLE_PATH}"))
        .unwrap()
        .with_timeout(Duration::from_millis(300))
        .into_provider();
    let outcome = tokio::time::timeout(Duration::from_secs(30), slow.provide())
        .await
        .expect("the probe must give up by itself");
    assert!(outcome.unwrap_err().is_absent());
    hold.abort();
}

// -------------------------------------------------------- file and chain

#[tokio::test]
async fn credentials_file_round_trip_and_missing_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("credentials");
    std::fs::write(
        &good,
        format!("[default]\nsecret_id = {TMP_ID}\nsecret_key = {TMP_KEY}\ntoken = {TMP_TOKEN}\n"),
    )
    .unwrap();
    let emu = emulator().await;
    let client = cos(&emu, ProfileFileProvider::new().with_path(&good));
    client.put_object(BUCKET, "file.txt", "x").await.unwrap();
    assert_eq!(emu.stats().auth_failures, 0);
    emu.shutdown().await;

    let bad = dir.path().join("bad");
    std::fs::write(
        &bad,
        "[default]\nsecret_id = AKIDx\n# secret_key forgotten\n",
    )
    .unwrap();
    let e = ProfileFileProvider::new()
        .with_path(&bad)
        .provide()
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "credentials file {}: section [default] has no secret_key",
            bad.display()
        )
    );
    assert!(!e.is_absent());
    let missing = dir.path().join("nope");
    let e = ProfileFileProvider::new()
        .with_path(&missing)
        .provide()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot be opened"), "{e}");
}

/// The default chain's order with its real sources (the instance role
/// pointed at the stand-in): each stage changes what is configured.
#[tokio::test]
async fn chain_order_env_then_file_then_instance_role() {
    let ttl = Arc::new(AtomicUsize::new(3600));
    let role = StandIn::start(metadata(Some("cvm-role"), "Success", ttl.clone())).await;
    let no_role = StandIn::start(metadata(None, "Success", ttl)).await;
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join(".tencentcloud").join("credentials");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let chain = |metadata: &StandIn| {
        ChainProvider::new()
            .with("environment", EnvProvider::new())
            .with("credentials file", ProfileFileProvider::new())
            .with("instance role", instance_role(metadata).into_provider())
    };
    for var in [
        "TENCENTCLOUD_SECRET_ID",
        "TENCENTCLOUD_SECRET_KEY",
        "TENCENTCLOUD_SESSION_TOKEN",
        "COS_SECRET_ID",
        "COS_SECRET_KEY",
        "COS_SESSION_TOKEN",
        "TENCENTCLOUD_CREDENTIALS_FILE",
    ] {
        std::env::remove_var(var);
    }
    std::env::set_var("HOME", home.path());
    std::env::set_var("USERPROFILE", home.path());

    // 1. Environment first, even with a file and a role present.
    std::fs::write(
        &file,
        "[default]\nsecret_id=AKIDfile\nsecret_key=file-key\n",
    )
    .unwrap();
    std::env::set_var("TENCENTCLOUD_SECRET_ID", "AKIDenv");
    std::env::set_var("TENCENTCLOUD_SECRET_KEY", "env-key");
    let c = chain(&role);
    assert_eq!(c.provide().await.unwrap().secret_id(), "AKIDenv");
    assert_eq!(c.chosen(), Some("environment"));
    std::env::remove_var("TENCENTCLOUD_SECRET_ID");
    std::env::remove_var("TENCENTCLOUD_SECRET_KEY");

    // 2. Then ~/.tencentcloud/credentials.
    let c = chain(&role);
    assert_eq!(c.provide().await.unwrap().secret_id(), "AKIDfile");
    assert_eq!(
        role.requests().len(),
        0,
        "the metadata service is not probed"
    );

    // 3. Then the instance role; its credentials then sign COS requests.
    std::fs::remove_file(&file).unwrap();
    let c = chain(&role);
    assert_eq!(c.provide().await.unwrap().secret_id(), TMP_ID);
    assert_eq!(c.chosen(), Some("instance role"));
    let emu = emulator().await;
    cos(&emu, c)
        .put_object(BUCKET, "chain.txt", "x")
        .await
        .unwrap();
    assert_eq!(emu.stats().auth_failures, 0);
    emu.shutdown().await;

    // 4. A file that is there but broken stops the chain: no fallback to
    //    the role's identity.
    std::fs::write(&file, "[default]\nsecret_id=AKIDfile\n").unwrap();
    let before = role.requests().len();
    let e = chain(&role).provide().await.unwrap_err().to_string();
    assert!(e.starts_with("no credentials found: environment: "), "{e}");
    assert!(e.contains("; credentials file: credentials file "), "{e}");
    assert!(e.contains("has no secret_key"), "{e}");
    assert!(!e.contains("instance role"), "{e}");
    assert_eq!(role.requests().len(), before);

    // 5. Nothing anywhere: every source is named with what it found.
    std::fs::remove_file(&file).unwrap();
    let e = chain(&no_role).provide().await.unwrap_err().to_string();
    assert!(
        e.contains("environment: credentials not found in the environment"),
        "{e}"
    );
    assert!(
        e.contains("credentials file: no credentials file (looked at "),
        "{e}"
    );
    assert!(
        e.contains("instance role: refreshing temporary credentials failed: no instance role: "),
        "{e}"
    );
    for secret in ["env-key", "file-key", TMP_KEY, TMP_TOKEN] {
        assert!(!e.contains(secret), "{e}");
    }
}
