//! An in-memory CLS for unit tests: a mock `HttpSend` that decodes every
//! upload, answers scripted faults first, and can hold requests.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use tokio::sync::watch;

use crate::auth::{BoxFuture, Credentials};
use crate::cls::limits::MAX_REQUEST_BYTES;
use crate::cls::proto::{Log, LogGroup, LogGroupList};
use crate::cls::Client;
use crate::transport::retry::RetryPolicy;
use crate::transport::{self, HttpSend, RequestBody, ResponseBody};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Fault {
    Status(u16),
    Reset,
}

/// A CLS that decodes every upload, answers scripted faults first, and can
/// hold requests until the test opens its gate.
#[derive(Debug)]
pub(crate) struct MockCls {
    pub(crate) script: Mutex<VecDeque<Fault>>,
    pub(crate) always: Mutex<Option<Fault>>,
    pub(crate) received: Mutex<Vec<(String, Option<String>, LogGroup)>>,
    pub(crate) gate: watch::Sender<bool>,
    pub(crate) requests: AtomicUsize,
}

impl MockCls {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(MockCls {
            script: Mutex::new(VecDeque::new()),
            always: Mutex::new(None),
            received: Mutex::new(Vec::new()),
            gate: watch::channel(true).0,
            requests: AtomicUsize::new(0),
        })
    }

    pub(crate) fn script(&self, faults: &[Fault]) {
        self.script.lock().unwrap().extend(faults.iter().copied());
    }

    pub(crate) fn logs(&self, topic: &str) -> Vec<Log> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _, _)| t == topic)
            .flat_map(|(_, _, g)| g.logs.clone())
            .collect()
    }

    pub(crate) fn groups(&self) -> Vec<LogGroup> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, g)| g.clone())
            .collect()
    }
}

impl HttpSend for MockCls {
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> BoxFuture<'_, Result<http::Response<ResponseBody>, transport::Error>> {
        Box::pin(async move {
            self.requests.fetch_add(1, Ordering::SeqCst);
            let mut gate = self.gate.subscribe();
            let _ = gate.wait_for(|open| *open).await;
            let fault = self
                .script
                .lock()
                .unwrap()
                .pop_front()
                .or(*self.always.lock().unwrap());
            let status = match fault {
                Some(Fault::Reset) => {
                    return Err(transport::Error::new(
                        transport::ErrorKind::Request,
                        "connection reset",
                    ))
                }
                Some(Fault::Status(s)) => s,
                None => 200,
            };
            if status == 200 {
                let (parts, body) = request.into_parts();
                let RequestBody::Bytes(body) = body else {
                    panic!("the producer sends in-memory bodies")
                };
                assert_eq!(parts.headers["x-cls-compress-type"], "lz4");
                let raw = lz4_flex::block::decompress(&body, MAX_REQUEST_BYTES).unwrap();
                let list = LogGroupList::decode(raw.as_slice()).unwrap();
                assert_eq!(list.log_group_list.len(), 1);
                let query = parts.uri.query().unwrap_or_default().to_string();
                let topic = query.trim_start_matches("topic_id=").to_string();
                let hash = parts
                    .headers
                    .get("x-cls-hashkey")
                    .map(|v| v.to_str().unwrap().to_string());
                let group = list.log_group_list.into_iter().next().unwrap();
                self.received.lock().unwrap().push((topic, hash, group));
            }
            let body = if status == 200 {
                Bytes::new()
            } else {
                Bytes::from(format!(
                    r#"{{"errorcode":"E{status}","errormessage":"scripted"}}"#
                ))
            };
            Ok(http::Response::builder()
                .status(status)
                .header("x-cls-requestid", "mock-req")
                .body(ResponseBody::from_bytes(body))
                .unwrap())
        })
    }
}

pub(crate) fn client(mock: &Arc<MockCls>, client_attempts: u32) -> Client {
    Client::builder()
        .endpoint("http://127.0.0.1:1")
        .credentials(Credentials::new("AKIDtest", "secret").unwrap())
        .transport(mock.clone())
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(client_attempts)
                .with_backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
        .build()
        .unwrap()
}
