//! A [`JobContext`] for running a handler or an adapter outside the engine (unit tests,
//! adapter tests, benchmarks): a RUNNING job, a given scratch path, and a record of every log
//! line (with when it came) and every progress report.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use time::OffsetDateTime;

use crate::domain::asin::Asin;
use crate::domain::job::{Job, JobId, JobStatus, TaskType};
use crate::ports::{Cancelled, JobContext};

/// A claimed job of `task_type` whose log and reports are kept for the caller to read.
pub struct RecordingContext {
    job: Job,
    work_dir: PathBuf,
    reports: Mutex<Vec<(f64, Option<String>)>>,
    lines: Mutex<Vec<(Instant, String)>>,
}

impl RecordingContext {
    /// A RUNNING job with `params`, about `asin` if given, working in `work_dir`.
    pub fn new(
        task_type: TaskType,
        asin: Option<Asin>,
        params: serde_json::Value,
        work_dir: impl Into<PathBuf>,
    ) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            job: Job {
                id: JobId::new(),
                task_type,
                asin,
                params,
                status: JobStatus::Running,
                progress_percent: 0.0,
                status_message: None,
                log_file_path: None,
                error: None,
                attempts: 1,
                original_job_id: None,
                created_at: now,
                started_at: Some(now),
                finished_at: None,
                updated_at: now,
                run_after: None,
            },
            work_dir: work_dir.into(),
            reports: Mutex::new(Vec::new()),
            lines: Mutex::new(Vec::new()),
        }
    }

    /// Every percentage reported, in order.
    pub fn percents(&self) -> Vec<f64> {
        self.reports().iter().map(|(p, _)| *p).collect()
    }

    /// Every message reported with a percentage, in order.
    pub fn messages(&self) -> Vec<String> {
        self.reports()
            .iter()
            .filter_map(|(_, m)| m.clone())
            .collect()
    }

    /// Every log line, joined by newlines.
    pub fn log_text(&self) -> String {
        let lines = self.timed_lines();
        let texts: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
        texts.join("\n")
    }

    /// Every log line with the moment it was logged.
    pub fn timed_lines(&self) -> Vec<(Instant, String)> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn reports(&self) -> MutexGuard<'_, Vec<(f64, Option<String>)>> {
        self.reports.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl JobContext for RecordingContext {
    fn job(&self) -> &Job {
        &self.job
    }
    fn work_dir(&self) -> &Path {
        &self.work_dir
    }
    fn log(&self, line: &str) {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((Instant::now(), line.to_owned()));
    }
    fn progress(&self, percent: f64, message: Option<&str>) {
        self.reports().push((percent, message.map(str::to_owned)));
    }
    fn cancelled(&self) -> Cancelled<'_> {
        Box::pin(std::future::pending())
    }
}
