//! The CLS upload schema (`docs/protocol/cls.proto`, proto2), derived with prost.
//!
//! Hand-written derives instead of a `build.rs` + protoc step: the schema is
//! five small messages that have not changed across any SDK, and a build
//! script would need `protoc` on every machine. proto2 `required` fields are
//! marked `required`, so prost encodes them even when zero or empty, as the
//! official SDKs do (docs/protocol/cls.md §2).

/// One log line: a time and key/value contents.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Log {
    /// Unix time in milliseconds (docs/protocol/cls.md §2 recommends ms).
    #[prost(int64, required, tag = "1")]
    pub time: i64,
    /// The fields of the log.
    #[prost(message, repeated, tag = "2")]
    pub contents: Vec<LogContent>,
    /// Collection time; unused by the service, kept for schema parity with the Go SDK.
    #[prost(int64, optional, tag = "3")]
    pub collect_time: Option<i64>,
}

/// A key/value field of a [`Log`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogContent {
    /// Field name; must not start with `_`.
    #[prost(string, required, tag = "1")]
    pub key: String,
    /// Field value, at most 1 MB.
    #[prost(string, required, tag = "2")]
    pub value: String,
}

/// A group-level tag.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogTag {
    /// Tag name.
    #[prost(string, required, tag = "1")]
    pub key: String,
    /// Tag value.
    #[prost(string, required, tag = "2")]
    pub value: String,
}

/// Logs that share a source, file name and tags.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogGroup {
    /// 1 to 10 000 logs.
    #[prost(message, repeated, tag = "1")]
    pub logs: Vec<Log>,
    /// `{contextId}-{logGroupId}` in hex.
    #[prost(string, optional, tag = "2")]
    pub context_flow: Option<String>,
    /// Source file name.
    #[prost(string, optional, tag = "3")]
    pub filename: Option<String>,
    /// Usually the sender's IP.
    #[prost(string, optional, tag = "4")]
    pub source: Option<String>,
    /// Group tags.
    #[prost(message, repeated, tag = "5")]
    pub log_tags: Vec<LogTag>,
    /// Sender host name (Go/Rust SDK schemas only).
    #[prost(string, optional, tag = "6")]
    pub hostname: Option<String>,
}

/// The body of `POST /structuredlog`: at most 10 groups.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogGroupList {
    /// The groups.
    #[prost(message, repeated, tag = "1")]
    pub log_group_list: Vec<LogGroup>,
}

impl Log {
    /// A log stamped `time_ms` (Unix milliseconds) with no fields yet.
    ///
    /// ```
    /// use coscls::cls::Log;
    /// let log = Log::new(1_700_000_000_123).field("level", "INFO").field("msg", "hello");
    /// assert_eq!(log.contents.len(), 2);
    /// assert_eq!(log.contents[1].value, "hello");
    /// ```
    pub fn new(time_ms: i64) -> Self {
        Log {
            time: time_ms,
            contents: Vec::new(),
            collect_time: None,
        }
    }

    /// A log stamped with the current time.
    pub fn now() -> Self {
        Log::new(unix_millis(std::time::SystemTime::now()))
    }

    /// Adds a field.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.push(key, value);
        self
    }

    /// Adds a field in place.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.contents.push(LogContent {
            key: key.into(),
            value: value.into(),
        });
    }
}

impl LogGroup {
    /// A group of `logs` with no source, file name or tags.
    pub fn new(logs: Vec<Log>) -> Self {
        LogGroup {
            logs,
            ..Default::default()
        }
    }
}

impl LogGroupList {
    /// A request body holding `groups`.
    pub fn new(groups: Vec<LogGroup>) -> Self {
        LogGroupList {
            log_group_list: groups,
        }
    }

    /// Total number of logs across all groups.
    pub fn log_count(&self) -> usize {
        self.log_group_list.iter().map(|g| g.logs.len()).sum()
    }
}

/// Milliseconds since the Unix epoch (negative before it).
pub(crate) fn unix_millis(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn required_fields_are_encoded_even_when_empty() {
        // cls.proto header: Log{time:0, contents:[{k,""}]} -> 08 00 12 05 0a 01 6b 12 00
        let log = Log {
            time: 0,
            contents: vec![LogContent {
                key: "k".into(),
                value: String::new(),
            }],
            collect_time: None,
        };
        assert_eq!(hex::encode(log.encode_to_vec()), "080012050a016b1200");
    }

    /// The input of `tests/data/vectors/cls/log_group_list.json`, as the SDK built it.
    fn vector() -> (LogGroupList, serde_json::Value) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/vectors/cls/log_group_list.json"
        );
        let text = std::fs::read_to_string(path).expect("vector file");
        let v: serde_json::Value = serde_json::from_str(&text).expect("vector json");
        let s = |x: &serde_json::Value| x.as_str().expect("string").to_string();
        let groups = v["input"]["logGroupList"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| LogGroup {
                logs: g["logs"]
                    .as_array()
                    .expect("logs")
                    .iter()
                    .map(|l| Log {
                        time: l["time"].as_i64().expect("time"),
                        contents: l["contents"]
                            .as_array()
                            .expect("contents")
                            .iter()
                            .map(|c| LogContent {
                                key: s(&c["key"]),
                                value: s(&c["value"]),
                            })
                            .collect(),
                        collect_time: None,
                    })
                    .collect(),
                filename: g.get("filename").map(s),
                source: g.get("source").map(s),
                log_tags: g["logTags"]
                    .as_array()
                    .expect("tags")
                    .iter()
                    .map(|t| LogTag {
                        key: s(&t["key"]),
                        value: s(&t["value"]),
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        (LogGroupList::new(groups), v)
    }

    #[test]
    fn the_sdk_vector_encodes_byte_for_byte() {
        let (list, v) = vector();
        let encoded = list.encode_to_vec();
        assert_eq!(
            encoded.len() as u64,
            v["uncompressed_len"].as_u64().unwrap()
        );
        assert_eq!(
            hex::encode(&encoded),
            v["uncompressed_hex"].as_str().unwrap()
        );
        assert_eq!(LogGroupList::decode(encoded.as_slice()).unwrap(), list);
        assert_eq!(list.log_count(), 2);
    }

    #[test]
    fn the_sdk_lz4_block_round_trips() {
        let (list, v) = vector();
        let raw = list.encode_to_vec();
        let sdk_block = hex::decode(v["lz4"]["compressed_hex"].as_str().unwrap()).unwrap();
        // The SDK's raw block decompresses to our encoding...
        let decompressed = lz4_flex::block::decompress(&sdk_block, raw.len()).unwrap();
        assert_eq!(decompressed, raw);
        // ...and ours decompresses back to it (bytes may differ between encoders).
        let ours = crate::cls::compress::Compression::Lz4
            .compress(&raw)
            .unwrap();
        assert_eq!(
            lz4_flex::block::decompress(&ours.body, raw.len()).unwrap(),
            raw
        );
        assert_eq!(ours.header, Some("lz4"));
    }
}
