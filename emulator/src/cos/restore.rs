//! PostRestore (`POST /<key>?restore`) and what a restore means for reads:
//! an ARCHIVE / DEEP_ARCHIVE object cannot be read (403
//! `InvalidObjectState`) until a restore made a temporary copy, which is
//! readable from its `ready_at` until its `expires_at` on the object clock.

use http::{Response, StatusCode};
use serde::Deserialize;

use super::errors::CosError;
use super::{empty_response, require_bucket, small_body, CosRequest};
use crate::body::Body;
use crate::state::State;
use crate::store::{ObjectMeta, Restore};
use crate::time::http_date;

/// Seconds in a restore day.
const DAY: i64 = 86_400;

/// The storage classes whose objects must be restored before a read.
pub(crate) fn is_archived(storage_class: &str) -> bool {
    matches!(storage_class, "ARCHIVE" | "DEEP_ARCHIVE" | "MAZ_ARCHIVE")
}

/// Where a restore stands at `now` (object clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Never restored, or the restored copy expired.
    None,
    /// Asked for, not yet readable.
    Ongoing,
    /// Readable until `expires_at`.
    Restored { expires_at: i64 },
}

pub(crate) fn phase(restore: Option<&Restore>, now: i64) -> Phase {
    match restore {
        Some(r) if now < r.ready_at => Phase::Ongoing,
        Some(r) if now < r.expires_at => Phase::Restored {
            expires_at: r.expires_at,
        },
        _ => Phase::None,
    }
}

/// The `x-cos-restore` header value at `now`, if a restore is under way or done.
pub(crate) fn restore_header(meta: &ObjectMeta, now: i64) -> Option<String> {
    match phase(meta.restore.as_ref(), now) {
        Phase::None => None,
        Phase::Ongoing => Some("ongoing-request=\"true\"".to_string()),
        Phase::Restored { expires_at } => Some(format!(
            "ongoing-request=\"false\", expiry-date=\"{}\"",
            http_date(expires_at)
        )),
    }
}

/// Refuses a read of an archived object that has no readable restored copy.
pub(crate) fn check_readable(meta: &ObjectMeta, now: i64) -> Result<(), CosError> {
    if !is_archived(&meta.storage_class) {
        return Ok(());
    }
    match phase(meta.restore.as_ref(), now) {
        Phase::Restored { .. } => Ok(()),
        _ => Err(CosError::new(
            403,
            "InvalidObjectState",
            format!(
                "The object is in the {} storage class; restore it (POST ?restore) before reading it.",
                meta.storage_class
            ),
        )),
    }
}

/// `<RestoreRequest>` body.
#[derive(Debug, Deserialize, PartialEq, Eq)]
struct RestoreRequest {
    #[serde(rename = "Days")]
    days: Option<String>,
    #[serde(rename = "CASJobParameters")]
    job: Option<JobParameters>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
struct JobParameters {
    #[serde(rename = "Tier")]
    tier: Option<String>,
}

/// How long a tier takes for a storage class, seconds (COS "POST Object
/// restore": ARCHIVE Expedited 1–5 min, Standard 3–5 h, Bulk 5–12 h;
/// DEEP_ARCHIVE Standard within 24 h, Bulk within 48 h, no Expedited). The
/// emulator takes the upper bound.
fn tier_seconds(storage_class: &str, tier: &str) -> Result<i64, CosError> {
    let deep = storage_class == "DEEP_ARCHIVE";
    match (tier, deep) {
        ("Expedited", false) => Ok(5 * 60),
        ("Standard", false) => Ok(5 * 3600),
        ("Bulk", false) => Ok(12 * 3600),
        ("Standard", true) => Ok(24 * 3600),
        ("Bulk", true) => Ok(48 * 3600),
        ("Expedited", true) => Err(CosError::invalid_argument(
            "DEEP_ARCHIVE objects cannot be restored with the Expedited tier.",
        )),
        (other, _) => Err(CosError::invalid_argument(format!(
            "Tier must be Expedited, Standard or Bulk, got {other:?}."
        ))),
    }
}

/// Parses a RestoreRequest: (days, tier).
fn parse_request(data: &[u8]) -> Result<(i64, String), CosError> {
    let doc: RestoreRequest = super::xml::parse(data).map_err(CosError::malformed_xml)?;
    let days = doc
        .days
        .ok_or_else(|| CosError::malformed_xml("The RestoreRequest has no Days."))?;
    let days = days
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|d| (1..=36_500).contains(d))
        .ok_or_else(|| {
            CosError::invalid_argument(format!("Days must be a whole number from 1, got {days:?}."))
        })?;
    let tier = doc
        .job
        .and_then(|j| j.tier)
        .map(|t| t.trim().to_string())
        .unwrap_or_else(|| "Standard".to_string());
    Ok((days, tier))
}

