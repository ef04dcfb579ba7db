//! GetObject and HeadObject: [`GetOptions`] (range, conditions, version,
//! `response-*` overrides), the answer checked against the request before
//! the body streams to the caller, and `object_exists`.

use std::sync::OnceLock;
use std::time::SystemTime;

use http::{HeaderMap, Method, StatusCode};

use crate::cos::body::{ObjectBody, Refetch};
use crate::cos::headers::{header_value, traffic_limit};
use crate::cos::request::{params, Target};
use crate::cos::response::{self, BodyChecks};
use crate::cos::{ByteRange, Client, CustomerKey, Error, ObjectMeta};
use crate::instrument::Operation;
use crate::transport::{PreparedRequest, RequestBody};

/// The options of a plain GET or HEAD, shared rather than built and
/// dropped on every call.
static NO_OPTIONS: std::sync::LazyLock<GetOptions> = std::sync::LazyLock::new(GetOptions::default);

/// Options of GetObject and HeadObject.
///
/// ```
/// use coscls::cos::{ByteRange, GetOptions};
/// let opts = GetOptions::default()
///     .range(ByteRange::new(0, 1023).unwrap())
///     .response_content_type("application/octet-stream");
/// assert!(opts.range.is_some());
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct GetOptions {
    /// Part of the object to read (GetObject only).
    pub range: Option<ByteRange>,
    /// A specific version of a versioned object.
    pub version_id: Option<String>,
    /// Only if the ETag matches (`If-Match`), else 412.
    pub if_match: Option<String>,
    /// Only if the ETag differs (`If-None-Match`), else 304.
    pub if_none_match: Option<String>,
    /// Only if modified since (`If-Modified-Since`), else 304.
    pub if_modified_since: Option<SystemTime>,
    /// Only if not modified since (`If-Unmodified-Since`), else 412.
    pub if_unmodified_since: Option<SystemTime>,
    /// Override the `Content-Type` of the response (signed `response-content-type`).
    pub response_content_type: Option<String>,
    /// Override `Content-Disposition`.
    pub response_content_disposition: Option<String>,
    /// Override `Cache-Control`.
    pub response_cache_control: Option<String>,
    /// Override `Content-Encoding`.
    pub response_content_encoding: Option<String>,
    /// Override `Content-Language`.
    pub response_content_language: Option<String>,
    /// Override `Expires`.
    pub response_expires: Option<String>,
    /// SSE-C key the object was written with.
    pub customer_key: Option<CustomerKey>,
    /// Bandwidth cap in bit/s.
    pub traffic_limit: Option<u64>,
}

impl GetOptions {
    /// Reads only `range`.
    pub fn range(mut self, range: ByteRange) -> Self {
        self.range = Some(range);
        self
    }

    /// Reads version `id`.
    pub fn version_id(mut self, id: impl Into<String>) -> Self {
        self.version_id = Some(id.into());
        self
    }

