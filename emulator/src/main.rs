//! `coscls-emulator` standalone: flags (or environment) to builder, then serve
//! until Ctrl-C / SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use coscls_emulator::{Emulator, EmulatorBuilder, FaultConfig};

const USAGE: &str = "\
coscls-emulator: a local Tencent Cloud COS + CLS server that verifies every signature

USAGE:
    coscls-emulator [OPTIONS]

OPTIONS:
    --listen ADDR            loopback address to serve on [default: 127.0.0.1:9000; env COSCLS_EMULATOR_LISTEN]
    --secret-id ID           accepted SecretId [env COSCLS_EMULATOR_SECRET_ID, TENCENTCLOUD_SECRET_ID]
    --secret-key KEY         its SecretKey [env COSCLS_EMULATOR_SECRET_KEY, TENCENTCLOUD_SECRET_KEY]
    --session-token TOKEN    make those credentials temporary: requests must carry TOKEN
                             [env COSCLS_EMULATOR_SESSION_TOKEN]
    --credentials ID:KEY[:TOKEN]
                             more accepted credentials (repeatable)
    --bucket NAME            bucket to create at start (repeatable)
    --topic ID               CLS topic to declare (repeatable; none = every topic exists)
    --data-dir DIR           keep objects in DIR across restarts [default: memory]
    --region REGION          region reported to clients [default: ap-guangzhou]
    --min-part-size BYTES    smallest multipart part but the last [default: 1048576]
    --error-rate P           probability of an injected failure (0..1)
    --error-status CODE      status of injected failures [default: 503]
    --latency-ms MS          extra latency per request (at most a day: 86400000)
    --drop-rate P            probability of dropping the connection mid-response
    --clock-offset SECS      server clock skew in seconds (may be negative; at most a century)
    --corrupt-rate P         probability of altering a GET body after its CRC header
    -h, --help               print this help

Without credentials the defaults AKIDcosclsEmulatorDefault / coscls-emulator-default-secret apply.
Faults can be changed at run time: PUT /_emulator/faults (JSON).";

/// What the command line asked for.
#[derive(Debug)]
enum Command {
    Help,
    Run(Box<EmulatorBuilder>, SocketAddr),
}

fn parse_num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{flag}: {v:?} is not a valid number"))
}

