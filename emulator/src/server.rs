//! The HTTP/1.1 accept loop and the per-request pipeline: route, count,
//! inject faults, dispatch to COS / CLS / admin, add common headers.

use std::sync::Arc;

use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::body::{self, Body};
use crate::cls::ClsError;
use crate::cos::{self, errors::CosError};
use crate::routing::{self, Route};
use crate::state::State;
use crate::time::http_date;
use crate::wire_case::{CaseIo, HeadQueue};

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
pub(crate) struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// Accepts connections until `shutdown` changes or its sender is dropped;
/// then closes every open connection.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else {
                    // Out of file descriptors and the like: back off briefly.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let heads: HeadQueue = Default::default();
                let io = TokioIo::new(CaseIo::new(stream, heads.clone()));
                connections.spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let state = state.clone();
                        if let Ok(mut q) = heads.lock() {
                            q.push_back(req.method() == Method::HEAD);
                        }
                        async move { handle(state, req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(io, service)
                        .await;
                });
            }
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

enum Service {
    Cos,
    Cls,
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
    let (parts, mut body) = req.into_parts();
    // Absolute-form targets (requests through a proxy) carry the authority;
    // origin-form ones use Host. Routing and verification use this one host;
    // a target and a Host header that disagree are refused below, after the
    // request is counted like any other refusal.
    let host_headers: Vec<&[u8]> = parts
        .headers
        .get_all(http::header::HOST)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let target_authority = parts.uri.authority().map(|a| a.as_str());
    let (authority, host_mismatch) =
        match routing::request_host(parts.uri.scheme_str(), target_authority, &host_headers) {
            Ok(host) => (host, None),
            Err(mismatch) => (
                target_authority
                    .map(str::to_string)
                    .or_else(|| {
                        host_headers
                            .first()
                            .map(|h| String::from_utf8_lossy(h).into_owned())
                    })
                    .unwrap_or_default(),
                Some(mismatch),
            ),
        };
    let route = match routing::resolve(parts.uri.path(), &authority) {
        Ok(r) => r,
        Err(routing::InvalidUri(why)) => {
            let request_id = state.request_id();
            state.count(|s| s.requests += 1);
            body::drain(&mut body, cos::DRAIN_LIMIT).await;
            let e = CosError::new(400, "InvalidURI", why);
            let resp =
                cos::error_response(&e, &authority, &request_id, parts.method == Method::HEAD);
            return Ok(finish(&state, resp, Service::Cos, &request_id));
        }
    };
    if let Route::Admin(path) = &route {
        return Ok(crate::admin::handle(&state, &parts.method, path, body).await);
    }
    let request_id = state.request_id();
    let query = crate::canonical::parse_query(parts.uri.query().unwrap_or_default());
    let (service, op) = match &route {
        Route::Cos(target) => (
            Service::Cos,
            query
                .as_deref()
                .map(|q| cos::classify(&parts.method, target, q, &parts.headers).name())
                .unwrap_or("Unsupported"),
        ),
        _ => (Service::Cls, "UploadLog"),
    };
    state.count(|s| {
        s.requests += 1;
        *s.operations.entry(op.to_string()).or_default() += 1;
    });
    let decision = state.decide();
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let head = parts.method == Method::HEAD;
    let resource = format!("{authority}{}", parts.uri.path());
    let resp = if let Some(status) = decision.fail {
        state.count(|s| s.injected_errors += 1);
        body::drain(&mut body, cos::DRAIN_LIMIT).await;
        match service {
            Service::Cos => {
                cos::error_response(&CosError::injected(status), &resource, &request_id, head)
            }
            Service::Cls => ClsError::injected(status).into_response(),
        }
    } else {
        match (route, query) {
            (_, _) if host_mismatch.is_some() => {
                state.count(|s| s.auth_failures += 1);
                body::drain(&mut body, cos::DRAIN_LIMIT).await;
                let why = host_mismatch.map(|m| m.0).unwrap_or_default();
                match service {
                    Service::Cos => cos::error_response(
                        &CosError::new(
                            403,
                            "AccessDenied",
                            format!(
                                "Access Denied: {why}; a signature covers one host, so it \
                                 cannot authorise a request routed to another."
                            ),
                        ),
                        &resource,
                        &request_id,
                        head,
                    ),
                    Service::Cls => ClsError {
                        status: 401,
                        code: "Unauthorized",
                        message: format!("{why}; the signature cannot authorise another host."),
                    }
                    .into_response(),
                }
            }
            (_, None) => {
                body::drain(&mut body, cos::DRAIN_LIMIT).await;
                let why = "the query string is not valid percent-encoded UTF-8";
                match service {
                    Service::Cos => cos::error_response(
                        &CosError::new(400, "InvalidURI", why),
                        &resource,
                        &request_id,
                        head,
                    ),
                    Service::Cls => ClsError {
                        status: 400,
                        code: "InvalidParam",
                        message: why.into(),
                    }
                    .into_response(),
                }
            }
            (Route::Cos(target), Some(query)) => {
                let op = cos::classify(&parts.method, &target, &query, &parts.headers);
                let prepared = cos::Prepared {
                    parts,
                    body,
                    target,
                    query,
                    authority,
                    op,
                    corrupt: decision.corrupt,
                };
                cos::handle(&state, prepared, &request_id).await
            }
            (_, Some(query)) => crate::cls::handle(&state, parts, body, &query, &authority).await,
        }
    };
    let resp = finish(&state, resp, service, &request_id);
    if decision.drop {
        state.count(|s| s.dropped_connections += 1);
        let len = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let has_body = !head
            && len > 0
            && resp.status() != StatusCode::NO_CONTENT
            && resp.status() != StatusCode::NOT_MODIFIED;
        if !has_body {
            return Err(Dropped);
        }
        let (parts, body) = resp.into_parts();
        return Ok(Response::from_parts(parts, body::cut(body, len / 2)));
    }
    Ok(resp)
}

/// Adds the request id, `Date` and `Server`, and counts the status.
fn finish(
    state: &State,
    mut resp: Response<Body>,
    service: Service,
    request_id: &str,
) -> Response<Body> {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(
            match service {
                Service::Cos => "x-cos-request-id",
                Service::Cls => "x-cls-requestid",
            },
            v,
        );
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(state.now())) {
        h.insert(http::header::DATE, v);
    }
    h.insert(
        http::header::SERVER,
        HeaderValue::from_static("coscls-emulator"),
    );
    let status = resp.status().as_u16();
    state.count(|s| *s.statuses.entry(status).or_default() += 1);
    resp
}
