//! Bucket lifecycle rules: PutBucketLifecycle, GetBucketLifecycle,
//! DeleteBucketLifecycle (`?lifecycle`).
//!
//! A rule selects objects by key prefix and says what COS does with them
//! after some days or from a date: expire (delete) them, move them to
//! another storage class, or abort multipart uploads left unfinished
//! (the cheap way to stop paying for the parts of crashed uploads).
//! A PUT replaces the whole configuration and carries `Content-MD5`, which
//! COS requires for it.

use bytes::Bytes;
use http::{HeaderMap, Method};
use quick_xml::escape::escape;
use serde::Deserialize;

use crate::cos::ops::tagging::xml_body_headers;
use crate::cos::request::Target;
use crate::cos::xml;
use crate::cos::{Client, Error, StorageClass};
use crate::transport::{PreparedRequest, RequestBody};

/// Most rules one configuration may hold.
pub const MAX_LIFECYCLE_RULES: usize = 1000;
/// Longest rule id, in characters.
pub const MAX_RULE_ID_CHARS: usize = 255;

/// When an action applies: a number of days after the object was written
/// (or the upload initiated), or a date (ISO 8601 at midnight, e.g.
/// `2030-01-01T00:00:00+08:00`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleTime {
    /// Days after creation.
    Days(u32),
    /// From this date on.
    Date(String),
}

/// A transition to another storage class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// When.
    pub when: LifecycleTime,
    /// To which class.
    pub storage_class: StorageClass,
}

/// One lifecycle rule.
///
/// ```
/// use coscls::cos::{LifecycleRule, StorageClass};
/// let rule = LifecycleRule::new("logs")
///     .prefix("logs/")
///     .transition_after_days(30, StorageClass::STANDARD_IA)
///     .expire_after_days(365)
///     .abort_incomplete_multipart_upload_after_days(7);
/// assert!(rule.enabled);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LifecycleRule {
    /// Rule id, unique in the configuration (1 to 255 characters).
    pub id: String,
    /// `Status`: `Enabled` or `Disabled`.
    pub enabled: bool,
    /// `Filter/Prefix`: the keys the rule covers (empty: the whole bucket).
    pub prefix: String,
    /// `Expiration`: delete the objects.
    pub expiration: Option<LifecycleTime>,
    /// `Transition`s to other storage classes.
    pub transitions: Vec<Transition>,
    /// `AbortIncompleteMultipartUpload/DaysAfterInitiation`.
    pub abort_incomplete_multipart_upload_days: Option<u32>,
    /// `NoncurrentVersionExpiration/NoncurrentDays` (versioned buckets).
    pub noncurrent_version_expiration_days: Option<u32>,
}

impl LifecycleRule {
    /// An enabled rule over the whole bucket, with no action yet.
    pub fn new(id: impl Into<String>) -> Self {
        LifecycleRule {
            id: id.into(),
            enabled: true,
            prefix: String::new(),
            expiration: None,
            transitions: Vec::new(),
            abort_incomplete_multipart_upload_days: None,
            noncurrent_version_expiration_days: None,
        }
    }

    /// Limits the rule to keys starting with `prefix`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Keeps the rule but switches it off.
    pub fn disabled(mut self) -> Self {
        self.enabled = false;
        self
    }

    /// Deletes objects `days` days after they were written.
    pub fn expire_after_days(mut self, days: u32) -> Self {
        self.expiration = Some(LifecycleTime::Days(days));
        self
    }

    /// Deletes objects from `date` on (`2030-01-01T00:00:00+08:00`).
    pub fn expire_on(mut self, date: impl Into<String>) -> Self {
        self.expiration = Some(LifecycleTime::Date(date.into()));
        self
    }

    /// Moves objects to `class` `days` days after they were written.
    pub fn transition_after_days(mut self, days: u32, class: StorageClass) -> Self {
        self.transitions.push(Transition {
            when: LifecycleTime::Days(days),
            storage_class: class,
        });
        self
    }

    /// Aborts multipart uploads still unfinished `days` days after they began.
    pub fn abort_incomplete_multipart_upload_after_days(mut self, days: u32) -> Self {
        self.abort_incomplete_multipart_upload_days = Some(days);
        self
    }

