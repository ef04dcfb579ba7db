//! Bucket lifecycle configuration (`?lifecycle`): PUT (with the
//! `Content-MD5` COS requires), GET (404 `NoSuchLifecycleConfiguration`
//! when there is none), DELETE.
//!
//! The rules are stored and returned; the emulator does not run them
//! (objects do not expire and uploads are not aborted on its clock).

use http::{HeaderMap, Response, StatusCode};
use serde::Deserialize;

use super::errors::CosError;
use super::setting::{self, Put, Slot};
use super::xml::{parse, Doc};
use super::CosRequest;
use crate::body::Body;
use crate::state::State;
use crate::store::config::{RuleTime, StoredRule};

/// Most rules one configuration may hold.
const MAX_RULES: usize = 1000;

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
    id: Option<String>,
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
    days: Option<String>,
    #[serde(rename = "Date")]
    date: Option<String>,
    #[serde(rename = "StorageClass")]
    storage_class: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AbortXml {
    #[serde(rename = "DaysAfterInitiation")]
    days: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoncurrentXml {
    #[serde(rename = "NoncurrentDays")]
    days: Option<String>,
}

fn days(what: &str, text: &str, min: u32) -> Result<u32, CosError> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|d| *d >= min)
        .ok_or_else(|| {
            CosError::invalid_argument(format!(
                "{what} must be a whole number of days of at least {min}, got {text:?}"
            ))
        })
}

/// `YYYY-MM-DDT00:00:00` then `Z` or `±hh:mm`: COS accepts only midnight.
fn is_midnight(date: &str) -> bool {
    let b = date.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let zone = date.get(19..).unwrap_or_default();
    let zone_ok = zone == "Z"
        || (zone.len() == 6
            && (zone.starts_with('+') || zone.starts_with('-'))
            && zone.as_bytes()[3] == b':'
            && zone
                .bytes()
                .enumerate()
                .all(|(i, c)| i == 0 || i == 3 || c.is_ascii_digit()));
    digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && date.get(10..19) == Some("T00:00:00")
        && zone_ok
}

fn time(what: &str, t: &TimeXml, min_days: u32) -> Result<RuleTime, CosError> {
    match (&t.days, &t.date) {
        (Some(d), None) => Ok(RuleTime::Days(days(what, d, min_days)?)),
        (None, Some(date)) if is_midnight(date.trim()) => {
            Ok(RuleTime::Date(date.trim().to_string()))
        }
        (None, Some(date)) => Err(CosError::invalid_argument(format!(
            "{what} Date must be ISO 8601 at midnight, got {date:?}"
        ))),
        _ => Err(CosError::malformed_xml(format!(
            "{what} needs exactly one of Days and Date"
        ))),
    }
}

/// Parses and checks a `<LifecycleConfiguration>`.
fn parse_rules(data: &[u8]) -> Result<Vec<StoredRule>, CosError> {
    let doc: ConfigurationXml = parse(data).map_err(CosError::malformed_xml)?;
    if doc.rules.is_empty() || doc.rules.len() > MAX_RULES {
        return Err(CosError::malformed_xml(format!(
            "a lifecycle configuration holds 1 to {MAX_RULES} rules, this one has {}",
            doc.rules.len()
        )));
    }
    let mut rules: Vec<StoredRule> = Vec::with_capacity(doc.rules.len());
    for r in doc.rules {
        let id = r.id.unwrap_or_default().trim().to_string();
        if id.is_empty() || id.chars().count() > 255 {
            return Err(CosError::invalid_argument(
                "every rule needs an ID of 1 to 255 characters",
            ));
        }
        if rules.iter().any(|o| o.id == id) {
            return Err(CosError::invalid_argument(format!(
                "the rule ID {id:?} is used twice"
            )));
        }
        let enabled = match r.status.trim() {
            "Enabled" => true,
            "Disabled" => false,
            s => {
                return Err(CosError::malformed_xml(format!(
                    "Status must be Enabled or Disabled, got {s:?}"
                )))
            }
        };
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
        let expiration = r
            .expiration
            .as_ref()
            .map(|e| time("Expiration", e, 1))
            .transpose()?;
        let mut transitions = Vec::with_capacity(r.transitions.len());
        for t in &r.transitions {
            let when = time("Transition", t, 0)?;
            let class = t
                .storage_class
                .as_deref()
                .map(str::trim)
                .filter(|c| super::STORAGE_CLASSES.contains(c) && *c != "STANDARD")
                .ok_or_else(|| {
                    CosError::invalid_argument(format!(
                        "Transition StorageClass {:?} is not a class objects can move to",
                        t.storage_class
                    ))
                })?;
            transitions.push((when, class.to_string()));
        }
        let abort_days = match r.abort.and_then(|a| a.days) {
            Some(d) => Some(days("DaysAfterInitiation", &d, 1)?),
            None => None,
        };
        let noncurrent_days = match r.noncurrent.and_then(|n| n.days) {
            Some(d) => Some(days("NoncurrentDays", &d, 1)?),
            None => None,
        };
        if expiration.is_none()
            && transitions.is_empty()
            && abort_days.is_none()
            && noncurrent_days.is_none()
        {
            return Err(CosError::malformed_xml(format!(
                "the rule {id:?} has no action"
            )));
        }
        rules.push(StoredRule {
            id,
            enabled,
            prefix,
            expiration,
            transitions,
            abort_days,
            noncurrent_days,
        });
    }
    Ok(rules)
}

