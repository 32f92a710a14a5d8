//! A stand-in job handler for tests of the engine and of everything that drives it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use earmark_core::book_life;
use earmark_core::ports::{
    BookChange, FailureClass, JobContext, JobEffects, JobFailure, JobHandler, LibraryRepo, Stop,
};
use earmark_core::{Asin, ConvertOptions, Job, JobSpec, NewJob, SyncParams, TaskType};
use earmark_process::ProcessSpec;

/// What a stand-in job runs.
#[derive(Debug, Clone)]
struct Script {
    text: String,
    failure: FailureClass,
}

/// Runs a shell script with `/bin/sh` in the job's scratch directory: the script given for
/// the job's kind and book with [`StandIn::job`] (`true` when none was). Lines `progress: N`
/// become progress, others log lines. A non-zero exit fails the attempt (transient unless
/// the script was given with [`StandIn::failing_for_good`]). Counts how many copies run at
/// once, per lane. Made with [`StandIn::following_books`], it moves the books of its jobs as
/// the real download and conversion handlers do.
#[derive(Default)]
pub struct StandIn {
    scripts: Mutex<HashMap<(TaskType, Option<Asin>), Script>>,
    library: Option<Arc<dyn LibraryRepo>>,
    running: [AtomicUsize; 5],
    /// The most jobs seen running at once, per lane (download, convert, sync, repair, import).
    pub most: [AtomicUsize; 5],
    /// Whether a download and a conversion ever ran at the same time.
    pub lanes_overlapped: AtomicBool,
}

/// Index of `t` in [`StandIn::most`].
pub fn lane_index(t: TaskType) -> usize {
    match t {
        TaskType::Download => 0,
        TaskType::Convert => 1,
        TaskType::Sync => 2,
        TaskType::Repair => 3,
        TaskType::Import => 4,
    }
}

/// A job of `task_type` for `asin` (ignored for syncs) with its kind's default parameters.
fn job_of(task_type: TaskType, asin: Asin) -> NewJob {
    let spec = match task_type {
        TaskType::Sync => JobSpec::Sync(SyncParams::default()),
        TaskType::Repair => JobSpec::Repair(Default::default()),
        TaskType::Import => JobSpec::Import(earmark_core::ImportParams {
            path: "/nonexistent".into(),
            mode: earmark_core::ImportMode::Link,
        }),
        TaskType::Download => JobSpec::Download(asin, Default::default()),
        TaskType::Convert => {
            let options = ConvertOptions {
                format: Some(earmark_core::OutputFormat::M4b),
                ..ConvertOptions::default()
            };
            match options.try_into() {
                Ok(params) => JobSpec::Convert(asin, params),
                Err(e) => unreachable!("m4b with defaults is valid: {e}"),
            }
        }
    };
    spec.into()
}

impl StandIn {
    /// A stand-in whose jobs move their books through the core's book lifecycle
    /// (`earmark_core::book_life`), reading them from `library`.
    pub fn following_books(library: Arc<dyn LibraryRepo>) -> Self {
        Self {
            library: Some(library),
            ..Self::default()
        }
    }

    /// A job of `task_type` for `asin` that runs `script` (the book is left out of syncs).
    /// A later job for the same kind and book runs the script given last.
    pub fn job(&self, task_type: TaskType, asin: Asin, script: &str) -> NewJob {
        self.with_script(task_type, asin, script, FailureClass::Transient)
    }

    /// As [`StandIn::job`], but a failure of the script is permanent.
    pub fn failing_for_good(&self, task_type: TaskType, asin: Asin, script: &str) -> NewJob {
        self.with_script(task_type, asin, script, FailureClass::Permanent)
    }

    fn with_script(
        &self,
        task_type: TaskType,
        asin: Asin,
        script: &str,
        failure: FailureClass,
    ) -> NewJob {
        let job = job_of(task_type, asin);
        let key = (task_type, job.asin().cloned());
        self.scripts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                key,
                Script {
                    text: script.to_owned(),
                    failure,
                },
            );
        job
    }

    fn script_for(&self, ctx: &dyn JobContext) -> Script {
        let key = (ctx.job().task_type(), ctx.job().asin().cloned());
        self.scripts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned()
            .unwrap_or(Script {
                text: "true".into(),
                failure: FailureClass::Transient,
            })
    }
}

#[async_trait]
impl JobHandler for StandIn {
    async fn starting(&self, job: &Job) -> Option<BookChange> {
        self.library.as_ref().and_then(|_| book_life::starting(job))
    }

    async fn stopped(&self, job: &Job, how: Stop<'_>) -> Option<BookChange> {
        book_life::stopped(self.library.as_deref()?, job, how).await
    }

    async fn run(&self, ctx: &dyn JobContext) -> Result<JobEffects, JobFailure> {
        let lane = lane_index(ctx.job().task_type());
        let now = self.running[lane].fetch_add(1, Ordering::SeqCst) + 1;
        self.most[lane].fetch_max(now, Ordering::SeqCst);
        if self.running[0].load(Ordering::SeqCst) > 0 && self.running[1].load(Ordering::SeqCst) > 0
        {
            self.lanes_overlapped.store(true, Ordering::SeqCst);
        }
        let script = self.script_for(ctx);
        let spec = ProcessSpec {
            cwd: Some(ctx.work_dir().to_owned()),
            grace: Duration::from_millis(300),
            ..ProcessSpec::new("/bin/sh", ["-c", script.text.as_str()])
        };
        let result = earmark_process::run(&spec, ctx.cancelled(), |line| {
            match line.text.strip_prefix("progress: ") {
                Some(p) => ctx.progress(p.parse().unwrap_or(0.0), Some(&line.text)),
                None => ctx.log(&line.text),
            }
        })
        .await;
        self.running[lane].fetch_sub(1, Ordering::SeqCst);
        match result {
            Ok(status) if status.success() => Ok(JobEffects::from(
                self.library
                    .as_ref()
                    .and_then(|_| book_life::completed(ctx.job())),
            )),
            Ok(status) => Err(JobFailure::new(
                script.failure,
                format!("stand-in exited with {status}"),
            )),
            Err(e) => Err(JobFailure::new(FailureClass::Transient, e.to_string())),
        }
    }
}
