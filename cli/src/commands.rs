//! The commands other than transfers: rm, ls, stat, mb, rb, presign, log and
//! multipart, and the dispatch of every command.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coscls::cls::{self, Log, LogContent, Producer, ProducerConfig};
use coscls::cos::{self, ListOptions, PresignOptions};
use futures_util::TryStreamExt;
use serde_json::json;
use tokio::io::AsyncBufReadExt;

use crate::cli::{Command, LogArgs, LsArgs, Method, MultipartCommand, PresignArgs, RmArgs};
use crate::location::CosUrl;
use crate::output::{human_size, time_json, time_text};
use crate::{explain, transfer, usage, BoxError, Ctx};

pub(crate) async fn run(ctx: Ctx, command: Command) -> Result<(), BoxError> {
    match command {
        Command::Cp(args) => transfer::copy(&ctx, args, false).await,
        Command::Mv(args) => transfer::copy(&ctx, args, true).await,
        Command::Put(args) => transfer::put(&ctx, args).await,
        Command::Get(args) => transfer::get(&ctx, args).await,
        Command::Sync(args) => transfer::sync(&ctx, args).await,
        Command::Cat { url } => transfer::cat(&ctx, &url).await,
        Command::Rm(args) => rm(&ctx, args).await,
        Command::Ls(args) => ls(&ctx, args).await,
        Command::Stat { url } => stat(&ctx, &url).await,
        Command::Mb { url } => make_bucket(&ctx, &url, true).await,
        Command::Rb { url } => make_bucket(&ctx, &url, false).await,
        Command::Presign(args) => presign(&ctx, args).await,
        Command::Log(args) => log_stdin(&ctx, args).await,
        Command::Multipart(cmd) => multipart(&ctx, cmd).await,
        // Handled before the runtime's work starts.
        Command::Completions { .. } => Ok(()),
    }
}

async fn rm(ctx: &Ctx, args: RmArgs) -> Result<(), BoxError> {
    // Every URL is checked before the first deletion.
    if !args.recursive {
        for url in &args.urls {
            url.object_key().map_err(usage)?;
        }
    }
    let client = ctx.cos()?;
    for url in &args.urls {
        if args.recursive {
            rm_prefix(ctx, &client, url).await?;
        } else {
            rm_object(ctx, &client, url).await?;
        }
    }
    Ok(())
}

/// Deletes one object, and says so only if it existed: COS answers a
/// delete of a missing key with success, which would make a typo look done.
async fn rm_object(ctx: &Ctx, client: &cos::Client, url: &CosUrl) -> Result<(), BoxError> {
    match client.head_object(&url.bucket, &url.key).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {
            let under = client
                .list_objects(
                    &url.bucket,
                    &ListOptions::default().prefix(url.dir_prefix()).max_keys(1),
                )
                .await;
            if under.is_ok_and(|page| !page.objects.is_empty()) {
                return Err(usage(format!(
                    "{url} is not an object but a prefix of other keys; use rm -r {url}/ to delete them"
                )));
            }
            return Err(explain(client, url, e).await);
        }
        Err(e) => return Err(e.into()),
    }
    client.delete_object(&url.bucket, &url.key).await?;
    ctx.out.done(
        || format!("delete: {url}"),
        || json!({"op": "delete", "url": url.to_string()}),
    );
    Ok(())
}

/// Deletes every key under the prefix, a listing page at a time through
/// DeleteMultipleObjects, and prints how many were deleted.
async fn rm_prefix(ctx: &Ctx, client: &cos::Client, url: &CosUrl) -> Result<(), BoxError> {
    let prefix = url.dir_prefix();
    let shown = url.with_key(prefix.clone());
    let mut deleted = 0usize;
    let mut failed = 0usize;
    let mut pages = Box::pin(
        client.list_objects_stream(&url.bucket, ListOptions::default().prefix(prefix.clone())),
    );
    while let Some(page) = pages.try_next().await? {
        let keys: Vec<String> = page.objects.into_iter().map(|o| o.key).collect();
        match transfer::delete_remote(ctx, client, &url.bucket, keys).await {
            Ok(n) => deleted += n,
            Err(e) => {
                ctx.out.warn(&e.to_string());
                failed += 1;
            }
        }
    }
    ctx.out.done(
        || format!("deleted {deleted} object(s) under {shown}"),
        || json!({"op": "rm", "prefix": shown.to_string(), "deleted": deleted}),
    );
    if failed > 0 {
        return Err(format!("some objects under {shown} could not be deleted").into());
    }
    Ok(())
}

