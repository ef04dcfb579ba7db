//! CLS `POST /structuredlog?topic_id=` (docs/protocol/cls.md §1–§4).
//!
//! Limits and answers (JSON `{"errorcode","errormessage"}`, `X-Cls-Requestid`):
//!
//! | check | status | errorcode |
//! |---|---|---|
//! | no `Authorization` / unparsable | 400 | `MissingAuthorization` / `InvalidAuthorization` |
//! | unknown SecretId, bad signature, window, token | 401 | `Unauthorized` |
//! | no / wrong `Content-Type` | 400 | `MissingContentType` / `InvalidContentType` |
//! | compress type other than `lz4` (raw LZ4 block), `zstd` (zstd frames) or none | 400 | `InvalidCompressType` |
//! | no `topic_id` | 400 | `InvalidParam` |
//! | topic not configured (when topics are configured) | 404 | `TopicNotExist` |
//! | empty body / undecompressable or undecodable | 400 | `MissingContent` / `InvalidContent` |
//! | body over 6 MiB before compression | 413 | `ContentIsTooLarge` |
//! | more than 10 groups, 0 or over 10 000 logs in a group, reserved key | 400 | `InvalidParam` |
//! | a value over 1 MiB, a group's values over 5 MiB | 403 | `LogSizeExceed` |
//!
//! A signature whose `q-sign-time` window does not hold the server's now
//! (shifted by `clock_offset_secs`) is refused as CLS documents its
//! "signature expire" cause: 401 `Unauthorized`, a message that says the
//! signature expired (or is not yet valid), and, like every answer, a `Date`
//! header with the server's clock, from which a client corrects its own.

use std::collections::BTreeMap;

use http::{HeaderValue, Response, StatusCode};
use hyper::body::Incoming;
use prost::Message;

use coscls::cls::LogGroupList;

use crate::body::{self, Body};
use crate::state::{ReceivedLog, State};
use crate::verify::{self, AuthError, AuthRequest};

/// Body limit before compression.
pub(crate) const MAX_BODY: usize = 6 * 1024 * 1024;
/// Groups per request.
pub(crate) const MAX_GROUPS: usize = 10;
/// Logs per group.
pub(crate) const MAX_LOGS_PER_GROUP: usize = 10_000;
/// One value.
pub(crate) const MAX_VALUE: usize = 1024 * 1024;
/// All values of one group.
pub(crate) const MAX_GROUP_VALUES: usize = 5 * 1024 * 1024;
/// Content keys CLS reserves.
const RESERVED_KEYS: [&str; 4] = [
    "__FILENAME__",
    "__TIMESTAMP__",
    "__LOGSETID__",
    "__TOPICID__",
];

/// A CLS error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClsError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ClsError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ClsError {
            status,
            code,
            message: message.into(),
        }
    }

    fn param(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParam", message)
    }

    /// The answer to an injected failure.
    pub(crate) fn injected(status: u16) -> Self {
        match status {
            429 => Self::new(429, "SpeedQuotaExceed", "Speed quota exceeded (injected)."),
            s if s >= 500 => Self::new(s, "InternalError", "Internal error (injected)."),
            s => Self::new(s, "InvalidParam", "Injected failure."),
        }
    }

    fn from_auth(e: AuthError) -> Self {
        match e {
            AuthError::Missing => Self::new(400, "MissingAuthorization", "Authorization header is missing."),
            AuthError::Malformed(why) => Self::new(400, "InvalidAuthorization", format!("Authorization is invalid: {why}.")),
            AuthError::UnknownSecretId(_) => Self::new(401, "Unauthorized", "The SecretId does not exist."),
            AuthError::NotYetValid { start, now } => Self::new(
                401,
                "Unauthorized",
                format!("Signature not yet valid: q-sign-time starts at {start}, server time is {now}."),
            ),
            AuthError::Expired { end, now } => Self::new(
                401,
                "Unauthorized",
                format!("Signature expired: q-sign-time ended at {end}, server time is {now}."),
            ),
            AuthError::MissingToken => Self::new(401, "Unauthorized", "Temporary credentials require X-Cls-Token."),
            AuthError::WrongToken => Self::new(401, "Unauthorized", "X-Cls-Token is invalid."),
            AuthError::ListedButAbsent { what, .. } => {
                Self::new(401, "Unauthorized", format!("Signature error: {what}."))
            }
            AuthError::Mismatch {
                string_to_sign,
                format_string,
            } => Self::new(
                401,
                "Unauthorized",
                format!(
                    "Signature error: the signature does not match. Server FormatString {format_string:?}, StringToSign {string_to_sign:?}."
                ),
            ),
        }
    }

    pub(crate) fn into_response(self) -> Response<Body> {
        let json =
            serde_json::json!({ "errorcode": self.code, "errormessage": self.message }).to_string();
        let len = json.len();
        let mut resp = Response::new(body::full(json));
        *resp.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let h = resp.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("content-length", HeaderValue::from(len));
        resp
    }
}

