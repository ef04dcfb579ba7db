//! Progress bars (indicatif) on stderr: one bar per file, and a total for
//! recursive copies. Drawn on a terminal unless `--quiet`/`--no-progress`;
//! `--progress` draws them even when stderr is not a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether bars are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Drawn when stderr is a terminal.
    Auto,
    /// Drawn whatever stderr is.
    Always,
    Never,
}

impl Mode {
    /// From the flags: `--quiet` and `--no-progress` win over `--progress`.
    pub(crate) fn from_flags(quiet: bool, progress: bool, no_progress: bool) -> Self {
        if quiet || no_progress {
            Mode::Never
        } else if progress {
            Mode::Always
        } else {
            Mode::Auto
        }
    }
}

/// The bars of one command.
#[derive(Debug, Clone)]
pub(crate) struct Bars {
    multi: Option<MultiProgress>,
    total: Option<ProgressBar>,
}

const FILE_TEMPLATE: &str =
    "{msg:30!} [{bar:25}] {bytes:>10}/{total_bytes:10} {binary_bytes_per_sec:>12} ETA {eta}";
const STREAM_TEMPLATE: &str = "{msg:30!} {bytes:>10} {binary_bytes_per_sec:>12} {elapsed}";
const TOTAL_TEMPLATE: &str =
    "{msg:30!} [{bar:25}] {bytes:>10}/{total_bytes:10} {binary_bytes_per_sec:>12} ETA {eta}";

fn style(template: &str) -> ProgressStyle {
    // The templates are constants checked by a unit test; a bad one would
    // show the default style rather than fail the transfer.
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Bars {
    pub(crate) fn new(mode: Mode) -> Self {
        let target = match mode {
            Mode::Never => return Bars::hidden(),
            Mode::Auto if !std::io::stderr().is_terminal() => return Bars::hidden(),
            Mode::Auto => ProgressDrawTarget::stderr(),
            // A `TermLike` target is drawn even when stderr is a pipe.
            Mode::Always => ProgressDrawTarget::term_like(Box::new(console::Term::stderr())),
        };
        Bars {
            multi: Some(MultiProgress::with_draw_target(target)),
            total: None,
        }
    }

    pub(crate) fn hidden() -> Self {
        Bars {
            multi: None,
            total: None,
        }
    }

    /// The handle result lines are printed through (see `Out`).
    pub(crate) fn multi(&self) -> Option<MultiProgress> {
        self.multi.clone()
    }

    /// Adds the total bar of a recursive copy of `files` files, `bytes` in all.
    pub(crate) fn with_total(&self, files: usize, bytes: u64) -> Self {
        let total = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(bytes).with_style(style(TOTAL_TEMPLATE)));
            bar.set_message(format!("total ({files} files)"));
            bar
        });
        Bars {
            multi: self.multi.clone(),
            total,
        }
    }

    /// A bar for one file of `size` bytes (unknown for a stream).
    pub(crate) fn file(&self, label: &str, size: Option<u64>) -> FileBar {
        let bar = self.multi.as_ref().map(|m| {
            let bar = match size {
                Some(n) => ProgressBar::new(n).with_style(style(FILE_TEMPLATE)),
                None => ProgressBar::no_length().with_style(style(STREAM_TEMPLATE)),
            };
            // Keep the total bar last, under the files.
            let bar = match &self.total {
                Some(t) => m.insert_before(t, bar),
                None => m.add(bar),
            };
            bar.set_message(label.to_string());
            bar
        });
        FileBar {
            bar,
            total: self.total.clone(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Removes the total bar: what was done is reported on stdout.
    pub(crate) fn finish(&self) {
        if let Some(t) = &self.total {
            t.finish_and_clear();
        }
    }
}

/// The bar of one transfer; `update` is the SDK's progress callback.
#[derive(Debug, Clone)]
pub(crate) struct FileBar {
    bar: Option<ProgressBar>,
    total: Option<ProgressBar>,
    last: Arc<AtomicU64>,
}

impl FileBar {
    /// Called with the bytes moved so far and, once known, the size.
    pub(crate) fn update(&self, transferred: u64, size: Option<u64>) {
        let before = self.last.fetch_max(transferred, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            if let Some(size) = size.filter(|&n| bar.length() != Some(n)) {
                bar.set_length(size);
                bar.set_style(style(FILE_TEMPLATE));
            }
            bar.set_position(transferred);
        }
        if let Some(total) = &self.total {
            total.inc(transferred.saturating_sub(before));
        }
    }

    /// Removes the bar of a finished or failed transfer: its result line
    /// (stdout) or error (stderr) replaces it.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_valid() {
        for t in [FILE_TEMPLATE, STREAM_TEMPLATE, TOTAL_TEMPLATE] {
            assert!(ProgressStyle::with_template(t).is_ok(), "{t}");
        }
    }

    #[test]
    fn flags_choose_the_mode() {
        assert_eq!(Mode::from_flags(false, false, false), Mode::Auto);
        assert_eq!(Mode::from_flags(false, true, false), Mode::Always);
        assert_eq!(Mode::from_flags(true, true, false), Mode::Never);
        assert_eq!(Mode::from_flags(false, false, true), Mode::Never);
    }

    #[test]
    fn the_total_counts_each_byte_once() {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
        let bars = Bars {
            multi: Some(multi),
            total: None,
        }
        .with_total(2, 300);
        let a = bars.file("a", Some(100));
        let b = bars.file("b", Some(200));
        a.update(60, None);
        a.update(100, Some(100));
        b.update(150, None);
        // A callback reporting an older figure late does not count twice.
        b.update(120, None);
        b.update(200, None);
        assert_eq!(bars.total.as_ref().map(|t| t.position()), Some(300));
    }
}