    /// Requires the ETag to be `etag`.
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }

    /// Requires the ETag to differ from `etag` (else 304).
    pub fn if_none_match(mut self, etag: impl Into<String>) -> Self {
        self.if_none_match = Some(etag.into());
        self
    }

    /// Requires a change since `at` (else 304).
    pub fn if_modified_since(mut self, at: SystemTime) -> Self {
        self.if_modified_since = Some(at);
        self
    }

    /// Requires no change since `at` (else 412).
    pub fn if_unmodified_since(mut self, at: SystemTime) -> Self {
        self.if_unmodified_since = Some(at);
        self
    }

    /// Sets `response-content-disposition`.
    pub fn response_content_disposition(mut self, value: impl Into<String>) -> Self {
        self.response_content_disposition = Some(value.into());
        self
    }

    /// Sets `response-cache-control`.
    pub fn response_cache_control(mut self, value: impl Into<String>) -> Self {
        self.response_cache_control = Some(value.into());
        self
    }

    /// Sets `response-content-encoding`.
    pub fn response_content_encoding(mut self, value: impl Into<String>) -> Self {
        self.response_content_encoding = Some(value.into());
        self
    }

    /// Sets `response-content-language`.
    pub fn response_content_language(mut self, value: impl Into<String>) -> Self {
        self.response_content_language = Some(value.into());
        self
    }

    /// Sets `response-expires`.
    pub fn response_expires(mut self, value: impl Into<String>) -> Self {
        self.response_expires = Some(value.into());
        self
    }

    /// Sets the SSE-C key the object was written with.
    pub fn customer_key(mut self, key: CustomerKey) -> Self {
        self.customer_key = Some(key);
        self
    }

    /// Caps the bandwidth, in bit/s.
    pub fn traffic_limit(mut self, bits_per_second: u64) -> Self {
        self.traffic_limit = Some(bits_per_second);
        self
    }

    /// Sets `response-content-type`.
    pub fn response_content_type(mut self, value: impl Into<String>) -> Self {
        self.response_content_type = Some(value.into());
        self
    }

    pub(crate) fn params(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        let overrides = [
            ("response-cache-control", &self.response_cache_control),
            (
                "response-content-disposition",
                &self.response_content_disposition,
            ),
            ("response-content-encoding", &self.response_content_encoding),
            ("response-content-language", &self.response_content_language),
            ("response-content-type", &self.response_content_type),
            ("response-expires", &self.response_expires),
        ];
        for (name, value) in overrides {
            if let Some(v) = value {
                p.push((name, v.clone()));
            }
        }
        if let Some(v) = &self.version_id {
            p.push(("versionId", v.clone()));
        }
        p
    }

    pub(crate) fn headers(&self, with_range: bool) -> Result<HeaderMap, Error> {
        let mut h = HeaderMap::new();
        if let (true, Some(r)) = (with_range, &self.range) {
            r.check()?;
            h.insert(http::header::RANGE, header_value("range", &r.header())?);
        }
        if let Some(v) = &self.if_match {
            h.insert(http::header::IF_MATCH, header_value("if-match", v)?);
        }
        if let Some(v) = &self.if_none_match {
            h.insert(
                http::header::IF_NONE_MATCH,
                header_value("if-none-match", v)?,
            );
        }
        if let Some(t) = self.if_modified_since {
            h.insert(
                http::header::IF_MODIFIED_SINCE,
                header_value("if-modified-since", &httpdate::fmt_http_date(t))?,
            );
        }
        if let Some(t) = self.if_unmodified_since {
            h.insert(
                http::header::IF_UNMODIFIED_SINCE,
                header_value("if-unmodified-since", &httpdate::fmt_http_date(t))?,
            );
        }
        if let Some(key) = &self.customer_key {
            key.apply(&mut h);
        }
        if let Some(limit) = self.traffic_limit {
            h.insert(
                http::HeaderName::from_static("x-cos-traffic-limit"),
                traffic_limit(limit)?,
            );
        }
        if let Some(v) = &self.version_id {
            if v.is_empty() {
                return Err(Error::invalid_input("version id", v, "is empty"));
            }
        }
        Ok(h)
    }
}

/// A GetObject answer: the body still streaming, and the headers.
///
/// The headers are typed into an [`ObjectMeta`] on the first call to
/// [`meta`](Self::meta), not when the answer arrives: most downloads only
/// read the body, and those never pay for typing every header (string
/// copies, a date parse).
/// `Content-Length` and `x-cos-hash-crc64ecma`, which the body is checked
/// against, are parsed on arrival, so a malformed one is still an error
/// from [`Client::get_object`].
#[non_exhaustive]
pub struct GetObjectOutput {
    /// The body; verified against the CRC-64 when the whole object is read.
    pub body: ObjectBody,
    headers: http::HeaderMap,
    checks: BodyChecks,
    meta: OnceLock<Box<ObjectMeta>>,
}