/// Decompresses (raw LZ4 block, zstd frame or none) and decodes a body, bounded by
/// [`MAX_BODY`] (pure).
pub(crate) fn decode(body: &[u8], compress: Option<&str>) -> Result<LogGroupList, ClsError> {
    if body.is_empty() {
        return Err(ClsError::new(
            400,
            "MissingContent",
            "The request body is empty.",
        ));
    }
    let raw: std::borrow::Cow<'_, [u8]> = match compress.map(|c| c.trim().to_ascii_lowercase()) {
        None => std::borrow::Cow::Borrowed(body),
        Some(c) if c.is_empty() => std::borrow::Cow::Borrowed(body),
        Some(c) if c == "lz4" => {
            let mut out = vec![0u8; MAX_BODY];
            match lz4_flex::block::decompress_into(body, &mut out) {
                Ok(n) => {
                    out.truncate(n);
                    std::borrow::Cow::Owned(out)
                }
                Err(lz4_flex::block::DecompressError::OutputTooSmall { .. }) => {
                    return Err(too_large());
                }
                Err(e) => return Err(undecompressable("lz4", e)),
            }
        }
        Some(c) if c == "zstd" => std::borrow::Cow::Owned(zstd_decompress(body)?),
        Some(c) => {
            return Err(ClsError::new(
                400,
                "InvalidCompressType",
                format!(
                "x-cls-compress-type {c:?} is not supported (the emulator accepts lz4, zstd or none)."
            ),
            ))
        }
    };
    if raw.len() > MAX_BODY {
        return Err(too_large());
    }
    LogGroupList::decode(&*raw).map_err(|e| {
        ClsError::new(
            400,
            "InvalidContent",
            format!("The body is not a LogGroupList: {e}."),
        )
    })
}

/// Largest zstd window the emulator decodes with (8 MiB, window log 23). It is
/// above [`MAX_BODY`] because encoders declare windows larger than the content:
/// klauspost/compress (the Go SDK) writes its default 8 MiB window on frames of
/// 1 KiB or less, and libzstd uses window logs up to 23 for levels 1–19 when
/// the size is not pledged. It bounds what the decoder buffers before any
/// output can be counted: at most this window plus [`MAX_BODY`] per request.
const ZSTD_MAX_WINDOW: u64 = 8 * 1024 * 1024;

/// Decodes one or more zstd frames (skippable frames are skipped), stopping
/// with 413 as soon as the output passes [`MAX_BODY`]; the declared content
/// size is only compared with the limit, never allocated.
fn zstd_decompress(body: &[u8]) -> Result<Vec<u8>, ClsError> {
    use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
    use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

    let mut decoder = FrameDecoder::new();
    decoder.set_max_window_size(ZSTD_MAX_WINDOW);
    let mut out = Vec::new();
    let mut input = body;
    while !input.is_empty() {
        let frame = input;
        match decoder.init(&mut input) {
            Ok(()) => {}
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                length,
                ..
            })) => {
                input = input.get(length as usize..).ok_or_else(|| {
                    undecompressable("zstd", "a skippable frame is longer than the body")
                })?;
                continue;
            }
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::BadMagicNumber(
                m,
            ))) => {
                return Err(undecompressable(
                    "zstd",
                    format!("the frame magic number is {m:#010x}, not 0xfd2fb528"),
                ))
            }
            // A single-segment frame's window is its declared content size.
            Err(FrameDecoderError::WindowSizeTooBig { .. })
                if frame
                    .get(4)
                    .is_some_and(|descriptor| descriptor & 0x20 != 0) =>
            {
                return Err(too_large())
            }
            Err(e) => return Err(undecompressable("zstd", e)),
        }
        if decoder.content_size() > (MAX_BODY - out.len()) as u64 {
            return Err(too_large());
        }
        loop {
            let finished = decoder
                .decode_blocks(&mut input, BlockDecodingStrategy::UptoBlocks(1))
                .map_err(|e| undecompressable("zstd", e))?;
            decoder
                .collect_to_writer(&mut out)
                .map_err(|e| undecompressable("zstd", e))?;
            if out.len() > MAX_BODY {
                return Err(too_large());
            }
            if finished {
                break;
            }
        }
        if let (Some(sent), Some(computed)) = (
            decoder.get_checksum_from_data(),
            decoder.get_calculated_checksum(),
        ) {
            if sent != computed {
                return Err(undecompressable(
                    "zstd",
                    format!("content checksum {sent:#010x} does not match the content ({computed:#010x})"),
                ));
            }
        }
    }
    Ok(out)
}

