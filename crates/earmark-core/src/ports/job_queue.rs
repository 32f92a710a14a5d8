//! The job queue: the jobs table is the queue, so nothing accepted is lost on a crash.

use async_trait::async_trait;

use super::BoxError;
use super::job_handler::JobEffects;
use crate::domain::file::OutputFile;
use crate::domain::job::{Job, JobFilter, JobId, JobStatus, JobUpdate, NewJob, TaskType};

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum JobQueueError {
    /// No job has this id.
    #[error("no job with id {0}")]
    NotFound(JobId),
    /// The state machine does not allow this change.
    #[error("job {id} is {from} and cannot become {to}")]
    InvalidTransition {
        /// The job.
        id: JobId,
        /// Its current status.
        from: JobStatus,
        /// The refused status.
        to: JobStatus,
    },
    /// The store cannot be reached right now; retry later.
    #[error("the job database is unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Anything else the store reported.
    #[error("the job database failed: {0}")]
    Storage(#[source] BoxError),
}

/// The result of [`JobQueue::enqueue`].
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    /// The job now responsible for the work.
    pub job: Job,
    /// False when an active job for the same work already existed and is returned instead.
    pub created: bool,
}

/// The result of [`JobQueue::apply`].
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The job as it now is.
    pub job: Job,
    /// The follow-up jobs, in the order given (each created, or the active job already
    /// responsible for that work).
    pub follow_ups: Vec<Enqueued>,
}

/// Which finished jobs [`JobQueue::delete_finished`] deletes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinishedJobs {
    /// Only these statuses (COMPLETED, FAILED, CANCELLED; any other never matches); every
    /// finished status when empty.
    pub statuses: Vec<JobStatus>,
    /// Only jobs that finished before this instant; any time when `None`.
    pub before: Option<time::OffsetDateTime>,
}

/// One page of a job listing.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    /// The jobs, newest first.
    pub items: Vec<Job>,
    /// How many jobs match the filter in all.
    pub total: u64,
}

/// What start-up recovery did with jobs a crash left RUNNING.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecoveryReport {
    /// Put back in the queue for another attempt.
    pub requeued: Vec<Job>,
    /// Failed as interrupted because they had used up their attempts.
    pub failed: Vec<Job>,
}

/// Persistent job queue shared by the HTTP surface (which enqueues) and workers (which claim).
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Persists a new QUEUED job before returning.
    ///
    /// The job's kind and book come from its spec; its parameters are stored as
    /// [`crate::JobSpec::params_json`] and read back with [`crate::JobSpec::read`].
    ///
    /// When a job with the same task type and book (or, for syncs, any sync) is PENDING,
    /// QUEUED or RUNNING, MUST return that job with `created: false` instead of inserting,
    /// also when two such calls race.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued, JobQueueError>;

    /// One job.
    ///
    /// # Errors
    /// MUST return `NotFound` when no job has this id.
    async fn get(&self, id: JobId) -> Result<Job, JobQueueError>;

    /// Jobs matching `filter`, newest first, with the total count of matches.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn list(&self, filter: JobFilter) -> Result<JobPage, JobQueueError>;

    /// Claims the oldest QUEUED job of `task_type`: it becomes RUNNING with `started_at` set
    /// and `attempts` incremented. Returns `None` when none is waiting.
    ///
    /// Two workers claiming at the same time MUST never receive the same job.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn claim_next(&self, task_type: TaskType) -> Result<Option<Job>, JobQueueError>;

    /// Applies `update`. A status change MUST be allowed by [`JobStatus::can_become`]; a
    /// terminal status sets `finished_at`, progress 100 on completion.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id and `InvalidTransition` for a refused status
    /// change, leaving the job untouched.
    async fn update(&self, id: JobId, update: JobUpdate) -> Result<Job, JobQueueError>;

    /// Applies `update` to the job and `effects` to its book, in one transaction: the book's
    /// update, its new files (registered as [`crate::ports::LibraryRepo::add_file`] does)
    /// and the follow-up jobs (queued as [`JobQueue::enqueue`] does) are written together
    /// with the job's change or not at all. A book that no longer exists is left out; the
    /// rest still applies. Book writes move its `updated_at` as every library write does.
    ///
    /// # Errors
    /// As [`JobQueue::update`]: `NotFound`, `InvalidTransition` (nothing is written then).
    async fn apply(
        &self,
        id: JobId,
        update: JobUpdate,
        effects: JobEffects,
    ) -> Result<Applied, JobQueueError>;

    /// Pauses (`paused` true) or resumes a job that has not ended: sets or clears its
    /// `paused_at`, keeping its status, and moves `updated_at`. A paused job is never claimed.
    /// Pausing a paused job, or resuming one that is not paused, changes nothing.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id and `InvalidTransition` (to `PAUSED`, or to
    /// its own status for a resume) for a job that has ended.
    async fn set_paused(&self, id: JobId, paused: bool) -> Result<Job, JobQueueError>;

    /// Records the files the job's running attempt is about to put in place, replacing what
    /// an earlier attempt recorded; [`JobQueue::get`] and [`JobQueue::claim_next`] return
    /// them in `Job::outputs` from then on.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn record_outputs(
        &self,
        id: JobId,
        outputs: Vec<OutputFile>,
    ) -> Result<(), JobQueueError>;

    /// How many jobs there are of each kind and status (pairs with none are left out).
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn counts(&self) -> Result<Vec<(TaskType, JobStatus, u64)>, JobQueueError>;

    /// Moves every PENDING job whose `run_after` is at or before `now` to QUEUED and returns
    /// them (so their QUEUED status can be announced before they run).
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn promote_due(&self, now: time::OffsetDateTime) -> Result<Vec<Job>, JobQueueError>;

    /// Deletes the finished jobs `which` selects and returns them (their logs are the
    /// caller's to remove). Active jobs are never deleted, whatever `which` says.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn delete_finished(&self, which: FinishedJobs) -> Result<Vec<Job>, JobQueueError>;

    /// Start-up recovery: every RUNNING job is re-queued when `attempts < max_attempts`, else
    /// failed with an "interrupted" error.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn recover_interrupted(&self, max_attempts: i32)
    -> Result<RecoveryReport, JobQueueError>;
}

/// Where work is asked for: persisted, announced to subscribers, and handed to its lane at
/// once. The job engine implements it; everything that queues work goes through it.
#[async_trait]
pub trait JobSubmitter: Send + Sync {
    /// Persists `job` (or finds the active job for the same work, as [`JobQueue::enqueue`]),
    /// announces a new job as QUEUED and wakes its lane.
    ///
    /// # Errors
    /// The queue's errors.
    async fn submit(&self, job: NewJob) -> Result<Enqueued, JobQueueError>;
}
