//! PostRestore: a temporary readable copy of an `ARCHIVE` / `DEEP_ARCHIVE`
//! object, and the `x-cos-restore` status HEAD and GET report for it.
//!
//! An archived object cannot be read (`403 InvalidObjectState`) until a
//! restore has finished; the copy then stays readable for the `days` asked
//! for. How long the restore takes depends on the [`RestoreTier`].

use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::cos::headers::content_md5;
use crate::cos::request::Target;
use crate::cos::response::{header, X_COS_REQUEST_ID};
use crate::cos::{Client, Error};
use crate::transport::{PreparedRequest, RequestBody};

/// How fast COS restores an archived object (`CASJobParameters/Tier`).
///
/// COS documents, for `ARCHIVE`: Expedited 1–5 minutes, Standard 3–5
/// hours, Bulk 5–12 hours; for `DEEP_ARCHIVE`: Standard within 24 hours,
/// Bulk within 48 hours (no Expedited).
///
/// ```
/// use coscls::cos::RestoreTier;
/// assert_eq!(RestoreTier::Expedited.as_str(), "Expedited");
/// assert_eq!(RestoreTier::default(), RestoreTier::Standard);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestoreTier {
    /// Fastest, dearest.
    Expedited,
    /// The default.
    #[default]
    Standard,
    /// Slowest, cheapest.
    Bulk,
}

impl RestoreTier {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreTier::Expedited => "Expedited",
            RestoreTier::Standard => "Standard",
            RestoreTier::Bulk => "Bulk",
        }
    }
}

/// The `x-cos-restore` header of an archived object (HEAD, GET).
///
/// ```
/// use coscls::cos::RestoreStatus;
/// assert_eq!(RestoreStatus::parse(r#"ongoing-request="true""#), Some(RestoreStatus::InProgress));
/// let done = RestoreStatus::parse(r#"ongoing-request="false", expiry-date="Wed, 12 Dec 2018 00:00:00 GMT""#).unwrap();
/// assert!(matches!(done, RestoreStatus::Restored { expiry: Some(_) }));
/// assert_eq!(RestoreStatus::parse("garbage"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreStatus {
    /// A restore was asked for and is not finished (`ongoing-request="true"`).
    InProgress,
    /// The restored copy is readable until `expiry` (`ongoing-request="false"`);
    /// `None` when the date was absent or not an HTTP date.
    Restored {
        /// `expiry-date`.
        expiry: Option<SystemTime>,
    },
}

impl RestoreStatus {
    /// Parses `ongoing-request="…"[, expiry-date="…"]`; `None` for anything
    /// else. Quoted values may hold commas (HTTP dates do).
    pub fn parse(value: &str) -> Option<RestoreStatus> {
        let mut ongoing = None;
        let mut expiry = None;
        let mut rest = value.trim();
        while !rest.is_empty() {
            let (name, after) = rest.split_once('=')?;
            let after = after.trim_start();
            let (v, tail) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let end = quoted.find('"')?;
                    (&quoted[..end], &quoted[end + 1..])
                }
                None => after.split_once(',').unwrap_or((after, "")),
            };
            match name.trim().to_ascii_lowercase().as_str() {
                "ongoing-request" => ongoing = Some(v.trim().eq_ignore_ascii_case("true")),
                "expiry-date" => expiry = httpdate::parse_http_date(v.trim()).ok(),
                _ => {}
            }
            rest = tail.trim_start().trim_start_matches(',').trim_start();
        }
        match ongoing? {
            true => Some(RestoreStatus::InProgress),
            false => Some(RestoreStatus::Restored { expiry }),
        }
    }
}

/// What PostRestore answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestoreOutput {
    /// `true` when a restore started (202 Accepted), `false` when the object
    /// was already restored and only its copy's expiry was moved (200 OK).
    pub started: bool,
    /// `x-cos-request-id`.
    pub request_id: Option<String>,
}

/// Longest `days` accepted locally (100 years): a larger value is a bug.
const MAX_RESTORE_DAYS: u32 = 36_500;

/// The `<RestoreRequest>` document.
fn restore_body(days: u32, tier: RestoreTier) -> String {
    format!(
        "<RestoreRequest><Days>{days}</Days><CASJobParameters><Tier>{}</Tier></CASJobParameters></RestoreRequest>",
        tier.as_str()
    )
}