fn push_time(doc: &mut Doc, t: &RuleTime) {
    match t {
        RuleTime::Days(d) => doc.el("Days", d),
        RuleTime::Date(date) => doc.el("Date", date),
    };
}

fn rules_doc(rules: &[StoredRule]) -> String {
    let mut doc = Doc::new("LifecycleConfiguration");
    for r in rules {
        doc.open("Rule").el("ID", &r.id);
        doc.open("Filter").el("Prefix", &r.prefix).close("Filter");
        doc.el("Status", if r.enabled { "Enabled" } else { "Disabled" });
        for (when, class) in &r.transitions {
            doc.open("Transition");
            push_time(&mut doc, when);
            doc.el("StorageClass", class).close("Transition");
        }
        if let Some(e) = &r.expiration {
            doc.open("Expiration");
            push_time(&mut doc, e);
            doc.close("Expiration");
        }
        if let Some(d) = r.noncurrent_days {
            doc.open("NoncurrentVersionExpiration")
                .el("NoncurrentDays", d)
                .close("NoncurrentVersionExpiration");
        }
        if let Some(d) = r.abort_days {
            doc.open("AbortIncompleteMultipartUpload")
                .el("DaysAfterInitiation", d)
                .close("AbortIncompleteMultipartUpload");
        }
        doc.close("Rule");
    }
    doc.finish("LifecycleConfiguration")
}

/// COS requires `Content-MD5` on PUT `?lifecycle`.
fn require_md5(req: &CosRequest) -> Result<(), CosError> {
    match req.header("content-md5") {
        Some(_) => Ok(()),
        None => Err(CosError::invalid_request(
            "Missing required header for this request: Content-MD5",
        )),
    }
}

pub(crate) async fn put_bucket_lifecycle(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    let put = Put {
        check: require_md5,
        limit: 1 << 20,
        parse: |data: &[u8], _: &HeaderMap| parse_rules(data),
        slot: Slot::Bucket(|c, rules| c.lifecycle = Some(rules)),
        status: StatusCode::OK,
    };
    setting::put(state, req, put).await
}

pub(crate) async fn get_bucket_lifecycle(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    setting::get_bucket(state, &req, |c| match c.lifecycle {
        Some(rules) => Ok(rules_doc(&rules)),
        None => Err(CosError::new(
            404,
            "NoSuchLifecycleConfiguration",
            "The lifecycle configuration does not exist.",
        )),
    })
}

pub(crate) async fn delete_bucket_lifecycle(
    state: &State,
    req: CosRequest,
) -> Result<Response<Body>, CosError> {
    setting::delete(state, &req, Slot::Bucket(|c, ()| c.lifecycle = None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_checks_and_renders() {
        let body = b"<LifecycleConfiguration><Rule><ID>a</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition><Expiration><Days>365</Days></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule><Rule><ID>b</ID><Prefix>old/</Prefix><Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00+08:00</Date></Expiration></Rule></LifecycleConfiguration>";
        let rules = parse_rules(body).unwrap();
        assert_eq!(rules[0].prefix, "logs/");
        assert_eq!(rules[0].abort_days, Some(7));
        assert_eq!(rules[1].prefix, "old/");
        assert!(!rules[1].enabled);
        let again = parse_rules(rules_doc(&rules).as_bytes()).unwrap();
        assert_eq!(again, rules);
        for (bad, code) in [
            ("<LifecycleConfiguration/>", "MalformedXML"),
            ("<LifecycleConfiguration><Rule><ID>a</ID><Status>Enabled</Status></Rule></LifecycleConfiguration>", "MalformedXML"),
            ("<LifecycleConfiguration><Rule><ID>a</ID><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>", "MalformedXML"),
            ("<LifecycleConfiguration><Rule><ID>a</ID><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule></LifecycleConfiguration>", "InvalidArgument"),
            ("<LifecycleConfiguration><Rule><ID>a</ID><Status>Enabled</Status><Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration></Rule></LifecycleConfiguration>", "InvalidArgument"),
            ("<LifecycleConfiguration><Rule><ID>a</ID><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule><Rule><ID>a</ID><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>", "InvalidArgument"),
            ("<LifecycleConfiguration><Rule><ID>a</ID><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>GOLD</StorageClass></Transition></Rule></LifecycleConfiguration>", "InvalidArgument"),
        ] {
            assert_eq!(parse_rules(bad.as_bytes()).unwrap_err().code, code, "{bad}");
        }
    }
}
