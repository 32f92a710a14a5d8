//! Claiming and running: lanes, exclusive claims, the state machine.

use std::collections::HashSet;
use std::sync::Arc;

use earmark_core::ports::{JobQueue, JobQueueError};
use earmark_core::{JobId, JobStatus, JobUpdate, TaskType};

use super::{convert, download, to};

/// Each lane hands out its own jobs, oldest first, and marks them running.
pub async fn claims_take_the_oldest_job_of_their_lane(jobs: Arc<dyn JobQueue>) {
    let d1 = jobs.enqueue(download(1)).await.unwrap().job;
    let c1 = jobs.enqueue(convert(1)).await.unwrap().job;
    let d2 = jobs.enqueue(download(2)).await.unwrap().job;

    let claimed = jobs.claim_next(TaskType::Download).await.unwrap().unwrap();
    assert_eq!(claimed.id, d1.id);
    assert_eq!((claimed.status, claimed.attempts), (JobStatus::Running, 1));
    assert!(claimed.started_at.is_some());
    assert_eq!(
        jobs.claim_next(TaskType::Convert)
            .await
            .unwrap()
            .map(|j| j.id),
        Some(c1.id)
    );
    assert_eq!(
        jobs.claim_next(TaskType::Download)
            .await
            .unwrap()
            .map(|j| j.id),
        Some(d2.id)
    );
    assert_eq!(jobs.claim_next(TaskType::Download).await.unwrap(), None);
    assert_eq!(jobs.claim_next(TaskType::Sync).await.unwrap(), None);
}

/// Workers claiming side by side split the queue between them without overlap.
pub async fn concurrent_claims_never_share_a_job(jobs: Arc<dyn JobQueue>) {
    const JOBS: u32 = 24;
    for n in 1..=JOBS {
        jobs.enqueue(download(n)).await.unwrap();
    }
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let jobs = jobs.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(job) = jobs.claim_next(TaskType::Download).await.unwrap() {
                    mine.push(job.id);
                    tokio::task::yield_now().await;
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), JOBS as usize, "every job claimed once");
    assert_eq!(distinct.len(), JOBS as usize, "no job claimed twice");
}

/// Status changes follow the state machine; refused ones leave the job untouched.
pub async fn transitions_follow_the_state_machine(jobs: Arc<dyn JobQueue>) {
    let job = jobs.enqueue(convert(4)).await.unwrap().job;
    let refused = jobs.update(job.id, to(JobStatus::Completed)).await;
    assert!(matches!(
        refused,
        Err(JobQueueError::InvalidTransition {
            from: JobStatus::Queued,
            to: JobStatus::Completed,
            ..
        })
    ));

    jobs.claim_next(TaskType::Convert).await.unwrap().unwrap();
    let progressed = jobs
        .update(
            job.id,
            JobUpdate {
                progress_percent: Some(140.0),
                status_message: Some("encoding".into()),
                ..JobUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (progressed.status, progressed.progress_percent),
        (JobStatus::Running, 100.0)
    );
    let halfway = jobs
        .update(
            job.id,
            JobUpdate {
                progress_percent: Some(42.5),
                ..JobUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(halfway.progress_percent, 42.5);
    assert_eq!(halfway.status_message.as_deref(), Some("encoding"));

    let done = jobs.update(job.id, to(JobStatus::Completed)).await.unwrap();
    assert_eq!(
        (done.status, done.progress_percent),
        (JobStatus::Completed, 100.0)
    );
    assert!(done.finished_at.is_some());
    for next in [
        JobStatus::Running,
        JobStatus::Queued,
        JobStatus::Cancelled,
        JobStatus::Failed,
    ] {
        assert!(matches!(
            jobs.update(job.id, to(next)).await,
            Err(JobQueueError::InvalidTransition { .. })
        ));
    }
    assert_eq!(jobs.get(job.id).await.unwrap(), done);

    let waiting = jobs.enqueue(convert(5)).await.unwrap().job;
    let cancelled = jobs
        .update(waiting.id, to(JobStatus::Cancelled))
        .await
        .unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert!(cancelled.finished_at.is_some());
    assert!(matches!(
        jobs.update(JobId::new(), to(JobStatus::Cancelled)).await,
        Err(JobQueueError::NotFound(_))
    ));
}
