//! One claimed job, from RUNNING to its outcome.

use std::io::{LineWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use earmark_core::ports::{Cancelled, FailureClass, JobContext, JobFailure};
use earmark_core::{BookStatus, BookUpdate, Job, JobEvent, JobStatus, JobUpdate, TaskType};
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::engine::Inner;

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
    fn touch(&self) {
        self.last_activity_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

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
        });
    }

    fn cancelled(&self) -> Cancelled<'_> {
        let mut stop = self.stop.clone();
        Box::pin(async move {
            let _ = stop.wait_for(Option::is_some).await;
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
    let Some(handler) = inner.handlers.get(&job.task_type).cloned() else {
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
            finish(&inner, &job, Err(failure), None, &work_dir).await;
            return;
        }
    };
    let started_update = JobUpdate {
        log_file_path: Some(log_path.display().to_string()),
        status_message: Some("started".into()),
        ..JobUpdate::default()
    };
    let job = inner.queue.update(id, started_update).await.unwrap_or(job);
    if let Some(asin) = &job.asin {
        let working = match job.task_type {
            TaskType::Download => Some(BookStatus::Downloading),
            TaskType::Convert => Some(BookStatus::Converting),
            TaskType::Sync => None,
        };
        if let Some(status) = working {
            inner
                .update_book(
                    asin,
                    BookUpdate {
                        status: Some(status),
                        ..BookUpdate::default()
                    },
                )
                .await;
        }
    }
    inner.publish_status(&job);

    let (stop_tx, stop_rx) = watch::channel(None);
    if let Ok(mut running) = inner.running.lock() {
        running.insert(id, (job.task_type, stop_tx.clone()));
    }
    let ctx = Run {
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
        let mut work = std::pin::pin!(handler.run(&ctx));
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
                    if size != last_size {
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
    let result = match (reason, outcome) {
        (Some(StopReason::Cancelled), _) => Err(None),
        (Some(StopReason::Stalled), _) => Err(Some(JobFailure::new(
            FailureClass::Stalled,
            format!(
                "no output and no progress for {} s; stopped",
                inner.config.stall_after.as_secs()
            ),
        ))),
        (None, Some(Ok(()))) => Ok(()),
        (None, Some(Err(failure))) => Err(Some(failure)),
        (None, None) => Err(Some(JobFailure::new(
            FailureClass::Transient,
            "the job did not end",
        ))),
    };
    if let Err(Some(failure)) = &result {
        ctx.log(&format!("error: {failure}"));
    }
    let summary = ctx.last_message.lock().ok().and_then(|mut m| m.take());
    drop(ctx);
    match result {
        Ok(()) => finish(&inner, &job, Ok(summary), None, &work_dir).await,
        Err(None) => {
            finish(
                &inner,
                &job,
                Ok(None),
                Some(StopReason::Cancelled),
                &work_dir,
            )
            .await
        }
        Err(Some(failure)) => finish(&inner, &job, Err(failure), None, &work_dir).await,
    }
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

/// Records the outcome: COMPLETED, CANCELLED, PENDING for a retry after back-off, or FAILED;
/// moves the book's status with it; removes the scratch directory; announces the result.
async fn finish(
    inner: &Inner,
    job: &Job,
    result: Result<Option<String>, JobFailure>,
    stopped: Option<StopReason>,
    work_dir: &Path,
) {
    let (update, book) = match (result, stopped) {
        (_, Some(_)) => (
            JobUpdate {
                status: Some(JobStatus::Cancelled),
                status_message: Some("cancelled".into()),
                ..JobUpdate::default()
            },
            book_as_before(inner, job).await,
        ),
        (Ok(summary), None) => (
            JobUpdate {
                status: Some(JobStatus::Completed),
                status_message: Some(summary.unwrap_or_else(|| "completed".into())),
                ..JobUpdate::default()
            },
            match job.task_type {
                TaskType::Download => Some(BookUpdate {
                    status: Some(BookStatus::Downloaded),
                    error_message: Some(None),
                    ..BookUpdate::default()
                }),
                TaskType::Convert => Some(BookUpdate {
                    status: Some(BookStatus::Completed),
                    error_message: Some(None),
                    ..BookUpdate::default()
                }),
                TaskType::Sync => None,
            },
        ),
        (Err(failure), None) => {
            let delay = (job.attempts < inner.config.max_attempts)
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
                    book_as_before(inner, job).await,
                ),
                None => (
                    JobUpdate {
                        status: Some(JobStatus::Failed),
                        error: Some(failure.message.clone()),
                        status_message: Some("failed".into()),
                        ..JobUpdate::default()
                    },
                    job.asin.as_ref().map(|_| BookUpdate {
                        status: Some(BookStatus::Failed),
                        error_message: Some(Some(failure.message.clone())),
                        ..BookUpdate::default()
                    }),
                ),
            }
        }
    };
    match inner.queue.update(job.id, update).await {
        Ok(done) => {
            if let (Some(asin), Some(book)) = (&done.asin, book) {
                inner.update_book(asin, book).await;
            }
            inner.publish_status(&done);
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

/// The book status after a run that ended without a result: what its stored files say it
/// is, so that a cancelled re-download of a converted book is still COMPLETED.
async fn book_as_before(inner: &Inner, job: &Job) -> Option<BookUpdate> {
    let asin = job.asin.as_ref()?;
    if job.task_type == TaskType::Sync {
        return None;
    }
    let status = match inner.library.get_book(asin).await {
        Ok(book) if book.local_path_converted.is_some() => BookStatus::Completed,
        Ok(book) if book.local_path_aax.is_some() => BookStatus::Downloaded,
        Ok(_) => BookStatus::New,
        Err(_) => return None,
    };
    Some(BookUpdate {
        status: Some(status),
        ..BookUpdate::default()
    })
}
