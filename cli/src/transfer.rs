//! `cp`, `mv`, `put`, `get` and `sync`: a plan of file and object transfers
//! (pure naming rules in `location`), run a few at a time with a bar each.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use coscls::cos::{
    self, CopyOptions, DownloadOptions, ListOptions, ObjectSummary, PutOptions, StorageClass,
    UploadOptions, DEFAULT_PART_SIZE, MAX_PART_SIZE,
};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::cli::{CopyArgs, GetArgs, ObjectArgs, PutArgs, SyncArgs};
use crate::location::{
    base_name, dest_key, dest_path, key_of_relative, local_path_of, CosUrl, Location,
};
use crate::output::{error_lines, human_size};
use crate::progress::{Bars, FileBar};
use crate::{explain, usage, BoxError, Ctx};

/// Files transferred at once by recursive commands (each multipart upload
/// or download also runs its own parts concurrently).
const FILES_AT_ONCE: usize = 4;

/// One transfer of a plan.
#[derive(Debug, Clone)]
enum Job {
    Upload {
        path: PathBuf,
        dest: CosUrl,
        size: u64,
    },
    Download {
        src: CosUrl,
        path: PathBuf,
        size: Option<u64>,
    },
    Copy {
        src: CosUrl,
        dest: CosUrl,
        size: Option<u64>,
    },
}

impl Job {
    fn size(&self) -> Option<u64> {
        match self {
            Job::Upload { size, .. } => Some(*size),
            Job::Download { size, .. } | Job::Copy { size, .. } => *size,
        }
    }
}

/// The headers of uploaded objects, checked before anything is sent.
fn put_options(object: &ObjectArgs) -> Result<PutOptions, BoxError> {
    let mut put = PutOptions::default();
    if let Some(t) = &object.content_type {
        put = put.content_type(t.clone());
    }
    if let Some(c) = &object.storage_class {
        put = put.storage_class(StorageClass::new(&c.to_ascii_uppercase())?);
    }
    Ok(put)
}

fn local_remote_message(cmd: &str) -> BoxError {
    usage(format!(
        "{cmd} needs a cos:// URL on at least one side (local to local is not a COS operation)"
    ))
}

/// `cp` (and `mv` when `remove_source`).
pub(crate) async fn copy(ctx: &Ctx, args: CopyArgs, remove_source: bool) -> Result<(), BoxError> {
    let cmd = if remove_source { "mv" } else { "cp" };
    match (&args.source, &args.dest) {
        (Location::Stdio, Location::Remote(dest)) => {
            if args.recursive || remove_source {
                return Err(usage(format!("{cmd} - (stdin) takes neither -r nor mv")));
            }
            return upload_stdin(ctx, dest, &args.object).await;
        }
        (Location::Remote(src), Location::Stdio) => {
            if args.recursive || remove_source {
                return Err(usage(format!(
                    "{cmd} to - (stdout) takes neither -r nor mv"
                )));
            }
            return cat(ctx, src).await;
        }
        (Location::Remote(_), _) | (_, Location::Remote(_)) => {}
        _ => return Err(local_remote_message(cmd)),
    }
    // Local checks before any request.
    let put = put_options(&args.object)?;
    let client = ctx.cos()?;
    let jobs = if args.recursive {
        plan_recursive(ctx, &client, &args.source, &args.dest).await?
    } else {
        vec![plan_single(&args.source, &args.dest)?]
    };
    if jobs.is_empty() {
        ctx.out
            .warn(&format!("nothing to {cmd}: {} is empty", args.source));
        return Ok(());
    }
    run_jobs(ctx, &client, jobs, &put, remove_source, args.recursive).await
}

/// `put FILE|- cos://…`.
pub(crate) async fn put(ctx: &Ctx, args: PutArgs) -> Result<(), BoxError> {
    if !matches!(args.dest, Location::Remote(_)) || matches!(args.source, Location::Remote(_)) {
        return Err(usage("put takes a local file (or -) and a cos:// URL"));
    }
    let args = CopyArgs {
        source: args.source,
        dest: args.dest,
        recursive: false,
        object: args.object,
    };
    copy(ctx, args, false).await
}