/// Parses flags; `env` looks up environment variables (injected for tests).
fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Command, String> {
    let mut builder = Emulator::builder();
    let mut faults = FaultConfig::default();
    let mut listen: Option<String> = env("COSCLS_EMULATOR_LISTEN");
    let mut secret_id: Option<String> = None;
    let mut secret_key: Option<String> = None;
    let mut token: Option<String> = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(Command::Help);
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value (see --help)"))?
            }
        };
        match flag.as_str() {
            "--listen" => listen = Some(value),
            "--secret-id" => secret_id = Some(value),
            "--secret-key" => secret_key = Some(value),
            "--session-token" => token = Some(value),
            "--credentials" => {
                let mut parts = value.splitn(3, ':');
                let (Some(id), Some(key)) = (parts.next(), parts.next()) else {
                    return Err("--credentials must be ID:KEY or ID:KEY:TOKEN".into());
                };
                builder = match parts.next() {
                    Some(t) => builder.temporary_credentials(id, key, t),
                    None => builder.credentials(id, key),
                };
            }
            "--bucket" => builder = builder.bucket(value),
            "--topic" => builder = builder.topic(value),
            "--data-dir" => builder = builder.data_dir(value),
            "--region" => builder = builder.region(value),
            "--min-part-size" => builder = builder.min_part_size(parse_num(&flag, &value)?),
            "--error-rate" => faults.error_rate = parse_num(&flag, &value)?,
            "--error-status" => faults.error_status = parse_num(&flag, &value)?,
            "--latency-ms" => faults.latency = Duration::from_millis(parse_num(&flag, &value)?),
            "--drop-rate" => faults.drop_rate = parse_num(&flag, &value)?,
            "--clock-offset" => faults.clock_offset_secs = parse_num(&flag, &value)?,
            "--corrupt-rate" => faults.corrupt_body_rate = parse_num(&flag, &value)?,
            other => return Err(format!("unknown option {other} (see --help)")),
        }
        i += 1;
    }
    faults.validate().map_err(|e| {
        let flag = [
            ("error_rate", "--error-rate"),
            ("error_status", "--error-status"),
            ("latency_ms", "--latency-ms"),
            ("drop_rate", "--drop-rate"),
            ("clock_offset_secs", "--clock-offset"),
            ("corrupt_body_rate", "--corrupt-rate"),
        ]
        .iter()
        .find(|(field, _)| *field == e.field())
        .map_or("", |(_, flag)| flag);
        format!("{flag}: {e}")
    })?;
    let secret_id = secret_id
        .or_else(|| env("COSCLS_EMULATOR_SECRET_ID"))
        .or_else(|| env("TENCENTCLOUD_SECRET_ID"));
    let secret_key = secret_key
        .or_else(|| env("COSCLS_EMULATOR_SECRET_KEY"))
        .or_else(|| env("TENCENTCLOUD_SECRET_KEY"));
    let token = token.or_else(|| env("COSCLS_EMULATOR_SESSION_TOKEN"));
    builder = match (secret_id, secret_key, token) {
        (Some(id), Some(key), Some(t)) => builder.temporary_credentials(id, key, t),
        (Some(id), Some(key), None) => builder.credentials(id, key),
        (None, None, None) => builder,
        (None, None, Some(_)) => {
            return Err("--session-token needs --secret-id and --secret-key".into())
        }
        _ => return Err("--secret-id and --secret-key go together".into()),
    };
    let listen = listen.unwrap_or_else(|| "127.0.0.1:9000".into());
    let addr: SocketAddr = listen
        .parse()
        .map_err(|_| format!("--listen: {listen:?} is not an address like 127.0.0.1:9000"))?;
    Ok(Command::Run(
        Box::new(builder.listen(addr).faults(faults)),
        addr,
    ))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let builder = match parse(&args, |k| std::env::var(k).ok()) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            return;
        }
        Ok(Command::Run(builder, addr)) => {
            eprintln!("coscls-emulator: starting on {addr}");
            builder
        }
        Err(e) => {
            eprintln!("coscls-emulator: {e}");
            std::process::exit(2);
        }
    };
    let emu = match builder.start().await {
        Ok(emu) => emu,
        Err(e) => {
            eprintln!("coscls-emulator: {e}");
            std::process::exit(1);
        }
    };
    println!("coscls-emulator listening on {}", emu.endpoint());
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    eprintln!("coscls-emulator: shutting down");
    emu.shutdown().await;
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn run(s: &str, env: &[(&str, &str)]) -> Result<Command, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(&args(s), |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn flags_and_env() {
        match run(
            "--listen 127.0.0.1:9100 --secret-id A --secret-key B --bucket b-1 --error-rate=0.5",
            &[],
        ) {
            Ok(Command::Run(_, addr)) => assert_eq!(addr.port(), 9100),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            run(
                "",
                &[
                    ("TENCENTCLOUD_SECRET_ID", "A"),
                    ("TENCENTCLOUD_SECRET_KEY", "B")
                ]
            ),
            Ok(Command::Run(_, _))
        ));
        assert!(matches!(run("--help", &[]), Ok(Command::Help)));
        match run("", &[("COSCLS_EMULATOR_LISTEN", "127.0.0.1:9200")]) {
            Ok(Command::Run(_, addr)) => assert_eq!(addr.port(), 9200),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_flag() {
        assert!(run("--secret-id A", &[])
            .unwrap_err()
            .contains("go together"));
        assert!(run("--error-rate lots", &[])
            .unwrap_err()
            .contains("--error-rate"));
        assert!(run("--error-rate 2", &[])
            .unwrap_err()
            .contains("error_rate"));
        let e = run("--clock-offset 9223372036854775807", &[]).unwrap_err();
        assert!(e.starts_with("--clock-offset: clock_offset_secs"), "{e}");
        let e = run("--latency-ms 18446744073709551615", &[]).unwrap_err();
        assert!(e.starts_with("--latency-ms: latency_ms"), "{e}");
        assert!(run("--bogus 1", &[]).unwrap_err().contains("--bogus"));
        assert!(run("--listen", &[]).unwrap_err().contains("needs a value"));
        assert!(run("--listen nowhere", &[])
            .unwrap_err()
            .contains("--listen"));
    }
}
