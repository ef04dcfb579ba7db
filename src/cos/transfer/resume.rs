//! `upload_file` with a checkpoint: continue the multipart upload a
//! checkpoint records, after verifying what it reuses (see
//! [`checkpoint`](crate::cos::transfer::checkpoint) for the rules), or start one that a
//! rerun can continue.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cos::transfer::checkpoint::{
    self, Checkpoint, FileIdentity, Journal, ResumeOutcome, UploadCheckpoint,
};
use crate::cos::transfer::plan::{check_concurrency, choose_part_size};
use crate::cos::UploadOptions;
use crate::cos::{BucketName, Client, Error};
use crate::cos::{CompletedPart, UploadOutput};

/// The upload a run continues or starts.
struct Plan {
    upload_id: String,
    part_size: u64,
    reuse: BTreeMap<u32, CompletedPart>,
    outcome: ResumeOutcome,
}

impl Client {
    pub(crate) async fn upload_file_resumable(
        &self,
        bucket: &BucketName,
        key: &str,
        path: &Path,
        checkpoint_path: &Path,
        opts: &UploadOptions,
    ) -> Result<UploadOutput, Error> {
        check_concurrency(opts.concurrency)?;
        opts.put.object_headers()?;
        opts.put
            .transfer_headers(&mut http::HeaderMap::new(), b"")?;
        let io = |what: &str| {
            let context = format!("{what} {}", path.display());
            move |source| Error::Io { context, source }
        };
        // The checkpoint is checked before anything is sent.
        let previous = match checkpoint::load(checkpoint_path).await? {
            None => None,
            Some(Checkpoint::Upload(cp)) => {
                cp.check_target(checkpoint_path, bucket.as_str(), key)?;
                Some(cp)
            }
            Some(Checkpoint::Download(_)) => {
                return Err(Error::invalid_input(
                    "checkpoint",
                    &checkpoint_path.display().to_string(),
                    "records a download, not an upload",
                ))
            }
        };
        let mut file = tokio::fs::File::open(path).await.map_err(io("opening"))?;
        let meta = file.metadata().await.map_err(io("reading the size of"))?;
        let source = FileIdentity::of(&meta);
        let size = source.size;

        let mut plan = None;
        let mut outcome = ResumeOutcome::Started;
        if let Some(cp) = previous {
            match self.continue_plan(bucket, &cp, &source, opts).await? {
                Ok(p) => plan = Some(p),
                Err(reason) => {
                    tracing::warn!(target: "coscls::cos", upload_id = %cp.upload_id, %reason, "checkpoint no longer applies; starting the upload over");
                    // The recorded upload cannot be continued: abort it so
                    // its parts are not billed (it may already be gone).
                    self.abort_quietly(bucket, key, &cp.upload_id).await;
                    outcome = ResumeOutcome::Restarted { reason };
                }
            }
        }
        let plan = match plan {
            Some(p) => p,
            None => {
                let part_size = choose_part_size(Some(size), opts.part_size)?;
                if size <= part_size {
                    // One PutObject: nothing to resume.
                    let mut out = self
                        .upload_reader(bucket, key, file, Some(size), opts)
                        .await?;
                    checkpoint::remove(checkpoint_path).await?;
                    out.resume = Some(outcome);
                    return Ok(out);
                }
                let upload_id = self.initiate(bucket, key, &opts.put).await?;
                Plan {
                    upload_id,
                    part_size,
                    reuse: BTreeMap::new(),
                    outcome,
                }
            }
        };
        if let Some(started) = &opts.on_started {
            started.call(&plan.upload_id);
        }
        // Recorded before the first part, so even a crash during it leaves
        // the upload id to continue (or abort).
        let mut kept = UploadCheckpoint {
            bucket: bucket.as_str().to_string(),
            key: key.to_string(),
            upload_id: plan.upload_id.clone(),
            part_size: plan.part_size,
            source,
            parts: Vec::new(),
        };
        for part in plan.reuse.values() {
            kept.record(part);
        }
        let mut journal = Journal::new(checkpoint_path.to_path_buf(), Checkpoint::Upload(kept));
        checkpoint::save(&journal.path, &journal.state).await?;

        // The file is read again from the start: reused parts are checked
        // against their recorded CRC-64 as they go by.
        use tokio::io::AsyncSeekExt as _;
        file.seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(io("seeking in"))?;
        let parts = self
            .upload_parts(
                bucket,
                key,
                &plan.upload_id,
                &mut file,
                Vec::new(),
                plan.part_size,
                Some(size),
                opts,
                &plan.reuse,
                Some(&mut journal),
            )
            .await;
        // What finished is written down even when the upload stops here.
        let parts = match parts {
            Ok(parts) => parts,
            Err(e) => {
                if let Err(save) = journal.flush().await {
                    tracing::warn!(target: "coscls::cos", error = %save, "could not update the checkpoint");
                }
                return Err(e);
            }
        };
        let reused: Vec<&CompletedPart> = parts
            .iter()
            .filter(|p| plan.reuse.get(&p.part_number) == Some(p))
            .collect();
        let outcome = match plan.outcome {
            ResumeOutcome::Resumed { .. } => ResumeOutcome::Resumed {
                reused_parts: reused.len() as u32,
                reused_bytes: reused.iter().map(|p| p.size).sum(),
            },
            other => other,
        };
        let result = self.complete(bucket, key, &plan.upload_id, &parts).await;
        match result {
            Ok(mut out) => {
                checkpoint::remove(checkpoint_path).await?;
                out.resume = Some(outcome);
                Ok(out)
            }
            // The upload did complete (with other bytes than computed):
            // there is nothing left to resume.
            Err(e @ Error::ChecksumMismatch { .. }) => {
                checkpoint::remove(checkpoint_path).await?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the upload `cp` records can be continued: `Ok(Ok(plan))`
    /// with the parts worth checking, `Ok(Err(reason))` when it must start
    /// over, `Err` when the server could not be asked.
    async fn continue_plan(
        &self,
        bucket: &BucketName,
        cp: &UploadCheckpoint,
        source: &FileIdentity,
        opts: &UploadOptions,
    ) -> Result<Result<Plan, String>, Error> {
        if let Some(reason) = cp.restart_reason(source, opts.part_size) {
            return Ok(Err(reason));
        }
        if let Err(e) = choose_part_size(Some(source.size), Some(cp.part_size)) {
            return Ok(Err(format!("the recorded part size does not fit: {e}")));
        }
        let listed = match self
            .list_parts(bucket.as_str(), &cp.key, &cp.upload_id)
            .await
        {
            Ok(listed) => listed,
            Err(e) if e.code() == Some("NoSuchUpload") => {
                return Ok(Err(format!(
                    "the upload {} no longer exists (completed or aborted)",
                    cp.upload_id
                )))
            }
            Err(e) => return Err(e),
        };
        let reuse = cp.reusable(&listed);
        Ok(Ok(Plan {
            upload_id: cp.upload_id.clone(),
            part_size: cp.part_size,
            outcome: ResumeOutcome::Resumed {
                reused_parts: reuse.len() as u32,
                reused_bytes: reuse.values().map(|p| p.size).sum(),
            },
            reuse,
        }))
    }
}
