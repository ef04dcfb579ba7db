//! Access control lists: GetBucketACL, PutBucketACL, GetObjectACL,
//! PutObjectACL (`?acl`).
//!
//! A PUT sets the ACL one of three ways, as COS allows: a canned ACL
//! (`x-cos-acl`), explicit grants sent as `x-cos-grant-*` headers (with an
//! optional canned ACL beside them), or a whole [`AccessControlPolicy`]
//! document as the body. A GET answers with the owner and the grants.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method};
use quick_xml::escape::escape;
use serde::Deserialize;

use crate::cos::headers::header_value;
use crate::cos::ops::tagging::xml_body_headers;
use crate::cos::request::Target;
use crate::cos::xml;
use crate::cos::{BucketAcl, Client, Error};
use crate::transport::{PreparedRequest, RequestBody};

/// The group URI that stands for everyone (anonymous users included).
pub const ALL_USERS_URI: &str = "http://cam.qcloud.com/groups/global/AllUsers";

/// A canned object ACL (`x-cos-acl` on an object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ObjectAcl {
    /// The object follows its bucket's ACL (COS's default).
    #[default]
    Default,
    /// Only the owner.
    Private,
    /// Anyone may read the object.
    PublicRead,
}

impl ObjectAcl {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectAcl::Default => "default",
            ObjectAcl::Private => "private",
            ObjectAcl::PublicRead => "public-read",
        }
    }
}

/// What a grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read the bucket listing or the object.
    Read,
    /// Write objects (buckets only).
    Write,
    /// Read the ACL.
    ReadAcp,
    /// Change the ACL.
    WriteAcp,
    /// All of the above.
    FullControl,
}

impl Permission {
    /// All permissions, in header order.
    pub const ALL: [Permission; 5] = [
        Permission::Read,
        Permission::Write,
        Permission::ReadAcp,
        Permission::WriteAcp,
        Permission::FullControl,
    ];

    /// The wire value in the XML (`READ`, `FULL_CONTROL`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadAcp => "READ_ACP",
            Permission::WriteAcp => "WRITE_ACP",
            Permission::FullControl => "FULL_CONTROL",
        }
    }

    /// The request header that grants it (`x-cos-grant-read`…).
    pub fn header(self) -> &'static str {
        match self {
            Permission::Read => "x-cos-grant-read",
            Permission::Write => "x-cos-grant-write",
            Permission::ReadAcp => "x-cos-grant-read-acp",
            Permission::WriteAcp => "x-cos-grant-write-acp",
            Permission::FullControl => "x-cos-grant-full-control",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Who a grant is for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grantee {
    /// A root or sub account: `100000000001` (a root account's UIN) or
    /// `qcs::cam::uin/100000000001:uin/100000000011` (a sub-account).
    Account {
        /// The account id.
        id: String,
        /// The display name COS shows (ignored when sending).
        display_name: Option<String>,
    },
    /// A group by URI, e.g. [`ALL_USERS_URI`].
    Group(String),
}

impl Grantee {
    /// An account by id.
    pub fn account(id: impl Into<String>) -> Self {
        Grantee::Account {
            id: id.into(),
            display_name: None,
        }
    }

    /// Everyone, anonymous users included.
    pub fn all_users() -> Self {
        Grantee::Group(ALL_USERS_URI.to_string())
    }

    fn check(&self) -> Result<(), Error> {
        let (what, value) = match self {
            Grantee::Account { id, .. } => ("grantee id", id.as_str()),
            Grantee::Group(uri) => ("grantee uri", uri.as_str()),
        };
        if value.is_empty()
            || value
                .chars()
                .any(|c| !(' '..='~').contains(&c) || c == '"' || c == ',')
        {
            return Err(Error::invalid_input(
                what,
                value,
                "must be non-empty printable ASCII without '\"' or ','",
            ));
        }
        Ok(())
    }

    /// The `id="…"` / `uri="…"` form of the grant headers.
    fn header_form(&self) -> String {
        match self {
            Grantee::Account { id, .. } => format!("id=\"{id}\""),
            Grantee::Group(uri) => format!("uri=\"{uri}\""),
        }
    }
}

/// One grant: a permission for a grantee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Who.
    pub grantee: Grantee,
    /// What.
    pub permission: Permission,
}

