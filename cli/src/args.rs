//! Command-line parsing, kept pure so it is unit-tested without a process.

use std::time::Duration;

use crate::cos_url::CosUrl;

pub(crate) const USAGE: &str = "\
coscls: Tencent Cloud COS and CLS from the command line

USAGE:
  coscls [OPTIONS] put <FILE|-> <cos://bucket/key> [--content-type TYPE]
  coscls [OPTIONS] get <cos://bucket/key> [FILE|-]
  coscls [OPTIONS] ls <cos://bucket[/prefix]> [--recursive]
  coscls [OPTIONS] cp <cos://bucket/key> <cos://bucket/key>   (server-side, any size)
  coscls [OPTIONS] rm <cos://bucket/key>...
  coscls [OPTIONS] presign <cos://bucket/key> [--expires SECS] [--method GET|PUT]
  coscls [OPTIONS] log --topic TOPIC_ID        (one log per line of standard input)

OPTIONS:
  --endpoint URL      COS endpoint, e.g. http://127.0.0.1:9000 for the emulator (env COSCLS_ENDPOINT)
  --region REGION     COS/CLS region (env COS_REGION, else ap-guangzhou)
  --cls-endpoint URL  CLS endpoint (env CLS_ENDPOINT; default https://<region>.cls.tencentcs.com)
  --quiet             no progress bars
  -h, --help          this help

Credentials come from TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY
(/ TENCENTCLOUD_SESSION_TOKEN), or COS_SECRET_ID / COS_SECRET_KEY.
";

/// Global options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Globals {
    pub(crate) endpoint: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) cls_endpoint: Option<String>,
    pub(crate) quiet: bool,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Help,
    Put {
        source: String,
        dest: CosUrl,
        content_type: Option<String>,
    },
    Get {
        source: CosUrl,
        dest: String,
    },
    Ls {
        url: CosUrl,
        recursive: bool,
    },
    Cp {
        source: CosUrl,
        dest: CosUrl,
    },
    Rm {
        urls: Vec<CosUrl>,
    },
    Presign {
        url: CosUrl,
        expires: Duration,
        method: String,
    },
    Log {
        topic: String,
    },
}

