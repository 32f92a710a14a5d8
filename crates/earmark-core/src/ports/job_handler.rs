//! The work behind a job kind: what the job engine runs once it has claimed a job.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use async_trait::async_trait;

use crate::domain::job::Job;

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
}

/// A future that completes when the job is cancelled (or stopped by the watchdog).
pub type Cancelled<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What the engine gives a running job.
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

    /// Completes when the job must stop; pass it to the process runner.
    fn cancelled(&self) -> Cancelled<'_>;
}

/// Runs jobs of one kind.
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// Does the job's work. `Ok` means every output is in place; the engine then marks the
    /// job COMPLETED. After a cancel the result is ignored and the job is CANCELLED.
    ///
    /// # Errors
    /// [`JobFailure`] whose class decides between a retry (after a back-off) and FAILED.
    async fn run(&self, ctx: &dyn JobContext) -> Result<(), JobFailure>;
}
