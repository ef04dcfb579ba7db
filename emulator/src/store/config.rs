//! Bucket and object sub-resources kept beside the data: tags, ACLs and
//! lifecycle rules (plain data; the COS handlers check and render them).

use serde::{Deserialize, Serialize};

/// An ACL as set: a canned ACL and explicit grants (from `x-cos-grant-*`
/// headers or an `AccessControlPolicy` body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub(crate) struct StoredAcl {
    /// `private`, `public-read`… (`None` when a policy body set the grants).
    pub(crate) canned: Option<String>,
    pub(crate) grants: Vec<StoredGrant>,
}

/// One explicit grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredGrant {
    /// `READ`, `WRITE`, `READ_ACP`, `WRITE_ACP`, `FULL_CONTROL`.
    pub(crate) permission: String,
    /// Account id (`qcs::cam::uin/…:uin/…`) when `group` is false, group URI otherwise.
    pub(crate) grantee: String,
    pub(crate) group: bool,
}

/// A lifecycle action time: days after creation or an ISO 8601 date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RuleTime {
    Days(u32),
    Date(String),
}

/// One lifecycle rule as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredRule {
    pub(crate) id: String,
    pub(crate) enabled: bool,
    pub(crate) prefix: String,
    pub(crate) expiration: Option<RuleTime>,
    /// `(time, storage class)`.
    pub(crate) transitions: Vec<(RuleTime, String)>,
    pub(crate) abort_days: Option<u32>,
    pub(crate) noncurrent_days: Option<u32>,
}

/// What a bucket carries besides its objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub(crate) struct BucketConfig {
    /// `None`: never tagged (GetBucketTagging answers `NoSuchTagSet`).
    #[serde(default)]
    pub(crate) tags: Option<Vec<(String, String)>>,
    #[serde(default)]
    pub(crate) acl: Option<StoredAcl>,
    /// `None`: no configuration (`NoSuchLifecycleConfiguration`).
    #[serde(default)]
    pub(crate) lifecycle: Option<Vec<StoredRule>>,
}
