//! A [`JobContext`] for running a handler outside the engine (its unit tests, the
//! benchmarks): a RUNNING job, a fixed scratch path, and a record of every progress report.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::domain::asin::Asin;
use crate::domain::job::{Job, JobId, JobStatus, TaskType};
use crate::ports::{Cancelled, JobContext};

/// A claimed job of `task_type` whose reports are kept for the test to read.
pub struct RecordingContext {
    job: Job,
    work_dir: PathBuf,
    reports: Mutex<Vec<(f64, Option<String>)>>,
}

impl RecordingContext {
    /// A RUNNING job with `params`, about `asin` if given, working in `work_dir`.
    pub fn new(
        task_type: TaskType,
        asin: Option<Asin>,
        params: serde_json::Value,
        work_dir: &str,
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
            work_dir: PathBuf::from(work_dir),
            reports: Mutex::new(Vec::new()),
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

    fn reports(&self) -> std::sync::MutexGuard<'_, Vec<(f64, Option<String>)>> {
        self.reports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl JobContext for RecordingContext {
    fn job(&self) -> &Job {
        &self.job
    }
    fn work_dir(&self) -> &Path {
        &self.work_dir
    }
    fn log(&self, _line: &str) {}
    fn progress(&self, percent: f64, message: Option<&str>) {
        self.reports().push((percent, message.map(str::to_owned)));
    }
    fn cancelled(&self) -> Cancelled<'_> {
        Box::pin(std::future::pending())
    }
}