/// `get cos://… [FILE|DIR|-]`.
pub(crate) async fn get(ctx: &Ctx, args: GetArgs) -> Result<(), BoxError> {
    if !matches!(args.source, Location::Remote(_)) {
        return Err(usage("get takes a cos:// URL first"));
    }
    let dest = args.dest.unwrap_or(Location::Local(PathBuf::from(".")));
    if matches!(dest, Location::Remote(_)) {
        return Err(usage("get writes to a local file, a directory or -"));
    }
    let args = CopyArgs {
        source: args.source,
        dest,
        recursive: false,
        object: ObjectArgs::default(),
    };
    copy(ctx, args, false).await
}

fn file_name_of(path: &Path) -> Result<&str, BoxError> {
    path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        usage(format!(
            "{} names no file (or not in UTF-8)",
            path.display()
        ))
    })
}

fn plan_single(source: &Location, dest: &Location) -> Result<Job, BoxError> {
    match (source, dest) {
        (Location::Local(path), Location::Remote(d)) => {
            let meta = std::fs::metadata(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if meta.is_dir() {
                return Err(usage(format!(
                    "{} is a directory; use -r/--recursive to copy its files",
                    path.display()
                )));
            }
            let dest = d.with_key(dest_key(d, file_name_of(path)?));
            Ok(Job::Upload {
                path: path.clone(),
                dest,
                size: meta.len(),
            })
        }
        (Location::Remote(s), Location::Local(p)) => {
            let key = s.object_key().map_err(usage)?;
            Ok(Job::Download {
                src: s.clone(),
                path: dest_path(p, key, p.is_dir()),
                size: None,
            })
        }
        (Location::Remote(s), Location::Remote(d)) => {
            let key = s.object_key().map_err(usage)?;
            Ok(Job::Copy {
                src: s.clone(),
                dest: d.with_key(dest_key(d, base_name(key))),
                size: None,
            })
        }
        _ => Err(local_remote_message("cp")),
    }
}

async fn plan_recursive(
    ctx: &Ctx,
    client: &cos::Client,
    source: &Location,
    dest: &Location,
) -> Result<Vec<Job>, BoxError> {
    match (source, dest) {
        (Location::Local(dir), Location::Remote(d)) => {
            if !dir.is_dir() {
                return Err(usage(format!(
                    "{} is not a directory; drop -r to copy one file",
                    dir.display()
                )));
            }
            let prefix = d.dir_prefix();
            Ok(walk(dir)?
                .into_iter()
                .map(|f| Job::Upload {
                    dest: d.with_key(format!("{prefix}{}", f.key)),
                    path: f.path,
                    size: f.size,
                })
                .collect())
        }
        (Location::Remote(s), Location::Local(dir)) => {
            if dir.exists() && !dir.is_dir() {
                return Err(usage(format!(
                    "{} is not a directory; -r writes files into a directory",
                    dir.display()
                )));
            }
            let prefix = s.dir_prefix();
            let mut jobs = Vec::new();
            for o in list_all(client, &s.bucket, &prefix).await? {
                match local_path_of(dir, &prefix, &o.key) {
                    Ok(Some(path)) => jobs.push(Job::Download {
                        src: s.with_key(o.key),
                        path,
                        size: Some(o.size),
                    }),
                    Ok(None) => {}
                    Err(e) => ctx.out.warn(&e),
                }
            }
            Ok(jobs)
        }
        (Location::Remote(s), Location::Remote(d)) => {
            let (from, to) = (s.dir_prefix(), d.dir_prefix());
            Ok(list_all(client, &s.bucket, &from)
                .await?
                .into_iter()
                .filter_map(|o| {
                    let rel = o.key.strip_prefix(&from).unwrap_or(&o.key);
                    (!rel.is_empty()).then(|| Job::Copy {
                        dest: d.with_key(format!("{to}{rel}")),
                        src: s.with_key(o.key.clone()),
                        size: Some(o.size),
                    })
                })
                .collect())
        }
        _ => Err(usage(
            "-r copies between a directory and a cos:// prefix, or two prefixes",
        )),
    }
}

/// A file found under a directory, with its key relative to it.
struct LocalFile {
    path: PathBuf,
    key: String,
    size: u64,
}

/// Every regular file under `root` (symbolic links to files are followed,
/// to directories are not, so a link loop cannot make the walk endless).
fn walk(root: &Path) -> Result<Vec<LocalFile>, BoxError> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if kind.is_dir() {
                dirs.push(path);
                continue;
            }
            let size = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m.len(),
                Ok(_) => continue,
                Err(e) if kind.is_symlink() => {
                    tracing::warn!("skipping the broken link {}: {e}", path.display());
                    continue;
                }
                Err(e) => return Err(format!("cannot read {}: {e}", path.display()).into()),
            };
            let rel = path.strip_prefix(root).map_err(|e| e.to_string())?;
            let key = key_of_relative(rel)?;
            out.push(LocalFile { path, key, size });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

