//! A job keeps running while its progress is being written.
//!
//! On SQLite a handler inside a write transaction holds the only write lock; if the engine
//! awaited the progress write instead of polling the handler, the write would wait for the
//! lock, the handler for the engine, and both would sit until the busy timeout. The queue here
//! holds every progress write open until the handler shows it is still being polled.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use earmark_core::ports::{
    Applied, Enqueued, FinishedJobs, JobContext, JobEffects, JobFailure, JobHandler, JobPage,
    JobQueue, JobQueueError, RecoveryReport,
};
use earmark_core::{
    Job, JobFilter, JobId, JobSpec, JobStatus, JobUpdate, NewJob, OutputFile, SyncParams, TaskType,
};
use earmark_db::testing::TestDb;
use earmark_jobs::{Engine, EngineConfig};

#[derive(Default)]
struct Flags {
    flush_waiting: AtomicBool,
    polled_during_flush: AtomicBool,
}

/// The real queue, except that a progress-only update waits (up to 5 s) until the handler
/// has run again.
struct GatedQueue {
    real: Arc<dyn JobQueue>,
    flags: Arc<Flags>,
}

#[async_trait]
impl JobQueue for GatedQueue {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued, JobQueueError> {
        self.real.enqueue(job).await
    }
    async fn get(&self, id: JobId) -> Result<Job, JobQueueError> {
        self.real.get(id).await
    }
    async fn list(&self, filter: JobFilter) -> Result<JobPage, JobQueueError> {
        self.real.list(filter).await
    }
    async fn claim_next(&self, task_type: TaskType) -> Result<Option<Job>, JobQueueError> {
        self.real.claim_next(task_type).await
    }
    async fn update(&self, id: JobId, update: JobUpdate) -> Result<Job, JobQueueError> {
        if update.status.is_none() && update.progress_percent.is_some() {
            self.flags.flush_waiting.store(true, Ordering::SeqCst);
            for _ in 0..100 {
                if self.flags.polled_during_flush.load(Ordering::SeqCst) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.flags.flush_waiting.store(false, Ordering::SeqCst);
        }
        self.real.update(id, update).await
    }
    async fn apply(
        &self,
        id: JobId,
        update: JobUpdate,
        effects: JobEffects,
    ) -> Result<Applied, JobQueueError> {
        self.real.apply(id, update, effects).await
    }
    async fn record_outputs(
        &self,
        id: JobId,
        outputs: Vec<OutputFile>,
    ) -> Result<(), JobQueueError> {
        self.real.record_outputs(id, outputs).await
    }
    async fn set_paused(&self, id: JobId, paused: bool) -> Result<Job, JobQueueError> {
        self.real.set_paused(id, paused).await
    }
    async fn counts(&self) -> Result<Vec<(TaskType, JobStatus, u64)>, JobQueueError> {
        self.real.counts().await
    }
    async fn promote_due(&self, now: time::OffsetDateTime) -> Result<Vec<Job>, JobQueueError> {
        self.real.promote_due(now).await
    }
    async fn delete_finished(&self, which: FinishedJobs) -> Result<Vec<Job>, JobQueueError> {
        self.real.delete_finished(which).await
    }
    async fn recover_interrupted(
        &self,
        max_attempts: i32,
    ) -> Result<RecoveryReport, JobQueueError> {
        self.real.recover_interrupted(max_attempts).await
    }
}

/// Reports progress, then works in small steps until it has been polled while a progress
/// write was pending (or gives up after 10 s).
struct Busy(Arc<Flags>);

#[async_trait]
impl JobHandler for Busy {
    async fn run(&self, ctx: &dyn JobContext) -> Result<JobEffects, JobFailure> {
        for step in 0..200 {
            ctx.progress(f64::from(step) / 2.0, Some("working"));
            if self.0.flush_waiting.load(Ordering::SeqCst) {
                self.0.polled_during_flush.store(true, Ordering::SeqCst);
                return Ok(JobEffects::default());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(JobFailure::permanent(
            "no progress write was ever attempted",
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handler_is_polled_while_its_progress_is_written() {
    let db = TestDb::sqlite().await;
    let data = tempfile::tempdir().unwrap();
    let flags = Arc::new(Flags::default());
    let queue: Arc<dyn JobQueue> = Arc::new(GatedQueue {
        real: db.db.jobs.clone(),
        flags: flags.clone(),
    });
    let handlers: HashMap<TaskType, Arc<dyn JobHandler>> = HashMap::from([(
        TaskType::Sync,
        Arc::new(Busy(flags.clone())) as Arc<dyn JobHandler>,
    )]);
    let mut config = EngineConfig::new(data.path().join("logs"), data.path().join("tmp"), 1, 1);
    config.poll_interval = Duration::from_millis(100);
    let engine = Engine::new(queue, handlers, config);
    engine.start();
    let job = engine
        .submit(NewJob::from(JobSpec::Sync(SyncParams::default())))
        .await
        .unwrap()
        .job;
    let mut status = JobStatus::Queued;
    for _ in 0..300 {
        status = engine.queue().get(job.id).await.unwrap().status;
        if status.is_terminal() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        flags.polled_during_flush.load(Ordering::SeqCst),
        "the handler stood still while its progress was written"
    );
    assert_eq!(status, JobStatus::Completed);
}