/// Parses `args` (without the program name). Errors are usage messages.
pub(crate) fn parse(args: &[String]) -> Result<(Globals, Command), String> {
    let mut globals = Globals::default();
    let mut positional = Vec::new();
    let mut flags: Vec<(String, Option<String>)> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value_of = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok((globals, Command::Help)),
            "--endpoint" => globals.endpoint = Some(value_of(arg)?),
            "--region" => globals.region = Some(value_of(arg)?),
            "--cls-endpoint" => globals.cls_endpoint = Some(value_of(arg)?),
            "--quiet" | "-q" => globals.quiet = true,
            "--recursive" | "-r" => flags.push((arg.clone(), None)),
            "--content-type" | "--expires" | "--method" | "--topic" => {
                let v = value_of(arg)?;
                flags.push((arg.clone(), Some(v)));
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ => positional.push(arg.clone()),
        }
    }
    let flag = |name: &str| {
        flags
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone())
    };
    let has = |names: &[&str]| flags.iter().any(|(n, _)| names.contains(&n.as_str()));
    let Some((cmd, rest)) = positional.split_first() else {
        return Ok((globals, Command::Help));
    };
    let command = match (cmd.as_str(), rest) {
        ("put", [source, dest]) => Command::Put {
            source: source.clone(),
            dest: CosUrl::parse(dest)?,
            content_type: flag("--content-type"),
        },
        ("get", [source]) => {
            let source = CosUrl::parse(source)?;
            let dest = source
                .key
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            if dest.is_empty() {
                return Err("get needs an object key".into());
            }
            Command::Get { source, dest }
        }
        ("get", [source, dest]) => Command::Get {
            source: CosUrl::parse(source)?,
            dest: dest.clone(),
        },
        ("ls", [url]) => Command::Ls {
            url: CosUrl::parse(url)?,
            recursive: has(&["--recursive", "-r"]),
        },
        ("cp", [source, dest]) => Command::Cp {
            source: CosUrl::parse(source)?,
            dest: CosUrl::parse(dest)?,
        },
        ("rm", urls) if !urls.is_empty() => Command::Rm {
            urls: urls
                .iter()
                .map(|u| CosUrl::parse(u))
                .collect::<Result<_, _>>()?,
        },
        ("presign", [url]) => {
            let expires = match flag("--expires") {
                Some(s) => s
                    .parse::<u64>()
                    .map_err(|_| format!("--expires {s:?} is not a number of seconds"))?,
                None => 3600,
            };
            let method = flag("--method")
                .unwrap_or_else(|| "GET".into())
                .to_ascii_uppercase();
            if method != "GET" && method != "PUT" {
                return Err(format!("--method must be GET or PUT, not {method}"));
            }
            Command::Presign {
                url: CosUrl::parse(url)?,
                expires: Duration::from_secs(expires),
                method,
            }
        }
        ("log", []) => Command::Log {
            topic: flag("--topic")
                .or_else(|| std::env::var("CLS_TOPIC_ID").ok())
                .ok_or("log needs --topic TOPIC_ID (or CLS_TOPIC_ID)")?,
        },
        (c @ ("put" | "get" | "ls" | "cp" | "rm" | "presign" | "log"), _) => {
            return Err(format!("wrong arguments for {c}; see coscls --help"))
        }
        (other, _) => return Err(format!("unknown command {other:?}; see coscls --help")),
    };
    Ok((globals, command))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<(Globals, Command), String> {
        parse(&s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn commands_parse() {
        let (g, c) =
            p("--endpoint http://127.0.0.1:9 put a.txt cos://b-1/k --content-type text/plain")
                .unwrap();
        assert_eq!(g.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(
            c,
            Command::Put {
                source: "a.txt".into(),
                dest: CosUrl::parse("cos://b-1/k").unwrap(),
                content_type: Some("text/plain".into())
            }
        );
        assert!(
            matches!(p("get cos://b-1/d/f.txt").unwrap().1, Command::Get { dest, .. } if dest == "f.txt")
        );
        assert!(matches!(
            p("ls cos://b-1/x -r").unwrap().1,
            Command::Ls {
                recursive: true,
                ..
            }
        ));
        assert!(
            matches!(p("rm cos://b-1/a cos://b-1/b").unwrap().1, Command::Rm { urls } if urls.len() == 2)
        );
        assert!(
            matches!(p("cp cos://b-1/a cos://c-1/b").unwrap().1, Command::Cp { source, dest } if source.bucket == "b-1" && dest.key == "b")
        );
        assert!(p("cp cos://b-1/a").is_err());
        assert!(matches!(
            p("presign cos://b-1/a --expires 60 --method put").unwrap().1,
            Command::Presign { method, expires, .. } if method == "PUT" && expires == Duration::from_secs(60)
        ));
        assert_eq!(
            p("log --topic t").unwrap().1,
            Command::Log { topic: "t".into() }
        );
        assert_eq!(p("").unwrap().1, Command::Help);
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        assert!(p("put onlyone")
            .unwrap_err()
            .contains("wrong arguments for put"));
        assert!(p("frobnicate").unwrap_err().contains("unknown command"));
        assert!(p("ls cos://b-1 --bogus").unwrap_err().contains("--bogus"));
        assert!(p("presign cos://b-1/k --expires soon")
            .unwrap_err()
            .contains("not a number"));
        assert!(p("presign cos://b-1/k --method DELETE")
            .unwrap_err()
            .contains("GET or PUT"));
        assert!(p("--region").unwrap_err().contains("needs a value"));
        assert!(p("get s3://b/k").unwrap_err().contains("not a cos:// URL"));
    }
}
