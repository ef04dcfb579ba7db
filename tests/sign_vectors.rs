//! Checks the signer against every vector produced with the official SDKs
//! (`tests/data/vectors/`, see its README), plus any in `COSCLS_EXTRA_COS_VECTORS` /
//! `COSCLS_EXTRA_CLS_VECTORS` directories. Every failing vector is named, and
//! finding no vector at all is a failure.

use std::path::{Path, PathBuf};

use coscls::auth::{
    percent_decode, presign_url, sign_with_key, Credentials, HeaderRule, KeyTime, PresignRequest,
    PresignStyle, SignableRequest,
};
use coscls::cos::{BucketName, Endpoint};
use serde_json::Value;

fn vendored() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors")
}

/// Every vector object in `files`; a file may hold an array or one object.
fn load(files: &[PathBuf]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let json: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", file.display()));
        let items = match json {
            Value::Array(items) => items,
            other => vec![other],
        };
        for v in items {
            let name = v["name"].as_str().unwrap_or("<unnamed>").to_string();
            out.push((
                format!(
                    "{}:{name}",
                    file.file_name().unwrap_or_default().to_string_lossy()
                ),
                v,
            ));
        }
    }
    out
}

fn json_files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading vector directory {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn extra(var: &str) -> Vec<PathBuf> {
    std::env::var_os(var)
        .map(|d| json_files_in(Path::new(&d)))
        .unwrap_or_default()
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn str_field<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    v[name]
        .as_str()
        .ok_or_else(|| format!("vector has no string field {name}"))
}

/// A URL reduced to what the server sees: scheme, host, decoded path and the
/// sorted decoded query pairs. The SDKs differ in harmless encoding details
/// (`+` or `%20` for a space, `*` escaped or not), so URLs compare by meaning.
/// Scheme, authority, decoded path, sorted decoded query pairs.
type UrlMeaning = (String, String, String, Vec<(String, String)>);

fn url_meaning(url: &str) -> Result<UrlMeaning, String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, path_query) = match rest.find(['/', '?']) {
        Some(i) if scheme.is_empty() => ("", &rest[i..]),
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let path = percent_decode(path, false).ok_or_else(|| format!("bad path encoding in {url}"))?;
    let mut q =
        coscls::auth::parse_query(query).ok_or_else(|| format!("bad query encoding in {url}"))?;
    q.sort();
    Ok((scheme.to_string(), authority.to_string(), path, q))
}

fn check_cos(v: &Value) -> Result<(), String> {
    let creds = Credentials::new(str_field(v, "secret_id")?, str_field(v, "secret_key")?)
        .map_err(|e| e.to_string())?;
    let kt = KeyTime::new(
        v["start"].as_i64().ok_or("no start")?,
        v["end"].as_i64().ok_or("no end")?,
    );
    let method = str_field(v, "method")?;
    let path = str_field(v, "path")?;
    let params = pairs(&v["params"]);
    let headers = pairs(&v["headers"]);
    let params: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // `headers` holds exactly what the SDK signed (vectors/README.md).
    let req = SignableRequest {
        method,
        path,
        params: &params,
        headers: &HeaderRule::All.select(&headers),
    };
    let sig = sign_with_key(creds.secret_id(), creds.secret_key().expose(), kt, &req);
    compare_stages(
        v,
        &[
            ("http_string", &sig.http_string),
            ("string_to_sign", &sig.string_to_sign),
        ],
    )?;
    compare_authorization(v, &sig.authorization)?;

    let host = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map(|(_, v)| *v);
    let presign = |base_url: &str, style| {
        presign_url(
            &creds,
            kt,
            &PresignRequest {
                method,
                base_url,
                path,
                params: &params,
                headers: &headers,
                style,
            },
        )
    };
    if let Some(wire) = v["wire_url"]
        .as_str()
        .or(v["expected_presigned_url"].as_str())
    {
        let want = url_meaning(wire)?;
        let ours = if wire.contains("q-signature=") || wire.contains("sign=") {
            let style = if wire.contains("q-signature=") {
                PresignStyle::Query
            } else {
                PresignStyle::Merged
            };
            presign(&format!("{}://{}", want.0, want.1), style)
        } else {
            // A plain request URL: rebuild it with our endpoint rules.
            let host = host.ok_or("wire_url without a Host header")?;
            let (bucket, service) = host.split_once('.').ok_or("host has no bucket label")?;
            let bucket = BucketName::parse(bucket).map_err(|e| e.to_string())?;
            let ep =
                Endpoint::custom(&format!("{}://{service}", want.0)).map_err(|e| e.to_string())?;
            let key = path.strip_prefix('/').unwrap_or(path);
            ep.object_url(&bucket, key, &params)
                .map_err(|e| e.to_string())?
                .url
        };
        if url_meaning(&ours)? != want {
            return Err(format!("URL differs\n  want {wire}\n  got  {ours}"));
        }
    }
    if let Some(want_query) = v["expected_presigned_query"].as_str() {
        let style = if want_query.split('&').any(|p| p.starts_with("sign=")) {
            PresignStyle::Merged
        } else {
            PresignStyle::Query
        };
        let ours = presign("https://example.invalid", style);
        let our_query = ours.split_once('?').map(|(_, q)| q).unwrap_or("");
        if url_meaning(&format!("?{our_query}"))?.3 != url_meaning(&format!("?{want_query}"))?.3 {
            return Err(format!(
                "presigned query differs\n  want {want_query}\n  got  {our_query}"
            ));
        }
    }
    Ok(())
}

