//! The engine's public face: submit, cancel, retry, subscribe, recover, start the lanes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use earmark_core::ports::{
    Enqueued, FinishedJobs, JobHandler, JobQueue, JobQueueError, JobSubmitter, RecoveryReport,
};
use earmark_core::{Job, JobEvent, JobId, JobStatus, JobUpdate, NewJob, TaskType};
use tokio::sync::{Notify, Semaphore, broadcast, watch};

use crate::config::EngineConfig;
use crate::run::{StopReason, run_job};

/// How many events a subscriber may fall behind before it is told it lost some.
const EVENT_BUFFER: usize = 32 * 1024;

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The queue failed (not found, refused transition, database down).
    #[error(transparent)]
    Queue(#[from] JobQueueError),
    /// Only failed or cancelled jobs can be retried.
    #[error("job {id} is {status}; only FAILED or CANCELLED jobs can be retried")]
    NotRetryable {
        /// The job.
        id: JobId,
        /// Its status.
        status: JobStatus,
    },
}

/// A job running in this process: its kind, the switch that stops it, and the one that holds
/// its processes while it is paused.
pub(crate) struct RunningJob {
    pub(crate) task_type: TaskType,
    pub(crate) stop: watch::Sender<Option<StopReason>>,
    pub(crate) hold: watch::Sender<bool>,
}

/// The job engine. Cheap to clone; all clones drive the same lanes.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) queue: Arc<dyn JobQueue>,
    pub(crate) handlers: HashMap<TaskType, Arc<dyn JobHandler>>,
    pub(crate) config: EngineConfig,
    pub(crate) events: broadcast::Sender<JobEvent>,
    pub(crate) running: Mutex<HashMap<JobId, RunningJob>>,
    wake: HashMap<TaskType, Notify>,
    /// Attempts a job gets; starts as the configuration's, then follows the settings.
    max_attempts: AtomicI32,
}