/// The owner of a bucket or object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Owner {
    /// `qcs::cam::uin/<uin>:uin/<uin>`.
    pub id: String,
    /// Display name, often the id again.
    pub display_name: Option<String>,
}

/// An ACL document: owner and grants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessControlPolicy {
    /// The owner.
    pub owner: Owner,
    /// The grants, in document order.
    pub grants: Vec<Grant>,
}

impl AccessControlPolicy {
    /// Whether `grantee` holds `permission` (directly or through `FULL_CONTROL`).
    ///
    /// ```
    /// use coscls::cos::{AccessControlPolicy, Grant, Grantee, Permission};
    /// let acl = AccessControlPolicy {
    ///     grants: vec![Grant { grantee: Grantee::all_users(), permission: Permission::Read }],
    ///     ..Default::default()
    /// };
    /// assert!(acl.allows(&Grantee::all_users(), Permission::Read));
    /// assert!(!acl.allows(&Grantee::all_users(), Permission::Write));
    /// ```
    pub fn allows(&self, grantee: &Grantee, permission: Permission) -> bool {
        let same = |g: &Grantee| match (g, grantee) {
            (Grantee::Account { id: a, .. }, Grantee::Account { id: b, .. }) => a == b,
            (Grantee::Group(a), Grantee::Group(b)) => a == b,
            _ => false,
        };
        self.grants.iter().any(|g| {
            same(&g.grantee)
                && (g.permission == permission || g.permission == Permission::FullControl)
        })
    }

    fn to_xml(&self) -> String {
        let mut out = String::from("<AccessControlPolicy><Owner><ID>");
        out.push_str(&escape(&self.owner.id));
        out.push_str("</ID>");
        if let Some(name) = &self.owner.display_name {
            out.push_str("<DisplayName>");
            out.push_str(&escape(name));
            out.push_str("</DisplayName>");
        }
        out.push_str("</Owner><AccessControlList>");
        for g in &self.grants {
            out.push_str(
                "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ",
            );
            match &g.grantee {
                Grantee::Account { id, .. } => {
                    out.push_str("xsi:type=\"CanonicalUser\"><ID>");
                    out.push_str(&escape(id));
                    out.push_str("</ID>");
                }
                Grantee::Group(uri) => {
                    out.push_str("xsi:type=\"Group\"><URI>");
                    out.push_str(&escape(uri));
                    out.push_str("</URI>");
                }
            }
            out.push_str("</Grantee><Permission>");
            out.push_str(g.permission.as_str());
            out.push_str("</Permission></Grant>");
        }
        out.push_str("</AccessControlList></AccessControlPolicy>");
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Canned {
    Bucket(BucketAcl),
    Object(ObjectAcl),
}

/// How a PutBucketACL / PutObjectACL sets the ACL.
///
/// ```
/// use coscls::cos::{AclOptions, BucketAcl, Grantee, Permission};
/// // Private, plus read access for one sub-account.
/// let opts = AclOptions::bucket_canned(BucketAcl::Private)
///     .grant(Grantee::account("qcs::cam::uin/100000000001:uin/100000000011"), Permission::Read);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AclOptions {
    canned: Option<Canned>,
    grants: Vec<Grant>,
    policy: Option<AccessControlPolicy>,
}

impl AclOptions {
    /// A canned bucket ACL (`x-cos-acl`), for [`Client::put_bucket_acl`].
    pub fn bucket_canned(acl: BucketAcl) -> Self {
        AclOptions {
            canned: Some(Canned::Bucket(acl)),
            ..Self::default()
        }
    }

    /// A canned object ACL (`x-cos-acl`), for [`Client::put_object_acl`].
    pub fn object_canned(acl: ObjectAcl) -> Self {
        AclOptions {
            canned: Some(Canned::Object(acl)),
            ..Self::default()
        }
    }

    /// Adds a grant, sent as an `x-cos-grant-*` header.
    pub fn grant(mut self, grantee: Grantee, permission: Permission) -> Self {
        self.grants.push(Grant {
            grantee,
            permission,
        });
        self
    }

    /// A whole ACL document as the body; it cannot be combined with a canned
    /// ACL or header grants.
    pub fn policy(policy: AccessControlPolicy) -> Self {
        AclOptions {
            policy: Some(policy),
            ..Self::default()
        }
    }