impl GetObjectOutput {
    /// Headers of the object, typed on the first call.
    pub fn meta(&self) -> &ObjectMeta {
        self.meta
            .get_or_init(|| Box::new(ObjectMeta::from_checked(&self.headers, self.checks)))
    }

    /// For a ranged read, which bytes the body holds (`Content-Range`);
    /// `None` for a whole object or a value that does not parse.
    pub fn content_range(&self) -> Option<ContentRange> {
        response::header_str(&self.headers, http::header::CONTENT_RANGE)
            .and_then(ContentRange::parse)
    }

    /// The response headers as received, for any header [`ObjectMeta`]
    /// does not type.
    pub fn headers(&self) -> &http::HeaderMap {
        &self.headers
    }
}

impl std::fmt::Debug for GetObjectOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetObjectOutput")
            .field("meta", self.meta())
            .field("content_range", &self.content_range())
            .field("body", &self.body)
            .finish()
    }
}

/// `Content-Range: bytes first-last/total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContentRange {
    /// First byte in the body.
    pub first: u64,
    /// Last byte in the body, inclusive.
    pub last: u64,
    /// Object size, when the server told.
    pub total: Option<u64>,
}

impl ContentRange {
    pub(crate) fn parse(v: &str) -> Option<Self> {
        let rest = v.trim().strip_prefix("bytes ")?;
        let (range, total) = rest.split_once('/')?;
        let (first, last) = range.split_once('-')?;
        let total = match total.trim() {
            "*" => None,
            t => Some(t.parse().ok()?),
        };
        let (first, last) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
        (first <= last).then_some(ContentRange { first, last, total })
    }
}

/// What a GetObject answer must deliver once its status and
/// `Content-Range` agree with what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GetExpect {
    /// Bytes the body must hold: `Content-Length`, or for a 206 the length
    /// of its `Content-Range` (so a chunked 206 that ends early is short).
    pub len: Option<u64>,
    /// Whether the body is the whole object, so the object's CRC-64 applies.
    pub whole: bool,
}

/// Checks a GetObject answer against the request: a whole-object request
/// must be answered 200; a ranged one 206 with a `Content-Range` that starts
/// where asked, ends where asked or at the object's last byte, and agrees
/// with `Content-Length`. A 200 to a ranged request (a server that ignored
/// `Range`) is refused rather than trimmed: the caller asked for at most the
/// range, and its bytes cannot be verified without reading the whole object.
pub(crate) fn check_get_answer(
    key: &str,
    asked: Option<&ByteRange>,
    status: StatusCode,
    content_range: Option<&str>,
    content_length: Option<u64>,
) -> Result<GetExpect, Error> {
    let fail = |what: String| Err(Error::protocol(format!("GetObject {key}: {what}")));
    let Some(asked) = asked else {
        if status == StatusCode::OK {
            return Ok(GetExpect {
                len: content_length,
                whole: true,
            });
        }
        return fail(format!(
            "asked for the whole object, got HTTP {} with Content-Range {content_range:?}",
            status.as_u16()
        ));
    };
    if status != StatusCode::PARTIAL_CONTENT {
        return fail(format!(
            "asked for {}, got HTTP {} instead of 206 Partial Content",
            asked.header(),
            status.as_u16()
        ));
    }
    let Some(got) = content_range.and_then(ContentRange::parse) else {
        return fail(format!(
            "asked for {}, got a 206 with Content-Range {content_range:?}",
            asked.header()
        ));
    };
    // `parse` guarantees first <= last; only a range of 2^64 bytes overflows.
    let Some(len) = (got.last - got.first).checked_add(1) else {
        return fail(format!(
            "Content-Range {content_range:?} spans more than 2^64 bytes"
        ));
    };
    let ends_object = got.total.map(|t| got.last.checked_add(1) == Some(t));
    let fits = match *asked {
        ByteRange::Inclusive { first, last } => {
            got.first == first
                && (got.last == last || (got.last < last && ends_object == Some(true)))
        }
        ByteRange::From(first) => got.first == first && ends_object != Some(false),
        ByteRange::Suffix(n) => match got.total {
            Some(t) => ends_object == Some(true) && len == n.min(t),
            None => len <= n,
        },
    };
    let beyond_total = got.total.is_some_and(|t| got.last >= t);
    if !fits || beyond_total {
        return fail(format!(
            "asked for {}, got bytes {}-{}/{}",
            asked.header(),
            got.first,
            got.last,
            got.total.map_or("*".to_string(), |t| t.to_string())
        ));
    }
    if let Some(cl) = content_length {
        if cl != len {
            return fail(format!(
                "Content-Range bytes {}-{} holds {len} bytes but Content-Length says {cl}",
                got.first, got.last
            ));
        }
    }
    Ok(GetExpect {
        len: Some(len),
        whole: got.first == 0 && ends_object == Some(true),
    })
}