async fn list_all(
    client: &cos::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<ObjectSummary>, BoxError> {
    let mut pages = Box::pin(
        client.list_objects_stream(bucket, ListOptions::default().prefix(prefix.to_string())),
    );
    let mut out = Vec::new();
    while let Some(page) = pages.try_next().await? {
        out.extend(page.objects);
    }
    Ok(out)
}

/// Runs the plan a few files at a time. A single transfer fails with its own
/// error; in a recursive one each failure is reported and the rest go on.
async fn run_jobs(
    ctx: &Ctx,
    client: &cos::Client,
    jobs: Vec<Job>,
    put: &PutOptions,
    remove_source: bool,
    recursive: bool,
) -> Result<(), BoxError> {
    let n = jobs.len();
    let bars = if recursive {
        let bytes = jobs
            .iter()
            .filter_map(Job::size)
            .fold(0u64, u64::saturating_add);
        ctx.bars.with_total(n, bytes)
    } else {
        ctx.bars.clone()
    };
    let mut results: Vec<Result<(), BoxError>> = futures_util::stream::iter(jobs)
        .map(|job| run_one(ctx, client, &bars, job, put, remove_source))
        .buffer_unordered(FILES_AT_ONCE)
        .collect()
        .await;
    bars.finish();
    if n == 1 {
        return results.pop().unwrap_or(Ok(()));
    }
    let mut failed = 0usize;
    for e in results.into_iter().filter_map(Result::err) {
        failed += 1;
        ctx.out.warn(&error_lines(e.as_ref()).join(": "));
    }
    if failed > 0 {
        return Err(format!("{failed} of {n} transfers failed").into());
    }
    Ok(())
}

async fn run_one(
    ctx: &Ctx,
    client: &cos::Client,
    bars: &Bars,
    job: Job,
    put: &PutOptions,
    remove_source: bool,
) -> Result<(), BoxError> {
    let verb = |plain: &'static str| if remove_source { "move" } else { plain };
    match job {
        Job::Upload { path, dest, size } => {
            let bar = bars.file(&dest.key, Some(size));
            let out = upload(
                ctx,
                client,
                Some(&path),
                &dest,
                put.clone(),
                &bar,
                Some(size),
            )
            .await;
            let out = finish_bar(&bar, out)?;
            if remove_source {
                std::fs::remove_file(&path).map_err(|e| {
                    format!(
                        "uploaded {dest} but could not remove {}: {e}",
                        path.display()
                    )
                })?;
            }
            let from = path.display().to_string();
            ctx.out.done(
                || format!("{}: {from} to {dest} ({})", verb("upload"), human_size(out.size)),
                || json!({"op": verb("upload"), "from": from, "to": dest.to_string(), "bytes": out.size, "parts": out.parts}),
            );
        }
        Job::Download { src, path, size } => {
            let key = src.object_key().map_err(usage)?;
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| format!("cannot create directory {}: {e}", parent.display()))?;
            }
            let bar = bars.file(key, size);
            let progress = bar.clone();
            let opts = DownloadOptions::default()
                .on_progress(move |p| progress.update(p.transferred, p.total));
            let out = match client.download_file(&src.bucket, key, &path, &opts).await {
                Ok(out) => out,
                Err(e) => return finish_bar(&bar, Err(explain(client, &src, e).await)),
            };
            bar.finish();
            if remove_source {
                client
                    .delete_object(&src.bucket, key)
                    .await
                    .map_err(|e| format!("downloaded {src} but could not delete it: {e}"))?;
            }
            let to = path.display().to_string();
            ctx.out.done(
                || format!("{}: {src} to {to} ({})", verb("download"), human_size(out.size)),
                || json!({"op": verb("download"), "from": src.to_string(), "to": to, "bytes": out.size}),
            );
        }
        Job::Copy { src, dest, size } => {
            let key = src.object_key().map_err(usage)?;
            let dest_key = dest.object_key().map_err(usage)?;
            let mut opts = CopyOptions::default();
            if let Some(n) = size {
                opts = opts.source_size(n);
            }
            if put.content_type.is_some() || put.storage_class.is_some() {
                opts = opts.replace_metadata(put.clone());
            }
            let ticket = ctx.inflight.begin(
                client,
                &dest.bucket,
                dest_key,
                size.is_none_or(|n| n > MAX_PART_SIZE),
            );
            let result = client
                .copy(&src.bucket, key, &dest.bucket, dest_key, &opts)
                .await;
            ctx.inflight.end(ticket);
            let out = match result {
                Ok(out) => out,
                Err(e) => return Err(explain(client, &src, e).await),
            };
            if remove_source {
                client.delete_object(&src.bucket, key).await.map_err(|e| {
                    format!("copied {src} to {dest} but could not delete the source: {e}")
                })?;
            }
            ctx.out.done(
                || format!("{}: {src} to {dest} ({})", verb("copy"), human_size(out.size)),
                || json!({"op": verb("copy"), "from": src.to_string(), "to": dest.to_string(), "bytes": out.size, "parts": out.parts}),
            );
        }
    }
    Ok(())
}