async fn ls(ctx: &Ctx, args: LsArgs) -> Result<(), BoxError> {
    let client = ctx.cos()?;
    let url = &args.url;
    let mut opts = ListOptions::default().prefix(url.key.clone());
    if !args.recursive {
        opts = opts.delimiter("/");
    }
    let mut pages = Box::pin(client.list_objects_stream(&url.bucket, opts));
    while let Some(page) = pages.try_next().await? {
        for dir in &page.common_prefixes {
            let u = url.with_key(dir.clone());
            ctx.out.data(
                || format!("{:<20}  {:>10}  {:<11}  {u}", "", "DIR", ""),
                || json!({"type": "prefix", "url": u.to_string(), "prefix": dir}),
            );
        }
        for o in &page.objects {
            let u = url.with_key(o.key.clone());
            let class = o.storage_class.as_deref().unwrap_or("STANDARD");
            ctx.out.data(
                || {
                    let size = if args.bytes {
                        o.size.to_string()
                    } else {
                        human_size(o.size)
                    };
                    format!(
                        "{:<20}  {size:>10}  {class:<11}  {u}",
                        time_text(o.last_modified)
                    )
                },
                || {
                    json!({"type": "object", "url": u.to_string(), "key": o.key, "size": o.size,
                        "last_modified": time_json(o.last_modified), "storage_class": class, "etag": o.etag})
                },
            );
        }
    }
    Ok(())
}

async fn stat(ctx: &Ctx, url: &CosUrl) -> Result<(), BoxError> {
    let key = url.object_key().map_err(usage)?;
    let client = ctx.cos()?;
    let m = match client.head_object(&url.bucket, key).await {
        Ok(m) => m,
        Err(e) => return Err(explain(&client, url, e).await),
    };
    let class = m.storage_class.as_deref().unwrap_or("STANDARD");
    let crc = m.crc64.map(|c| c.to_string());
    ctx.out.data(
        || {
            let mut lines = vec![
                format!("url:            {url}"),
                format!("size:           {} ({})", m.content_length, human_size(m.content_length)),
                format!("last-modified:  {}", time_text(m.last_modified)),
                format!("etag:           {}", m.etag.as_deref().unwrap_or("-")),
                format!("content-type:   {}", m.content_type.as_deref().unwrap_or("-")),
                format!("storage-class:  {class}"),
                format!("crc64:          {}", crc.as_deref().unwrap_or("-")),
            ];
            if let Some(v) = &m.version_id {
                lines.push(format!("version-id:     {v}"));
            }
            for (name, value) in &m.metadata {
                lines.push(format!("meta:           {name}={value}"));
            }
            lines.join("\n")
        },
        || {
            json!({"url": url.to_string(), "size": m.content_length, "last_modified": time_json(m.last_modified),
                "etag": m.etag, "content_type": m.content_type, "storage_class": class, "crc64": crc,
                "version_id": m.version_id, "metadata": m.metadata})
        },
    );
    Ok(())
}

async fn make_bucket(ctx: &Ctx, url: &CosUrl, make: bool) -> Result<(), BoxError> {
    let cmd = if make { "mb" } else { "rb" };
    if !url.key.is_empty() {
        return Err(usage(format!(
            "{cmd} takes a bucket, cos://{}, not a key",
            url.bucket
        )));
    }
    let client = ctx.cos()?;
    let op = if make {
        client.create_bucket(&url.bucket).await?;
        "make_bucket"
    } else {
        client.delete_bucket(&url.bucket).await?;
        "remove_bucket"
    };
    ctx.out.done(
        || format!("{op}: cos://{}", url.bucket),
        || json!({"op": op, "bucket": url.bucket}),
    );
    Ok(())
}

async fn presign(ctx: &Ctx, args: PresignArgs) -> Result<(), BoxError> {
    let key = args.url.object_key().map_err(usage)?;
    let client = ctx.cos()?;
    let (opts, method) = match args.method {
        Method::Get => (PresignOptions::get(args.expires), "GET"),
        Method::Put => (PresignOptions::put(args.expires), "PUT"),
    };
    let signed = client.presigned_url(&args.url.bucket, key, &opts).await?;
    ctx.out.data(
        || signed.clone(),
        || json!({"url": signed, "method": method, "expires_in_secs": args.expires.as_secs()}),
    );
    Ok(())
}