/// PostRestore: `POST /<key>?restore` with the RestoreRequest and its MD5.
pub(crate) fn restore_request(
    t: Target<'_>,
    key: &str,
    days: u32,
    tier: RestoreTier,
) -> Result<PreparedRequest, Error> {
    if !(1..=MAX_RESTORE_DAYS).contains(&days) {
        return Err(Error::invalid_input(
            "days",
            &days.to_string(),
            "the restored copy must last from 1 to 36500 days",
        ));
    }
    let body = Bytes::from(restore_body(days, tier));
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert("content-md5", content_md5(&body));
    t.object(
        Method::POST,
        key,
        vec![("restore".to_string(), String::new())],
        headers,
        RequestBody::Bytes(body),
    )
}

impl Client {
    /// Asks COS to restore an `ARCHIVE` / `DEEP_ARCHIVE` object so it can be
    /// read for `days` days once the restore (of speed `tier`) finishes.
    /// Poll [`head_object`](Self::head_object) and its
    /// [`ObjectMeta::restore`](crate::cos::ObjectMeta::restore) to learn when.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request for a bad bucket or key or
    /// `days` outside 1..=36500; service errors `RestoreAlreadyInProgress`
    /// (409) while a restore runs, `RestoreNonArchiveObject` (405) for an
    /// object in another storage class, `NoSuchKey` (404).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::{RestoreStatus, RestoreTier};
    /// let bucket = "examplebucket-1250000000";
    /// client.restore_object(bucket, "2019/logs.tar", 3, RestoreTier::Bulk).await?;
    /// let meta = client.head_object(bucket, "2019/logs.tar").await?;
    /// if let Some(RestoreStatus::Restored { expiry }) = meta.restore {
    ///     println!("readable until {expiry:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn restore_object(
        &self,
        bucket: &str,
        key: &str,
        days: u32,
        tier: RestoreTier,
    ) -> Result<RestoreOutput, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("PostRestore", &bucket).with_key(key), async {
            let req = restore_request(self.target(&bucket), key, days, tier)?;
            let response = self.send(req).await?;
            Ok(RestoreOutput {
                started: response.status() == StatusCode::ACCEPTED,
                request_id: header(response.headers(), X_COS_REQUEST_ID),
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::{BucketName, Endpoint, Region};

    #[test]
    fn statuses() {
        assert_eq!(
            RestoreStatus::parse("ongoing-request=\"true\""),
            Some(RestoreStatus::InProgress)
        );
        let expiry = httpdate::parse_http_date("Wed, 12 Dec 2018 00:00:00 GMT").ok();
        assert_eq!(
            RestoreStatus::parse(
                "ongoing-request=\"false\", expiry-date=\"Wed, 12 Dec 2018 00:00:00 GMT\""
            ),
            Some(RestoreStatus::Restored { expiry })
        );
        // Order, spacing and case of the names do not matter.
        assert_eq!(
            RestoreStatus::parse(
                "Expiry-Date=\"Wed, 12 Dec 2018 00:00:00 GMT\" ,Ongoing-Request=\"false\""
            ),
            Some(RestoreStatus::Restored { expiry })
        );
        assert_eq!(
            RestoreStatus::parse("ongoing-request=\"false\", expiry-date=\"soon\""),
            Some(RestoreStatus::Restored { expiry: None })
        );
        assert_eq!(RestoreStatus::parse(""), None);
        assert_eq!(RestoreStatus::parse("expiry-date=\"x\""), None);
        assert_eq!(RestoreStatus::parse("ongoing-request=\"tr"), None);
    }

    #[test]
    fn request_shape() {
        let ep = Endpoint::for_region(&Region::parse("ap-guangzhou").unwrap());
        let b = BucketName::parse("examplebucket-1250000000").unwrap();
        let t = Target {
            endpoint: &ep,
            bucket: &b,
        };
        let r = restore_request(t, "a.tar", 2, RestoreTier::Expedited).unwrap();
        assert_eq!(r.method, Method::POST);
        assert_eq!(r.params, vec![("restore".to_string(), String::new())]);
        assert!(r.headers.contains_key("content-md5"));
        match &r.body {
            RequestBody::Bytes(b) => assert_eq!(
                &b[..],
                b"<RestoreRequest><Days>2</Days><CASJobParameters><Tier>Expedited</Tier></CASJobParameters></RestoreRequest>"
            ),
            _ => panic!("an in-memory body"),
        }
        let e = restore_request(t, "a.tar", 0, RestoreTier::Bulk).unwrap_err();
        assert!(e.to_string().contains("days"), "{e}");
        assert!(restore_request(t, "a.tar", 36_501, RestoreTier::Bulk).is_err());
        assert!(restore_request(t, "", 1, RestoreTier::Bulk).is_err());
    }
}
