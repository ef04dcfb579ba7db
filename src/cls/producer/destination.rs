//! Where a record goes: a topic and an optional hash key.

use std::sync::Arc;

use super::batch::BatchKey;

/// Where a record goes: a topic, and optionally a hash key that routes its
/// batch to one partition (`x-cls-hashkey`). Records with different hash
/// keys never share a batch.
///
/// ```
/// use coscls::cls::Destination;
/// let plain: Destination = "topic-id".into();
/// let routed = Destination::new("topic-id").hashed_by("user-42");
/// assert_eq!(plain.topic(), routed.topic());
/// assert_eq!(routed.hash_key().map(str::len), Some(32));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    pub(super) key: BatchKey,
}

impl Destination {
    /// A topic, without hash key.
    pub fn new(topic: impl Into<Arc<str>>) -> Self {
        Destination {
            key: BatchKey {
                topic: topic.into(),
                hash_key: None,
            },
        }
    }

    /// Sets `x-cls-hashkey` verbatim.
    pub fn with_hash_key(mut self, hash_key: impl Into<Arc<str>>) -> Self {
        self.key.hash_key = Some(hash_key.into());
        self
    }

    /// Sets the hash key to the MD5 of `routing_key` (see
    /// [`PutLogsOptions::hash_key_of`](crate::cls::PutLogsOptions::hash_key_of)).
    pub fn hashed_by(self, routing_key: &str) -> Self {
        let key = crate::cls::PutLogsOptions::hash_key_of(routing_key)
            .hash_key
            .unwrap_or_default();
        self.with_hash_key(key)
    }

    /// The topic id.
    pub fn topic(&self) -> &str {
        &self.key.topic
    }

    /// The hash key.
    pub fn hash_key(&self) -> Option<&str> {
        self.key.hash_key.as_deref()
    }
}

impl From<&str> for Destination {
    fn from(topic: &str) -> Self {
        Destination::new(topic)
    }
}

impl From<String> for Destination {
    fn from(topic: String) -> Self {
        Destination::new(topic)
    }
}

impl From<&String> for Destination {
    fn from(topic: &String) -> Self {
        Destination::new(topic.as_str())
    }
}

impl From<Arc<str>> for Destination {
    fn from(topic: Arc<str>) -> Self {
        Destination::new(topic)
    }
}

impl From<&Destination> for Destination {
    fn from(d: &Destination) -> Self {
        d.clone()
    }
}
