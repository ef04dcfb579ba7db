//! A one-line progress bar on standard error, drawn only on a terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Redraws at most every 100 ms so a fast transfer is not slowed by its bar.
#[derive(Debug)]
pub(crate) struct Bar {
    label: String,
    started: Instant,
    last_draw_ms: AtomicU64,
    enabled: bool,
}

impl Bar {
    pub(crate) fn new(label: impl Into<String>, quiet: bool) -> Arc<Self> {
        Arc::new(Bar {
            label: label.into(),
            started: Instant::now(),
            last_draw_ms: AtomicU64::new(0),
            enabled: !quiet && std::io::stderr().is_terminal(),
        })
    }

    pub(crate) fn update(&self, done: u64, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.last_draw_ms.load(Ordering::Relaxed);
        if now < last + 100 && Some(done) != total {
            return;
        }
        self.last_draw_ms.store(now, Ordering::Relaxed);
        let _ = write!(
            std::io::stderr(),
            "\r{}",
            render(&self.label, done, total, now)
        );
    }

    pub(crate) fn finish(&self) {
        if self.enabled {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// `label [#######.............]  35% 12.0 MiB / 34.0 MiB 8.1 MiB/s`
pub(crate) fn render(label: &str, done: u64, total: Option<u64>, elapsed_ms: u64) -> String {
    const WIDTH: u64 = 24;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let rate = if elapsed_ms > 0 {
        mib(done) * 1000.0 / elapsed_ms as f64
    } else {
        0.0
    };
    match total {
        Some(total) if total > 0 => {
            let filled = (done.min(total) * WIDTH / total) as usize;
            let bar = format!(
                "{}{}",
                "#".repeat(filled),
                ".".repeat(WIDTH as usize - filled)
            );
            format!(
                "{label} [{bar}] {:>3}% {:.1} MiB / {:.1} MiB {:.1} MiB/s",
                done.min(total) * 100 / total,
                mib(done),
                mib(total),
                rate
            )
        }
        _ => format!("{label} {:.1} MiB {:.1} MiB/s", mib(done), rate),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fraction_and_rate() {
        let s = render("put", 512 * 1024, Some(1024 * 1024), 1000);
        assert!(s.contains("[############............]"), "{s}");
        assert!(s.contains(" 50% 0.5 MiB / 1.0 MiB 0.5 MiB/s"), "{s}");
        assert!(render("get", 10, None, 0).starts_with("get 0.0 MiB"));
        assert!(
            render("x", 5, Some(0), 10).contains("MiB"),
            "zero total does not divide by zero"
        );
    }
}