/// 400 `InvalidContent` for a body that the named codec cannot decompress.
fn undecompressable(codec: &str, e: impl std::fmt::Display) -> ClsError {
    ClsError::new(
        400,
        "InvalidContent",
        format!("The {codec} body cannot be decompressed: {e}."),
    )
}

fn too_large() -> ClsError {
    ClsError::new(
        413,
        "ContentIsTooLarge",
        format!("The body exceeds {MAX_BODY} bytes before compression."),
    )
}

/// Applies the CLS request limits (pure).
pub(crate) fn check_limits(list: &LogGroupList) -> Result<(), ClsError> {
    let groups = &list.log_group_list;
    if groups.is_empty() {
        return Err(ClsError::param("The LogGroupList has no LogGroup."));
    }
    if groups.len() > MAX_GROUPS {
        return Err(ClsError::param(format!(
            "{} LogGroups in one request; at most {MAX_GROUPS} are allowed.",
            groups.len()
        )));
    }
    for (i, group) in groups.iter().enumerate() {
        let n = group.logs.len();
        if n == 0 || n > MAX_LOGS_PER_GROUP {
            return Err(ClsError::param(format!(
                "LogGroup {i} has {n} logs; 1 to {MAX_LOGS_PER_GROUP} are allowed."
            )));
        }
        let mut total = 0usize;
        for log in &group.logs {
            for c in &log.contents {
                if RESERVED_KEYS.contains(&c.key.as_str()) {
                    return Err(ClsError::param(format!("The key {} is reserved.", c.key)));
                }
                if c.value.len() > MAX_VALUE {
                    return Err(ClsError::new(
                        403,
                        "LogSizeExceed",
                        format!(
                            "The value of {} is {} bytes; at most {MAX_VALUE} are allowed.",
                            c.key,
                            c.value.len()
                        ),
                    ));
                }
                total += c.value.len();
            }
        }
        if total > MAX_GROUP_VALUES {
            return Err(ClsError::new(
                403,
                "LogSizeExceed",
                format!("LogGroup {i} carries {total} bytes of values; at most {MAX_GROUP_VALUES} are allowed."),
            ));
        }
    }
    Ok(())
}

/// One [`ReceivedLog`] per log line (pure).
pub(crate) fn flatten(list: LogGroupList) -> Vec<ReceivedLog> {
    let mut out = Vec::new();
    for group in list.log_group_list {
        let tags: BTreeMap<String, String> = group
            .log_tags
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect();
        for log in group.logs {
            out.push(ReceivedLog {
                time: log.time,
                contents: log.contents.into_iter().map(|c| (c.key, c.value)).collect(),
                source: group.source.clone(),
                filename: group.filename.clone(),
                hostname: group.hostname.clone(),
                tags: tags.clone(),
                context_flow: group.context_flow.clone(),
                collect_time: log.collect_time,
            });
        }
    }
    out
}

/// Verifies and stores one upload.
pub(crate) async fn handle(
    state: &State,
    parts: http::request::Parts,
    mut body: Incoming,
    query: &[(String, String)],
    authority: &str,
) -> Response<Body> {
    match run(state, &parts, &mut body, query, authority).await {
        Ok(()) => {
            let mut resp = Response::new(body::empty());
            resp.headers_mut()
                .insert("content-length", HeaderValue::from(0));
            resp
        }
        Err(e) => {
            body::drain(&mut body, 2 * MAX_BODY as u64).await;
            e.into_response()
        }
    }
}

