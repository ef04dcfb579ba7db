//! The `coscls` binary against the embedded emulator: every command, the
//! errors a user meets, Ctrl-C, and the output contract (results on stdout,
//! diagnostics on stderr, `--quiet`, `--json`).
//!
//! `COSCLS_TEST_BIN=/path/to/coscls` runs the same tests against another
//! build (how the regressions were checked against the previous CLI).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use coscls::auth::StaticProvider;
use coscls::cos;
use coscls_emulator::{Emulator, FaultConfig};

const ID: &str = "AKIDcliTest";
const KEY: &str = "cli-test-secret";
const BUCKET: &str = "clitest-1250000000";
const TOPIC: &str = "0e69453c-0727-4c9c-9d4f-3b6b1c2a9e11";

async fn emulator() -> Emulator {
    Emulator::builder()
        .credentials(ID, KEY)
        .bucket(BUCKET)
        .topic(TOPIC)
        .start()
        .await
        .expect("emulator starts")
}

fn sdk(emu: &Emulator) -> cos::Client {
    cos::Client::builder()
        .region(emu.region())
        .endpoint(emu.endpoint())
        .credentials(StaticProvider::new(
            coscls::auth::Credentials::new(ID, KEY).unwrap(),
        ))
        .build()
        .unwrap()
}

fn bin() -> String {
    std::env::var("COSCLS_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_coscls").to_string())
}

