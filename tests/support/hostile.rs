//! The attack kit: a misbehaving HTTP server on 127.0.0.1 that answers each
//! request with scripted raw bytes (short bodies, wrong ranges, marker
//! cycles, empty chunked bodies), or stalls, or resets the connection. One
//! request per connection; every answer closes it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// A query parameter's raw value (`Some("")` when present without one).
    pub fn query(&self, name: &str) -> Option<String> {
        let (_, q) = self.target.split_once('?')?;
        q.split('&').find_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k == name).then(|| v.to_string())
        })
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `GET` with a `Range` header.
    pub fn range(&self) -> Option<&str> {
        self.header("range")
    }
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Writes these bytes, then closes the connection.
    Raw(Vec<u8>),
    /// Reads the request and never answers (until the test ends).
    Stall,
    /// Closes the connection with a TCP reset and no answer.
    Reset,
}

/// An answer with `status`, `headers` and a `Content-Length` body.
pub fn answer(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut out = head(status, headers);
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    Reply::Raw(out)
}

/// An answer whose headers claim `content-length` but whose body is `body`
/// (shorter, to break off early).
pub fn answer_short(
    status: u16,
    headers: &[(&str, &str)],
    content_length: u64,
    body: &[u8],
) -> Reply {
    let mut out = head(status, headers);
    out.extend_from_slice(format!("content-length: {content_length}\r\n\r\n").as_bytes());
    out.extend_from_slice(body);
    Reply::Raw(out)
}

/// A chunked answer (no `Content-Length`) with these chunks, properly ended.
pub fn answer_chunked(status: u16, headers: &[(&str, &str)], chunks: &[&[u8]]) -> Reply {
    let mut out = head(status, headers);
    out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
    for c in chunks.iter().filter(|c| !c.is_empty()) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    Reply::Raw(out)
}

/// An XML 200.
pub fn xml(body: &str) -> Reply {
    answer(200, &[("content-type", "application/xml")], body.as_bytes())
}

/// A COS error answer (`403 AccessDenied` is not retried, which ends a test
/// client's loop on old code that would otherwise run for ever).
pub fn refuse() -> Reply {
    answer(
        403,
        &[("content-type", "application/xml")],
        b"<Error><Code>AccessDenied</Code><Message>hostile server: enough</Message></Error>",
    )
}

fn head(status: u16, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out =
        format!("HTTP/1.1 {status} Scripted\r\nconnection: close\r\nx-cos-request-id: hostile\r\n")
            .into_bytes();
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out
}

type Script = dyn Fn(usize, &Request) -> Reply + Send + Sync;

/// The running server; stops when dropped.
pub struct Hostile {
    addr: std::net::SocketAddr,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    /// Serves `script(n, request)` for the n-th request (0-based).
    pub async fn start(script: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let script: Arc<Script> = Arc::new(script);
        let counter = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (script, counter) = (script.clone(), counter.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, &*script, &counter).await;
                });
            }
        });
        Hostile {
            addr,
            requests,
            task,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn serve(
    mut stream: TcpStream,
    script: &Script,
    counter: &AtomicUsize,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let text = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let request = Request {
        method,
        target,
        headers,
    };
    // Drain a request body so the client is not stuck sending it.
    let body_len: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - end;
    while have < body_len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        have += n;
    }
    let n = counter.fetch_add(1, Ordering::SeqCst);
    match script(n, &request) {
        Reply::Raw(bytes) => {
            stream.write_all(&bytes).await?;
            stream.shutdown().await?;
        }
        Reply::Stall => std::future::pending::<()>().await,
        Reply::Reset => {
            // Deprecated because a non-zero linger blocks the thread on drop;
            // a zero linger sends the reset at once and never blocks.
            #[allow(deprecated)]
            stream.set_linger(Some(std::time::Duration::ZERO))?;
            drop(stream);
        }
    }
    Ok(())
}
