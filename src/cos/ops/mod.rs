//! The COS operations, one family per file: its options, pure request
//! builder, response parser and `Client` methods.

pub(crate) mod acl;
pub(crate) mod append;
pub(crate) mod bucket;
pub(crate) mod copy;
pub(crate) mod delete;
pub(crate) mod get;
pub(crate) mod lifecycle;
pub(crate) mod list;
pub(crate) mod multipart;
pub(crate) mod post_policy;
pub(crate) mod presign;
pub(crate) mod put;
pub(crate) mod restore;
pub(crate) mod service;
pub(crate) mod tagging;
pub(crate) mod versioning;
