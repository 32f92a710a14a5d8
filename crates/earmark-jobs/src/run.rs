//! One claimed job, from RUNNING to its outcome.

use std::io::{LineWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use earmark_core::ports::{Cancelled, FailureClass, JobContext, JobEffects, JobFailure};
use earmark_core::{Job, JobEvent, JobUpdate, OutputFile, Transfer};
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::engine::{Inner, RunningJob};
use crate::finish::{Outcome, finish};

/// Why a run was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// `DELETE /jobs/{id}`.
    Cancelled,
    /// The watchdog saw no output and no growth for too long.
    Stalled,
}

/// The context a handler runs in.
struct Run {
    inner: Arc<Inner>,
    job: Job,
    work_dir: PathBuf,
    log: Mutex<Option<LineWriter<std::fs::File>>>,
    events: tokio::sync::broadcast::Sender<JobEvent>,
    progress: Mutex<Option<(f64, Option<String>)>>,
    /// The last progress message, kept as the status message of a completed job.
    last_message: Mutex<Option<String>>,
    started: Instant,
    /// Milliseconds after `started` of the last line or progress report.
    last_activity_ms: AtomicU64,
    stop: watch::Receiver<Option<StopReason>>,
}

impl Run {
    /// Keeps the latest progress for the job row and tells subscribers.
    fn report(&self, percent: f64, message: Option<&str>, transfer: Option<Transfer>) {
        self.touch();
        let percent = percent.clamp(0.0, 100.0);
        if let Ok(mut progress) = self.progress.lock() {
            *progress = Some((percent, message.map(str::to_owned)));
        }
        if let Some(message) = message
            && let Ok(mut last) = self.last_message.lock()
        {
            *last = Some(message.to_owned());
        }
        let _ = self.events.send(JobEvent::Progress {
            job_id: self.job.id,
            percent,
            line: message.map(str::to_owned),
            transfer,
        });
    }

