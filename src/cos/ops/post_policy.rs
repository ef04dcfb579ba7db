//! Presigned POST (COS "POST Object"): a signed policy and the form fields
//! with which a browser, or any plain HTTP client, uploads one object by a
//! `multipart/form-data` POST to the bucket URL, without credentials.
//!
//! The policy is a JSON document, `{"expiration": "<ISO 8601 UTC>",
//! "conditions": [...]}`, that COS checks every upload against. It travels
//! base64-encoded in the `policy` field, and the signature is the one the
//! official Java SDK's `buildPostObjectSignature` computes:
//!
//! 1. `SignKey = hex(HMAC-SHA1(SecretKey, q-key-time))`;
//! 2. `StringToSign = hex(SHA1(policy))`, over the policy JSON itself;
//! 3. `q-signature = hex(HMAC-SHA1(SignKey, StringToSign))`.
//!
//! The signature fields (`q-sign-algorithm`, `q-ak`, `q-sign-time`), the
//! bucket and, for temporary credentials, `x-cos-security-token` are always
//! conditions too, so none of them can be swapped.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::{Digest as _, Sha1};

use crate::auth::{sign_key, Credentials, KeyTime};
use crate::cos::ops::presign::MAX_PRESIGN_VALIDITY;
use crate::cos::{validate_key, BucketName, Client, Error};

/// One condition of a POST policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostCondition {
    /// The form field `field` must be exactly `value` (`["eq", "$field", value]`).
    Equals {
        /// Form field name, e.g. `key`, `Content-Type`, `x-cos-meta-owner`.
        field: String,
        /// The only value accepted.
        value: String,
    },
    /// The form field `field` must start with `prefix` (`["starts-with", "$field", prefix]`).
    StartsWith {
        /// Form field name.
        field: String,
        /// Required prefix (empty accepts any value).
        prefix: String,
    },
    /// The file must be `min..=max` bytes (`["content-length-range", min, max]`).
    ContentLengthRange {
        /// Fewest bytes accepted.
        min: u64,
        /// Most bytes accepted.
        max: u64,
    },
}

/// What a presigned POST allows: how long, and under which conditions.
///
/// Methods that pin a field to one value (`key`, `content_type`,
/// `success_action_status`, `field`) also put that field in the
/// [`PresignedPost::fields`], so the form only needs the file.
///
/// ```
/// use std::time::Duration;
/// use coscls::cos::{PostCondition, PostPolicyOptions};
/// let opts = PostPolicyOptions::new(Duration::from_secs(600))
///     .key_starts_with("uploads/alice/")
///     .content_length_range(1, 10 * 1024 * 1024)
///     .content_type("image/png");
/// assert!(opts.conditions().contains(&PostCondition::ContentLengthRange { min: 1, max: 10 * 1024 * 1024 }));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PostPolicyOptions {
    expires_in: Duration,
    conditions: Vec<PostCondition>,
    fields: Vec<(String, String)>,
}

impl PostPolicyOptions {
    /// A policy valid for `expires_in` (at most 7 days) with no conditions
    /// besides the bucket and the signature fields.
    pub fn new(expires_in: Duration) -> Self {
        PostPolicyOptions {
            expires_in,
            conditions: Vec::new(),
            fields: Vec::new(),
        }
    }

    /// The upload must use exactly this key.
    pub fn key(self, key: impl Into<String>) -> Self {
        self.field("key", key)
    }

    /// The key must start with `prefix`; the `key` field is set to
    /// `<prefix>${filename}`, which COS replaces with the uploaded file's
    /// name (override it in the form to choose another key under `prefix`).
    pub fn key_starts_with(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.set_field("key", format!("{prefix}${{filename}}"));
        self.conditions.push(PostCondition::StartsWith {
            field: "key".into(),
            prefix,
        });
        self
    }

    /// The file must be `min..=max` bytes (400 `EntityTooSmall` /
    /// `EntityTooLarge` otherwise).
    pub fn content_length_range(mut self, min: u64, max: u64) -> Self {
        self.conditions
            .push(PostCondition::ContentLengthRange { min, max });
        self
    }

    /// The object's `Content-Type` (stored as its metadata).
    pub fn content_type(self, value: impl Into<String>) -> Self {
        self.field("Content-Type", value)
    }

