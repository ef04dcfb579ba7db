//! The command line, declared with clap: `--version`, help per command,
//! `--flag=value`, unknown flags refused with exit code 2.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::location::{CosUrl, Location};

const AFTER_HELP: &str = "\
Credentials come from TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY
(/ TENCENTCLOUD_SESSION_TOKEN), or COS_SECRET_ID / COS_SECRET_KEY.
Telemetry: set OTEL_EXPORTER_OTLP_ENDPOINT to export spans and metrics;
RUST_LOG sets the level of diagnostics on stderr.
Exit status: 0 success, 1 failure, 2 usage error, 130 interrupted.";

/// Tencent Cloud COS and CLS from the command line.
#[derive(Debug, Parser)]
#[command(name = "coscls", version, after_help = AFTER_HELP, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct Global {
    /// COS endpoint, e.g. http://127.0.0.1:9000 for the emulator.
    #[arg(long, global = true, value_name = "URL", env = "COSCLS_ENDPOINT")]
    pub(crate) endpoint: Option<String>,
    /// Region of COS and CLS [default: $TENCENTCLOUD_REGION, else ap-guangzhou].
    #[arg(long, global = true, value_name = "REGION", env = "COS_REGION")]
    pub(crate) region: Option<String>,
    /// CLS endpoint [default: https://<region>.cls.tencentcs.com].
    #[arg(long, global = true, value_name = "URL", env = "CLS_ENDPOINT")]
    pub(crate) cls_endpoint: Option<String>,
    /// Longest wait for a connection or for the next bytes of an answer,
    /// per attempt (`30`, `30s`, `2m`).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) timeout: Option<Duration>,
    /// Retries of a failed request (0 = none).
    #[arg(long, global = true, value_name = "N")]
    pub(crate) retries: Option<u32>,
    /// No progress bars and no reports of what was done; errors still print.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// One JSON object per result line on stdout.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Draw progress bars even when stderr is not a terminal.
    #[arg(long, global = true, overrides_with = "no_progress")]
    pub(crate) progress: bool,
    /// Never draw progress bars.
    #[arg(long, global = true, overrides_with = "progress")]
    pub(crate) no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Copy files and objects: local→cos, cos→local, cos→cos (`-` is stdin/stdout).
    #[command(after_help = "Examples:
  coscls cp photo.jpg cos://bucket-1250000000/photos/
  coscls cp -r ./site cos://bucket-1250000000/site
  coscls cp cos://bucket-1250000000/photos/photo.jpg ./downloads/
  coscls cp -r cos://bucket-1250000000/site ./site-copy
  coscls cp cos://bucket-1250000000/a.txt cos://other-1250000000/b.txt
  tar c dir | coscls cp - cos://bucket-1250000000/dir.tar")]
    Cp(CopyArgs),
    /// Move: copy, then delete the source once the copy succeeded.
    #[command(after_help = "Examples:
  coscls mv report.pdf cos://bucket-1250000000/archive/
  coscls mv -r cos://bucket-1250000000/tmp/ cos://bucket-1250000000/done/")]
    Mv(CopyArgs),
    /// Upload a file (or `-` for stdin); shorthand for `cp FILE cos://…`.
    Put(PutArgs),
    /// Download an object (to a file, a directory, or `-` for stdout).
    Get(GetArgs),
    /// Delete objects; with -r every key under a prefix.
    #[command(after_help = "Examples:
  coscls rm cos://bucket-1250000000/old.log
  coscls rm -r cos://bucket-1250000000/logs/2023/")]
    Rm(RmArgs),
    /// List objects and prefixes (size, modification time, storage class).
    #[command(after_help = "Examples:
  coscls ls cos://bucket-1250000000/
  coscls ls -r --bytes cos://bucket-1250000000/logs/")]
    Ls(LsArgs),
    /// Show an object's metadata.
    Stat {
        /// cos://bucket/key
        #[arg(value_name = "COS_URL")]
        url: CosUrl,
    },
    /// Write an object to stdout.
    Cat {
        /// cos://bucket/key
        #[arg(value_name = "COS_URL")]
        url: CosUrl,
    },
    /// Make a directory and a prefix alike: copy only files that are missing
    /// or differ (size, then CRC-64).
    #[command(after_help = "Examples:
  coscls sync ./site cos://bucket-1250000000/site
  coscls sync --delete cos://bucket-1250000000/site ./site")]
    Sync(SyncArgs),
    /// Make a bucket.
    Mb {
        /// cos://bucket-appid
        #[arg(value_name = "COS_URL")]
        url: CosUrl,
    },
    /// Remove an (empty) bucket.
    Rb {
        /// cos://bucket-appid
        #[arg(value_name = "COS_URL")]
        url: CosUrl,
    },
    /// Print a pre-signed URL.
    Presign(PresignArgs),
    /// Send each line of stdin to a CLS topic as one log.
    Log(LogArgs),
    /// Find and abort unfinished multipart uploads.
    #[command(subcommand)]
    Multipart(MultipartCommand),
    /// Print a shell completion script.
    #[command(after_help = "Example:
  coscls completions bash > ~/.local/share/bash-completion/completions/coscls")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Arguments of `cp` and `mv`.
#[derive(Debug, Clone, Args)]
pub(crate) struct CopyArgs {
    /// Local path, cos://bucket/key, or `-` (stdin).
    pub(crate) source: Location,
    /// Local path, cos://bucket/key, or `-` (stdout); a trailing `/` means "into".
    pub(crate) dest: Location,
    /// Copy every file of a directory / every key under a prefix.
    #[arg(short, long)]
    pub(crate) recursive: bool,
    #[command(flatten)]
    pub(crate) object: ObjectArgs,
}