    /// Deletes non-current versions `days` days after they were replaced.
    pub fn expire_noncurrent_versions_after_days(mut self, days: u32) -> Self {
        self.noncurrent_version_expiration_days = Some(days);
        self
    }

    fn check(&self) -> Result<(), Error> {
        let n = self.id.chars().count();
        if n == 0 || n > MAX_RULE_ID_CHARS || self.id.chars().any(char::is_control) {
            return Err(Error::invalid_input(
                "lifecycle rule id",
                &self.id,
                "must be 1 to 255 characters without control characters",
            ));
        }
        if self.prefix.chars().any(char::is_control)
            || self.prefix.len() > crate::cos::MAX_KEY_BYTES
        {
            return Err(Error::invalid_input(
                "lifecycle prefix",
                &self.prefix,
                "must be at most 850 bytes without control characters",
            ));
        }
        if self.expiration.is_none()
            && self.transitions.is_empty()
            && self.abort_incomplete_multipart_upload_days.is_none()
            && self.noncurrent_version_expiration_days.is_none()
        {
            return Err(Error::invalid_input(
                "lifecycle rule",
                &self.id,
                "has no action (expiration, transition, abort of incomplete uploads)",
            ));
        }
        if let Some(t) = &self.expiration {
            check_time("expiration", t, 1)?;
        }
        for t in &self.transitions {
            check_time("transition", &t.when, 0)?;
        }
        for (what, days) in [
            (
                "abort incomplete multipart upload days",
                self.abort_incomplete_multipart_upload_days,
            ),
            (
                "noncurrent version expiration days",
                self.noncurrent_version_expiration_days,
            ),
        ] {
            if days == Some(0) {
                return Err(Error::invalid_input(what, "0", "must be at least 1"));
            }
        }
        Ok(())
    }
}

fn check_time(what: &'static str, t: &LifecycleTime, min_days: u32) -> Result<(), Error> {
    match t {
        LifecycleTime::Days(d) if *d < min_days => Err(Error::invalid_input(
            what,
            &d.to_string(),
            &format!("days must be at least {min_days}"),
        )),
        LifecycleTime::Days(_) => Ok(()),
        LifecycleTime::Date(date) if is_midnight_date(date) => Ok(()),
        LifecycleTime::Date(date) => Err(Error::invalid_input(
            what,
            date,
            "dates are ISO 8601 at midnight, e.g. 2030-01-01T00:00:00+08:00 or 2030-01-01T00:00:00Z",
        )),
    }
}

/// `YYYY-MM-DDT00:00:00` followed by `Z` or `±hh:mm`.
fn is_midnight_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let date_ok = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && s.get(10..19) == Some("T00:00:00");
    let month = s.get(5..7).and_then(|m| m.parse::<u8>().ok());
    let day = s.get(8..10).and_then(|d| d.parse::<u8>().ok());
    let zone_ok = match s.get(19..) {
        Some("Z") => true,
        Some(z) => {
            let z = z.as_bytes();
            z.len() == 6
                && (z[0] == b'+' || z[0] == b'-')
                && z[1..3].iter().all(u8::is_ascii_digit)
                && z[3] == b':'
                && z[4..6].iter().all(u8::is_ascii_digit)
        }
        None => false,
    };
    date_ok
        && zone_ok
        && month.is_some_and(|m| (1..=12).contains(&m))
        && day.is_some_and(|d| (1..=31).contains(&d))
}