impl Engine {
    /// An engine over `queue` running `handlers`; nothing runs until [`Engine::start`].
    pub fn new(
        queue: Arc<dyn JobQueue>,
        handlers: HashMap<TaskType, Arc<dyn JobHandler>>,
        config: EngineConfig,
    ) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let wake = TaskType::ALL.iter().map(|t| (*t, Notify::new())).collect();
        let max_attempts = AtomicI32::new(config.max_attempts);
        Self {
            inner: Arc::new(Inner {
                queue,
                handlers,
                config,
                events,
                running: Mutex::new(HashMap::new()),
                wake,
                max_attempts,
            }),
        }
    }

    /// How many attempts a job gets from now on (at least one): the person's settings
    /// (`auto_retry`, `max_retries`) set it.
    pub fn set_max_attempts(&self, attempts: i32) {
        self.inner
            .max_attempts
            .store(attempts.max(1), Ordering::Relaxed);
    }

    /// Every job event from now on. A subscriber that falls more than a few thousand events
    /// behind receives `Lagged(n)` from the channel instead of slowing anyone down.
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.inner.events.subscribe()
    }

    /// Whether this process has a handler for `task_type` (else its jobs wait for one).
    pub fn runs(&self, task_type: TaskType) -> bool {
        self.inner.handlers.contains_key(&task_type)
    }

    /// Jobs running in this process, per kind.
    pub fn running_by_kind(&self) -> HashMap<TaskType, usize> {
        let mut counts = HashMap::new();
        if let Ok(running) = self.inner.running.lock() {
            for job in running.values() {
                *counts.entry(job.task_type).or_insert(0) += 1;
            }
        }
        counts
    }

    /// How many jobs of `task_type` this process runs at once (0 when it runs none).
    pub fn capacity(&self, task_type: TaskType) -> usize {
        if !self.runs(task_type) {
            return 0;
        }
        self.inner
            .config
            .concurrency
            .get(&task_type)
            .copied()
            .unwrap_or(1)
            .max(1)
    }

    /// The queue the engine runs.
    pub fn queue(&self) -> &Arc<dyn JobQueue> {
        &self.inner.queue
    }

    /// Persists `job` (or finds the active job for the same work) and wakes its lane. A kind
    /// with no handler in this process stays queued for a process that has one.
    ///
    /// # Errors
    /// Queue errors.
    pub async fn submit(&self, job: NewJob) -> Result<Enqueued, EngineError> {
        let enqueued = self.inner.queue.enqueue(job).await?;
        self.inner.announce(&enqueued);
        Ok(enqueued)
    }

    /// Cancels a job: a waiting one at once; a running one by stopping its process group and
    /// waiting (bounded) for it to end. Returns the job as it then is.
    ///
    /// # Errors
    /// `InvalidTransition` (as [`EngineError::Queue`]) when the job already finished.
    pub async fn cancel(&self, id: JobId) -> Result<Job, EngineError> {
        let job = self.inner.queue.get(id).await?;
        if matches!(job.status, JobStatus::Pending | JobStatus::Queued) {
            let cancel = JobUpdate {
                status: Some(JobStatus::Cancelled),
                status_message: Some("cancelled before it started".into()),
                ..JobUpdate::default()
            };
            match self.inner.queue.update(id, cancel).await {
                Ok(cancelled) => {
                    self.inner.publish_status(&cancelled);
                    return Ok(cancelled);
                }
                // Claimed in the meantime: stop it like any running job.
                Err(JobQueueError::InvalidTransition {
                    from: JobStatus::Running,
                    ..
                }) => {}
                Err(e) => return Err(e.into()),
            }
        } else if job.status.is_terminal() {
            return Err(JobQueueError::InvalidTransition {
                id,
                from: job.status,
                to: JobStatus::Cancelled,
            }
            .into());
        }
        self.inner.stop(id, StopReason::Cancelled);
        let deadline =
            tokio::time::Instant::now() + self.inner.config.stop_grace * 2 + Duration::from_secs(2);
        loop {
            let now = self.inner.queue.get(id).await?;
            if now.status != JobStatus::Running || tokio::time::Instant::now() >= deadline {
                return Ok(now);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Pauses a job: a waiting one is not claimed until it is resumed; a running one has its
    /// whole process tree stopped (SIGSTOP), its watchdog and timeouts standing still, and it
    /// keeps its lane. The pause is stored, so it outlasts a restart. Returns the job as it
    /// then is (shown as PAUSED).
    ///
    /// # Errors
    /// `InvalidTransition` (as [`EngineError::Queue`]) when the job already ended.
    pub async fn pause(&self, id: JobId) -> Result<Job, EngineError> {
        let job = self.inner.queue.set_paused(id, true).await?;
        self.inner.hold(id, true);
        self.inner.publish_status(&job);
        Ok(job)
    }

    /// Resumes a paused job: a running one continues (SIGCONT) where it stood; a waiting one
    /// (or one whose process a restart ended) takes its place in the queue again.
    ///
    /// # Errors
    /// `InvalidTransition` (as [`EngineError::Queue`]) when the job already ended.
    pub async fn resume(&self, id: JobId) -> Result<Job, EngineError> {
        let job = self.inner.queue.set_paused(id, false).await?;
        if !self.inner.hold(id, false) {
            self.inner.wake(job.task_type());
        }
        self.inner.publish_status(&job);
        Ok(job)
    }

    /// A new attempt at a failed or cancelled job, linked to it by `original_job_id`.
    ///
    /// # Errors
    /// [`EngineError::NotRetryable`] for a job that is active or completed.
    pub async fn retry(&self, id: JobId) -> Result<Enqueued, EngineError> {
        let job = self.inner.queue.get(id).await?;
        if !matches!(job.status, JobStatus::Failed | JobStatus::Cancelled) {
            return Err(EngineError::NotRetryable {
                id,
                status: job.status,
            });
        }
        self.submit(NewJob {
            spec: job.spec,
            original_job_id: Some(id),
        })
        .await
    }

    /// Deletes the finished jobs `which` selects and, with `delete_logs`, their log files
    /// (only files inside the engine's logs directory); returns how many jobs were deleted.
    ///
    /// # Errors
    /// Queue errors.
    pub async fn clear_history(
        &self,
        which: FinishedJobs,
        delete_logs: bool,
    ) -> Result<usize, EngineError> {
        let deleted = self.inner.queue.delete_finished(which).await?;
        if delete_logs {
            for path in deleted.iter().filter_map(|j| j.log_file_path.as_deref()) {
                let path = std::path::Path::new(path);
                if !path.starts_with(&self.inner.config.logs_dir) {
                    continue;
                }
                if let Err(e) = tokio::fs::remove_file(path).await
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove a job log");
                }
            }
        }
        Ok(deleted.len())
    }

    /// Start-up recovery, before [`Engine::start`]: jobs left RUNNING are re-queued (or failed
    /// once out of attempts) and every job scratch directory left in `tmp` is removed. Books
    /// their jobs left behind are the core's to mend (`earmark_core::book_life::mend_books`).
    ///
    /// # Errors
    /// Queue errors.
    pub async fn recover(&self) -> Result<RecoveryReport, EngineError> {
        let report = self
            .inner
            .queue
            .recover_interrupted(self.inner.max_attempts())
            .await?;
        if let Ok(mut entries) = tokio::fs::read_dir(&self.inner.config.tmp_dir).await {
            while let Ok(Some(entry)) = entries.next_entry().await {
                // `<job id>.<attempt>`, or a bare `<job id>` from before attempts were named.
                let is_job_dir = entry.file_name().to_str().is_some_and(|n| {
                    let id = n.split_once('.').map_or(n, |(id, attempt)| {
                        if attempt.bytes().all(|b| b.is_ascii_digit()) {
                            id
                        } else {
                            ""
                        }
                    });
                    uuid::Uuid::parse_str(id).is_ok()
                });
                if is_job_dir && let Err(e) = tokio::fs::remove_dir_all(entry.path()).await {
                    tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove a stale job directory");
                }
            }
        }
        for job in &report.requeued {
            tracing::info!(job_id = %job.id, attempts = job.attempts, "re-queued a job interrupted by a restart");
            self.inner.publish_status(job);
        }
        for job in &report.failed {
            tracing::warn!(job_id = %job.id, attempts = job.attempts, "failed a job interrupted once too often");
            self.inner.publish_status(job);
        }
        Ok(report)
    }

    /// Starts one lane per job kind that has a handler, and the back-off promoter. They run
    /// until the runtime stops.
    pub fn start(&self) {
        for (task_type, _) in self.inner.handlers.iter() {
            let limit = self
                .inner
                .config
                .concurrency
                .get(task_type)
                .copied()
                .unwrap_or(1)
                .max(1);
            tokio::spawn(lane(self.inner.clone(), *task_type, limit));
        }
        tokio::spawn(promoter(self.inner.clone()));
    }
}

#[async_trait]
impl JobSubmitter for Engine {
    async fn submit(&self, job: NewJob) -> Result<Enqueued, JobQueueError> {
        let enqueued = self.inner.queue.enqueue(job).await?;
        self.inner.announce(&enqueued);
        Ok(enqueued)
    }
}

impl Inner {
    /// How many attempts a job gets now.
    pub(crate) fn max_attempts(&self) -> i32 {
        self.max_attempts.load(Ordering::Relaxed)
    }

    pub(crate) fn publish_status(&self, job: &Job) {
        let _ = self.events.send(JobEvent::Status(Box::new(job.clone())));
    }

    /// A job just queued is announced (QUEUED, before anything can run it) and its lane woken;
    /// one that joined active work was announced when it was created.
    pub(crate) fn announce(&self, enqueued: &Enqueued) {
        if enqueued.created {
            self.publish_status(&enqueued.job);
            self.wake(enqueued.job.task_type());
        }
    }

    fn wake(&self, task_type: TaskType) {
        if let Some(notify) = self.wake.get(&task_type) {
            notify.notify_one();
        }
    }

    pub(crate) fn stop(&self, id: JobId, reason: StopReason) {
        if let Ok(running) = self.running.lock()
            && let Some(job) = running.get(&id)
        {
            let _ = job.stop.send(Some(reason));
        }
    }

    /// Holds (`true`) or releases the processes of a job running here; false when it does not
    /// run here.
    fn hold(&self, id: JobId, held: bool) -> bool {
        match self.running.lock() {
            Ok(running) => running.get(&id).is_some_and(|job| {
                job.hold.send_replace(held);
                true
            }),
            Err(_) => false,
        }
    }
}

/// Claims and runs jobs of one kind, at most `limit` at a time.
async fn lane(inner: Arc<Inner>, task_type: TaskType, limit: usize) {
    let slots = Arc::new(Semaphore::new(limit));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        match inner.queue.claim_next(task_type).await {
            Ok(Some(job)) => {
                tokio::spawn(run_job(inner.clone(), job, slot));
            }
            Ok(None) => {
                drop(slot);
                if let Some(notify) = inner.wake.get(&task_type) {
                    let _ =
                        tokio::time::timeout(inner.config.poll_interval, notify.notified()).await;
                }
            }
            Err(e) => {
                drop(slot);
                tracing::warn!(lane = %task_type, error = %e, "cannot claim jobs; retrying shortly");
                tokio::time::sleep(inner.config.poll_interval).await;
            }
        }
    }
}

/// Queues backed-off jobs when they are due, announcing them before they can run.
async fn promoter(inner: Arc<Inner>) {
    let mut tick =
        tokio::time::interval(Duration::from_millis(500).min(inner.config.poll_interval));
    loop {
        tick.tick().await;
        match inner
            .queue
            .promote_due(time::OffsetDateTime::now_utc())
            .await
        {
            Ok(jobs) => {
                for job in jobs {
                    inner.publish_status(&job);
                    inner.wake(job.task_type());
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot promote backed-off jobs"),
        }
    }
}