async fn run(
    state: &State,
    parts: &http::request::Parts,
    body: &mut Incoming,
    query: &[(String, String)],
    authority: &str,
) -> Result<(), ClsError> {
    if parts.method != http::Method::POST {
        return Err(ClsError::new(
            405,
            "MethodNotAllowed",
            "Use POST for /structuredlog.",
        ));
    }
    let auth = AuthRequest {
        method: parts.method.as_str(),
        signed_path: "/structuredlog",
        query,
        headers: &parts.headers,
        authority,
        now: state.now(),
        token_header: "x-cls-token",
        allow_query_auth: false,
    };
    if let Err(e) = verify::verify(&auth, |id| state.keys.get(id).cloned()) {
        state.count(|s| s.auth_failures += 1);
        return Err(ClsError::from_auth(e));
    }
    let topic = query
        .iter()
        .find(|(k, _)| k == "topic_id")
        .map(|(_, v)| v.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ClsError::param("topic_id is required."))?;
    if let Some(topics) = &state.config.topics {
        if !topics.contains(topic) {
            return Err(ClsError::new(
                404,
                "TopicNotExist",
                format!("The topic {topic} does not exist."),
            ));
        }
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    match header("content-type") {
        None => {
            return Err(ClsError::new(
                400,
                "MissingContentType",
                "Content-Type is missing.",
            ))
        }
        Some(ct)
            if !ct
                .trim()
                .to_ascii_lowercase()
                .starts_with("application/x-protobuf") =>
        {
            return Err(ClsError::new(
                400,
                "InvalidContentType",
                format!("Content-Type must be application/x-protobuf, got {ct:?}."),
            ))
        }
        Some(_) => {}
    }
    let data = body::collect(body, 2 * MAX_BODY)
        .await
        .map_err(|e| match e {
            body::ReadError::TooLarge => too_large(),
            body::ReadError::Transport(e) => ClsError::new(
                400,
                "InvalidContent",
                format!("The body could not be read: {e}."),
            ),
        })?;
    let list = decode(&data, header("x-cls-compress-type"))?;
    check_limits(&list)?;
    state.add_logs(topic, flatten(list));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use coscls::cls::{Log, LogContent, LogGroup, LogTag};

    fn list(groups: usize, logs: usize, value: usize) -> LogGroupList {
        LogGroupList {
            log_group_list: (0..groups)
                .map(|_| LogGroup {
                    logs: (0..logs)
                        .map(|i| Log {
                            time: i as i64,
                            contents: vec![LogContent {
                                key: "k".into(),
                                value: "v".repeat(value),
                            }],
                            collect_time: None,
                        })
                        .collect(),
                    context_flow: Some("CF".into()),
                    filename: Some("/f".into()),
                    source: Some("10.0.0.1".into()),
                    log_tags: vec![LogTag {
                        key: "env".into(),
                        value: "prod".into(),
                    }],
                    hostname: None,
                })
                .collect(),
        }
    }

    #[test]
    fn decodes_the_python_sdk_vector_in_lz4_and_plain() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/vectors/cls/log_group_list.json"
        );
        let text =
            std::fs::read_to_string(path).expect("tests/data/vectors/cls/log_group_list.json");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let plain = hex::decode(v["uncompressed_hex"].as_str().unwrap()).unwrap();
        let lz4 = hex::decode(v["lz4"]["compressed_hex"].as_str().unwrap()).unwrap();
        let a = decode(&plain, None).unwrap();
        let b = decode(&lz4, Some("lz4")).unwrap();
        assert_eq!(a, b);
        let logs = flatten(a);
        assert_eq!(logs.len(), 2);
        assert_eq!(logs[0].time, 1700000000123);
        assert_eq!(logs[0].filename.as_deref(), Some("/var/log/app.log"));
        assert_eq!(logs[0].tags["env"], "prod");
    }

    #[test]
    fn round_trips_and_flattens() {
        let l = list(2, 3, 4);
        let bytes = l.encode_to_vec();
        let compressed = lz4_flex::block::compress(&bytes);
        assert_eq!(decode(&compressed, Some("LZ4")).unwrap(), l);
        let logs = flatten(decode(&bytes, None).unwrap());
        assert_eq!(logs.len(), 6);
        assert_eq!(logs[5].contents["k"], "vvvv");
        assert_eq!(logs[0].context_flow.as_deref(), Some("CF"));
        assert_eq!(logs[0].source.as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn refusals() {
        assert_eq!(decode(b"", None).unwrap_err().code, "MissingContent");
        assert_eq!(
            decode(b"\xff\xff\xff", None).unwrap_err().code,
            "InvalidContent"
        );
        assert_eq!(
            decode(b"\xff\xff\xff", Some("lz4")).unwrap_err().code,
            "InvalidContent"
        );
        assert_eq!(
            decode(b"x", Some("deflate")).unwrap_err().code,
            "InvalidCompressType"
        );
        let huge = vec![0u8; MAX_BODY + 1];
        assert_eq!(
            decode(&lz4_flex::block::compress(&huge), Some("lz4"))
                .unwrap_err()
                .status,
            413
        );
        assert_eq!(decode(&huge, None).unwrap_err().status, 413);
    }

    /// The vector's 126-byte LogGroupList as `zstd -3` (CLI v1.5.4,
    /// libzstd, the C library the SDK's `zstd` feature links) writes it: one
    /// compressed block with sequences, content size and an XXH64 checksum.
    const VECTOR_ZSTD_CLI_HEX: &str = "28b52ffd247ead030074060a7c0a2408fbd095ffbc31120d0a056c6576656c1204494e464f120c0a036d7367120568656c6c6f0a2b08b0db0e054552524f5212120b626f6f6d20e4bda0e5a5bd1a102f7661722f6c6f672f6170702e6c6f67220831302e312a0b0a03656e76120470726f640400cb85a7d46040ace9527af34fd784";

    fn vector_plain() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/vectors/cls/log_group_list.json"
        );
        let text =
            std::fs::read_to_string(path).expect("tests/data/vectors/cls/log_group_list.json");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        hex::decode(v["uncompressed_hex"].as_str().unwrap()).unwrap()
    }

    /// A hand-built zstd frame (RFC 8878 §3.1.1): magic, a header without
    /// content size (descriptor 0x00, 2 MiB window), then `blocks` RLE blocks
    /// of 128 KiB zeros each, so only counting the output can bound it.
    fn zstd_rle_zeros(blocks: usize) -> Vec<u8> {
        let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58];
        for i in 0..blocks {
            let last = u32::from(i + 1 == blocks);
            let header = (128 * 1024) << 3 | 1 << 1 | last; // size, type RLE, last
            f.extend_from_slice(&header.to_le_bytes()[..3]);
            f.push(0);
        }
        f
    }

    #[test]
    fn zstd_frames_decode_to_the_plain_list() {
        let plain = vector_plain();
        let cli = hex::decode(VECTOR_ZSTD_CLI_HEX).unwrap();
        assert_eq!(
            decode(&cli, Some("zstd")).unwrap(),
            decode(&plain, None).unwrap()
        );

        let l = list(2, 3, 4);
        let bytes = l.encode_to_vec();
        for level in [
            ruzstd::encoding::CompressionLevel::Fastest,
            ruzstd::encoding::CompressionLevel::Uncompressed,
        ] {
            let frame = ruzstd::encoding::compress_to_vec(&bytes[..], level);
            assert_eq!(&frame[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd frame magic");
            assert_eq!(decode(&frame, Some(" ZSTD ")).unwrap(), l, "{level:?}");
        }

        // Concatenated frames with a skippable frame between them decode as
        // one body, as with libzstd's ZSTD_decompress.
        let (a, b) = bytes.split_at(bytes.len() / 2);
        let fastest = ruzstd::encoding::CompressionLevel::Fastest;
        let mut frames = ruzstd::encoding::compress_to_vec(a, fastest);
        frames.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        frames.extend(ruzstd::encoding::compress_to_vec(b, fastest));
        assert_eq!(decode(&frames, Some("zstd")).unwrap(), l);
    }

    #[test]
    fn corrupt_zstd_frames_are_invalid_content() {
        let cli = hex::decode(VECTOR_ZSTD_CLI_HEX).unwrap();
        let mut bad_checksum = cli.clone();
        *bad_checksum.last_mut().unwrap() ^= 1;
        let mut bad_block = cli.clone();
        bad_block[6] = 0xff; // first block header: reserved block type 3
        let big_window = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x88, 0x01, 0x00, 0x00]; // 128 MiB
        let cases: [(&str, &[u8], &str); 6] = [
            (
                "not zstd",
                b"\xff\xff\xff\xff\xff",
                "magic number is 0xffffffff",
            ),
            ("header cut", &cli[..3], "cannot be decompressed"),
            (
                "truncated",
                &cli[..cli.len() - 10],
                "cannot be decompressed",
            ),
            ("checksum", &bad_checksum, "checksum"),
            ("block type", &bad_block, "cannot be decompressed"),
            ("window", &big_window, "window"),
        ];
        for (what, body, needle) in cases {
            let e = decode(body, Some("zstd")).unwrap_err();
            assert_eq!((e.status, e.code), (400, "InvalidContent"), "{what}: {e:?}");
            assert!(e.message.contains("The zstd body"), "{what}: {e:?}");
            assert!(e.message.contains(needle), "{what}: {e:?}");
        }
        let mut trailing = cli;
        trailing.push(0);
        assert_eq!(
            decode(&trailing, Some("zstd")).unwrap_err().code,
            "InvalidContent"
        );
    }

    #[test]
    fn zstd_output_is_bounded_by_max_body() {
        const BLOCK: usize = 128 * 1024;
        assert_eq!(MAX_BODY % BLOCK, 0);
        // Exactly MAX_BODY zeros are decompressed (then are no LogGroupList);
        // one block more is refused while decoding: no content size is declared.
        let at_limit = decode(&zstd_rle_zeros(MAX_BODY / BLOCK), Some("zstd")).unwrap_err();
        assert_eq!(at_limit.code, "InvalidContent");
        assert!(
            at_limit.message.contains("not a LogGroupList"),
            "{at_limit:?}"
        );
        let bomb = zstd_rle_zeros(MAX_BODY / BLOCK + 1);
        assert!(bomb.len() < 256, "{} bytes", bomb.len());
        let e = decode(&bomb, Some("zstd")).unwrap_err();
        assert_eq!((e.status, e.code), (413, "ContentIsTooLarge"));
        // 32 KiB that expand to 1 GiB: refused after about window + MAX_BODY
        // of output (a decoder that collected everything first would take 1 GiB).
        let gib = zstd_rle_zeros(8 * 1024);
        assert_eq!(gib.len(), 6 + 4 * 8 * 1024);
        assert_eq!(decode(&gib, Some("zstd")).unwrap_err().status, 413);

        // Declared content sizes over the limit are refused before decoding,
        // whether the window fits (6 MiB + 1) or not (64 MiB, single segment).
        for size in [MAX_BODY as u32 + 1, 64 << 20] {
            let mut declared = vec![0x28, 0xb5, 0x2f, 0xfd, 0xa0]; // single segment, 4-byte size
            declared.extend_from_slice(&size.to_le_bytes());
            declared.extend_from_slice(&[0x03, 0x00, 0x10, 0x00]); // one last RLE block
            assert_eq!(
                decode(&declared, Some("zstd")).unwrap_err().status,
                413,
                "{size}"
            );
        }

        // An encoder's frame of MAX_BODY + 1 zeros.
        let huge = vec![0u8; MAX_BODY + 1];
        let frame = ruzstd::encoding::compress_to_vec(
            &huge[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert!(frame.len() < huge.len() / 100, "{} bytes", frame.len());
        assert_eq!(decode(&frame, Some("zstd")).unwrap_err().status, 413);
    }

    #[test]
    fn limits() {
        assert!(check_limits(&list(10, 1, 1)).is_ok());
        assert_eq!(
            check_limits(&list(11, 1, 1)).unwrap_err().code,
            "InvalidParam"
        );
        assert_eq!(
            check_limits(&list(1, 0, 1)).unwrap_err().code,
            "InvalidParam"
        );
        assert!(check_limits(&list(1, MAX_LOGS_PER_GROUP, 0)).is_ok());
        assert_eq!(
            check_limits(&list(1, MAX_LOGS_PER_GROUP + 1, 0))
                .unwrap_err()
                .code,
            "InvalidParam"
        );
        assert!(check_limits(&list(1, 1, MAX_VALUE)).is_ok());
        let e = check_limits(&list(1, 1, MAX_VALUE + 1)).unwrap_err();
        assert_eq!((e.status, e.code), (403, "LogSizeExceed"));
        assert_eq!(
            check_limits(&list(1, 6, MAX_VALUE)).unwrap_err().code,
            "LogSizeExceed"
        );
        let mut reserved = list(1, 1, 1);
        reserved.log_group_list[0].logs[0].contents[0].key = "__TOPICID__".into();
        assert_eq!(check_limits(&reserved).unwrap_err().code, "InvalidParam");
    }

    #[test]
    fn a_signature_outside_its_window_is_refused_as_expired() {
        let expired = ClsError::from_auth(AuthError::Expired { end: 10, now: 20 });
        assert_eq!((expired.status, expired.code), (401, "Unauthorized"));
        assert!(
            expired.message.starts_with("Signature expired"),
            "{expired:?}"
        );
        let early = ClsError::from_auth(AuthError::NotYetValid { start: 30, now: 20 });
        assert_eq!((early.status, early.code), (401, "Unauthorized"));
        assert!(early.message.contains("not yet valid"), "{early:?}");
    }
}