/// PostRestore: 202 when a restore starts, 200 when a restored copy only
/// gets a new expiry, 409 `RestoreAlreadyInProgress` while one is under way.
pub(crate) async fn post_restore(
    state: &State,
    mut req: CosRequest,
) -> Result<Response<Body>, CosError> {
    require_bucket(state, &req)?;
    let data = small_body(&mut req, 64 * 1024).await?;
    let object = state
        .store
        .get(req.bucket(), req.key())
        .map_err(CosError::from_store)?
        .ok_or_else(CosError::no_such_key)?;
    if !is_archived(&object.meta.storage_class) {
        return Err(CosError::new(
            405,
            "RestoreNonArchiveObject",
            format!(
                "The object is in the {} storage class; only ARCHIVE and DEEP_ARCHIVE objects are restored.",
                object.meta.storage_class
            ),
        ));
    }
    let (days, tier) = parse_request(&data)?;
    let took = tier_seconds(&object.meta.storage_class, &tier)?;
    let took = state.config.restore_delay_secs.unwrap_or(took);
    let now = state.object_now();
    let lasts = days.saturating_mul(DAY);
    let (restore, status) = match phase(object.meta.restore.as_ref(), now) {
        Phase::Ongoing => {
            return Err(CosError::new(
                409,
                "RestoreAlreadyInProgress",
                "Object restore is already in progress.",
            ))
        }
        Phase::Restored { .. } => (
            Restore {
                ready_at: now,
                expires_at: now.saturating_add(lasts),
            },
            StatusCode::OK,
        ),
        Phase::None => {
            let ready_at = now.saturating_add(took);
            (
                Restore {
                    ready_at,
                    expires_at: ready_at.saturating_add(lasts),
                },
                StatusCode::ACCEPTED,
            )
        }
    };
    let updated = state
        .store
        .update_meta(req.bucket(), req.key(), &object.meta.etag, |m| {
            m.restore = Some(restore)
        })
        .map_err(CosError::from_store)?;
    if !updated {
        return Err(CosError::new(
            409,
            "OperationAborted",
            "The object changed while its restore was being recorded; try again.",
        ));
    }
    Ok(empty_response(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_and_header() {
        let r = Restore {
            ready_at: 100,
            expires_at: 100 + DAY,
        };
        assert_eq!(phase(None, 50), Phase::None);
        assert_eq!(phase(Some(&r), 99), Phase::Ongoing);
        assert_eq!(
            phase(Some(&r), 100),
            Phase::Restored {
                expires_at: 100 + DAY
            }
        );
        assert_eq!(phase(Some(&r), 100 + DAY), Phase::None);
        let meta = ObjectMeta {
            storage_class: "ARCHIVE".into(),
            restore: Some(r),
            ..ObjectMeta::default()
        };
        assert_eq!(
            restore_header(&meta, 0).as_deref(),
            Some("ongoing-request=\"true\"")
        );
        assert_eq!(
            restore_header(&meta, 200).as_deref(),
            Some("ongoing-request=\"false\", expiry-date=\"Fri, 02 Jan 1970 00:01:40 GMT\"")
        );
        assert_eq!(
            check_readable(&meta, 0).unwrap_err().code,
            "InvalidObjectState"
        );
        assert!(check_readable(&meta, 200).is_ok());
        assert_eq!(
            check_readable(&meta, 100 + DAY).unwrap_err().code,
            "InvalidObjectState"
        );
        let standard = ObjectMeta {
            storage_class: "STANDARD".into(),
            ..ObjectMeta::default()
        };
        assert!(check_readable(&standard, 0).is_ok());
    }

    #[test]
    fn requests() {
        let body = b"<RestoreRequest><Days>3</Days><CASJobParameters><Tier>Bulk</Tier></CASJobParameters></RestoreRequest>";
        assert_eq!(parse_request(body).unwrap(), (3, "Bulk".to_string()));
        let no_tier = b"<RestoreRequest><Days>1</Days></RestoreRequest>";
        assert_eq!(parse_request(no_tier).unwrap(), (1, "Standard".to_string()));
        let zero = b"<RestoreRequest><Days>0</Days></RestoreRequest>";
        assert_eq!(parse_request(zero).unwrap_err().code, "InvalidArgument");
        assert_eq!(
            parse_request(b"<RestoreRequest/>").unwrap_err().code,
            "MalformedXML"
        );
        assert_eq!(
            parse_request(b"not xml <").unwrap_err().code,
            "MalformedXML"
        );
        assert_eq!(tier_seconds("ARCHIVE", "Expedited").unwrap(), 300);
        assert_eq!(tier_seconds("DEEP_ARCHIVE", "Bulk").unwrap(), 48 * 3600);
        assert_eq!(
            tier_seconds("DEEP_ARCHIVE", "Expedited").unwrap_err().code,
            "InvalidArgument"
        );
        assert_eq!(
            tier_seconds("ARCHIVE", "Fast").unwrap_err().code,
            "InvalidArgument"
        );
    }
}
