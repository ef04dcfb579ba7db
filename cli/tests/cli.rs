//! The `coscls` binary against the embedded emulator: every command, and the
//! errors a user sees.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use coscls_emulator::Emulator;

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

fn coscls(emu: &Emulator, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coscls"))
        .args([
            "--endpoint",
            &emu.endpoint(),
            "--cls-endpoint",
            &emu.endpoint(),
            "--quiet",
        ])
        .args(args)
        .env_remove("COS_SECRET_ID")
        .env_remove("COS_SECRET_KEY")
        .env_remove("TENCENTCLOUD_SESSION_TOKEN")
        .env("TENCENTCLOUD_SECRET_ID", ID)
        .env("TENCENTCLOUD_SECRET_KEY", KEY)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("coscls starts");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().expect("coscls finishes")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "coscls failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn put_ls_get_presign_rm_round_trip() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("hello.txt");
    std::fs::write(&src, b"hello from the cli").unwrap();

    let out = tokio::task::block_in_place(|| {
        coscls(
            &emu,
            &[
                "put",
                src.to_str().unwrap(),
                "cos://clitest-1250000000/docs/hello world.txt",
            ],
            None,
        )
    });
    assert!(
        stdout(&out).contains("uploaded cos://clitest-1250000000/docs/hello world.txt (18 bytes")
    );

    let out = tokio::task::block_in_place(|| {
        coscls(
            &emu,
            &["put", "-", "cos://clitest-1250000000/docs/stdin.txt"],
            Some(b"piped"),
        )
    });
    stdout(&out);

    let listing = stdout(&tokio::task::block_in_place(|| {
        coscls(&emu, &["ls", "cos://clitest-1250000000/"], None)
    }));
    assert!(
        listing.contains("DIR  cos://clitest-1250000000/docs/"),
        "{listing}"
    );
    let listing = stdout(&tokio::task::block_in_place(|| {
        coscls(&emu, &["ls", "cos://clitest-1250000000/docs/", "-r"], None)
    }));
    assert!(
        listing.contains("18  cos://clitest-1250000000/docs/hello world.txt"),
        "{listing}"
    );
    assert!(
        listing.contains("5  cos://clitest-1250000000/docs/stdin.txt"),
        "{listing}"
    );

    let dest = dir.path().join("copy.txt");
    stdout(&tokio::task::block_in_place(|| {
        coscls(
            &emu,
            &[
                "get",
                "cos://clitest-1250000000/docs/hello world.txt",
                dest.to_str().unwrap(),
            ],
            None,
        )
    }));
    assert_eq!(std::fs::read(&dest).unwrap(), b"hello from the cli");
    let piped = stdout(&tokio::task::block_in_place(|| {
        coscls(
            &emu,
            &["get", "cos://clitest-1250000000/docs/stdin.txt", "-"],
            None,
        )
    }));
    assert_eq!(piped, "piped");

    let url = stdout(&tokio::task::block_in_place(|| {
        coscls(
            &emu,
            &[
                "presign",
                "cos://clitest-1250000000/docs/hello world.txt",
                "--expires",
                "60",
            ],
            None,
        )
    }));
    let fetched = reqwest::get(url.trim()).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(
        fetched.bytes().await.unwrap().as_ref(),
        b"hello from the cli"
    );

    let copied = stdout(&tokio::task::block_in_place(|| {
        coscls(
            &emu,
            &[
                "cp",
                "cos://clitest-1250000000/docs/hello world.txt",
                "cos://clitest-1250000000/docs/copy.txt",
            ],
            None,
        )
    }));
    assert!(copied.contains("in one request"), "{copied}");
    let fetched = stdout(&tokio::task::block_in_place(|| {
        coscls(
            &emu,
            &["get", "cos://clitest-1250000000/docs/copy.txt", "-"],
            None,
        )
    }));
    assert_eq!(fetched, "hello from the cli");

    stdout(&tokio::task::block_in_place(|| {
        coscls(
            &emu,
            &[
                "rm",
                "cos://clitest-1250000000/docs/hello world.txt",
                "cos://clitest-1250000000/docs/stdin.txt",
                "cos://clitest-1250000000/docs/copy.txt",
            ],
            None,
        )
    }));
    let listing = stdout(&tokio::task::block_in_place(|| {
        coscls(&emu, &["ls", "cos://clitest-1250000000/", "-r"], None)
    }));
    assert!(listing.trim().is_empty(), "{listing}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn log_ships_every_stdin_line() {
    let emu = emulator().await;
    let input: String = (0..250).map(|i| format!("line {i}\n")).collect();
    let out = tokio::task::block_in_place(|| {
        coscls(&emu, &["log", "--topic", TOPIC], Some(input.as_bytes()))
    });
    assert!(stdout(&out).contains("sent 250 log(s)"));
    let logs = emu.cls_logs(TOPIC);
    let mut got: Vec<String> = logs.iter().map(|l| l.contents["content"].clone()).collect();
    got.sort();
    let mut want: Vec<String> = (0..250).map(|i| format!("line {i}")).collect();
    want.sort();
    assert_eq!(got, want);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_reported_with_a_failure_status() {
    let emu = emulator().await;
    let missing = tokio::task::block_in_place(|| {
        coscls(
            &emu,
            &["get", "cos://clitest-1250000000/nope.txt", "-"],
            None,
        )
    });
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NoSuchKey"));

    let bad_bucket =
        tokio::task::block_in_place(|| coscls(&emu, &["ls", "cos://Bad_Bucket/"], None));
    assert_eq!(bad_bucket.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_bucket.stderr).contains("invalid bucket"));

    let usage = tokio::task::block_in_place(|| coscls(&emu, &["rm"], None));
    assert_eq!(usage.status.code(), Some(2));
    emu.shutdown().await;
}
