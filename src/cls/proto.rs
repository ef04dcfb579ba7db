//! The CLS upload schema (`shared/protocol/cls.proto`, proto2), derived with prost.
//!
//! Hand-written derives instead of a `build.rs` + protoc step: the schema is
//! five small messages that have not changed across any SDK, and a build
//! script would need `protoc` on every machine. proto2 `required` fields are
//! marked `required`, so prost encodes them even when zero or empty, as the
//! official SDKs do (cls.md §2).

/// One log line: a time and key/value contents.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Log {
    /// Unix time in milliseconds (cls.md §2 recommends ms).
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
}