fn finish_bar<T>(bar: &FileBar, result: Result<T, BoxError>) -> Result<T, BoxError> {
    bar.finish();
    result
}

/// Uploads a file, or stdin when `path` is `None`, registered with the
/// Ctrl-C clean-up for as long as it runs.
async fn upload(
    ctx: &Ctx,
    client: &cos::Client,
    path: Option<&Path>,
    dest: &CosUrl,
    put: PutOptions,
    bar: &FileBar,
    size: Option<u64>,
) -> Result<cos::UploadOutput, BoxError> {
    let key = dest.object_key().map_err(usage)?;
    let ticket = ctx.inflight.begin(
        client,
        &dest.bucket,
        key,
        size.is_none_or(|n| n > DEFAULT_PART_SIZE),
    );
    let progress = bar.clone();
    let opts = UploadOptions::default()
        .put(put)
        .on_progress(move |p| progress.update(p.transferred, p.total))
        .on_started(ctx.inflight.recorder(ticket));
    let result = match path {
        Some(p) => client.upload_file(&dest.bucket, key, p, &opts).await,
        None => {
            client
                .upload_stream(&dest.bucket, key, tokio::io::stdin(), &opts)
                .await
        }
    };
    ctx.inflight.end(ticket);
    Ok(result?)
}