    /// The form's `Content-Type` must start with `prefix` (e.g. `image/`);
    /// the uploader fills the field in.
    pub fn content_type_starts_with(mut self, prefix: impl Into<String>) -> Self {
        self.conditions.push(PostCondition::StartsWith {
            field: "Content-Type".into(),
            prefix: prefix.into(),
        });
        self
    }

    /// The status of a successful upload: 200, 201 (with an XML body) or
    /// 204 (COS's default).
    pub fn success_action_status(self, status: u16) -> Self {
        self.field("success_action_status", status.to_string())
    }

    /// Pins any form field (`x-cos-meta-*`, `Cache-Control`,
    /// `x-cos-storage-class`…) to `value` and adds it to the fields.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        self.set_field(&name, value.clone());
        self.conditions
            .push(PostCondition::Equals { field: name, value });
        self
    }

    /// Adds a condition as is (the field itself is left to the form).
    pub fn condition(mut self, condition: PostCondition) -> Self {
        self.conditions.push(condition);
        self
    }

    /// The conditions so far (without the ones signing adds).
    pub fn conditions(&self) -> &[PostCondition] {
        &self.conditions
    }

    fn set_field(&mut self, name: &str, value: String) {
        match self
            .fields
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.fields.push((name.to_string(), value)),
        }
    }
}

/// A signed POST policy: where to POST and the fields to send.
///
/// Send every field as a `multipart/form-data` part, then the file as the
/// **last** part, named `file` (COS ignores what follows it).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PresignedPost {
    /// The bucket URL the form is POSTed to.
    pub url: String,
    /// Form fields in order: the pinned ones (`key`…), then `policy`,
    /// `q-sign-algorithm`, `q-ak`, `q-key-time`, `q-signature` and, for
    /// temporary credentials, `x-cos-security-token`.
    pub fields: Vec<(String, String)>,
    /// The policy JSON that `policy` encodes (what was signed).
    pub policy: String,
}

impl std::fmt::Debug for PresignedPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The signature and token authorise uploads until expiry.
        let names: Vec<&str> = self.fields.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("PresignedPost")
            .field("url", &self.url)
            .field("fields", &names)
            .field("policy", &self.policy)
            .finish()
    }
}

