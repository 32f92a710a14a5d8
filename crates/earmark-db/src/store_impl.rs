//! The port implementations, written once and expanded for each backend.
//!
//! Diesel checks queries against a concrete connection type, so code shared by PostgreSQL and
//! SQLite is either a thicket of trait bounds or a macro; these are the macros, one per port
//! (`library_impl.rs`, `jobs_impl.rs`), with the helpers they share here. What really
//! differs between the backends stays in `postgres.rs` and `sqlite.rs`, as inherent methods
//! each store provides under the same names:
//! - `conn()`: a pooled connection;
//! - `write_clock(c)`: inside a write transaction, take the change-feed lock and return the
//!   time to stamp on books;
//! - `read_watermark(c)`: inside a read transaction, wait out in-flight writers and return
//!   the watermark;
//! - `insert_books(c, rows)`: insert new book rows (one statement where the backend allows);
//! - and the name of the write-transaction method (`immediate_transaction` on SQLite, so the
//!   write lock is taken at BEGIN), and the row-locking clause of a job claim.

/// How many rows one statement touches at most, well under both backends' bind limits.
pub(crate) const CHUNK: usize = 500;

/// How many finished jobs one statement of a history deletion removes.
pub(crate) const DELETE_BATCH: i64 = 500;

/// The message stored on jobs that start-up recovery fails.
pub(crate) fn interrupted_message(attempts: i32) -> String {
    format!(
        "interrupted: earmark stopped while this job was running, and it has used all its \
         {attempts} attempts; retry it with POST /jobs/{{id}}/retry"
    )
}

/// The columns a [`earmark_core::JobUpdate`] changes on a job now `from`, or why it may not.
pub(crate) fn job_changes(
    id: earmark_core::JobId,
    from: earmark_core::JobStatus,
    update: &earmark_core::JobUpdate,
    now: crate::sql_types::DbTime,
) -> Result<crate::rows::JobChanges, earmark_core::ports::JobQueueError> {
    use crate::sql_types::DbTime;
    use earmark_core::JobStatus;

    let to = update.status.filter(|to| *to != from);
    if let Some(to) = to
        && !from.can_become(to)
    {
        return Err(earmark_core::ports::JobQueueError::InvalidTransition { id, from, to });
    }
    let finishing = to.is_some_and(JobStatus::is_terminal);
    let progress = if to == Some(JobStatus::Completed) {
        Some(100.0)
    } else {
        update.progress_percent.map(|p| p.clamp(0.0, 100.0))
    };
    Ok(crate::rows::JobChanges {
        status: to.map(|s| s.as_str().to_owned()),
        progress_percent: progress,
        status_message: update.status_message.clone(),
        error: update.error.clone(),
        log_file_path: update.log_file_path.clone(),
        run_after: update.run_after.map(|at| at.map(DbTime::new)),
        finished_at: finishing.then_some(now),
        updated_at: Some(now),
        ..crate::rows::JobChanges::default()
    })
}
