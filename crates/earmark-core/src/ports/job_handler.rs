//! The work behind a job kind: what the job engine runs once it has claimed a job, and what
//! each step of the job's life does to its book.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use async_trait::async_trait;

use crate::domain::asin::Asin;
use crate::domain::book::BookUpdate;
use crate::domain::event::Transfer;
use crate::domain::file::{NewStoredFile, OutputFile};
use crate::domain::job::{Job, NewJob, TaskType};
use crate::domain::job_spec::JobSpec;

/// How a failed attempt should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Network trouble, a timeout: try again soon.
    Transient,
    /// The service refused for now (rate limits, licence throttling): try again much later.
    Throttled,
    /// The job stopped making progress and was stopped by the watchdog: try again.
    Stalled,
    /// Trying again will not help (bad input, missing auth, not enough disk): fail now.
    Permanent,
}

/// Why an attempt failed, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobFailure {
    /// How to treat it.
    pub class: FailureClass,
    /// What went wrong and, where possible, what to do.
    pub message: String,
}

impl JobFailure {
    /// A failure of `class`.
    pub fn new(class: FailureClass, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
        }
    }

    /// A failure that retrying will not fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(FailureClass::Permanent, message)
    }

    /// The failure of a handler of `expected` jobs handed `spec`: parameters this version
    /// cannot read, or a job of another kind.
    pub fn wrong_spec(spec: &JobSpec, expected: TaskType) -> Self {
        match spec {
            JobSpec::Unreadable(u) => Self::permanent(format!(
                "{}: ask for the work again with a new request",
                u.reason
            )),
            other => Self::permanent(format!(
                "a {expected} handler was given a {} job",
                other.task_type()
            )),
        }
    }
}

/// What a step of a job's life changes on its book: written in the same transaction as the
/// job's own change, so that the two never disagree (see `JobQueue::apply`).
#[derive(Debug, Clone, PartialEq)]
pub struct BookChange {
    /// The book.
    pub asin: Asin,
    /// Its new local state (status, paths, error).
    pub update: BookUpdate,
    /// Files to register for it.
    pub files: Vec<NewStoredFile>,
    /// The `acr` of a licence the step received, kept for Audible's position writes.
    pub licence_acr: Option<String>,
}

impl BookChange {
    /// A change of `asin`'s local state alone.
    pub fn new(asin: Asin, update: BookUpdate) -> Self {
        Self {
            asin,
            update,
            files: Vec::new(),
            licence_acr: None,
        }
    }
}

/// Everything a step of a job's life writes besides the job's own row, in one transaction
/// with it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobEffects {
    /// The book's change, if the step changes it.
    pub book: Option<BookChange>,
    /// Changes to other books, written with the book's: the parts of a book that Audible
    /// handed out in parts, each with the files downloaded for it.
    pub other_books: Vec<BookChange>,
    /// Work to queue (a download's chained conversion): queued in the same transaction, so a
    /// crash can never lose it once the job is recorded as done.
    pub follow_ups: Vec<NewJob>,
}

impl From<Option<BookChange>> for JobEffects {
    fn from(book: Option<BookChange>) -> Self {
        Self {
            book,
            other_books: Vec::new(),
            follow_ups: Vec::new(),
        }
    }
}

/// How a run ended without completing, for [`JobHandler::stopped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop<'a> {
    /// Cancelled on request.
    Cancelled,
    /// Failed; another attempt follows after a back-off.
    Retrying(&'a JobFailure),
    /// Failed for good.
    Failed(&'a JobFailure),
}

/// A future that completes when the job is cancelled (or stopped by the watchdog).
pub type Cancelled<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What the engine gives a running job.
#[async_trait]
pub trait JobContext: Send + Sync {
    /// The job, as claimed (status RUNNING).
    fn job(&self) -> &Job;

    /// The job's own scratch directory under `<data>/tmp`, created before the run and
    /// removed after it, whatever the outcome. Outputs are written here, then moved into
    /// place.
    fn work_dir(&self) -> &Path;

    /// Appends a line to the job's log and publishes it to subscribers. Secrets must already
    /// be masked.
    fn log(&self, line: &str);

    /// Reports progress (0 to 100) and optionally what is happening.
    fn progress(&self, percent: f64, message: Option<&str>);

    /// Reports a download's progress with how many bytes have arrived; contexts that show no
    /// byte counts report it as plain progress.
    fn transfer(&self, percent: f64, message: Option<&str>, transfer: Transfer) {
        let _ = transfer;
        self.progress(percent, message);
    }

    /// Completes when the job must stop; pass it to the process runner.
    fn cancelled(&self) -> Cancelled<'_>;

    /// Records on the job, durably, the files this attempt is about to move under their final
    /// names. Call it before the first move: a later attempt after a crash finds them in
    /// [`Job::outputs`] and can tell its own files from anybody else's.
    ///
    /// # Errors
    /// A transient [`JobFailure`] when the record cannot be written; move nothing then.
    async fn record_outputs(&self, outputs: Vec<OutputFile>) -> Result<(), JobFailure>;
}

/// Runs jobs of one kind, and says what each step of a job's life does to its book.
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// What the job's book becomes as a run starts (e.g. DOWNLOADING), written together with
    /// the job's start. None by default.
    async fn starting(&self, _job: &Job) -> Option<BookChange> {
        None
    }

    /// Does the job's work. `Ok` means every output is in place; the engine then marks the
    /// job COMPLETED and writes the returned effects in the same transaction. After a cancel
    /// the result is ignored and the job is CANCELLED.
    ///
    /// # Errors
    /// [`JobFailure`] whose class decides between a retry (after a back-off) and FAILED.
    async fn run(&self, ctx: &dyn JobContext) -> Result<JobEffects, JobFailure>;

    /// What the job's book becomes when a run ends without completing, written together with
    /// the job's new status. None by default.
    async fn stopped(&self, _job: &Job, _how: Stop<'_>) -> Option<BookChange> {
        None
    }
}