impl PresignedPost {
    /// The value of a field, by name (case-insensitive).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `YYYY-MM-DDTHH:MM:SS.000Z` of Unix seconds (proleptic Gregorian, UTC).
pub(crate) fn iso8601(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days to civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn check_text(what: &'static str, value: &str) -> Result<(), Error> {
    if value.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            what,
            value,
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn check_condition(c: &PostCondition) -> Result<(), Error> {
    match c {
        PostCondition::Equals { field, value } => {
            check_field_name(field)?;
            check_text("policy value", value)?;
            if field.eq_ignore_ascii_case("key") {
                validate_key(value)?;
            }
            if field.eq_ignore_ascii_case("success_action_status")
                && !matches!(value.as_str(), "200" | "201" | "204")
            {
                return Err(Error::invalid_input(
                    "success_action_status",
                    value,
                    "must be 200, 201 or 204",
                ));
            }
        }
        PostCondition::StartsWith { field, prefix } => {
            check_field_name(field)?;
            check_text("policy prefix", prefix)?;
        }
        PostCondition::ContentLengthRange { min, max } => {
            if min > max {
                return Err(Error::invalid_input(
                    "content length range",
                    &format!("{min}..={max}"),
                    "min must not exceed max",
                ));
            }
        }
    }
    Ok(())
}

fn check_field_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
        return Err(Error::invalid_input(
            "policy field",
            name,
            "must be a non-empty printable ASCII form field name",
        ));
    }
    const SIGNED: [&str; 6] = [
        "policy",
        "q-sign-algorithm",
        "q-ak",
        "q-key-time",
        "q-signature",
        "x-cos-security-token",
    ];
    if SIGNED.iter().any(|s| name.eq_ignore_ascii_case(s)) || name.eq_ignore_ascii_case("file") {
        return Err(Error::invalid_input(
            "policy field",
            name,
            "is set by signing (or is the file); do not add it",
        ));
    }
    Ok(())
}

/// Builds and signs a POST policy for `bucket` valid during `key_time`
/// (its end is the policy's `expiration`): pure, for tests and servers
/// that sign on behalf of browsers. `url` is the bucket URL to return.
///
/// ```
/// use std::time::Duration;
/// use coscls::auth::{Credentials, KeyTime};
/// use coscls::cos::{presign_post, BucketName, PostPolicyOptions};
/// let creds = Credentials::new("AKIDexample", "secret").unwrap();
/// let bucket = BucketName::parse("examplebucket-1250000000").unwrap();
/// let opts = PostPolicyOptions::new(Duration::from_secs(600)).key("a.txt");
/// let post = presign_post(&creds, &bucket, "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/",
///     KeyTime::new(1700000000, 1700000600), &opts).unwrap();
/// assert_eq!(post.field("key"), Some("a.txt"));
/// assert_eq!(post.field("q-key-time"), Some("1700000000;1700000600"));
/// assert!(post.policy.contains("\"expiration\":\"2023-11-14T22:23:20.000Z\""));
/// ```
///
/// # Errors
///
/// [`Error::InvalidInput`] for a bad key, field name, `success_action_status`
/// or size range.
pub fn presign_post(
    credentials: &Credentials,
    bucket: &BucketName,
    url: &str,
    key_time: KeyTime,
    opts: &PostPolicyOptions,
) -> Result<PresignedPost, Error> {
    for c in &opts.conditions {
        check_condition(c)?;
    }
    let kt = key_time.to_string();
    let mut conditions = vec![
        serde_json::json!({ "bucket": bucket.as_str() }),
        serde_json::json!({ "q-sign-algorithm": "sha1" }),
        serde_json::json!({ "q-ak": credentials.secret_id() }),
        serde_json::json!({ "q-sign-time": kt }),
    ];
    if let Some(token) = credentials.session_token() {
        conditions.push(serde_json::json!({ "x-cos-security-token": token.expose() }));
    }
    for c in &opts.conditions {
        conditions.push(match c {
            PostCondition::Equals { field, value } => {
                serde_json::json!(["eq", format!("${field}"), value])
            }
            PostCondition::StartsWith { field, prefix } => {
                serde_json::json!(["starts-with", format!("${field}"), prefix])
            }
            PostCondition::ContentLengthRange { min, max } => {
                serde_json::json!(["content-length-range", min, max])
            }
        });
    }
    let policy = serde_json::json!({
        "expiration": iso8601(key_time.end),
        "conditions": conditions,
    })
    .to_string();
    let signature = {
        let key = sign_key(credentials.secret_key().expose(), key_time);
        let string_to_sign = hex::encode(Sha1::digest(policy.as_bytes()));
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key.as_bytes())
            .map_err(|_| Error::protocol("HMAC rejected the SignKey"))?;
        mac.update(string_to_sign.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    let mut fields = opts.fields.clone();
    fields.extend([
        (
            "policy".to_string(),
            base64::engine::general_purpose::STANDARD.encode(policy.as_bytes()),
        ),
        ("q-sign-algorithm".to_string(), "sha1".to_string()),
        ("q-ak".to_string(), credentials.secret_id().to_string()),
        ("q-key-time".to_string(), kt),
        ("q-signature".to_string(), signature),
    ]);
    if let Some(token) = credentials.session_token() {
        fields.push((
            "x-cos-security-token".to_string(),
            token.expose().to_string(),
        ));
    }
    Ok(PresignedPost {
        url: url.to_string(),
        fields,
        policy,
    })
}

impl Client {
    /// A presigned POST for `bucket`: the URL and signed form fields with
    /// which a browser uploads one object under the conditions of `opts`,
    /// until `opts`' validity ends (never beyond temporary credentials'
    /// expiry). The window starts a minute in the past and follows the
    /// clock offset learned from the server, as
    /// [`presigned_url`](Self::presigned_url) does.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad bucket, a validity of 0 or over 7
    /// days, credentials that expire first, or a bad condition;
    /// [`Error::Credentials`] when no credentials can be had.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use std::time::Duration;
    /// use coscls::cos::PostPolicyOptions;
    /// let opts = PostPolicyOptions::new(Duration::from_secs(900))
    ///     .key_starts_with("avatars/alice/")
    ///     .content_length_range(1, 5 * 1024 * 1024)
    ///     .content_type_starts_with("image/");
    /// let post = client.presigned_post("examplebucket-1250000000", &opts).await?;
    /// println!("<form action=\"{}\" method=\"post\" enctype=\"multipart/form-data\">", post.url);
    /// for (name, value) in &post.fields {
    ///     println!("  <input type=\"hidden\" name=\"{name}\" value=\"{value}\">");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn presigned_post(
        &self,
        bucket: &str,
        opts: &PostPolicyOptions,
    ) -> Result<PresignedPost, Error> {
        let bucket = Self::bucket(bucket)?;
        if opts.expires_in.is_zero() || opts.expires_in > MAX_PRESIGN_VALIDITY {
            return Err(Error::invalid_input(
                "expires_in",
                &format!("{:?}", opts.expires_in),
                "must be more than 0 and at most 7 days",
            ));
        }
        for c in &opts.conditions {
            check_condition(c)?;
        }
        let resolved = self.inner.endpoint.object_url(&bucket, "", &[])?;
        let creds = self.inner.provider.provide().await?;
        let key_time =
            crate::cos::ops::presign::window(&creds, opts.expires_in, self.clock_offset())?;
        presign_post(&creds, &bucket, &resolved.url, key_time, opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(4_102_444_799), "2099-12-31T23:59:59.000Z");
    }

    fn bucket() -> BucketName {
        BucketName::parse("examplebucket-1250000000").unwrap()
    }

    #[test]
    fn signature_is_the_documented_one() {
        // Fixed vector, computed outside this crate with Python's hmac and
        // hashlib over the same policy text and key time.
        let creds = Credentials::new("AKIDexample", "secret").unwrap();
        let opts = PostPolicyOptions::new(Duration::from_secs(600)).key("a.txt");
        let post = presign_post(
            &creds,
            &bucket(),
            "https://x/",
            KeyTime::new(1_700_000_000, 1_700_000_600),
            &opts,
        )
        .unwrap();
        assert_eq!(
            post.policy,
            r#"{"conditions":[{"bucket":"examplebucket-1250000000"},{"q-sign-algorithm":"sha1"},{"q-ak":"AKIDexample"},{"q-sign-time":"1700000000;1700000600"},["eq","$key","a.txt"]],"expiration":"2023-11-14T22:23:20.000Z"}"#
        );
        assert_eq!(post.field("q-signature"), Some(EXPECTED_SIGNATURE));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(post.field("policy").unwrap())
            .unwrap();
        assert_eq!(decoded, post.policy.as_bytes());
        let names: Vec<&str> = post.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "key",
                "policy",
                "q-sign-algorithm",
                "q-ak",
                "q-key-time",
                "q-signature"
            ]
        );
        assert!(!format!("{post:?}").contains(EXPECTED_SIGNATURE));
    }

    const EXPECTED_SIGNATURE: &str = "bfb71b616cb1c27e02ec5dd1770dfd1bc39a4b93";

    #[test]
    fn temporary_credentials_bind_the_token() {
        let creds = Credentials::new("AKIDtmp", "secret")
            .unwrap()
            .with_session_token("tok")
            .unwrap();
        let post = presign_post(
            &creds,
            &bucket(),
            "https://x/",
            KeyTime::new(1, 2),
            &PostPolicyOptions::new(Duration::from_secs(1)),
        )
        .unwrap();
        assert_eq!(post.field("x-cos-security-token"), Some("tok"));
        assert!(post.policy.contains(r#"{"x-cos-security-token":"tok"}"#));
        assert!(!format!("{post:?}").contains("tok\""));
    }

    #[test]
    fn bad_conditions_are_refused() {
        let creds = Credentials::new("AKIDexample", "secret").unwrap();
        let sign = |opts: PostPolicyOptions| {
            presign_post(&creds, &bucket(), "u", KeyTime::new(1, 2), &opts)
        };
        let base = || PostPolicyOptions::new(Duration::from_secs(60));
        assert!(sign(base().content_length_range(10, 1)).is_err());
        assert!(sign(base().success_action_status(302)).is_err());
        assert!(sign(base().key("")).is_err());
        assert!(sign(base().field("q-signature", "x")).is_err());
        assert!(sign(base().field("bad name", "x")).is_err());
        assert!(sign(base().field("x-cos-meta-a", "line\nbreak")).is_err());
        let ok = sign(base().key_starts_with("up/").success_action_status(201)).unwrap();
        assert_eq!(ok.field("key"), Some("up/${filename}"));
        assert_eq!(ok.field("success_action_status"), Some("201"));
        assert!(ok.policy.contains(r#"["starts-with","$key","up/"]"#));
    }
}