fn check_cls(v: &Value) -> Result<(), String> {
    let kt = KeyTime::new(
        v["start"].as_i64().ok_or("no start")?,
        v["end"].as_i64().ok_or("no end")?,
    );
    let params = pairs(&v["params"]);
    let headers = pairs(&v["headers"]);
    let params: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Here `headers` is the SDK's whole map; the CLS rule picks what is signed.
    let req = SignableRequest {
        method: str_field(v, "method")?,
        path: str_field(v, "path")?,
        params: &params,
        headers: &HeaderRule::Cls.select(&headers),
    };
    let sig = sign_with_key(
        str_field(v, "secret_id")?,
        str_field(v, "secret_key")?,
        kt,
        &req,
    );
    compare_stages(
        &v["intermediate"],
        &[
            ("format_string", &sig.http_string),
            ("string_to_sign", &sig.string_to_sign),
            ("signature", &sig.signature),
        ],
    )?;
    compare_authorization(v, &sig.authorization)
}

/// Compares each intermediate stage the vector records (a vector may omit
/// some), so a mismatch names the first stage that went wrong.
fn compare_stages(recorded: &Value, ours: &[(&str, &String)]) -> Result<(), String> {
    for (field, ours) in ours {
        if let Some(want) = recorded[*field].as_str() {
            if want != ours.as_str() {
                return Err(format!("{field} differs\n  want {want:?}\n  got  {ours:?}"));
            }
        }
    }
    Ok(())
}

fn compare_authorization(v: &Value, ours: &str) -> Result<(), String> {
    let want = str_field(v, "expected_authorization")?;
    if ours != want {
        return Err(format!(
            "authorization differs\n  want {want}\n  got  {ours}"
        ));
    }
    Ok(())
}

#[test]
fn every_official_vector_signs_identically() {
    let mut cos_files = json_files_in(&vendored().join("cos_sign"));
    cos_files.extend(extra("COSCLS_EXTRA_COS_VECTORS"));
    let mut cls_files = vec![vendored().join("cls/sign.json")];
    cls_files.extend(extra("COSCLS_EXTRA_CLS_VECTORS"));

    let mut failures = Vec::new();
    let cos = load(&cos_files);
    for (name, v) in &cos {
        if let Err(e) = check_cos(v) {
            failures.push(format!("COS vector {name}: {e}"));
        }
    }
    let cls = load(&cls_files);
    for (name, v) in &cls {
        if let Err(e) = check_cls(v) {
            failures.push(format!("CLS vector {name}: {e}"));
        }
    }
    println!(
        "checked {} COS vectors and {} CLS vectors: {} failed",
        cos.len(),
        cls.len(),
        failures.len()
    );
    assert!(
        !cos.is_empty() && !cls.is_empty(),
        "found no vectors (COS {}, CLS {})",
        cos.len(),
        cls.len()
    );
    assert!(
        failures.is_empty(),
        "{} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