async fn upload_stdin(ctx: &Ctx, dest: &CosUrl, object: &ObjectArgs) -> Result<(), BoxError> {
    let put = put_options(object)?;
    let key = dest.object_key().map_err(usage)?;
    let client = ctx.cos()?;
    let bar = ctx.bars.file(key, None);
    let out = upload(ctx, &client, None, dest, put, &bar, None).await;
    let out = finish_bar(&bar, out)?;
    ctx.out.done(
        || format!("upload: - to {dest} ({})", human_size(out.size)),
        || json!({"op": "upload", "from": "-", "to": dest.to_string(), "bytes": out.size, "parts": out.parts}),
    );
    Ok(())
}

/// `cat`, and `cp cos://… -`.
pub(crate) async fn cat(ctx: &Ctx, url: &CosUrl) -> Result<(), BoxError> {
    let key = url.object_key().map_err(usage)?;
    let client = ctx.cos()?;
    let object = match client.get_object(&url.bucket, key).await {
        Ok(o) => o,
        Err(e) => return Err(explain(&client, url, e).await),
    };
    let mut stdout = tokio::io::stdout();
    object.body.write_to(&mut stdout).await?;
    stdout.flush().await?;
    Ok(())
}

/// CRC-64/ECMA of a file, as COS computes it.
fn file_crc64(path: &Path) -> std::io::Result<u64> {
    let mut file = std::fs::File::open(path)?;
    let mut crc = cos::crc64::Crc64::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(crc.value());
        }
        crc.update(&buf[..n]);
    }
}

/// Whether a file and an object of the same size differ, by CRC-64 (an
/// object without one is taken to differ: it cannot be shown equal).
async fn contents_differ(
    client: &cos::Client,
    url: &CosUrl,
    path: PathBuf,
) -> Result<bool, BoxError> {
    let meta = match client.head_object(&url.bucket, &url.key).await {
        Ok(m) => m,
        Err(e) => return Err(explain(client, url, e).await),
    };
    let Some(remote) = meta.crc64 else {
        return Ok(true);
    };
    let shown = path.display().to_string();
    let local = tokio::task::spawn_blocking(move || file_crc64(&path))
        .await?
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    Ok(local != remote)
}

