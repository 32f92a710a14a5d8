//! A stand-in job handler for tests of the engine and of everything that drives it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use earmark_core::TaskType;
use earmark_core::ports::{FailureClass, JobContext, JobFailure, JobHandler};
use earmark_process::ProcessSpec;

/// Runs `params.script` with `/bin/sh` in the job's scratch directory. Lines `progress: N`
/// become progress, others log lines. A non-zero exit fails with `params.failure`
/// (`transient` unless it says `permanent`). Counts how many copies run at once, per lane.
#[derive(Debug, Default)]
pub struct StandIn {
    running: [AtomicUsize; 3],
    /// The most jobs seen running at once, per lane (download, convert, sync).
    pub most: [AtomicUsize; 3],
    /// Whether a download and a conversion ever ran at the same time.
    pub lanes_overlapped: AtomicBool,
}

/// Index of `t` in [`StandIn::most`].
pub fn lane_index(t: TaskType) -> usize {
    match t {
        TaskType::Download => 0,
        TaskType::Convert => 1,
        TaskType::Sync => 2,
    }
}

#[async_trait]
impl JobHandler for StandIn {
    async fn run(&self, ctx: &dyn JobContext) -> Result<(), JobFailure> {
        let lane = lane_index(ctx.job().task_type);
        let now = self.running[lane].fetch_add(1, Ordering::SeqCst) + 1;
        self.most[lane].fetch_max(now, Ordering::SeqCst);
        if self.running[0].load(Ordering::SeqCst) > 0 && self.running[1].load(Ordering::SeqCst) > 0
        {
            self.lanes_overlapped.store(true, Ordering::SeqCst);
        }
        let script = ctx.job().params["script"]
            .as_str()
            .unwrap_or("true")
            .to_owned();
        let spec = ProcessSpec {
            cwd: Some(ctx.work_dir().to_owned()),
            grace: Duration::from_millis(300),
            ..ProcessSpec::new("/bin/sh", ["-c", script.as_str()])
        };
        let result = earmark_process::run(&spec, ctx.cancelled(), |line| {
            match line.text.strip_prefix("progress: ") {
                Some(p) => ctx.progress(p.parse().unwrap_or(0.0), Some(&line.text)),
                None => ctx.log(&line.text),
            }
        })
        .await;
        self.running[lane].fetch_sub(1, Ordering::SeqCst);
        let class = if ctx.job().params["failure"] == "permanent" {
            FailureClass::Permanent
        } else {
            FailureClass::Transient
        };
        match result {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(JobFailure::new(
                class,
                format!("stand-in exited with {status}"),
            )),
            Err(e) => Err(JobFailure::new(FailureClass::Transient, e.to_string())),
        }
    }
}