async fn log_stdin(ctx: &Ctx, args: LogArgs) -> Result<(), BoxError> {
    let producer = Producer::new(ctx.cls()?, ProducerConfig::default())?;
    let topic = args.topic;
    let destination = cls::Destination::new(Arc::<str>::from(topic.as_str()));
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut receipts = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let log = Log {
            time,
            contents: vec![LogContent {
                key: "content".into(),
                value: line,
            }],
            collect_time: None,
        };
        receipts.push(producer.send(&destination, log).await?);
    }
    let report = producer.close(Duration::from_secs(60)).await;
    let mut failed = 0usize;
    for receipt in receipts {
        if let Err(e) = receipt.await {
            failed += 1;
            ctx.out.warn(&format!("a log was not delivered: {e}"));
        }
    }
    let failed = failed.max(usize::try_from(report.failed).unwrap_or(usize::MAX));
    ctx.out.done(
        || {
            format!(
                "sent {} log(s) to topic {topic}, {failed} failed",
                report.delivered
            )
        },
        || json!({"op": "log", "topic": topic, "sent": report.delivered, "failed": failed}),
    );
    if report.all_delivered() && failed == 0 {
        Ok(())
    } else {
        Err(format!(
            "{} of {} logs were not delivered",
            report.accepted.saturating_sub(report.delivered),
            report.accepted
        )
        .into())
    }
}

/// Whether an upload started at `initiated` is older than `age` at `now`
/// (an upload without a start time, or dated in the future, is not).
pub(crate) fn older_than(initiated: Option<SystemTime>, age: Duration, now: SystemTime) -> bool {
    initiated
        .and_then(|t| now.duration_since(t).ok())
        .is_some_and(|elapsed| elapsed > age)
}

async fn multipart(ctx: &Ctx, cmd: MultipartCommand) -> Result<(), BoxError> {
    let client = ctx.cos()?;
    let now = SystemTime::now();
    match cmd {
        MultipartCommand::Ls {
            url,
            older_than: age,
        } => {
            let prefix = (!url.key.is_empty()).then_some(url.key.as_str());
            for u in client.list_multipart_uploads(&url.bucket, prefix).await? {
                if age.is_some_and(|a| !older_than(u.initiated, a, now)) {
                    continue;
                }
                let at = url.with_key(u.key.clone());
                ctx.out.data(
                    || format!("{:<20}  {}  {at}", time_text(u.initiated), u.upload_id),
                    || {
                        json!({"url": at.to_string(), "key": u.key, "upload_id": u.upload_id,
                        "initiated": time_json(u.initiated), "storage_class": u.storage_class})
                    },
                );
            }
            Ok(())
        }
        MultipartCommand::Abort {
            url,
            older_than: age,
            upload_id,
            all,
        } => {
            let targets: Vec<(String, String)> = match (upload_id, age, all) {
                (Some(id), _, _) => vec![(url.object_key().map_err(usage)?.to_string(), id)],
                (None, None, false) => return Err(usage(
                    "say which uploads to abort: --older-than DURATION, --upload-id ID or --all",
                )),
                (None, age, _) => {
                    let prefix = (!url.key.is_empty()).then_some(url.key.as_str());
                    client
                        .list_multipart_uploads(&url.bucket, prefix)
                        .await?
                        .into_iter()
                        .filter(|u| age.is_none_or(|a| older_than(u.initiated, a, now)))
                        .map(|u| (u.key, u.upload_id))
                        .collect()
                }
            };
            let mut aborted = 0usize;
            let mut failed = 0usize;
            for (key, id) in targets {
                let at = url.with_key(key.clone());
                match client.abort_multipart_upload(&url.bucket, &key, &id).await {
                    Ok(()) => {
                        aborted += 1;
                        ctx.out.done(
                            || format!("abort: {at} {id}"),
                            || json!({"op": "abort", "url": at.to_string(), "upload_id": id}),
                        );
                    }
                    Err(e) => {
                        failed += 1;
                        ctx.out
                            .warn(&format!("could not abort upload {id} of {at}: {e}"));
                    }
                }
            }
            ctx.out.done(
                || format!("aborted {aborted} upload(s)"),
                || json!({"op": "multipart abort", "aborted": aborted, "failed": failed}),
            );
            if failed > 0 {
                return Err(format!("{failed} upload(s) could not be aborted").into());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_filter() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        let day = Duration::from_secs(86_400);
        assert!(!older_than(None, day, now));
        assert!(older_than(
            Some(UNIX_EPOCH),
            Duration::from_secs(9_999),
            now
        ));
        assert!(!older_than(
            Some(UNIX_EPOCH),
            Duration::from_secs(10_000),
            now
        ));
        assert!(!older_than(Some(now + day), Duration::ZERO, now));
    }
}