/// Headers of uploaded objects.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ObjectArgs {
    /// Content-Type of uploaded objects.
    #[arg(long, value_name = "TYPE")]
    pub(crate) content_type: Option<String>,
    /// Storage class of uploaded objects (STANDARD, STANDARD_IA, ARCHIVE…).
    #[arg(long, value_name = "CLASS")]
    pub(crate) storage_class: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct PutArgs {
    /// Local file, or `-` for stdin.
    pub(crate) source: Location,
    /// cos://bucket/key (or cos://bucket/dir/).
    pub(crate) dest: Location,
    #[command(flatten)]
    pub(crate) object: ObjectArgs,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct GetArgs {
    /// cos://bucket/key
    pub(crate) source: Location,
    /// File, directory, or `-` for stdout [default: the key's name in the current directory].
    pub(crate) dest: Option<Location>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct RmArgs {
    /// cos://bucket/key (with -r: cos://bucket/prefix)
    #[arg(required = true, value_name = "COS_URL")]
    pub(crate) urls: Vec<CosUrl>,
    /// Delete every key under the prefix.
    #[arg(short, long)]
    pub(crate) recursive: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct LsArgs {
    /// cos://bucket[/prefix]
    #[arg(value_name = "COS_URL")]
    pub(crate) url: CosUrl,
    /// Every key under the prefix, not one level.
    #[arg(short, long)]
    pub(crate) recursive: bool,
    /// Sizes in bytes rather than KiB/MiB/GiB.
    #[arg(long)]
    pub(crate) bytes: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct SyncArgs {
    /// Local directory or cos://bucket/prefix.
    pub(crate) source: Location,
    /// cos://bucket/prefix or local directory.
    pub(crate) dest: Location,
    /// Also delete destination files that the source does not have.
    #[arg(long)]
    pub(crate) delete: bool,
    #[command(flatten)]
    pub(crate) object: ObjectArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
pub(crate) enum Method {
    Get,
    Put,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct PresignArgs {
    /// cos://bucket/key
    #[arg(value_name = "COS_URL")]
    pub(crate) url: CosUrl,
    /// How long the URL is valid (`3600`, `1h`, `7d`).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub(crate) expires: Duration,
    /// The method the URL allows.
    #[arg(long, value_enum, ignore_case = true, default_value = "GET")]
    pub(crate) method: Method,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct LogArgs {
    /// CLS topic id.
    #[arg(long, value_name = "TOPIC_ID", env = "CLS_TOPIC_ID")]
    pub(crate) topic: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MultipartCommand {
    /// List unfinished uploads under a bucket or prefix.
    #[command(after_help = "Example:
  coscls multipart ls --older-than 1d cos://bucket-1250000000/")]
    Ls {
        /// cos://bucket[/prefix]
        #[arg(value_name = "COS_URL")]
        url: CosUrl,
        /// Only uploads started longer ago than this (`2h`, `7d`).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        older_than: Option<Duration>,
    },
    /// Abort unfinished uploads (their parts are billed until then).
    #[command(after_help = "Examples:
  coscls multipart abort --older-than 7d cos://bucket-1250000000/
  coscls multipart abort --upload-id 1585130821cbb7df... cos://bucket-1250000000/big.iso")]
    Abort {
        /// cos://bucket[/prefix], or cos://bucket/key with --upload-id.
        #[arg(value_name = "COS_URL")]
        url: CosUrl,
        /// Only uploads started longer ago than this (`2h`, `7d`).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        older_than: Option<Duration>,
        /// Exactly this upload of the key the URL names.
        #[arg(long, value_name = "ID", conflicts_with_all = ["older_than", "all"])]
        upload_id: Option<String>,
        /// Every upload under the prefix, whatever its age.
        #[arg(long, conflicts_with = "older_than")]
        all: bool,
    },
}

/// `90` (seconds) or a humantime duration such as `90s`, `2m`, `1h30m`, `7d`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|e| format!("{s:?}: {e}"));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration such as 30, 30s, 5m or 7d ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("coscls").chain(args.split_whitespace()))
    }

    #[test]
    fn the_declaration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_take_both_spellings_anywhere() {
        let cli = parse("--endpoint=http://127.0.0.1:9 rm -r cos://b-1/dir/ --timeout 2s").unwrap();
        assert_eq!(cli.global.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(cli.global.timeout, Some(Duration::from_secs(2)));
        assert!(matches!(
            cli.command,
            Command::Rm(RmArgs {
                recursive: true,
                ..
            })
        ));
        let cli = parse("ls cos://b-1/ --endpoint http://h:1 --json").unwrap();
        assert_eq!(cli.global.endpoint.as_deref(), Some("http://h:1"));
        assert!(cli.global.json);
    }

    #[test]
    fn mistakes_are_usage_errors() {
        for bad in [
            "ls --content-type x cos://b-1/",
            "rm",
            "frobnicate",
            "cp onlyone",
            "presign cos://b-1/k --method DELETE",
            "presign cos://b-1/k --expires soon",
            "ls s3://b/k",
            "multipart abort --all --older-than 1d cos://b-1/",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}: {e}");
        }
        let cli = parse("presign cos://b-1/k --method put --expires 90").unwrap();
        assert!(matches!(
            cli.command,
            Command::Presign(PresignArgs { method: Method::Put, expires, .. }) if expires == Duration::from_secs(90)
        ));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999999").is_err());
    }
}