/// The binary with a clean environment: the test's keys, no endpoint, no
/// telemetry, no log level from the caller's shell.
fn command(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .env_remove("COS_SECRET_ID")
        .env_remove("COS_SECRET_KEY")
        .env_remove("TENCENTCLOUD_SESSION_TOKEN")
        .env_remove("COSCLS_ENDPOINT")
        .env_remove("CLS_ENDPOINT")
        .env_remove("COS_REGION")
        .env_remove("RUST_LOG")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env("TENCENTCLOUD_SECRET_ID", ID)
        .env("TENCENTCLOUD_SECRET_KEY", KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn spawn(emu: &Emulator, args: &[&str], stdin: Option<&[u8]>) -> Child {
    let endpoint = format!("--endpoint={}", emu.endpoint());
    let cls = format!("--cls-endpoint={}", emu.endpoint());
    let mut all = vec![endpoint.as_str(), cls.as_str()];
    all.extend_from_slice(args);
    let mut child = command(&all)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .spawn()
        .expect("coscls starts");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child
}

/// Runs `coscls --endpoint=<emulator> ARGS` to completion.
fn run(emu: &Emulator, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let child = spawn(emu, args, stdin);
    tokio::task::block_in_place(|| child.wait_with_output().expect("coscls finishes"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Stdout of a run that must succeed.
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "coscls failed ({:?}): {}",
        o.status,
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn failed(o: &Output, code: i32) -> String {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stderr)
}

fn url(key: &str) -> String {
    format!("cos://{BUCKET}/{key}")
}

async fn keys(emu: &Emulator) -> Vec<String> {
    let page = sdk(emu)
        .list_objects(BUCKET, &cos::ListOptions::default())
        .await
        .unwrap();
    page.objects.into_iter().map(|o| o.key).collect()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn single_objects_round_trip_through_every_command() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("hello.txt");
    std::fs::write(&src, b"hello from the cli").unwrap();

    // Upload into a "directory": the file's name is appended.
    let out = ok(&run(&emu, &["cp", p(&src), &url("docs/")], None));
    assert_eq!(
        out.trim(),
        format!("upload: {} to {} (18 B)", p(&src), url("docs/hello.txt"))
    );
    ok(&run(
        &emu,
        &["put", "-", &url("docs/stdin.txt")],
        Some(b"piped"),
    ));

    let listing = ok(&run(&emu, &["ls", &url("")], None));
    assert!(
        listing.contains(&format!("DIR  {:<11}  {}", "", url("docs/"))),
        "{listing}"
    );
    let listing = ok(&run(&emu, &["ls", "-r", &url("docs/")], None));
    let line = listing
        .lines()
        .find(|l| l.ends_with(&url("docs/hello.txt")))
        .unwrap_or_else(|| panic!("{listing}"));
    assert!(line.contains("18 B  STANDARD"), "{line}");
    assert!(line.starts_with("20"), "modification time first: {line}");
    let bytes = ok(&run(&emu, &["ls", "-r", "--bytes", &url("docs/")], None));
    assert!(bytes.contains("        5  STANDARD"), "{bytes}");

    let stat = ok(&run(&emu, &["stat", &url("docs/hello.txt")], None));
    assert!(stat.contains("size:           18 (18 B)"), "{stat}");
    assert!(stat.contains("crc64:"), "{stat}");

    assert_eq!(
        ok(&run(&emu, &["cat", &url("docs/stdin.txt")], None)),
        "piped"
    );
    assert_eq!(
        ok(&run(&emu, &["cp", &url("docs/stdin.txt"), "-"], None)),
        "piped"
    );

    // get into a directory that does not exist yet, named with a trailing slash.
    let into = dir.path().join("some/dir/");
    let got = ok(&run(
        &emu,
        &["get", &url("docs/hello.txt"), &format!("{}/", p(&into))],
        None,
    ));
    assert!(got.starts_with("download: "), "{got}");
    assert_eq!(
        std::fs::read(dir.path().join("some/dir/hello.txt")).unwrap(),
        b"hello from the cli"
    );
    // … and into an existing directory named without one.
    ok(&run(&emu, &["cp", &url("docs/stdin.txt"), p(&into)], None));
    assert_eq!(std::fs::read(into.join("stdin.txt")).unwrap(), b"piped");

    let signed = ok(&run(
        &emu,
        &["presign", &url("docs/hello.txt"), "--expires=60"],
        None,
    ));
    let fetched = reqwest::get(signed.trim()).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(
        fetched.bytes().await.unwrap().as_ref(),
        b"hello from the cli"
    );

    let copied = ok(&run(
        &emu,
        &["cp", &url("docs/hello.txt"), &url("copy.txt")],
        None,
    ));
    assert!(copied.starts_with("copy: "), "{copied}");
    let moved = ok(&run(&emu, &["mv", &url("copy.txt"), &url("moved/")], None));
    assert!(moved.starts_with("move: "), "{moved}");
    let local = dir.path().join("local.txt");
    std::fs::write(&local, b"to be moved").unwrap();
    ok(&run(
        &emu,
        &["mv", p(&local), &url("moved/local.txt")],
        None,
    ));
    assert!(!local.exists(), "mv removes the uploaded file");

    let mut now = keys(&emu).await;
    now.sort();
    assert_eq!(
        now,
        [
            "docs/hello.txt",
            "docs/stdin.txt",
            "moved/copy.txt",
            "moved/local.txt"
        ]
    );

    let deleted = ok(&run(&emu, &["rm", &url("moved/copy.txt")], None));
    assert_eq!(deleted.trim(), format!("delete: {}", url("moved/copy.txt")));
    assert!(!keys(&emu).await.contains(&"moved/copy.txt".to_string()));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rm_r_deletes_every_key_and_prints_the_true_count() {
    let emu = emulator().await;
    let client = sdk(&emu);
    for k in ["dir/a", "dir/b", "dir/sub/c", "dirt.txt", "other/x"] {
        client.put_object(BUCKET, k, &b"x"[..]).await.unwrap();
    }
    // A prefix without -r is refused, and deletes nothing.
    let refused = run(&emu, &["rm", &url("dir/")], None);
    assert!(failed(&refused, 2).contains("use -r/--recursive"));
    assert!(text(&refused.stdout).is_empty());
    let refused = run(&emu, &["rm", &url("dir")], None);
    assert!(
        failed(&refused, 2).contains("rm -r"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(keys(&emu).await.len(), 5);

    let out = ok(&run(&emu, &["rm", "-r", &url("dir")], None));
    assert!(
        out.lines().last() == Some(&format!("deleted 3 object(s) under {}", url("dir/"))),
        "{out}"
    );
    assert_eq!(out.lines().filter(|l| l.starts_with("delete: ")).count(), 3);
    let mut left = keys(&emu).await;
    left.sort();
    assert_eq!(
        left,
        ["dirt.txt", "other/x"],
        "only keys under dir/ are deleted"
    );

    // More keys than one listing page.
    let many: Vec<String> = (0..1100).map(|i| format!("bulk/{i:04}")).collect();
    for k in &many {
        client.put_object(BUCKET, k, &b""[..]).await.unwrap();
    }
    let out = ok(&run(&emu, &["--quiet", "rm", "-r", &url("bulk/")], None));
    assert!(out.is_empty(), "--quiet: {out}");
    assert_eq!(keys(&emu).await.len(), 2);

    // A missing key is an error, not a reported deletion.
    let missing = run(&emu, &["rm", &url("nope.txt")], None);
    assert!(failed(&missing, 1).contains("no such key (NoSuchKey)"));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2_and_help_is_per_command() {
    let emu = emulator().await;
    let unknown = run(&emu, &["ls", "--content-type", "x", &url("")], None);
    assert!(failed(&unknown, 2).contains("unexpected argument '--content-type'"));
    let missing = run(&emu, &["rm"], None);
    failed(&missing, 2);
    let bogus = run(&emu, &["frobnicate"], None);
    assert!(failed(&bogus, 2).contains("unrecognized subcommand"));
    let local = run(&emu, &["cp", "a", "b"], None);
    assert!(failed(&local, 2).contains("cos:// URL"));

    let version = command(&["--version"]).output().unwrap();
    assert!(
        ok(&version).starts_with("coscls "),
        "{}",
        text(&version.stdout)
    );
    let help = command(&["cp", "--help"]).output().unwrap();
    let help = ok(&help);
    assert!(
        help.contains("--recursive") && help.contains("Examples:"),
        "{help}"
    );
    let completions = command(&["completions", "bash"]).output().unwrap();
    assert!(ok(&completions).contains("_coscls()"));

    // `--endpoint=URL` (used by every test here) and `--endpoint URL` alike.
    let spaced = command(&["--endpoint", &emu.endpoint(), "ls", &url("")])
        .output()
        .unwrap();
    ok(&spaced);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_key_reads_the_same_through_every_path() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let want = format!("coscls: {}: no such key (NoSuchKey)\n", url("nope.txt"));
    for args in [
        vec!["get", &url("nope.txt"), p(dir.path())],
        vec!["get", &url("nope.txt"), "-"],
        vec!["cat", &url("nope.txt")],
        vec!["stat", &url("nope.txt")],
    ] {
        let o = run(
            &emu,
            &args.iter().map(|s| s.as_ref()).collect::<Vec<&str>>(),
            None,
        );
        assert_eq!(failed(&o, 1), want, "{args:?}");
    }
    let o = run(&emu, &["stat", "cos://nobucket-1250000000/k"], None);
    assert!(failed(&o, 1).contains("no such bucket (NoSuchBucket)"));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_bounds_a_server_that_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts, reads, and never answers.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let o = command(&[
        &format!("--endpoint=http://{addr}"),
        "--timeout=1s",
        "--retries=0",
        "ls",
        &url(""),
    ])
    .output()
    .unwrap();
    let err = failed(&o, 1);
    assert!(err.contains("timed out"), "{err}");
    // The error and its causes, each once: here one line.
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn results_go_to_stdout_diagnostics_to_stderr_quiet_and_json() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.txt");
    std::fs::write(&src, b"abc").unwrap();

    let o = run(&emu, &["cp", p(&src), &url("a.txt")], None);
    assert!(ok(&o).starts_with("upload: "));
    assert!(o.stderr.is_empty(), "no bar on a pipe: {}", text(&o.stderr));
    let o = run(
        &emu,
        &["cp", &url("a.txt"), p(&dir.path().join("b.txt"))],
        None,
    );
    assert!(
        ok(&o).starts_with("download: "),
        "downloads report on stdout too"
    );
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));

    let o = run(&emu, &["-q", "cp", p(&src), &url("q.txt")], None);
    assert!(ok(&o).is_empty() && o.stderr.is_empty());
    let o = run(
        &emu,
        &["--quiet", "cp", &url("q.txt"), p(&dir.path().join("q.txt"))],
        None,
    );
    assert!(ok(&o).is_empty() && o.stderr.is_empty());

    let o = run(&emu, &["--json", "cp", p(&src), &url("j.txt")], None);
    let v: serde_json::Value = serde_json::from_str(ok(&o).trim()).unwrap();
    assert_eq!(v["op"], "upload");
    assert_eq!(v["to"], url("j.txt"));
    assert_eq!(v["bytes"], 3);
    let o = run(&emu, &["ls", "--json", "-r", &url("")], None);
    let lines: Vec<serde_json::Value> = ok(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines
        .iter()
        .all(|l| l["type"] == "object" && l["size"] == 3));

    // --progress draws on stderr even though it is a pipe; stdout is unchanged.
    let o = run(&emu, &["--progress", "cp", p(&src), &url("p.txt")], None);
    assert!(ok(&o).starts_with("upload: "));
    assert!(text(&o.stderr).contains("p.txt"), "{}", text(&o.stderr));

    // Errors: stderr only, prefixed.
    let o = run(&emu, &["cat", &url("missing")], None);
    assert!(o.stdout.is_empty());
    assert!(failed(&o, 1).starts_with("coscls: "));
    emu.shutdown().await;
}

fn write_tree(root: &Path, files: &[(&str, &[u8])]) {
    for (name, data) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
}

fn read_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn recursive_copy_and_sync_round_trip() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let up = dir.path().join("up");
    let big = vec![7u8; 9 * 1024 * 1024 + 5];
    write_tree(
        &up,
        &[
            ("a.txt", b"alpha"),
            ("sub/b.txt", b"bravo"),
            ("sub/deeper/c.bin", &big),
            ("empty", b""),
        ],
    );
    let out = ok(&run(&emu, &["cp", "-r", p(&up), &url("tree")], None));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("upload: ")).count(),
        4,
        "{out}"
    );
    let mut remote = keys(&emu).await;
    remote.sort();
    assert_eq!(
        remote,
        [
            "tree/a.txt",
            "tree/empty",
            "tree/sub/b.txt",
            "tree/sub/deeper/c.bin"
        ]
    );

    let down = dir.path().join("down");
    ok(&run(&emu, &["cp", "-r", &url("tree/"), p(&down)], None));
    assert_eq!(read_tree(&up), read_tree(&down));

    ok(&run(&emu, &["cp", "-r", &url("tree"), &url("copy")], None));
    assert_eq!(keys(&emu).await.len(), 8);

    // sync up: nothing differs.
    let out = ok(&run(&emu, &["sync", p(&up), &url("tree")], None));
    assert_eq!(out.trim(), "sync: 0 transferred, 4 unchanged, 0 deleted");
    // Same size, other bytes: found by CRC-64. A new file; one removed.
    write_tree(&up, &[("a.txt", b"ALPHA"), ("new.txt", b"new")]);
    std::fs::remove_file(up.join("sub/b.txt")).unwrap();
    let out = ok(&run(
        &emu,
        &["sync", "--delete", p(&up), &url("tree/")],
        None,
    ));
    assert!(out.contains(&format!("to {}", url("tree/a.txt"))), "{out}");
    assert!(
        out.contains(&format!("to {}", url("tree/new.txt"))),
        "{out}"
    );
    assert!(
        out.contains(&format!("delete: {}", url("tree/sub/b.txt"))),
        "{out}"
    );
    assert!(
        out.ends_with("sync: 2 transferred, 2 unchanged, 1 deleted\n"),
        "{out}"
    );

    // sync down brings `down` to the same state.
    let out = ok(&run(
        &emu,
        &["sync", "--delete", &url("tree"), p(&down)],
        None,
    ));
    assert!(
        out.ends_with("sync: 2 transferred, 2 unchanged, 1 deleted\n"),
        "{out}"
    );
    assert_eq!(read_tree(&up), read_tree(&down));
    let out = ok(&run(&emu, &["sync", &url("tree"), p(&down)], None));
    assert_eq!(out.trim(), "sync: 0 transferred, 4 unchanged, 0 deleted");

    // -r needs a directory; a directory needs -r.
    let o = run(&emu, &["cp", p(&up), &url("x/")], None);
    assert!(failed(&o, 2).contains("use -r/--recursive"));
    let o = run(&emu, &["cp", &url("tree/"), p(&down)], None);
    assert!(failed(&o, 2).contains("use -r/--recursive"));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_ls_and_abort_clean_up_unfinished_uploads() {
    let emu = emulator().await;
    let client = sdk(&emu);
    let id = client
        .create_multipart_upload(BUCKET, "big/one.bin", &Default::default())
        .await
        .unwrap();
    client
        .create_multipart_upload(BUCKET, "big/two.bin", &Default::default())
        .await
        .unwrap();
    let listed = ok(&run(&emu, &["multipart", "ls", &url("big/")], None));
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(
        listed.contains(&id) && listed.contains(&url("big/one.bin")),
        "{listed}"
    );
    let none = ok(&run(
        &emu,
        &["multipart", "ls", "--older-than=1h", &url("")],
        None,
    ));
    assert!(none.is_empty(), "{none}");

    let o = run(&emu, &["multipart", "abort", &url("")], None);
    assert!(failed(&o, 2).contains("--older-than"));
    let out = ok(&run(
        &emu,
        &[
            "multipart",
            "abort",
            "--upload-id",
            &id,
            &url("big/one.bin"),
        ],
        None,
    ));
    assert!(out.ends_with("aborted 1 upload(s)\n"), "{out}");
    let out = ok(&run(&emu, &["multipart", "abort", "--all", &url("")], None));
    assert!(out.ends_with("aborted 1 upload(s)\n"), "{out}");
    assert!(client
        .list_multipart_uploads(BUCKET, None)
        .await
        .unwrap()
        .is_empty());
    emu.shutdown().await;
}

// SIGINT is sent with kill(1).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_aborts_the_multipart_upload_in_flight() {
    let emu = emulator().await;
    let client = sdk(&emu);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.bin");
    std::fs::write(&src, vec![1u8; 40 * 1024 * 1024]).unwrap();
    // Slow enough that the upload is still running when the signal comes.
    emu.set_faults(FaultConfig {
        latency: Duration::from_millis(400),
        ..Default::default()
    })
    .unwrap();
    let child = spawn(&emu, &["cp", p(&src), &url("big.bin")], None);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let uploads = client.list_multipart_uploads(BUCKET, None).await.unwrap();
        if !uploads.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the upload never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = tokio::task::block_in_place(|| child.wait_with_output().unwrap());
    let err = failed(&o, 130);
    assert!(err.contains("aborted 1 multipart upload(s)"), "{err}");
    emu.set_faults(FaultConfig::default()).unwrap();
    assert!(
        client
            .list_multipart_uploads(BUCKET, None)
            .await
            .unwrap()
            .is_empty(),
        "no upload is left behind"
    );
    assert!(keys(&emu).await.is_empty(), "and no object was written");
    emu.shutdown().await;
}

// SIGINT is sent with kill(1).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_second_ctrl_c_exits_at_once() {
    let emu = emulator().await;
    let client = sdk(&emu);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.bin");
    std::fs::write(&src, vec![1u8; 20 * 1024 * 1024]).unwrap();
    emu.set_faults(FaultConfig {
        latency: Duration::from_millis(300),
        ..Default::default()
    })
    .unwrap();
    let child = spawn(&emu, &["cp", p(&src), &url("big.bin")], None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while client
        .list_multipart_uploads(BUCKET, None)
        .await
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the upload never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The abort now hangs: the server takes a minute to answer anything.
    emu.set_faults(FaultConfig {
        latency: Duration::from_secs(60),
        ..Default::default()
    })
    .unwrap();
    let pid = child.id().to_string();
    let interrupt = || {
        assert!(Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success())
    };
    interrupt();
    tokio::time::sleep(Duration::from_millis(500)).await;
    interrupt();
    let o = tokio::task::block_in_place(|| child.wait_with_output().unwrap());
    let err = failed(&o, 130);
    assert!(err.contains("interrupted again"), "{err}");
    emu.set_faults(FaultConfig::default()).unwrap();
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mb_and_rb_make_and_remove_buckets() {
    let emu = emulator().await;
    let bucket = "made-1250000000";
    let out = ok(&run(&emu, &["mb", &format!("cos://{bucket}")], None));
    assert_eq!(out.trim(), format!("make_bucket: cos://{bucket}"));
    assert!(sdk(&emu).bucket_exists(bucket).await.unwrap());
    let o = run(&emu, &["mb", &format!("cos://{bucket}/key")], None);
    assert!(failed(&o, 2).contains("takes a bucket"));
    ok(&run(&emu, &["rb", &format!("cos://{bucket}")], None));
    assert!(!sdk(&emu).bucket_exists(bucket).await.unwrap());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn log_ships_every_stdin_line() {
    let emu = emulator().await;
    let input: String = (0..250).map(|i| format!("line {i}\n")).collect();
    let out = run(&emu, &["log", "--topic", TOPIC], Some(input.as_bytes()));
    assert!(ok(&out).contains("sent 250 log(s)"));
    let mut got: Vec<String> = emu
        .cls_logs(TOPIC)
        .iter()
        .map(|l| l.contents["content"].clone())
        .collect();
    got.sort();
    let mut want: Vec<String> = (0..250).map(|i| format!("line {i}")).collect();
    want.sort();
    assert_eq!(got, want);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn telemetry_is_exported_when_an_otlp_endpoint_is_set() {
    let emu = emulator().await;
    // A collector that records what is posted to it and answers 200.
    let collector = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = collector.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        for mut conn in collector.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                conn.set_read_timeout(Some(Duration::from_millis(500))).ok();
                let mut got = Vec::new();
                let mut buf = [0u8; 65536];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if got.windows(4).any(|w| w == b"\r\n\r\n") {
                        let _ = conn.write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
                        );
                    }
                }
                let _ = tx.send(got);
            });
        }
    });
    let child = command(&[
        &format!("--endpoint={}", emu.endpoint()),
        "put",
        "-",
        &url("traced.txt"),
    ])
    .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}"))
    .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    .stdin(Stdio::piped())
    .spawn()
    .unwrap();
    let mut child = child;
    child.stdin.take().unwrap().write_all(b"traced").unwrap();
    let o = tokio::task::block_in_place(|| child.wait_with_output().unwrap());
    ok(&o);
    let mut posted = Vec::new();
    while let Ok(chunk) = rx.recv_timeout(Duration::from_secs(5)) {
        posted.extend(chunk);
    }
    let posted = String::from_utf8_lossy(&posted);
    assert!(posted.contains("POST /v1/traces"), "{posted}");
    assert!(
        posted.contains("PutObject"),
        "the span of the upload is exported"
    );
    emu.shutdown().await;
}
