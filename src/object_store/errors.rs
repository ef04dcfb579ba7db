//! COS errors as `object_store` errors, by meaning.
//!
//! The `object_store` variant says what happened in the terms generic code
//! matches on (a DataFusion scan retries nothing on `NotFound`, a writer
//! backs off on `Precondition`); the [`cos::Error`](crate::cos::Error) is
//! kept whole as the `source`, so the COS code, HTTP status and request id
//! are still there for a support ticket.

use crate::cos;

/// The `store` name `object_store` prints in generic errors.
pub(crate) const STORE: &str = "COS";

/// What an `object_store` caller should take a COS error to mean (pure,
/// so every rule is unit-tested without a server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    NotFound,
    AlreadyExists,
    Precondition,
    NotModified,
    PermissionDenied,
    Unauthenticated,
    Other,
}

/// COS codes that mean the credentials, not the permissions, are wrong.
const UNAUTHENTICATED: &[&str] = &[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "MissingSecurityHeader",
];

/// The meaning of an HTTP status and COS code.
pub(crate) fn meaning(status: u16, code: &str) -> Meaning {
    match (status, code) {
        (304, _) => Meaning::NotModified,
        (404, _) => Meaning::NotFound,
        (412, _) => Meaning::Precondition,
        // The code a write with `x-cos-forbid-overwrite: true` is refused
        // with; other 409s (UploadConflict, BucketNotEmpty, …) are not
        // "already exists" in general (see `map_create`).
        (409, "FileAlreadyExists" | "ObjectAlreadyExists") => Meaning::AlreadyExists,
        (401, _) => Meaning::Unauthenticated,
        (403, c) if UNAUTHENTICATED.contains(&c) => Meaning::Unauthenticated,
        (403, _) => Meaning::PermissionDenied,
        _ => Meaning::Other,
    }
}

/// `e`, raised while working on `path`, as an `object_store` error.
pub(crate) fn map(e: cos::Error, path: &str) -> ::object_store::Error {
    let m = match e.service() {
        Some(s) => meaning(s.status, &s.code),
        None => Meaning::Other,
    };
    let path = path.to_string();
    let source = Box::new(e);
    match m {
        Meaning::NotFound => ::object_store::Error::NotFound { path, source },
        Meaning::AlreadyExists => ::object_store::Error::AlreadyExists { path, source },
        Meaning::Precondition => ::object_store::Error::Precondition { path, source },
        Meaning::NotModified => ::object_store::Error::NotModified { path, source },
        Meaning::PermissionDenied => ::object_store::Error::PermissionDenied { path, source },
        Meaning::Unauthenticated => ::object_store::Error::Unauthenticated { path, source },
        Meaning::Other => ::object_store::Error::Generic {
            store: STORE,
            source,
        },
    }
}

/// `e`, raised by a write sent with `x-cos-forbid-overwrite: true`: COS
/// refuses such a write with a 409 (Complete Multipart Upload,
/// <https://cloud.tencent.com/document/product/436/7742>), so any 409 there
/// means the object exists (even `ObjectLocked` names an existing object);
/// everything else maps as [`map`] does.
pub(crate) fn map_create(e: cos::Error, path: &str) -> ::object_store::Error {
    if e.status() == Some(409) {
        return ::object_store::Error::AlreadyExists {
            path: path.to_string(),
            source: Box::new(e),
        };
    }
    map(e, path)
}

/// A generic error with a message, for what is wrong before COS is asked.
pub(crate) fn generic(message: impl Into<String>) -> ::object_store::Error {
    ::object_store::Error::Generic {
        store: STORE,
        source: message.into().into(),
    }
}

/// An option COS has no counterpart for.
pub(crate) fn not_supported(message: impl Into<String>) -> ::object_store::Error {
    ::object_store::Error::NotSupported {
        source: message.into().into(),
    }
}

/// An operation `CosStore` does not implement, named for the caller.
pub(crate) fn not_implemented(operation: &str) -> ::object_store::Error {
    ::object_store::Error::NotImplemented {
        operation: operation.to_string(),
        implementer: "coscls::object_store::CosStore".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes_map_by_meaning() {
        assert_eq!(meaning(404, "NoSuchKey"), Meaning::NotFound);
        assert_eq!(meaning(404, "NoSuchResource"), Meaning::NotFound);
        assert_eq!(meaning(412, "PreconditionFailed"), Meaning::Precondition);
        assert_eq!(meaning(304, "NotModified"), Meaning::NotModified);
        assert_eq!(meaning(409, "FileAlreadyExists"), Meaning::AlreadyExists);
        assert_eq!(meaning(409, "ObjectLocked"), Meaning::Other);
        assert_eq!(meaning(403, "AccessDenied"), Meaning::PermissionDenied);
        assert_eq!(
            meaning(403, "SignatureDoesNotMatch"),
            Meaning::Unauthenticated
        );
        assert_eq!(meaning(500, "InternalError"), Meaning::Other);
        assert_eq!(meaning(416, "InvalidRange"), Meaning::Other);
    }

    #[test]
    fn the_cos_error_stays_the_source() {
        let cos = cos::Error::Service(Box::new(cos::ServiceError {
            status: 412,
            code: "PreconditionFailed".into(),
            message: "no".into(),
            request_id: Some("req-1".into()),
            ..Default::default()
        }));
        let e = map(cos, "a/b");
        let text = e.to_string();
        assert!(matches!(e, ::object_store::Error::Precondition { .. }));
        assert!(text.contains("PreconditionFailed"), "{text}");
        assert!(text.contains("req-1"), "{text}");
        assert!(text.contains("a/b"), "{text}");
    }

    #[test]
    fn any_conflict_on_a_create_is_already_exists() {
        let conflict = |code: &str| {
            cos::Error::Service(Box::new(cos::ServiceError {
                status: 409,
                code: code.into(),
                ..Default::default()
            }))
        };
        for code in ["FileAlreadyExists", "ObjectLocked", "SomethingNew"] {
            let e = map_create(conflict(code), "k");
            assert!(
                matches!(e, ::object_store::Error::AlreadyExists { .. }),
                "{code}"
            );
        }
        assert!(matches!(
            map(conflict("SomethingNew"), "k"),
            ::object_store::Error::Generic { .. }
        ));
        let missing = cos::Error::Service(Box::new(cos::ServiceError {
            status: 404,
            code: "NoSuchKey".into(),
            ..Default::default()
        }));
        assert!(matches!(
            map_create(missing, "k"),
            ::object_store::Error::NotFound { .. }
        ));
    }

    #[test]
    fn local_errors_are_generic() {
        let e = map(cos::Error::invalid_input("object key", "", "is empty"), "");
        assert!(matches!(
            e,
            ::object_store::Error::Generic { store: "COS", .. }
        ));
    }
}