/// GetObject: `GET /<key>` with range, conditions and `response-*` overrides.
pub(crate) fn get_object(
    t: Target<'_>,
    key: &str,
    opts: &GetOptions,
) -> Result<PreparedRequest, Error> {
    if std::ptr::eq(opts, &*NO_OPTIONS) {
        // The shared defaults (a plain `get_object`) add no header and no
        // parameter: nothing to check or gather.
        return t.object(
            Method::GET,
            key,
            Vec::new(),
            HeaderMap::new(),
            RequestBody::Empty,
        );
    }
    let headers = opts.headers(true)?;
    let params = opts
        .params()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    t.object(Method::GET, key, params, headers, RequestBody::Empty)
}

/// HeadObject: `HEAD /<key>`; ranges and `response-*` do not apply.
pub(crate) fn head_object(
    t: Target<'_>,
    key: &str,
    opts: &GetOptions,
) -> Result<PreparedRequest, Error> {
    let headers = opts.headers(false)?;
    let params = match &opts.version_id {
        Some(v) => params(&[("versionId", v)]),
        None => vec![],
    };
    t.object(Method::HEAD, key, params, headers, RequestBody::Empty)
}

impl Client {
    /// Downloads `key`; the body streams, and a whole-object read is checked
    /// against the server's CRC-64 when the last byte arrives.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let object = client.get_object("examplebucket-1250000000", "hello.txt").await?;
    /// println!("{:?} bytes of {:?}", object.meta().content_length, object.meta().content_type);
    /// let mut file = tokio::fs::File::create("/tmp/hello.txt").await.unwrap();
    /// object.body.write_to(&mut file).await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<GetObjectOutput, Error> {
        self.get_object_with(bucket, key, &NO_OPTIONS).await
    }

    /// [`get_object`](Self::get_object) with a range, conditions, a version
    /// or `response-*` header overrides.
    ///
    /// The answer is checked against the request before it is returned: a
    /// whole-object read must be answered `200`, a ranged read `206` with a
    /// `Content-Range` that starts at the first byte asked and ends at the
    /// last one asked (or at the object's end), and whose length agrees with
    /// `Content-Length`; anything else is an [`Error::Protocol`]. A server
    /// that ignores `Range` and answers `200` with the whole object is
    /// refused too, so a ranged read never yields bytes outside its range.
    /// The body must then hold exactly the announced bytes, and whenever it
    /// is the whole object (no range, or a range covering all of it) its
    /// CRC-64 is checked against `x-cos-hash-crc64ecma`.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::{ByteRange, GetOptions};
    /// let first_kb = client
    ///     .get_object_with("examplebucket-1250000000", "big.bin", &GetOptions::default().range(ByteRange::new(0, 1023)?))
    ///     .await?
    ///     .body
    ///     .bytes()
    ///     .await?;
    /// assert!(first_kb.len() <= 1024);
    /// # Ok(()) }
    /// ```
    pub async fn get_object_with(
        &self,
        bucket: &str,
        key: &str,
        opts: &GetOptions,
    ) -> Result<GetObjectOutput, Error> {
        let bucket = Self::bucket(bucket)?;
        // The body streams to the caller: the operation stays open in it
        // and ends with what its reader gets.
        let operation = Operation::start(&self.info("GetObject", &bucket).with_key(key));
        let answer = async {
            let build = || get_object(self.target(&bucket), key, opts);
            let response = self.send_rebuilding(build).await?;
            let (parts, body) = response.into_parts();
            let checks = BodyChecks::parse(&parts.headers)?;
            let expect = check_get_answer(
                key,
                opts.range.as_ref(),
                parts.status,
                response::header_str(&parts.headers, http::header::CONTENT_RANGE),
                checks.content_length,
            )?;
            Ok::<_, Error>((parts, body, checks, expect))
        };
        let ((parts, body, checks, expect), operation) = operation.run_open(answer).await?;
        let expected_crc = if expect.whole && self.verify_crc() {
            checks.crc64
        } else {
            None
        };
        // What a repair needs is kept as cheaply as it can be had: the
        // bucket name moved rather than copied, the options copied only when
        // they are not the shared defaults, the ETag as its header value
        // (a reference count, turned into text only for a repair).
        let refetch = expected_crc.map(|_| {
            Box::new(Refetch {
                client: self.clone(),
                bucket,
                opts: (!std::ptr::eq(opts, &*NO_OPTIONS)).then(|| opts.clone()),
                etag: parts.headers.get(http::header::ETAG).cloned(),
            })
        });
        let body = ObjectBody::open(
            body,
            key.to_owned(),
            expect.len,
            expected_crc,
            operation,
            refetch,
        );
        Ok(GetObjectOutput {
            body,
            headers: parts.headers,
            checks,
            meta: OnceLock::new(),
        })
    }

    /// The object's headers without its body. A missing object is an error
    /// with status 404 ([`Error::is_not_found`]).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// let meta = client.head_object("examplebucket-1250000000", "hello.txt").await?;
    /// println!("{} bytes, CRC {:?}", meta.content_length, meta.crc64);
    /// # Ok(()) }
    /// ```
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectMeta, Error> {
        self.head_object_with(bucket, key, &NO_OPTIONS).await
    }

    /// [`head_object`](Self::head_object) with a version or conditions.
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// use coscls::cos::GetOptions;
    /// let old = client
    ///     .head_object_with("examplebucket-1250000000", "a.txt", &GetOptions::default().version_id("MTg0NDUxNTc1NjIzMTQ1MDAwODg"))
    ///     .await?;
    /// println!("that version had {} bytes", old.content_length);
    /// # Ok(()) }
    /// ```
    pub async fn head_object_with(
        &self,
        bucket: &str,
        key: &str,
        opts: &GetOptions,
    ) -> Result<ObjectMeta, Error> {
        let bucket = Self::bucket(bucket)?;
        self.operation(self.info("HeadObject", &bucket).with_key(key), async {
            let build = || head_object(self.target(&bucket), key, opts);
            let response = self.send_rebuilding(build).await?;
            ObjectMeta::from_headers(response.headers())
        })
        .await
    }

    /// Whether `key` exists (a HEAD; 404 is `false`, other errors are errors).
    ///
    /// ```no_run
    /// # async fn demo(client: coscls::cos::Client) -> Result<(), coscls::cos::Error> {
    /// if !client.object_exists("examplebucket-1250000000", "report.csv").await? {
    ///     println!("not there yet");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn object_exists(&self, bucket: &str, key: &str) -> Result<bool, Error> {
        match self.head_object(bucket, key).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cos::request::testing::{param, target_parts};
    use crate::cos::{BucketName, Endpoint};

    #[test]
    fn get_params_and_headers() {
        let opts = GetOptions::default()
            .range(ByteRange::new(10, 19).unwrap())
            .version_id("v1")
            .if_match("\"e\"")
            .response_content_type("text/csv");
        let p = opts.params();
        assert!(p.contains(&("response-content-type", "text/csv".to_string())));
        assert!(p.contains(&("versionId", "v1".to_string())));
        let h = opts.headers(true).unwrap();
        assert_eq!(h["range"], "bytes=10-19");
        assert_eq!(h["if-match"], "\"e\"");
        assert!(!opts.headers(false).unwrap().contains_key("range"));
        let bad = GetOptions {
            range: Some(ByteRange::Inclusive { first: 9, last: 1 }),
            ..Default::default()
        };
        assert!(bad.headers(true).is_err());
    }

    #[test]
    fn get_object_params_and_range() {
        let (ep, b) = target_parts();
        let opts = GetOptions::default()
            .range(crate::cos::ByteRange::new(0, 9).unwrap())
            .version_id("v 1")
            .response_content_type("text/csv");
        let r = get_object(
            Target {
                endpoint: &ep,
                bucket: &b,
            },
            "a.csv",
            &opts,
        )
        .unwrap();
        assert_eq!(param(&r, "versionId"), Some("v 1"));
        assert_eq!(param(&r, "response-content-type"), Some("text/csv"));
        assert!(
            r.url
                .ends_with("?response-content-type=text%2Fcsv&versionId=v%201"),
            "{}",
            r.url
        );
        assert_eq!(r.headers["range"], "bytes=0-9");
        assert!(!r.headers.contains_key("content-length"));
        let h = head_object(
            Target {
                endpoint: &ep,
                bucket: &b,
            },
            "a.csv",
            &opts,
        )
        .unwrap();
        assert_eq!(h.method, Method::HEAD);
        assert!(!h.headers.contains_key("range"));
        assert_eq!(h.params.len(), 1);
    }

    /// The shared default options take a short way: the request is the
    /// one default options built anew give.
    #[test]
    fn the_shared_defaults_build_the_same_request() {
        let (ep, b) = target_parts();
        let t = Target {
            endpoint: &ep,
            bucket: &b,
        };
        let shared = get_object(t, "a b/c.txt", &NO_OPTIONS).unwrap();
        let fresh = get_object(t, "a b/c.txt", &GetOptions::default()).unwrap();
        assert_eq!(shared.method, fresh.method);
        assert_eq!(shared.url, fresh.url);
        assert_eq!(shared.signed_path, fresh.signed_path);
        assert_eq!(shared.params, fresh.params);
        assert_eq!(shared.headers, fresh.headers);
        assert!(shared.body.is_empty() && fresh.body.is_empty());
        assert!(get_object(t, "/bad", &NO_OPTIONS).is_err());
    }

    #[test]
    fn path_style_signs_the_bucket_in_the_path() {
        let ep = Endpoint::custom("http://127.0.0.1:9000").unwrap();
        let b = BucketName::parse("b-1").unwrap();
        let r = get_object(
            Target {
                endpoint: &ep,
                bucket: &b,
            },
            "a b",
            &GetOptions::default(),
        )
        .unwrap();
        assert_eq!(r.url, "http://127.0.0.1:9000/b-1/a%20b");
        assert_eq!(r.signed_path, "/b-1/a b");
        assert_eq!(r.headers["host"], "127.0.0.1:9000");
    }

    #[test]
    fn bad_keys_fail_before_any_request() {
        let (ep, b) = target_parts();
        for key in ["", "/x", "a/..", &"k".repeat(851)] {
            assert!(
                get_object(
                    Target {
                        endpoint: &ep,
                        bucket: &b
                    },
                    key,
                    &GetOptions::default()
                )
                .is_err(),
                "{key}"
            );
        }
    }

    #[test]
    fn content_range() {
        assert_eq!(
            ContentRange::parse("bytes 0-9/100"),
            Some(ContentRange {
                first: 0,
                last: 9,
                total: Some(100)
            })
        );
        assert_eq!(ContentRange::parse("bytes 5-5/*").unwrap().total, None);
        for bad in ["0-9/100", "bytes 9-0/100", "bytes x-1/2", "bytes 0-1"] {
            assert_eq!(ContentRange::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn get_answers_are_checked_against_the_request() {
        use StatusCode as S;
        let ok = |asked: Option<ByteRange>, status, cr: Option<&str>, cl| {
            check_get_answer("k", asked.as_ref(), status, cr, cl)
        };
        let range = |a, b| Some(ByteRange::new(a, b).unwrap());
        // Whole object.
        assert_eq!(
            ok(None, S::OK, None, Some(100)).unwrap(),
            GetExpect {
                len: Some(100),
                whole: true
            }
        );
        let e = ok(None, S::PARTIAL_CONTENT, Some("bytes 0-9/100"), Some(10)).unwrap_err();
        assert!(
            e.to_string()
                .contains("asked for the whole object, got HTTP 206"),
            "{e}"
        );
        assert!(ok(None, S::NO_CONTENT, None, None).is_err());
        // Ranges answered as asked, or cut at the object's end.
        assert_eq!(
            ok(
                range(0, 9),
                S::PARTIAL_CONTENT,
                Some("bytes 0-9/100"),
                Some(10)
            )
            .unwrap(),
            GetExpect {
                len: Some(10),
                whole: false
            }
        );
        assert_eq!(
            ok(
                range(90, 199),
                S::PARTIAL_CONTENT,
                Some("bytes 90-99/100"),
                None
            )
            .unwrap(),
            GetExpect {
                len: Some(10),
                whole: false
            }
        );
        assert!(
            ok(
                range(0, 99),
                S::PARTIAL_CONTENT,
                Some("bytes 0-99/100"),
                None
            )
            .unwrap()
            .whole
        );
        assert!(ok(
            Some(ByteRange::from(5)),
            S::PARTIAL_CONTENT,
            Some("bytes 5-99/100"),
            None
        )
        .is_ok());
        assert!(ok(
            Some(ByteRange::from(5)),
            S::PARTIAL_CONTENT,
            Some("bytes 5-50/100"),
            None
        )
        .is_err());
        assert!(ok(
            Some(ByteRange::last(10).unwrap()),
            S::PARTIAL_CONTENT,
            Some("bytes 90-99/100"),
            None
        )
        .is_ok());
        assert!(
            ok(
                Some(ByteRange::last(10).unwrap()),
                S::PARTIAL_CONTENT,
                Some("bytes 0-4/5"),
                None
            )
            .unwrap()
            .whole
        );
        assert!(ok(
            Some(ByteRange::last(10).unwrap()),
            S::PARTIAL_CONTENT,
            Some("bytes 80-99/100"),
            None
        )
        .is_err());
        // Wrong answers.
        for (cr, why) in [
            (Some("bytes 10-19/100"), "starts elsewhere"),
            (Some("bytes 0-5/100"), "shorter, object not ended"),
            (Some("bytes 0-19/100"), "longer than asked"),
            (Some("bytes 0-9/5"), "past the object's end"),
            (None, "no Content-Range"),
            (Some("bytes */100"), "unparseable"),
        ] {
            assert!(
                ok(range(0, 9), S::PARTIAL_CONTENT, cr, None).is_err(),
                "{why}"
            );
        }
        let e = ok(
            range(0, 9),
            S::PARTIAL_CONTENT,
            Some("bytes 0-9/100"),
            Some(4),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Content-Length says 4"), "{e}");
        let e = ok(range(0, 9), S::OK, None, Some(100)).unwrap_err();
        assert!(e.to_string().contains("got HTTP 200 instead of 206"), "{e}");
        let e = ok(
            range(0, u64::MAX),
            S::PARTIAL_CONTENT,
            Some(&format!("bytes 0-{}/*", u64::MAX)),
            None,
        );
        assert!(e.is_err(), "a 2^64-byte range is refused, not overflowed");
    }
}