    fn touch(&self) {
        self.last_activity_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

#[async_trait]
impl JobContext for Run {
    fn job(&self) -> &Job {
        &self.job
    }

    fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    fn log(&self, line: &str) {
        self.touch();
        if let Ok(mut log) = self.log.lock()
            && let Some(writer) = log.as_mut()
            && let Err(e) = writeln!(writer, "{line}")
        {
            tracing::warn!(job_id = %self.job.id, error = %e, "cannot write the job log; going on without it");
            *log = None;
        }
        let _ = self.events.send(JobEvent::Log {
            job_id: self.job.id,
            line: line.to_owned(),
        });
    }

    fn progress(&self, percent: f64, message: Option<&str>) {
        self.report(percent, message, None);
    }

    fn transfer(&self, percent: f64, message: Option<&str>, transfer: Transfer) {
        self.report(percent, message, Some(transfer));
    }

    fn cancelled(&self) -> Cancelled<'_> {
        let mut stop = self.stop.clone();
        Box::pin(async move {
            let _ = stop.wait_for(Option::is_some).await;
        })
    }

    async fn record_outputs(&self, outputs: Vec<OutputFile>) -> Result<(), JobFailure> {
        self.inner
            .queue
            .record_outputs(self.job.id, outputs)
            .await
            .map_err(|e| {
                JobFailure::new(
                    FailureClass::Transient,
                    format!("cannot record the outputs before moving them: {e}"),
                )
            })
    }
}

/// Total size of the files under `dir`, to tell a silent but working download from a stall.
fn tree_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_size(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// Runs a claimed job to its outcome and records it; `slot` is the lane's permit.
pub(crate) async fn run_job(inner: Arc<Inner>, job: Job, slot: OwnedSemaphorePermit) {
    let id = job.id;
    let Some(handler) = inner.handlers.get(&job.task_type()).cloned() else {
        tracing::error!(job_id = %id, "claimed a job no handler runs");
        return;
    };
    // One directory per attempt: a process a crash orphaned may still write into the last
    // attempt's directory; this attempt never reads it.
    let work_dir = inner.config.tmp_dir.join(format!("{id}.{}", job.attempts));
    let log_path = inner.config.logs_dir.join(format!("{id}.log"));
    let log = match prepare(&work_dir, &log_path).await {
        Ok(log) => Some(log),
        Err(e) => {
            let failure = JobFailure::permanent(format!(
                "cannot prepare the job's files ({e}): check that the data directory is writable"
            ));
            finish(
                &inner,
                handler.as_ref(),
                &job,
                Outcome::Failed(failure),
                &work_dir,
            )
            .await;
            return;
        }
    };
    let started_update = JobUpdate {
        log_file_path: Some(log_path.display().to_string()),
        status_message: Some("started".into()),
        ..JobUpdate::default()
    };
    let starting = JobEffects::from(handler.starting(&job).await);
    let job = match inner.queue.apply(id, started_update, starting).await {
        Ok(applied) => applied.job,
        Err(e) => {
            tracing::warn!(job_id = %id, error = %e, "cannot record the job's start; running it anyway");
            job
        }
    };
    inner.publish_status(&job);

    let (stop_tx, stop_rx) = watch::channel(None);
    let (hold_tx, hold_rx) = watch::channel(false);
    if let Ok(mut running) = inner.running.lock() {
        running.insert(
            id,
            RunningJob {
                task_type: job.task_type(),
                stop: stop_tx.clone(),
                hold: hold_tx.clone(),
            },
        );
    }
    let ctx = Run {
        inner: inner.clone(),
        job: job.clone(),
        work_dir: work_dir.clone(),
        log: Mutex::new(log),
        events: inner.events.clone(),
        progress: Mutex::new(None),
        last_message: Mutex::new(None),
        started: Instant::now(),
        last_activity_ms: AtomicU64::new(0),
        stop: stop_rx,
    };

    let outcome = {
        let mut work = std::pin::pin!(earmark_process::held_by(hold_rx, handler.run(&ctx)));
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last_size = 0;
        let mut stopped_at: Option<tokio::time::Instant> = None;
        let mut flushing: Option<tokio::task::JoinHandle<()>> = None;
        let outcome = loop {
            tokio::select! {
                result = &mut work => break Some(result),
                _ = tick.tick() => {
                    // Progress is persisted beside the work, never instead of it: awaiting
                    // the write here would stop polling the handler, and on SQLite a handler
                    // inside a write transaction holds the one lock that write waits for.
                    if flushing.as_ref().is_none_or(tokio::task::JoinHandle::is_finished) {
                        flushing = spawn_flush(&inner, &ctx);
                    }
                    let size = tree_size(&work_dir);
                    // A paused job's silence is not a stall.
                    if size != last_size || *hold_tx.borrow() {
                        last_size = size;
                        ctx.touch();
                    }
                    let idle = ctx.started.elapsed().saturating_sub(Duration::from_millis(ctx.last_activity_ms.load(Ordering::Relaxed)));
                    if idle >= inner.config.stall_after && stop_tx.borrow().is_none() {
                        tracing::warn!(job_id = %id, idle_s = idle.as_secs(), "job stalled; stopping it");
                        let _ = stop_tx.send(Some(StopReason::Stalled));
                    }
                    if stop_tx.borrow().is_some() {
                        let since = *stopped_at.get_or_insert_with(tokio::time::Instant::now);
                        if since.elapsed() > inner.config.stop_grace * 2 {
                            tracing::error!(job_id = %id, "job ignored its stop signal; abandoning it");
                            break None;
                        }
                    }
                }
            }
        };
        if let Some(in_flight) = flushing {
            let _ = in_flight.await;
        }
        outcome
    };
    if let Ok(mut running) = inner.running.lock() {
        running.remove(&id);
    }
    flush_progress(&inner, &ctx).await;
    let reason = *stop_tx.borrow();
    let outcome = match (reason, outcome) {
        (Some(StopReason::Cancelled), _) => Outcome::Cancelled,
        (Some(StopReason::Stalled), _) => Outcome::Failed(JobFailure::new(
            FailureClass::Stalled,
            format!(
                "no output and no progress for {} s; stopped",
                inner.config.stall_after.as_secs()
            ),
        )),
        (None, Some(Ok(effects))) => Outcome::Completed {
            summary: None,
            effects: Box::new(effects),
        },
        (None, Some(Err(failure))) => Outcome::Failed(failure),
        (None, None) => Outcome::Failed(JobFailure::new(
            FailureClass::Transient,
            "the job did not end",
        )),
    };
    if let Outcome::Failed(failure) = &outcome {
        ctx.log(&format!("error: {failure}"));
    }
    let summary = ctx.last_message.lock().ok().and_then(|mut m| m.take());
    drop(ctx);
    let outcome = match outcome {
        Outcome::Completed { effects, .. } => Outcome::Completed { summary, effects },
        other => other,
    };
    finish(&inner, handler.as_ref(), &job, outcome, &work_dir).await;
    drop(slot);
}

async fn prepare(work_dir: &Path, log_path: &Path) -> std::io::Result<LineWriter<std::fs::File>> {
    tokio::fs::create_dir_all(work_dir).await?;
    if let Some(dir) = log_path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)?;
    Ok(LineWriter::new(file))
}

/// Persists pending progress in a task of its own; `None` when there is nothing to persist.
fn spawn_flush(inner: &Inner, ctx: &Run) -> Option<tokio::task::JoinHandle<()>> {
    let (percent, message) = ctx.progress.lock().ok().and_then(|mut p| p.take())?;
    let queue = inner.queue.clone();
    let id = ctx.job.id;
    Some(tokio::spawn(async move {
        let update = JobUpdate {
            progress_percent: Some(percent),
            status_message: message,
            ..JobUpdate::default()
        };
        if let Err(e) = queue.update(id, update).await {
            tracing::debug!(job_id = %id, error = %e, "progress not persisted");
        }
    }))
}

async fn flush_progress(inner: &Inner, ctx: &Run) {
    let pending = ctx.progress.lock().ok().and_then(|mut p| p.take());
    if let Some((percent, message)) = pending {
        let update = JobUpdate {
            progress_percent: Some(percent),
            status_message: message,
            ..JobUpdate::default()
        };
        if let Err(e) = inner.queue.update(ctx.job.id, update).await {
            tracing::debug!(job_id = %ctx.job.id, error = %e, "progress not persisted");
        }
    }
}