fn push_el(out: &mut String, tag: &str, value: &str) {
    out.push('<');
    out.push_str(tag);
    out.push('>');
    out.push_str(&escape(value));
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

fn push_time(out: &mut String, t: &LifecycleTime) {
    match t {
        LifecycleTime::Days(d) => push_el(out, "Days", &d.to_string()),
        LifecycleTime::Date(date) => push_el(out, "Date", date),
    }
}

/// The `<LifecycleConfiguration>` body of a PUT.
fn lifecycle_body(rules: &[LifecycleRule]) -> String {
    let mut out = String::from("<LifecycleConfiguration>");
    for r in rules {
        out.push_str("<Rule>");
        push_el(&mut out, "ID", &r.id);
        out.push_str("<Filter>");
        push_el(&mut out, "Prefix", &r.prefix);
        out.push_str("</Filter>");
        push_el(
            &mut out,
            "Status",
            if r.enabled { "Enabled" } else { "Disabled" },
        );
        for t in &r.transitions {
            out.push_str("<Transition>");
            push_time(&mut out, &t.when);
            push_el(&mut out, "StorageClass", t.storage_class.as_str());
            out.push_str("</Transition>");
        }
        if let Some(e) = &r.expiration {
            out.push_str("<Expiration>");
            push_time(&mut out, e);
            out.push_str("</Expiration>");
        }
        if let Some(d) = r.noncurrent_version_expiration_days {
            out.push_str("<NoncurrentVersionExpiration>");
            push_el(&mut out, "NoncurrentDays", &d.to_string());
            out.push_str("</NoncurrentVersionExpiration>");
        }
        if let Some(d) = r.abort_incomplete_multipart_upload_days {
            out.push_str("<AbortIncompleteMultipartUpload>");
            push_el(&mut out, "DaysAfterInitiation", &d.to_string());
            out.push_str("</AbortIncompleteMultipartUpload>");
        }
        out.push_str("</Rule>");
    }
    out.push_str("</LifecycleConfiguration>");
    out
}

/// PutBucketLifecycle: `PUT /?lifecycle` with the rules and `Content-MD5`.
pub(crate) fn put_lifecycle(
    t: Target<'_>,
    rules: &[LifecycleRule],
) -> Result<PreparedRequest, Error> {
    if rules.is_empty() || rules.len() > MAX_LIFECYCLE_RULES {
        return Err(Error::invalid_input(
            "lifecycle rules",
            &format!("{} rules", rules.len()),
            "a configuration holds 1 to 1000 rules; use delete_bucket_lifecycle to remove all",
        ));
    }
    for (i, r) in rules.iter().enumerate() {
        r.check()?;
        if rules[..i].iter().any(|o| o.id == r.id) {
            return Err(Error::invalid_input(
                "lifecycle rule id",
                &r.id,
                "is used by two rules",
            ));
        }
    }
    let body = Bytes::from(lifecycle_body(rules));
    let headers = xml_body_headers(&body);
    t.build(
        Method::PUT,
        "",
        vec![("lifecycle".to_string(), String::new())],
        headers,
        RequestBody::Bytes(body),
    )
}

/// GetBucketLifecycle / DeleteBucketLifecycle.
pub(crate) fn lifecycle_request(t: Target<'_>, method: Method) -> Result<PreparedRequest, Error> {
    t.build(
        method,
        "",
        vec![("lifecycle".to_string(), String::new())],
        HeaderMap::new(),
        RequestBody::Empty,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConfigurationXml {
    #[serde(rename = "Rule")]
    rules: Vec<RuleXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RuleXml {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Filter")]
    filter: Option<FilterXml>,
    #[serde(rename = "Expiration")]
    expiration: Option<TimeXml>,
    #[serde(rename = "Transition")]
    transitions: Vec<TimeXml>,
    #[serde(rename = "AbortIncompleteMultipartUpload")]
    abort: Option<AbortXml>,
    #[serde(rename = "NoncurrentVersionExpiration")]
    noncurrent: Option<NoncurrentXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FilterXml {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "And")]
    and: Option<AndXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AndXml {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TimeXml {
    #[serde(rename = "Days")]
    days: Option<u32>,
    #[serde(rename = "Date")]
    date: Option<String>,
    #[serde(rename = "StorageClass")]
    storage_class: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AbortXml {
    #[serde(rename = "DaysAfterInitiation")]
    days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoncurrentXml {
    #[serde(rename = "NoncurrentDays")]
    days: Option<u32>,
}

fn time(t: &TimeXml) -> Option<LifecycleTime> {
    match (&t.days, &t.date) {
        (Some(d), _) => Some(LifecycleTime::Days(*d)),
        (None, Some(date)) => Some(LifecycleTime::Date(date.clone())),
        (None, None) => None,
    }
}

fn parse_lifecycle(body: &[u8]) -> Result<Vec<LifecycleRule>, Error> {
    let doc: ConfigurationXml = xml::parse("GetBucketLifecycle", body)?;
    let mut rules = Vec::with_capacity(doc.rules.len());
    for r in doc.rules {
        let prefix = r
            .filter
            .as_ref()
            .and_then(|f| {
                f.prefix
                    .clone()
                    .or_else(|| f.and.as_ref().and_then(|a| a.prefix.clone()))
            })
            .or(r.prefix)
            .unwrap_or_default();
        let mut transitions = Vec::with_capacity(r.transitions.len());
        for t in &r.transitions {
            let when = time(t).ok_or_else(|| {
                Error::protocol("GetBucketLifecycle: a Transition has neither Days nor Date")
            })?;
            let class = StorageClass::new(t.storage_class.as_deref().unwrap_or("STANDARD_IA"))
                .map_err(|_| {
                    Error::protocol(format!(
                        "GetBucketLifecycle: bad transition storage class {:?}",
                        t.storage_class
                    ))
                })?;
            transitions.push(Transition {
                when,
                storage_class: class,
            });
        }
        rules.push(LifecycleRule {
            id: r.id,
            enabled: r.status.trim().eq_ignore_ascii_case("enabled"),
            prefix,
            expiration: r.expiration.as_ref().and_then(time),
            transitions,
            abort_incomplete_multipart_upload_days: r.abort.and_then(|a| a.days),
            noncurrent_version_expiration_days: r.noncurrent.and_then(|n| n.days),
        });
    }
    Ok(rules)
}

impl Client {
    /// Replaces the lifecycle configuration of a bucket with `rules`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before any request for a bad bucket name, no
    /// rules or more than 1000, a rule without an action, a duplicate or
    /// over-long id, zero days, or a date that is not ISO 8601 midnight;
    /// service errors (`MalformedXML`, `NoSuchBucket`) otherwise.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::LifecycleRule;
    /// client
    ///     .put_bucket_lifecycle(
    ///         "examplebucket-1250000000",
    ///         &[
    ///             LifecycleRule::new("tmp").prefix("tmp/").expire_after_days(1),
    ///             LifecycleRule::new("leftovers").abort_incomplete_multipart_upload_after_days(7),
    ///         ],
    ///     )
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_bucket_lifecycle(
        &self,
        bucket: &str,
        rules: &[LifecycleRule],
    ) -> Result<(), Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("PutBucketLifecycle", &bucket), async {
            let req = put_lifecycle(self.target(&bucket), rules)?;
            self.send(req).await?;
            Ok(())
        })
        .await
    }

    /// The lifecycle rules of a bucket.
    ///
    /// # Errors
    /// A bucket without a configuration answers 404
    /// `NoSuchLifecycleConfiguration` (check with [`Error::code`]);
    /// `NoSuchBucket` when it does not exist.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// match client.get_bucket_lifecycle("examplebucket-1250000000").await {
    ///     Ok(rules) => println!("{} rules", rules.len()),
    ///     Err(e) if e.code() == Some("NoSuchLifecycleConfiguration") => println!("no rules"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_bucket_lifecycle(&self, bucket: &str) -> Result<Vec<LifecycleRule>, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("GetBucketLifecycle", &bucket), async {
            let req = lifecycle_request(self.target(&bucket), Method::GET)?;
            let (_, body) = self.send_for_body(req).await?;
            parse_lifecycle(&body)
        })
        .await
    }

    /// Removes the lifecycle configuration of a bucket (no error when there
    /// was none).
    ///
    /// # Errors
    /// `NoSuchBucket` when the bucket does not exist.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// client.delete_bucket_lifecycle("examplebucket-1250000000").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_bucket_lifecycle(&self, bucket: &str) -> Result<(), Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("DeleteBucketLifecycle", &bucket), async {
            let req = lifecycle_request(self.target(&bucket), Method::DELETE)?;
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

    #[test]
    fn dates() {
        assert!(is_midnight_date("2030-01-01T00:00:00+08:00"));
        assert!(is_midnight_date("2030-12-31T00:00:00Z"));
        assert!(!is_midnight_date("2030-01-01T12:00:00Z"));
        assert!(!is_midnight_date("2030-13-01T00:00:00Z"));
        assert!(!is_midnight_date("2030-01-01"));
        assert!(!is_midnight_date("2030-01-01T00:00:00+8"));
        assert!(!is_midnight_date("２０３0-01-01T00:00:00Z"));
    }

    #[test]
    fn validation() {
        let ep = Endpoint::for_region(&Region::parse("ap-guangzhou").unwrap());
        let b = BucketName::parse("examplebucket-1250000000").unwrap();
        let t = Target {
            endpoint: &ep,
            bucket: &b,
        };
        let ok = LifecycleRule::new("a").expire_after_days(1);
        let r = put_lifecycle(t, std::slice::from_ref(&ok)).unwrap();
        assert!(r.headers.contains_key("content-md5"));
        assert_eq!(r.params, vec![("lifecycle".to_string(), String::new())]);
        let cases: Vec<(Vec<LifecycleRule>, &str)> = vec![
            (vec![], "1 to 1000"),
            (vec![LifecycleRule::new("a")], "no action"),
            (vec![LifecycleRule::new("").expire_after_days(1)], "rule id"),
            (vec![ok.clone(), ok.clone()], "two rules"),
            (
                vec![LifecycleRule::new("a").expire_after_days(0)],
                "at least 1",
            ),
            (
                vec![LifecycleRule::new("a").abort_incomplete_multipart_upload_after_days(0)],
                "at least 1",
            ),
            (
                vec![LifecycleRule::new("a").expire_on("tomorrow")],
                "ISO 8601",
            ),
            (
                vec![LifecycleRule::new("x".repeat(256)).expire_after_days(1)],
                "rule id",
            ),
        ];
        for (rules, want) in cases {
            let e = put_lifecycle(t, &rules).unwrap_err();
            assert!(e.to_string().contains(want), "{want}: {e}");
        }
        assert!(lifecycle_request(t, Method::DELETE).is_ok());
    }

    #[test]
    fn body_round_trips() {
        let rules = vec![
            LifecycleRule::new("logs & more")
                .prefix("logs/<x>")
                .transition_after_days(30, StorageClass::STANDARD_IA)
                .expire_after_days(365)
                .abort_incomplete_multipart_upload_after_days(7),
            LifecycleRule::new("date")
                .expire_on("2030-01-01T00:00:00+08:00")
                .expire_noncurrent_versions_after_days(3)
                .disabled(),
        ];
        let body = lifecycle_body(&rules);
        assert!(body.contains("<ID>logs &amp; more</ID><Filter><Prefix>logs/&lt;x&gt;</Prefix></Filter><Status>Enabled</Status>"), "{body}");
        assert!(body.contains("<AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload>"));
        assert_eq!(parse_lifecycle(body.as_bytes()).unwrap(), rules);
    }

    #[test]
    fn parses_legacy_and_and_filters() {
        let body = b"<LifecycleConfiguration><Rule><ID>r</ID><Prefix>old/</Prefix><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule><Rule><ID>s</ID><Filter><And><Prefix>p/</Prefix></And></Filter><Status>Disabled</Status><Transition><Date>2030-01-01T00:00:00Z</Date><StorageClass>ARCHIVE</StorageClass></Transition></Rule></LifecycleConfiguration>";
        let rules = parse_lifecycle(body).unwrap();
        assert_eq!(rules[0].prefix, "old/");
        assert_eq!(rules[0].expiration, Some(LifecycleTime::Days(2)));
        assert_eq!(rules[1].prefix, "p/");
        assert!(!rules[1].enabled);
        assert_eq!(rules[1].transitions[0].storage_class, StorageClass::ARCHIVE);
        assert!(parse_lifecycle(b"<LifecycleConfiguration><Rule><ID>t</ID><Transition><StorageClass>ARCHIVE</StorageClass></Transition></Rule></LifecycleConfiguration>").is_err());
    }
}