    /// Headers and body of the PUT, checked for the bucket (`for_object`
    /// false) or an object.
    fn request_parts(&self, for_object: bool) -> Result<(HeaderMap, RequestBody), Error> {
        if let Some(policy) = &self.policy {
            if self.canned.is_some() || !self.grants.is_empty() {
                return Err(Error::invalid_input(
                    "ACL",
                    "policy with canned ACL or grants",
                    "send either an AccessControlPolicy body or headers, not both",
                ));
            }
            if policy.owner.id.is_empty() {
                return Err(Error::invalid_input(
                    "ACL owner id",
                    "",
                    "an AccessControlPolicy needs the owner's id",
                ));
            }
            for g in &policy.grants {
                g.grantee.check()?;
            }
            let body = Bytes::from(policy.to_xml());
            let headers = xml_body_headers(&body);
            return Ok((headers, RequestBody::Bytes(body)));
        }
        let mut headers = HeaderMap::new();
        match (self.canned, for_object) {
            (None, _) if self.grants.is_empty() => {
                return Err(Error::invalid_input(
                    "ACL",
                    "empty",
                    "give a canned ACL, grants or a policy",
                ))
            }
            (None, _) => {}
            (Some(Canned::Bucket(acl)), false) => {
                headers.insert("x-cos-acl", header_value("ACL", acl.as_str())?);
            }
            (Some(Canned::Object(acl)), true) => {
                headers.insert("x-cos-acl", header_value("ACL", acl.as_str())?);
            }
            (Some(Canned::Bucket(acl)), true) => {
                return Err(Error::invalid_input(
                    "object ACL",
                    acl.as_str(),
                    "use AclOptions::object_canned for an object",
                ))
            }
            (Some(Canned::Object(acl)), false) => {
                return Err(Error::invalid_input(
                    "bucket ACL",
                    acl.as_str(),
                    "use AclOptions::bucket_canned for a bucket",
                ))
            }
        }
        for permission in Permission::ALL {
            let mut value = String::new();
            for g in self.grants.iter().filter(|g| g.permission == permission) {
                if for_object && permission == Permission::Write {
                    return Err(Error::invalid_input(
                        "object grant",
                        "WRITE",
                        "objects take READ, READ_ACP, WRITE_ACP or FULL_CONTROL",
                    ));
                }
                g.grantee.check()?;
                if !value.is_empty() {
                    value.push(',');
                }
                value.push_str(&g.grantee.header_form());
            }
            if !value.is_empty() {
                headers.insert(
                    HeaderName::from_static(permission.header()),
                    header_value("grant", &value)?,
                );
            }
        }
        // Strict signature mode signs a Content-Length on every PUT; the
        // body is empty.
        Ok((headers, RequestBody::Empty))
    }
}

/// PutBucketACL / PutObjectACL (`key` empty for the bucket).
pub(crate) fn put_acl(
    t: Target<'_>,
    key: &str,
    opts: &AclOptions,
) -> Result<PreparedRequest, Error> {
    let (headers, body) = opts.request_parts(!key.is_empty())?;
    let params = vec![("acl".to_string(), String::new())];
    if key.is_empty() {
        t.build(Method::PUT, "", params, headers, body)
    } else {
        t.object(Method::PUT, key, params, headers, body)
    }
}

/// GetBucketACL / GetObjectACL (`key` empty for the bucket).
pub(crate) fn get_acl(t: Target<'_>, key: &str) -> Result<PreparedRequest, Error> {
    let params = vec![("acl".to_string(), String::new())];
    if key.is_empty() {
        t.build(
            Method::GET,
            "",
            params,
            HeaderMap::new(),
            RequestBody::Empty,
        )
    } else {
        t.object(
            Method::GET,
            key,
            params,
            HeaderMap::new(),
            RequestBody::Empty,
        )
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PolicyXml {
    #[serde(rename = "Owner")]
    owner: OwnerXml,
    #[serde(rename = "AccessControlList")]
    list: ListXml,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OwnerXml {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "DisplayName")]
    display_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListXml {
    #[serde(rename = "Grant")]
    grants: Vec<GrantXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GrantXml {
    #[serde(rename = "Grantee")]
    grantee: GranteeXml,
    #[serde(rename = "Permission")]
    permission: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GranteeXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "DisplayName")]
    display_name: Option<String>,
    #[serde(rename = "URI")]
    uri: Option<String>,
}

fn parse_policy(what: &str, body: &[u8]) -> Result<AccessControlPolicy, Error> {
    let doc: PolicyXml = xml::parse(what, body)?;
    let mut grants = Vec::with_capacity(doc.list.grants.len());
    for g in doc.list.grants {
        let permission = Permission::parse(g.permission.trim()).ok_or_else(|| {
            Error::protocol(format!("{what}: unknown permission {:?}", g.permission))
        })?;
        let grantee = match (g.grantee.id, g.grantee.uri) {
            (Some(id), _) => Grantee::Account {
                id,
                display_name: g.grantee.display_name,
            },
            (None, Some(uri)) => Grantee::Group(uri),
            (None, None) => {
                return Err(Error::protocol(format!(
                    "{what}: a grantee has neither ID nor URI"
                )))
            }
        };
        grants.push(Grant {
            grantee,
            permission,
        });
    }
    Ok(AccessControlPolicy {
        owner: Owner {
            id: doc.owner.id,
            display_name: doc.owner.display_name,
        },
        grants,
    })
}

impl Client {
    /// The ACL of a bucket: its owner and grants.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad bucket name; `NoSuchBucket` when it
    /// does not exist.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::{Grantee, Permission};
    /// let acl = client.get_bucket_acl("examplebucket-1250000000").await?;
    /// if acl.allows(&Grantee::all_users(), Permission::Read) {
    ///     println!("the bucket is public");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_bucket_acl(&self, bucket: &str) -> Result<AccessControlPolicy, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("GetBucketACL", &bucket), async {
            let req = get_acl(self.target(&bucket), "")?;
            let (_, body) = self.send_for_body(req).await?;
            parse_policy("GetBucketACL", &body)
        })
        .await
    }

    /// Replaces the ACL of a bucket.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad bucket name, an empty or
    /// contradictory [`AclOptions`], an object canned ACL or a malformed
    /// grantee, before any request; service errors otherwise.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::{AclOptions, BucketAcl};
    /// client
    ///     .put_bucket_acl("examplebucket-1250000000", &AclOptions::bucket_canned(BucketAcl::PublicRead))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_bucket_acl(&self, bucket: &str, opts: &AclOptions) -> Result<(), Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("PutBucketACL", &bucket), async {
            let req = put_acl(self.target(&bucket), "", opts)?;
            self.send(req).await?;
            Ok(())
        })
        .await
    }

    /// The ACL of an object.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad bucket or key; `NoSuchKey` when the
    /// object does not exist.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let acl = client.get_object_acl("examplebucket-1250000000", "docs/a.txt").await?;
    /// println!("owned by {}", acl.owner.id);
    /// # Ok(()) }
    /// ```
    pub async fn get_object_acl(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<AccessControlPolicy, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("GetObjectACL", &bucket).with_key(key), async {
            let req = get_acl(self.target(&bucket), key)?;
            let (_, body) = self.send_for_body(req).await?;
            parse_policy("GetObjectACL", &body)
        })
        .await
    }

    /// Replaces the ACL of an object.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad bucket or key, an empty or
    /// contradictory [`AclOptions`], a bucket canned ACL, a `WRITE` grant
    /// or a malformed grantee, before any request; `NoSuchKey` when the
    /// object does not exist.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::{AclOptions, ObjectAcl};
    /// client
    ///     .put_object_acl("examplebucket-1250000000", "index.html", &AclOptions::object_canned(ObjectAcl::PublicRead))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_object_acl(
        &self,
        bucket: &str,
        key: &str,
        opts: &AclOptions,
    ) -> Result<(), Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("PutObjectACL", &bucket).with_key(key), async {
            let req = put_acl(self.target(&bucket), key, opts)?;
            self.send(req).await?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::{BucketName, Endpoint, Region};

    fn with_target(f: impl FnOnce(Target<'_>)) {
        let ep = Endpoint::for_region(&Region::parse("ap-guangzhou").unwrap());
        let b = BucketName::parse("examplebucket-1250000000").unwrap();
        f(Target {
            endpoint: &ep,
            bucket: &b,
        })
    }

    #[test]
    fn canned_and_grant_headers() {
        with_target(|t| {
            let opts = AclOptions::bucket_canned(BucketAcl::Private)
                .grant(Grantee::account("100000000011"), Permission::Read)
                .grant(Grantee::all_users(), Permission::Read)
                .grant(
                    Grantee::account("qcs::cam::uin/1:uin/2"),
                    Permission::FullControl,
                );
            let r = put_acl(t, "", &opts).unwrap();
            assert_eq!(r.headers["x-cos-acl"], "private");
            assert_eq!(
                r.headers["x-cos-grant-read"],
                format!("id=\"100000000011\",uri=\"{ALL_USERS_URI}\"")
            );
            assert_eq!(
                r.headers["x-cos-grant-full-control"],
                "id=\"qcs::cam::uin/1:uin/2\""
            );
            assert_eq!(r.headers["content-length"], "0");
            assert_eq!(r.params, vec![("acl".to_string(), String::new())]);
            // Object rules.
            let r = put_acl(t, "k", &AclOptions::object_canned(ObjectAcl::Default)).unwrap();
            assert_eq!(r.headers["x-cos-acl"], "default");
            assert!(put_acl(t, "k", &AclOptions::bucket_canned(BucketAcl::PublicRead)).is_err());
            assert!(put_acl(t, "", &AclOptions::object_canned(ObjectAcl::Private)).is_err());
            let write = AclOptions::default().grant(Grantee::all_users(), Permission::Write);
            assert!(put_acl(t, "k", &write).is_err());
            assert!(put_acl(t, "", &write).is_ok());
            assert!(put_acl(t, "", &AclOptions::default()).is_err());
            let bad = AclOptions::default().grant(Grantee::account("a\",b"), Permission::Read);
            let e = put_acl(t, "", &bad).unwrap_err();
            assert!(e.to_string().contains("grantee id"), "{e}");
        });
    }

    #[test]
    fn policy_body_round_trips() {
        let policy = AccessControlPolicy {
            owner: Owner {
                id: "qcs::cam::uin/100000000001:uin/100000000001".into(),
                display_name: Some("owner".into()),
            },
            grants: vec![
                Grant {
                    grantee: Grantee::account("qcs::cam::uin/100000000001:uin/100000000011"),
                    permission: Permission::WriteAcp,
                },
                Grant {
                    grantee: Grantee::all_users(),
                    permission: Permission::Read,
                },
            ],
        };
        let xml = policy.to_xml();
        assert!(xml.contains("xsi:type=\"Group\"><URI>"), "{xml}");
        assert_eq!(parse_policy("t", xml.as_bytes()).unwrap(), policy);
        with_target(|t| {
            let r = put_acl(t, "k", &AclOptions::policy(policy.clone())).unwrap();
            assert!(r.headers.contains_key("content-md5"));
            assert!(!r.headers.contains_key("x-cos-acl"));
            let mixed = AclOptions {
                canned: Some(Canned::Bucket(BucketAcl::Private)),
                ..AclOptions::policy(policy.clone())
            };
            assert!(put_acl(t, "", &mixed).is_err());
            assert!(put_acl(t, "", &AclOptions::policy(AccessControlPolicy::default())).is_err());
        });
    }

    #[test]
    fn parses_the_go_sdk_example() {
        let body = br#"<AccessControlPolicy>
	<Owner>
		<ID>qcs::cam::uin/100000760461:uin/100000760461</ID>
		<DisplayName>qcs::cam::uin/100000760461:uin/100000760461</DisplayName>
	</Owner>
	<AccessControlList>
		<Grant>
			<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="RootAccount">
				<ID>qcs::cam::uin/100000760461:uin/100000760461</ID>
				<DisplayName>qcs::cam::uin/100000760461:uin/100000760461</DisplayName>
			</Grantee>
			<Permission>FULL_CONTROL</Permission>
		</Grant>
	</AccessControlList>
</AccessControlPolicy>"#;
        let p = parse_policy("t", body).unwrap();
        assert_eq!(p.owner.id, "qcs::cam::uin/100000760461:uin/100000760461");
        assert_eq!(p.grants.len(), 1);
        assert_eq!(p.grants[0].permission, Permission::FullControl);
        assert!(parse_policy(
            "t",
            b"<AccessControlPolicy><AccessControlList><Grant><Grantee/><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"
        )
        .is_err());
        assert!(parse_policy(
            "t",
            b"<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>x</ID></Grantee><Permission>ALL</Permission></Grant></AccessControlList></AccessControlPolicy>"
        )
        .is_err());
    }
}
