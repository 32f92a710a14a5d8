//! Holding a job's processes: while the hold a task runs under is on, every process group
//! [`crate::run`] started for that task is stopped (SIGSTOP) and its timeout does not run;
//! released, the group continues (SIGCONT) where it was.
//!
//! The hold travels as a task-local value so that the engine can hold a job without every
//! adapter between it and the runner (audible-cli, AAXtoMP3, ffmpeg) passing it along.

use std::future::Future;

use tokio::sync::watch;

tokio::task_local! {
    static HOLD: watch::Receiver<bool>;
}

/// Runs `work` under `hold`: processes it starts stop while `hold` says true.
pub async fn held_by<F: Future>(hold: watch::Receiver<bool>, work: F) -> F::Output {
    HOLD.scope(hold, work).await
}

/// The hold of the current task, if it runs under one.
pub(crate) fn current() -> Option<watch::Receiver<bool>> {
    HOLD.try_with(Clone::clone).ok()
}

/// The hold's next value; pending forever without a hold or once its sender is gone.
pub(crate) async fn next_change(hold: &mut Option<watch::Receiver<bool>>) -> bool {
    let Some(receiver) = hold.as_mut() else {
        return std::future::pending().await;
    };
    match receiver.changed().await {
        Ok(()) => *receiver.borrow_and_update(),
        Err(_) => {
            *hold = None;
            std::future::pending().await
        }
    }
}
