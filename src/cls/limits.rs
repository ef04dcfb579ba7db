//! The service's request limits (docs/protocol/cls.md §4) and the size accounting the
//! client and the producer share.
//!
//! Pure functions: a request that breaks a limit is refused here, before any
//! network call, with an error that names the group, log and limit.

use prost::Message;

use super::proto::{Log, LogGroupList};
use super::Error;

/// Log groups per request.
pub const MAX_GROUPS_PER_REQUEST: usize = 10;
/// Logs per group.
pub const MAX_LOGS_PER_GROUP: usize = 10_000;
/// Bytes in one field value (1 MiB, as the Go and C++ SDKs count it).
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Content bytes in one group (5 MiB). The service counts the values; the
/// client also counts the keys, so it never sends a group the service refuses.
pub const MAX_GROUP_CONTENT_BYTES: usize = 5 << 20;
/// Protobuf body of one request before compression (6 MiB).
pub const MAX_REQUEST_BYTES: usize = 6 << 20;

/// The bytes of keys and values in `log`, the measure of the 5 MiB group limit.
pub fn content_bytes(log: &Log) -> usize {
    log.contents
        .iter()
        .map(|c| c.key.len() + c.value.len())
        .sum()
}

/// The bytes `log` adds to an encoded `LogGroup`: its tag, length prefix and
/// message. The producer's memory cap and batch sizes count this.
pub fn wire_bytes(log: &Log) -> usize {
    let len = log.encoded_len();
    1 + prost::length_delimiter_len(len) + len
}

/// Checks one log on its own: every value within 1 MiB and the whole log
/// within a group's 5 MiB.
pub fn check_log(log: &Log) -> Result<(), Error> {
    if let Some(c) = log
        .contents
        .iter()
        .find(|c| c.value.len() > MAX_VALUE_BYTES)
    {
        return Err(Error::invalid_input(
            "log",
            format!(
                "the value of field {:?} is {} bytes; CLS accepts at most {MAX_VALUE_BYTES} per value",
                c.key,
                c.value.len()
            ),
        ));
    }
    let bytes = content_bytes(log);
    if bytes > MAX_GROUP_CONTENT_BYTES {
        return Err(Error::invalid_input(
            "log",
            format!(
                "its fields hold {bytes} bytes; a log group holds at most {MAX_GROUP_CONTENT_BYTES}"
            ),
        ));
    }
    Ok(())
}

/// Checks a whole request and returns its encoded length.
///
/// ```
/// use coscls::cls::{limits, Log, LogGroup, LogGroupList};
/// let ok = LogGroupList::new(vec![LogGroup::new(vec![Log::new(1).field("k", "v")])]);
/// assert!(limits::check_request(&ok).is_ok());
/// let too_many = LogGroupList::new(vec![LogGroup::new(vec![Log::new(1)]); 11]);
/// let err = limits::check_request(&too_many).unwrap_err();
/// assert!(err.to_string().contains("11 log groups"), "{err}");
/// ```
pub fn check_request(list: &LogGroupList) -> Result<usize, Error> {
    let groups = &list.log_group_list;
    if groups.is_empty() {
        return Err(Error::invalid_input(
            "log group list",
            "it has no log groups; send at least one",
        ));
    }
    if groups.len() > MAX_GROUPS_PER_REQUEST {
        return Err(Error::invalid_input(
            "log group list",
            format!(
                "it has {} log groups; CLS accepts at most {MAX_GROUPS_PER_REQUEST} per request",
                groups.len()
            ),
        ));
    }
    for (i, group) in groups.iter().enumerate() {
        let n = group.logs.len();
        if n == 0 || n > MAX_LOGS_PER_GROUP {
            return Err(Error::invalid_input(
                "log group",
                format!("group {i} has {n} logs; CLS accepts 1 to {MAX_LOGS_PER_GROUP} per group"),
            ));
        }
        let mut total = 0usize;
        for (j, log) in group.logs.iter().enumerate() {
            check_log(log).map_err(|e| match e {
                Error::InvalidInput { reason, .. } => {
                    Error::invalid_input("log", format!("group {i}, log {j}: {reason}"))
                }
                other => other,
            })?;
            total += content_bytes(log);
        }
        if total > MAX_GROUP_CONTENT_BYTES {
            return Err(Error::invalid_input(
                "log group",
                format!(
                    "group {i} holds {total} bytes of fields; CLS accepts at most {MAX_GROUP_CONTENT_BYTES} per group"
                ),
            ));
        }
    }
    let len = list.encoded_len();
    if len > MAX_REQUEST_BYTES {
        return Err(Error::invalid_input(
            "log group list",
            format!("it encodes to {len} bytes; CLS accepts at most {MAX_REQUEST_BYTES} per request before compression"),
        ));
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cls::proto::{LogGroup, LogGroupList};

    fn list(groups: Vec<LogGroup>) -> LogGroupList {
        LogGroupList::new(groups)
    }

    fn reason(r: Result<usize, Error>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn wire_bytes_add_up_to_the_encoded_group() {
        let logs: Vec<Log> = (0..300)
            .map(|i| Log::new(i * 1_000_000).field("k", "v".repeat(i as usize)))
            .collect();
        let sum: usize = logs.iter().map(wire_bytes).sum();
        assert_eq!(LogGroup::new(logs).encoded_len(), sum);
    }

    #[test]
    fn each_limit_is_enforced_with_a_message_naming_it() {
        let one = || Log::new(1).field("k", "v");
        assert!(reason(check_request(&list(vec![]))).contains("no log groups"));
        assert!(reason(check_request(&list(vec![LogGroup::new(vec![])])))
            .contains("group 0 has 0 logs"));
        let many = LogGroup::new(vec![one(); MAX_LOGS_PER_GROUP + 1]);
        assert!(reason(check_request(&list(vec![many]))).contains("10001 logs"));
        let at_limit = LogGroup::new(vec![one(); MAX_LOGS_PER_GROUP]);
        assert!(check_request(&list(vec![at_limit.clone(); MAX_GROUPS_PER_REQUEST])).is_ok());

        let big = Log::new(1).field("big", "x".repeat(MAX_VALUE_BYTES + 1));
        let r = reason(check_request(&list(vec![LogGroup::new(vec![one(), big])])));
        assert!(r.contains("group 0, log 1") && r.contains("\"big\""), "{r}");
        let max_value = Log::new(1).field("k", "x".repeat(MAX_VALUE_BYTES));
        assert!(check_log(&max_value).is_ok());

        // 6 values of 1 MiB: each fine, the group over 5 MiB.
        let six = LogGroup::new(vec![max_value.clone(); 6]);
        assert!(reason(check_request(&list(vec![six]))).contains("per group"));
        // 2 groups of 4 MiB + a bit: each group fine, the request over 6 MiB.
        let four = LogGroup::new(vec![max_value; 4]);
        assert!(reason(check_request(&list(vec![four.clone(), four]))).contains("per request"));
    }
}
