//! The end of a run: the job's outcome and everything it changes, written in one transaction.

use std::path::Path;

use earmark_core::ports::{JobEffects, JobFailure, JobHandler, Stop};
use earmark_core::{Job, JobStatus, JobUpdate};

use crate::engine::Inner;

/// How a run ended.
pub(crate) enum Outcome {
    /// Its work is done; `effects` are what it leaves behind.
    Completed {
        /// The last thing it said it was doing, kept as the job's status message.
        summary: Option<String>,
        /// Its book's change and follow-up work.
        effects: Box<JobEffects>,
    },
    /// Stopped on request.
    Cancelled,
    /// Failed; retried after a back-off while attempts remain.
    Failed(JobFailure),
}

/// Records the outcome (COMPLETED, CANCELLED, PENDING for a retry after a back-off, or
/// FAILED) together with what it does to the job's book and the work it queues, in one
/// transaction; removes the scratch directory; announces the result and any new jobs.
pub(crate) async fn finish(
    inner: &Inner,
    handler: &dyn JobHandler,
    job: &Job,
    outcome: Outcome,
    work_dir: &Path,
) {
    let (update, effects) = match outcome {
        Outcome::Completed { summary, effects } => (
            JobUpdate {
                status: Some(JobStatus::Completed),
                status_message: Some(summary.unwrap_or_else(|| "completed".into())),
                ..JobUpdate::default()
            },
            *effects,
        ),
        Outcome::Cancelled => (
            JobUpdate {
                status: Some(JobStatus::Cancelled),
                status_message: Some("cancelled".into()),
                ..JobUpdate::default()
            },
            handler.stopped(job, Stop::Cancelled).await.into(),
        ),
        Outcome::Failed(failure) => {
            let delay = (job.attempts < inner.max_attempts())
                .then(|| inner.config.back_off.delay(failure.class, job.attempts))
                .flatten();
            match delay {
                Some(delay) => (
                    JobUpdate {
                        status: Some(JobStatus::Pending),
                        error: Some(failure.message.clone()),
                        status_message: Some(format!(
                            "attempt {} failed; retrying in {} s",
                            job.attempts,
                            delay.as_secs()
                        )),
                        run_after: Some(Some(time::OffsetDateTime::now_utc() + delay)),
                        ..JobUpdate::default()
                    },
                    handler.stopped(job, Stop::Retrying(&failure)).await.into(),
                ),
                None => (
                    JobUpdate {
                        status: Some(JobStatus::Failed),
                        error: Some(failure.message.clone()),
                        status_message: Some("failed".into()),
                        ..JobUpdate::default()
                    },
                    handler.stopped(job, Stop::Failed(&failure)).await.into(),
                ),
            }
        }
    };
    match inner.queue.apply(job.id, update, effects).await {
        Ok(applied) => {
            inner.publish_status(&applied.job);
            for next in &applied.follow_ups {
                inner.announce(next);
            }
        }
        Err(e) => {
            tracing::error!(job_id = %job.id, error = %e, "cannot record the job's outcome; recovery will pick it up")
        }
    }
    if let Err(e) = tokio::fs::remove_dir_all(work_dir).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(job_id = %job.id, error = %e, "cannot remove the job's scratch directory");
    }
}
