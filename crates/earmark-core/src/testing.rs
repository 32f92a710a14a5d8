//! A [`JobContext`] for running a handler or an adapter outside the engine (unit tests,
//! adapter tests, benchmarks): a RUNNING job, a given scratch path, and a record of every log
//! line (with when it came), every progress report and every record of outputs.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use time::OffsetDateTime;

use async_trait::async_trait;

use crate::domain::file::OutputFile;
use crate::domain::job::{Job, JobId, JobStatus};
use crate::domain::job_spec::JobSpec;
use crate::ports::{Cancelled, JobContext, JobFailure};

/// A claimed job whose log, reports and recorded outputs are kept for the caller to read.
pub struct RecordingContext {
    job: Job,
    work_dir: PathBuf,
    reports: Mutex<Vec<(f64, Option<String>)>>,
    lines: Mutex<Vec<(Instant, String)>>,
    recorded: Mutex<Vec<Vec<OutputFile>>>,
}

impl RecordingContext {
    /// A RUNNING first attempt at `spec`, working in `work_dir`.
    pub fn new(spec: JobSpec, work_dir: impl Into<PathBuf>) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            job: Job {
                id: JobId::new(),
                spec,
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
                outputs: Vec::new(),
                paused_at: None,
            },
            work_dir: work_dir.into(),
            reports: Mutex::new(Vec::new()),
            lines: Mutex::new(Vec::new()),
            recorded: Mutex::new(Vec::new()),
        }
    }

    /// The same job as a later attempt, after an earlier one recorded `outputs`.
    pub fn after_attempt(mut self, outputs: Vec<OutputFile>) -> Self {
        self.job.attempts += 1;
        self.job.outputs = outputs;
        self
    }

    /// Every list of outputs recorded, in order.
    pub fn recorded_outputs(&self) -> Vec<Vec<OutputFile>> {
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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

#[async_trait]
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
    async fn record_outputs(&self, outputs: Vec<OutputFile>) -> Result<(), JobFailure> {
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(outputs);
        Ok(())
    }
}

/// A library record of `asin` titled `title`, with nothing else Audible would say.
///
/// # Panics
/// When `asin` is not an ASIN.
pub fn record(asin: &str, title: &str) -> crate::domain::book::BookRecord {
    crate::domain::book::BookRecord {
        asin: crate::domain::asin::Asin::parse(asin).unwrap_or_else(|e| panic!("{asin}: {e}")),
        title: title.into(),
        subtitle: None,
        author: None,
        narrator: None,
        series: None,
        series_sequence: None,
        series_asin: None,
        runtime_min: None,
        cover_url: None,
        release_date: None,
        purchase_date: None,
        metadata_json: serde_json::json!({}),
        parent: None,
    }
}

/// `record` as a stored book with nothing done yet (NEW, no files, no progress).
pub fn book(record: crate::domain::book::BookRecord) -> crate::domain::book::Book {
    crate::domain::book::Book {
        record,
        status: crate::domain::book::BookStatus::New,
        local_path_aax: None,
        local_path_voucher: None,
        local_path_cover: None,
        local_path_converted: None,
        conversion_format: None,
        error_message: None,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        removed_at: None,
        progress: None,
    }
}
