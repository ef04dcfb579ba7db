//! COS error answers: status, code and the `<Error>` XML body (docs/protocol/cos.md §5).

use crate::store::StoreError;
use crate::verify::AuthError;

use super::xml::escape;

/// A COS error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CosError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// `(StringToSign, FormatString)` of a `SignatureDoesNotMatch`.
    pub(crate) canonical: Option<(String, String)>,
    /// Sent as `x-cos-delete-marker: true`: the key's latest version, or
    /// the version asked for, is a delete marker.
    pub(crate) delete_marker: bool,
}

impl CosError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        CosError {
            status,
            code,
            message: message.into(),
            canonical: None,
            delete_marker: false,
        }
    }

    /// The same error, saying that a delete marker stands where an object was asked for.
    pub(crate) fn with_delete_marker(mut self) -> Self {
        self.delete_marker = true;
        self
    }

    pub(crate) fn no_such_bucket() -> Self {
        Self::new(404, "NoSuchBucket", "The specified bucket does not exist.")
    }

    pub(crate) fn no_such_key() -> Self {
        Self::new(404, "NoSuchKey", "The specified key does not exist.")
    }

    pub(crate) fn no_such_upload() -> Self {
        Self::new(
            404,
            "NoSuchUpload",
            "The specified multipart upload does not exist.",
        )
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidArgument", message)
    }

    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequest", message)
    }

    pub(crate) fn malformed_xml(message: impl Into<String>) -> Self {
        Self::new(400, "MalformedXML", message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    pub(crate) fn not_implemented(what: &str) -> Self {
        Self::new(
            501,
            "NotImplemented",
            format!("{what} is not implemented by coscls-emulator."),
        )
    }

    /// The answer to an injected failure of `status`.
    pub(crate) fn injected(status: u16) -> Self {
        match status {
            503 => Self::new(503, "SlowDown", "Please reduce your request rate."),
            500 => Self::internal("We encountered an internal error. Please try again."),
            429 => Self::new(429, "SlowDown", "Please reduce your request rate."),
            502 | 504 => Self::new(status, "ServiceUnavailable", "Please try again."),
            s if s >= 500 => Self::new(s, "InternalError", "Injected failure."),
            s => Self::new(s, "InvalidRequest", "Injected failure."),
        }
    }

    pub(crate) fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchBucket => Self::no_such_bucket(),
            StoreError::BucketExists => Self::new(
                409,
                "BucketAlreadyOwnedByYou",
                "The bucket you tried to create already exists, and you own it.",
            ),
            StoreError::BucketNotEmpty => Self::new(
                409,
                "BucketNotEmpty",
                "The bucket you tried to delete is not empty.",
            ),
            StoreError::NoSuchUpload => Self::no_such_upload(),
            // `x-cos-forbid-overwrite: true` on PUT Object / Complete
            // Multipart Upload (https://cloud.tencent.com/document/product/436/7749).
            StoreError::ObjectExists => Self::new(
                409,
                "FileAlreadyExists",
                "The object already exists and x-cos-forbid-overwrite is true.",
            ),
            StoreError::Io(e) => Self::internal(format!("storage failed: {e}")),
        }
    }

    /// How COS refuses a signature (docs/protocol/cos.md §5 status table).
    pub(crate) fn from_auth(e: AuthError) -> Self {
        match e {
            AuthError::Missing => Self::new(
                403,
                "AccessDenied",
                "Access Denied: the request carries no Authorization.",
            ),
            AuthError::Malformed(why) => Self::new(
                403,
                "AccessDenied",
                format!("The Authorization is malformed: {why}."),
            ),
            AuthError::UnknownSecretId(_) => Self::new(
                403,
                "InvalidAccessKeyId",
                "The access key Id format you provided is invalid or does not exist.",
            ),
            AuthError::NotYetValid { start, now } => Self::new(
                403,
                "RequestTimeTooSkewed",
                format!(
                    "The difference between the request time and the server's time is too large \
                     (q-sign-time starts at {start}, server time is {now})."
                ),
            ),
            AuthError::Expired { end, now } => Self::new(
                403,
                "AccessDenied",
                format!("Request has expired (q-sign-time ended at {end}, server time is {now})."),
            ),
            AuthError::MissingToken => Self::new(
                403,
                "InvalidAccessKeyId",
                "The SecretId belongs to temporary credentials; x-cos-security-token is required.",
            ),
            AuthError::WrongToken => Self::new(
                400,
                "InvalidToken",
                "The provided x-cos-security-token is malformed or otherwise invalid.",
            ),
            AuthError::ListedButAbsent {
                what,
                string_to_sign,
                format_string,
            } => Self::signature_mismatch(
                format!(
                    "The request signature we calculated does not match the signature you provided: {what}."
                ),
                string_to_sign,
                format_string,
            ),
            AuthError::Mismatch {
                string_to_sign,
                format_string,
            } => Self::signature_mismatch(
                "The request signature we calculated does not match the signature you provided. \
                 Check your key and signing method."
                    .to_string(),
                string_to_sign,
                format_string,
            ),
        }
    }

    /// `SignatureDoesNotMatch`, carrying the server's canonical strings so
    /// that a client can see where its own differ.
    fn signature_mismatch(message: String, string_to_sign: String, format_string: String) -> Self {
        CosError {
            canonical: Some((string_to_sign, format_string)),
            ..Self::new(403, "SignatureDoesNotMatch", message)
        }
    }

    /// The `<Error>` document.
    pub(crate) fn xml(&self, resource: &str, request_id: &str, trace_id: &str) -> String {
        let mut out = String::from("<?xml version='1.0' encoding='utf-8' ?>\n<Error>\n");
        for (tag, value) in [
            ("Code", self.code),
            ("Message", self.message.as_str()),
            ("Resource", resource),
            ("RequestId", request_id),
            ("TraceId", trace_id),
        ] {
            out.push_str(&format!("\t<{tag}>{}</{tag}>\n", escape(value)));
        }
        if let Some((sts, fs)) = &self.canonical {
            out.push_str(&format!("\t<StringToSign>{}</StringToSign>\n", escape(sts)));
            out.push_str(&format!("\t<FormatString>{}</FormatString>\n", escape(fs)));
        }
        out.push_str("</Error>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_mismatch_carries_the_canonical_strings() {
        let e = CosError::from_auth(AuthError::Mismatch {
            string_to_sign: "sha1\n1;2\nabc\n".into(),
            format_string: "get\n/k&x\n\nhost=h\n".into(),
        });
        assert_eq!((e.status, e.code), (403, "SignatureDoesNotMatch"));
        let xml = e.xml("b-1.cos/k", "rid", "tid");
        assert!(
            xml.contains("<StringToSign>sha1\n1;2\nabc\n</StringToSign>"),
            "{xml}"
        );
        assert!(
            xml.contains("<FormatString>get\n/k&amp;x\n\nhost=h\n</FormatString>"),
            "{xml}"
        );
        assert!(xml.contains("<Code>SignatureDoesNotMatch</Code>"));
        assert!(xml.contains("<RequestId>rid</RequestId>"));
    }

    #[test]
    fn auth_refusals_map_to_cos_codes() {
        let code = |e| {
            let c = CosError::from_auth(e);
            (c.status, c.code)
        };
        assert_eq!(
            code(AuthError::UnknownSecretId("x".into())),
            (403, "InvalidAccessKeyId")
        );
        assert_eq!(
            code(AuthError::NotYetValid { start: 2, now: 1 }),
            (403, "RequestTimeTooSkewed")
        );
        let expired = CosError::from_auth(AuthError::Expired { end: 1, now: 2 });
        assert_eq!(expired.code, "AccessDenied");
        assert!(expired.message.starts_with("Request has expired"));
        assert_eq!(code(AuthError::Missing), (403, "AccessDenied"));
    }

    #[test]
    fn injected_failures_look_like_cos_throttling() {
        assert_eq!(CosError::injected(503).code, "SlowDown");
        assert_eq!(CosError::injected(500).code, "InternalError");
    }
}
