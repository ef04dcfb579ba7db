//! What the user sees: results on stdout (text, or one JSON object per line
//! with `--json`), diagnostics on stderr, and the formatting rules for sizes,
//! times and error chains.

use std::error::Error;
use std::io::Write;
use std::time::SystemTime;

use indicatif::MultiProgress;
use serde_json::Value;

/// Writes result lines. Progress bars live on stderr; a line printed while
/// they are drawn is written with the bars suspended so neither is torn.
#[derive(Debug, Clone)]
pub(crate) struct Out {
    quiet: bool,
    json: bool,
    bars: Option<MultiProgress>,
}

impl Out {
    pub(crate) fn new(quiet: bool, json: bool, bars: Option<MultiProgress>) -> Self {
        Out { quiet, json, bars }
    }

    /// The report of something done (uploaded, deleted…): `--quiet` silences it.
    pub(crate) fn done(&self, text: impl FnOnce() -> String, json: impl FnOnce() -> Value) {
        if !self.quiet {
            self.data(text, json);
        }
    }

    /// What the command was asked for (a listing, a URL, metadata): printed
    /// even with `--quiet`.
    pub(crate) fn data(&self, text: impl FnOnce() -> String, json: impl FnOnce() -> Value) {
        let line = if self.json {
            json().to_string()
        } else {
            text()
        };
        self.write_stdout(&line);
    }

    fn write_stdout(&self, line: &str) {
        let write = || {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`coscls ls … | head`) is not an error worth a panic.
            let _ = writeln!(stdout, "{line}");
            let _ = stdout.flush();
        };
        match &self.bars {
            Some(bars) => bars.suspend(write),
            None => write(),
        }
    }

    /// A diagnostic on stderr (not silenced by `--quiet`: warnings matter).
    pub(crate) fn warn(&self, text: &str) {
        let write = || eprintln!("coscls: {text}");
        match &self.bars {
            Some(bars) => bars.suspend(write),
            None => write(),
        }
    }
}

/// The lines of an error report: the error, then each cause whose text is
/// not already part of an earlier line (many errors repeat their source in
/// their own message), so every cause is printed once.
pub(crate) fn error_lines(e: &(dyn Error + 'static)) -> Vec<String> {
    let mut lines = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !lines.iter().any(|l| l.contains(&text)) {
            lines.push(text);
        }
        source = s.source();
    }
    lines
}

/// `1.5 KiB`, `12 B`, `3.0 GiB`: binary units, one decimal above bytes.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// RFC 3339 in UTC to the second, or `-` when unknown.
pub(crate) fn time_text(t: Option<SystemTime>) -> String {
    t.map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_else(|| "-".into())
}

/// The same, as a JSON value (`null` when unknown).
pub(crate) fn time_json(t: Option<SystemTime>) -> Value {
    t.map(|t| Value::String(humantime::format_rfc3339_seconds(t).to_string()))
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;
    use std::time::Duration;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl fmt::Display for E {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Error for E {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn each_cause_is_printed_once() {
        let inner = E("timed out: no answer in 1s", None);
        let mid = E("timed out: no answer in 1s", Some(Box::new(inner)));
        let top = E(
            "COS request failed: timed out: no answer in 1s",
            Some(Box::new(mid)),
        );
        assert_eq!(
            error_lines(&top),
            vec!["COS request failed: timed out: no answer in 1s"]
        );
        let top = E(
            "uploading a.txt",
            Some(Box::new(E("connection refused", None))),
        );
        assert_eq!(
            error_lines(&top),
            vec!["uploading a.txt", "connection refused"]
        );
    }

    #[test]
    fn sizes_and_times() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 + 61);
        assert_eq!(time_text(Some(t)), "1970-01-02T00:01:01Z");
        assert_eq!(time_text(None), "-");
        assert_eq!(time_json(None), Value::Null);
    }
}
