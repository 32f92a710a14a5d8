//! Jobs: the unit of background work, and the queue's state machine.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::asin::Asin;
use super::file::OutputFile;
use super::job_spec::JobSpec;
use super::wire_enum;

wire_enum! {
    /// What a job does; each kind runs in its own lane with its own concurrency limit.
    TaskType, "task type" {
        /// Refresh the library from Audible.
        Sync => "SYNC",
        /// Download a book's audio and side files.
        Download => "DOWNLOAD",
        /// Convert a downloaded book.
        Convert => "CONVERT",
        /// Bring the database and the data directory back in step.
        Repair => "REPAIR",
        /// Adopt a folder of audio converted elsewhere.
        Import => "IMPORT",
    }
}

wire_enum! {
    /// Where a job stands.
    JobStatus, "job status" {
        /// Persisted, waiting for something before it may be queued (e.g. a retry back-off).
        Pending => "PENDING",
        /// Waiting for a free slot in its lane.
        Queued => "QUEUED",
        /// A worker is running it.
        Running => "RUNNING",
        /// Held by the person (`POST /jobs/{id}/pause`): never stored as a status, but as
        /// `paused_at` on a PENDING, QUEUED or RUNNING job, which keeps what it resumes to.
        Paused => "PAUSED",
        /// Finished and its outputs are in place.
        Completed => "COMPLETED",
        /// Finished without its outputs; `error` says why.
        Failed => "FAILED",
        /// Stopped on request.
        Cancelled => "CANCELLED",
    }
}

impl JobStatus {
    /// The statuses of a job that is not finished: a second request for the same work joins it.
    pub const ACTIVE: &'static [JobStatus] = &[
        JobStatus::Pending,
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Paused,
    ];

    /// True once the job can no longer change.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    /// Whether the state machine allows going from `self` to `next`.
    ///
    /// Running may go back to Queued (recovery re-queues a job a crash interrupted) or to
    /// Pending (a failed attempt waits out its back-off before the next one).
    pub const fn can_become(self, next: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, next),
            (Pending, Queued | Cancelled)
                | (Queued, Pending | Running | Cancelled)
                | (Running, Pending | Queued | Completed | Failed | Cancelled)
        )
    }
}

/// A job's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub Uuid);

impl JobId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A job to persist.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What to do, for which book.
    pub spec: JobSpec,
    /// The job this one retries, if any.
    pub original_job_id: Option<JobId>,
}

impl NewJob {
    /// The job's lane.
    pub fn task_type(&self) -> TaskType {
        self.spec.task_type()
    }

    /// The book it is for; `None` for library syncs.
    pub fn asin(&self) -> Option<&Asin> {
        self.spec.asin()
    }
}

impl From<JobSpec> for NewJob {
    /// A first attempt at `spec`.
    fn from(spec: JobSpec) -> Self {
        Self {
            spec,
            original_job_id: None,
        }
    }
}

/// A persisted job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Identity.
    pub id: JobId,
    /// What it does, for which book.
    pub spec: JobSpec,
    /// Where it stands.
    pub status: JobStatus,
    /// 0 to 100.
    pub progress_percent: f64,
    /// A short human-readable account of what it is doing.
    pub status_message: Option<String>,
    /// Its log file.
    pub log_file_path: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// How many times a worker has started it.
    pub attempts: i32,
    /// The job this one retries.
    pub original_job_id: Option<JobId>,
    /// When it was persisted.
    pub created_at: OffsetDateTime,
    /// When a worker last started it.
    pub started_at: Option<OffsetDateTime>,
    /// When it reached a terminal status.
    pub finished_at: Option<OffsetDateTime>,
    /// When anything about it last changed.
    pub updated_at: OffsetDateTime,
    /// While PENDING after a failed attempt: when it may be queued again.
    pub run_after: Option<OffsetDateTime>,
    /// The files an attempt recorded just before putting them in place, so that the next
    /// attempt after a crash recognises them as its own (see `JobContext::record_outputs`).
    pub outputs: Vec<OutputFile>,
    /// When the person paused it; `None` while it is not paused. A paused job keeps its
    /// `status` (what it resumes to) and shows as [`JobStatus::Paused`].
    pub paused_at: Option<OffsetDateTime>,
}

impl Job {
    /// The status a person sees: [`JobStatus::Paused`] for a paused job that has not ended,
    /// else the stored one.
    pub fn shown_status(&self) -> JobStatus {
        if self.paused_at.is_some() && !self.status.is_terminal() {
            JobStatus::Paused
        } else {
            self.status
        }
    }

    /// The job's lane.
    pub fn task_type(&self) -> TaskType {
        self.spec.task_type()
    }

    /// The book it is for; `None` for library syncs.
    pub fn asin(&self) -> Option<&Asin> {
        self.spec.asin()
    }
}

/// A change to a job. `status`, when set, must be allowed by [`JobStatus::can_become`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobUpdate {
    /// New status.
    pub status: Option<JobStatus>,
    /// New progress, clamped to 0..=100.
    pub progress_percent: Option<f64>,
    /// New status message.
    pub status_message: Option<String>,
    /// New error text.
    pub error: Option<String>,
    /// Where the log is written.
    pub log_file_path: Option<String>,
    /// When a PENDING job may be queued again; `Some(None)` clears it.
    pub run_after: Option<Option<OffsetDateTime>>,
}

/// Which jobs a listing returns, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFilter {
    /// Only these statuses (any, when empty).
    pub statuses: Vec<JobStatus>,
    /// Only this kind.
    pub task_type: Option<TaskType>,
    /// Only jobs for this book.
    pub asin: Option<Asin>,
    /// At most this many (the listing's `total` still counts all matches).
    pub limit: u32,
    /// Skip this many first.
    pub offset: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_statuses_go_nowhere() {
        for from in JobStatus::ALL.iter().filter(|s| s.is_terminal()) {
            for to in JobStatus::ALL {
                assert!(!from.can_become(*to), "{from} -> {to} must be refused");
            }
        }
    }

    #[test]
    fn running_is_reached_only_from_queued() {
        let sources: Vec<_> = JobStatus::ALL
            .iter()
            .filter(|s| s.can_become(JobStatus::Running))
            .collect();
        assert_eq!(sources, vec![&JobStatus::Queued]);
    }
}
