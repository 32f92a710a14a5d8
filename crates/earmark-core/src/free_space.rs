//! The disk-space check every large write (a download, a conversion) makes before it starts,
//! so a full disk fails the job at once with what to do instead of hours later mid-write.

use crate::ports::{JobFailure, OutputStore};

/// Room left free beyond the work's estimated size.
pub const FREE_SPACE_MARGIN: u64 = 256 * 1024 * 1024;

/// Fails permanently, saying what was needed and what is free, unless the store has room for
/// `estimate` bytes plus [`FREE_SPACE_MARGIN`]. `what` names the work ("the download").
pub(crate) async fn ensure_free_space(
    store: &dyn OutputStore,
    estimate: u64,
    what: &str,
) -> Result<(), JobFailure> {
    let need = estimate.saturating_add(FREE_SPACE_MARGIN);
    let free = store
        .free_bytes()
        .await
        .map_err(|e| JobFailure::permanent(e.to_string()))?;
    if free < need {
        return Err(JobFailure::permanent(format!(
            "not enough disk space: {what} needs about {} MiB, {} MiB are free; free some space, then retry",
            need / (1024 * 1024),
            free / (1024 * 1024)
        )));
    }
    Ok(())
}
