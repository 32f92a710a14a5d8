//! Putting a job's outputs under their final names so that a crash at any moment leaves
//! something the next attempt recognises.
//!
//! The files a move will produce are recorded on the job (durably) before the first rename.
//! After a crash the job runs again: when every recorded file is in place exactly as
//! recorded (same size, modification time and inode: the renamed file itself), the earlier
//! attempt's work is done and only its bookkeeping is left; when some are missing, the work
//! is done again and may replace the files the earlier attempt did move, and only those.

use std::path::{Path, PathBuf};

use crate::domain::file::{FileKind, OutputFile};
use crate::ports::{FailureClass, JobContext, JobFailure, Move, OutputStore, PlaceError};

/// A file a job produced in its scratch directory, ready to move into a store.
#[derive(Debug, Clone)]
pub(crate) struct Staged {
    /// Its path under the staging directory, and under the store.
    pub relative: PathBuf,
    /// What it is.
    pub kind: FileKind,
    /// Its `Content-Type`.
    pub mime: String,
}

fn place_failure(e: PlaceError) -> JobFailure {
    match e {
        PlaceError::Io(_) => JobFailure::new(FailureClass::Transient, e.to_string()),
        PlaceError::Exists(_) | PlaceError::Escapes(_) => JobFailure::permanent(e.to_string()),
    }
}

/// The outputs an earlier attempt of this job recorded, when every one of them is in the
/// store as recorded; `None` when there are none or any is missing or different.
pub(crate) async fn earlier_outputs(
    ctx: &dyn JobContext,
    store: &dyn OutputStore,
) -> Result<Option<Vec<OutputFile>>, JobFailure> {
    let recorded = &ctx.job().outputs;
    let mut found: Vec<OutputFile> = Vec::new();
    for output in recorded {
        if found.iter().any(|f| f.path == output.path) {
            continue;
        }
        let now = store
            .fingerprint(&output.path)
            .await
            .map_err(place_failure)?;
        // A path may be on record more than once (an attempt that crashed before its move
        // keeps the record of the file it would have replaced): any of them will do.
        match recorded
            .iter()
            .find(|o| o.path == output.path && Some(o.fingerprint) == now)
        {
            Some(ours) => found.push(ours.clone()),
            None => return Ok(None),
        }
    }
    Ok((!found.is_empty()).then_some(found))
}

/// Moves `staged` (under `from`) into `store` and returns what is now in place. A file in
/// the way is replaced when `force` is set or when it is one this job moved in an earlier
/// attempt; otherwise the job fails, permanently, with nothing moved.
pub(crate) async fn put_in_place(
    ctx: &dyn JobContext,
    store: &dyn OutputStore,
    from: &Path,
    staged: &[Staged],
    force: bool,
) -> Result<Vec<OutputFile>, JobFailure> {
    let relative: Vec<PathBuf> = staged.iter().map(|s| s.relative.clone()).collect();
    let plan = store.plan(from, &relative).await.map_err(place_failure)?;
    let earlier = &ctx.job().outputs;
    let mut moves = Vec::with_capacity(plan.len());
    let mut outputs = Vec::with_capacity(plan.len());
    // Files of ours about to be replaced stay on record until they are: should this attempt
    // crash before its moves, the next one still knows them.
    let mut still_ours = Vec::new();
    for (planned, file) in plan.into_iter().zip(staged) {
        let ours = earlier
            .iter()
            .find(|o| o.path == planned.target && Some(o.fingerprint) == planned.existing);
        if planned.existing.is_some() && !force && ours.is_none() {
            return Err(place_failure(PlaceError::Exists(
                planned.relative.display().to_string(),
            )));
        }
        still_ours.extend(ours.cloned());
        moves.push(Move {
            relative: planned.relative,
            replace: force || ours.is_some(),
        });
        outputs.push(OutputFile {
            kind: file.kind,
            path: planned.target,
            mime: file.mime.clone(),
            fingerprint: planned.staged,
        });
    }
    let mut record = outputs.clone();
    record.extend(still_ours);
    ctx.record_outputs(record).await?;
    store.place(from, &moves).await.map_err(place_failure)?;
    Ok(outputs)
}
