//! Replays every committed corpus file through its target on a stable
//! toolchain: `cargo test --manifest-path fuzz/Cargo.toml`. A panic anywhere
//! (also in a task the emulator spawned for a connection, which tokio would
//! otherwise swallow) fails the test and names the file.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

static PANICKED: AtomicBool = AtomicBool::new(false);

fn replay(target: &str, run: fn(&[u8])) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICKED.store(true, Ordering::SeqCst);
        default(info);
    }));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    for file in files {
        let data = std::fs::read(&file).expect("a corpus file");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(
            outcome.is_ok() && !PANICKED.load(Ordering::SeqCst),
            "{target} panicked on {}",
            file.display()
        );
    }
}

// One test per target, run one after another: the panic flag is shared.
#[test]
fn every_committed_corpus_file_replays_clean() {
    replay("cos_response", coscls_fuzz::cos_response);
    replay("cls_response", coscls_fuzz::cls_response);
    replay("emulator_request", coscls_fuzz::emulator_request);
}
