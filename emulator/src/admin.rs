//! The unsigned admin API under `/_emulator/` (loopback only, for tests).
//!
//! | request | answer |
//! |---|---|
//! | `GET /_emulator/stats` | [`Stats`](crate::Stats) as JSON; `DELETE` resets |
//! | `GET /_emulator/faults` | [`FaultConfig`](crate::FaultConfig) as JSON (`latency_ms`) |
//! | `PUT /_emulator/faults` | replace it (missing fields take their defaults) |
//! | `GET /_emulator/cls/{topic_id}/logs` | JSON array of [`ReceivedLog`](crate::ReceivedLog); `DELETE` clears |
//! | `GET /_emulator/cls/topics` | topics that received logs |
//! | `GET /_emulator/health` | `{"status":"ok"}` |
//! | `POST /_emulator/clock/advance/{secs}` | moves the object clock (archive restores) forward; `{"object_clock_offset_secs":n}` |

use http::{HeaderValue, Method, Response, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;

use crate::body::{self, Body};
use crate::canonical::percent_decode;
use crate::faults::FaultConfig;
use crate::state::State;

fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let text =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    let len = text.len();
    let mut resp = Response::new(body::full(text));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert("content-length", HeaderValue::from(len));
    resp
}

fn error(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    json(status, &serde_json::json!({ "error": message.into() }))
}

/// The first field of a JSON object that does not fit its `FaultConfig`
/// type on its own (`"clock_offset_secs": 4e11` is a float, not an i64),
/// because serde's message gives only a line and column.
fn bad_field(data: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(data).ok()?;
    value.as_object()?.iter().find_map(|(name, v)| {
        let one = serde_json::json!({ name.as_str(): v });
        serde_json::from_value::<FaultConfig>(one)
            .is_err()
            .then(|| name.clone())
    })
}

/// Answers an admin request; `path` is what follows `/_emulator/`.
pub(crate) async fn handle(
    state: &State,
    method: &Method,
    path: &str,
    mut body: Incoming,
) -> Response<Body> {
    let path = path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["health"]) => json(StatusCode::OK, &serde_json::json!({ "status": "ok" })),
        (&Method::GET, ["stats"]) => json(StatusCode::OK, &state.stats()),
        (&Method::DELETE, ["stats"]) => {
            state.reset_stats();
            json(StatusCode::OK, &state.stats())
        }
        (&Method::GET, ["faults"]) => json(StatusCode::OK, &state.faults()),
        (&Method::PUT, ["faults"]) => {
            let data = match body::collect(&mut body, 64 * 1024).await {
                Ok(d) => d,
                Err(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "the body could not be read or is over 64 KiB",
                    )
                }
            };
            let faults: FaultConfig = match serde_json::from_slice(&data) {
                Ok(f) => f,
                Err(e) => {
                    let field = bad_field(&data)
                        .map(|f| format!(" (field {f})"))
                        .unwrap_or_default();
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("invalid FaultConfig JSON{field}: {e}"),
                    );
                }
            };
            if let Err(e) = faults.validate() {
                return error(StatusCode::BAD_REQUEST, e.to_string());
            }
            state.set_faults(faults);
            json(StatusCode::OK, &state.faults())
        }
        (&Method::POST, ["clock", "advance", secs]) => match secs.parse::<u32>() {
            Ok(n) => {
                let total = state.advance_object_clock(i64::from(n));
                json(
                    StatusCode::OK,
                    &serde_json::json!({ "object_clock_offset_secs": total }),
                )
            }
            Err(_) => error(
                StatusCode::BAD_REQUEST,
                format!("clock advance {secs:?} is not a number of seconds (0 to 4294967295)"),
            ),
        },
        (&Method::GET, ["cls", "topics"]) => json(StatusCode::OK, &state.topics()),
        (m, ["cls", topic, "logs"]) if m == Method::GET || m == Method::DELETE => {
            let Some(topic) = percent_decode(topic, false) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "the topic id is not valid percent-encoding",
                );
            };
            if m == Method::DELETE {
                state.clear_logs(&topic);
            }
            json(StatusCode::OK, &state.logs(&topic))
        }
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no admin endpoint {method} /_emulator/{path}"),
        ),
    }
}