/// `sync`: transfers what is missing or differs, then with `--delete`
/// removes what the source does not have.
pub(crate) async fn sync(ctx: &Ctx, args: SyncArgs) -> Result<(), BoxError> {
    let put = put_options(&args.object)?;
    let (dir, url, upload) = match (&args.source, &args.dest) {
        (Location::Local(dir), Location::Remote(url)) => (dir, url, true),
        (Location::Remote(url), Location::Local(dir)) => (dir, url, false),
        _ => {
            return Err(usage(
                "sync needs a local directory and a cos:// prefix, one on each side",
            ))
        }
    };
    if upload && !dir.is_dir() {
        return Err(usage(format!("{} is not a directory", dir.display())));
    }
    if !upload && dir.exists() && !dir.is_dir() {
        return Err(usage(format!("{} is not a directory", dir.display())));
    }
    let client = ctx.cos()?;
    let prefix = url.dir_prefix();
    let local: Vec<LocalFile> = if dir.is_dir() { walk(dir)? } else { Vec::new() };
    let remote: HashMap<String, ObjectSummary> = list_all(&client, &url.bucket, &prefix)
        .await?
        .into_iter()
        .filter_map(|o| {
            let rel = o.key.strip_prefix(&prefix)?.to_string();
            (!rel.is_empty() && !rel.ends_with('/')).then_some((rel, o))
        })
        .collect();
    let local_by_key: HashMap<&str, &LocalFile> =
        local.iter().map(|f| (f.key.as_str(), f)).collect();

    // Pairs present on both sides with the same size: compare CRC-64s.
    let mut jobs = Vec::new();
    let mut same_size = Vec::new();
    if upload {
        for f in &local {
            let dest = url.with_key(format!("{prefix}{}", f.key));
            match remote.get(&f.key) {
                Some(o) if o.size == f.size => same_size.push((dest, f.path.clone(), f.size)),
                _ => jobs.push(Job::Upload {
                    path: f.path.clone(),
                    dest,
                    size: f.size,
                }),
            }
        }
    } else {
        let mut keys: Vec<&String> = remote.keys().collect();
        keys.sort();
        for rel in keys {
            let o = &remote[rel];
            let src = url.with_key(o.key.clone());
            let path = match local_path_of(dir, &prefix, &o.key) {
                Ok(Some(p)) => p,
                Ok(None) => continue,
                Err(e) => {
                    ctx.out.warn(&e);
                    continue;
                }
            };
            match local_by_key.get(rel.as_str()) {
                Some(f) if f.size == o.size => same_size.push((src, path, o.size)),
                _ => jobs.push(Job::Download {
                    src,
                    path,
                    size: Some(o.size),
                }),
            }
        }
    }
    let checked: Vec<Result<Option<Job>, BoxError>> = futures_util::stream::iter(same_size)
        .map(|(url, path, size)| {
            let client = &client;
            async move {
                let differ = contents_differ(client, &url, path.clone()).await?;
                let job = if upload {
                    Job::Upload {
                        path,
                        dest: url,
                        size,
                    }
                } else {
                    Job::Download {
                        src: url,
                        path,
                        size: Some(size),
                    }
                };
                Ok(differ.then_some(job))
            }
        })
        .buffer_unordered(FILES_AT_ONCE)
        .collect()
        .await;
    for c in checked {
        jobs.extend(c?);
    }
    let unchanged = if upload { local.len() } else { remote.len() }.saturating_sub(jobs.len());
    let transferred = jobs.len();
    let mut result = Ok(());
    if !jobs.is_empty() {
        result = run_jobs(ctx, &client, jobs, &put, false, true).await;
    }
    let mut deleted = 0usize;
    if args.delete {
        deleted = if upload {
            let extra: Vec<String> = remote
                .iter()
                .filter(|(rel, _)| !local_by_key.contains_key(rel.as_str()))
                .map(|(_, o)| o.key.clone())
                .collect();
            delete_remote(ctx, &client, &url.bucket, extra).await?
        } else {
            let wanted: HashSet<&str> = remote.keys().map(String::as_str).collect();
            let mut n = 0;
            for f in local.iter().filter(|f| !wanted.contains(f.key.as_str())) {
                std::fs::remove_file(&f.path)
                    .map_err(|e| format!("cannot delete {}: {e}", f.path.display()))?;
                n += 1;
                let shown = f.path.display().to_string();
                ctx.out.done(
                    || format!("delete: {shown}"),
                    || json!({"op": "delete", "path": shown}),
                );
            }
            n
        };
    }
    ctx.out.done(
        || format!("sync: {transferred} transferred, {unchanged} unchanged, {deleted} deleted"),
        || json!({"op": "sync", "transferred": transferred, "unchanged": unchanged, "deleted": deleted}),
    );
    result
}

/// Deletes `keys` with DeleteMultipleObjects; returns how many were deleted.
pub(crate) async fn delete_remote(
    ctx: &Ctx,
    client: &cos::Client,
    bucket: &str,
    keys: Vec<String>,
) -> Result<usize, BoxError> {
    if keys.is_empty() {
        return Ok(0);
    }
    let out = client.delete_objects(bucket, keys).await?;
    for d in &out.deleted {
        let url = format!("cos://{bucket}/{}", d.key);
        ctx.out.done(
            || format!("delete: {url}"),
            || json!({"op": "delete", "url": url}),
        );
    }
    for e in &out.errors {
        ctx.out.warn(&format!(
            "could not delete cos://{bucket}/{}: {} ({})",
            e.key, e.message, e.code
        ));
    }
    if !out.errors.is_empty() {
        return Err(format!(
            "{} of {} objects could not be deleted",
            out.errors.len(),
            out.errors.len() + out.deleted.len()
        )
        .into());
    }
    Ok(out.deleted.len())
}
