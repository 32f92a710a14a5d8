//! Enqueueing: the job is stored before the answer, one active job per piece of work.

use std::collections::HashSet;
use std::sync::Arc;

use earmark_core::ports::{JobQueue, JobQueueError};
use earmark_core::{JobFilter, JobId, JobStatus, TaskType};

use super::{convert, download, sync, to};
use crate::asin;

/// A job is stored QUEUED before enqueue returns, with its request intact.
pub async fn enqueue_persists_a_queued_job(jobs: Arc<dyn JobQueue>) {
    let enqueued = jobs.enqueue(convert(1)).await.unwrap();
    assert!(enqueued.created);
    let job = enqueued.job;
    assert_eq!(
        (job.status, job.task_type(), job.attempts),
        (JobStatus::Queued, TaskType::Convert, 0)
    );
    assert_eq!(job.asin(), Some(&asin(1)));
    assert_eq!(job.spec.params_json()["format"], "m4b");
    assert!(job.started_at.is_none() && job.finished_at.is_none());
    assert_eq!(jobs.get(job.id).await.unwrap(), job);
    let unknown = JobId::new();
    assert!(matches!(jobs.get(unknown).await, Err(JobQueueError::NotFound(id)) if id == unknown));
}

/// Asking twice for the same work joins the job already waiting or running.
pub async fn enqueue_returns_the_active_job_for_the_same_work(jobs: Arc<dyn JobQueue>) {
    let first = jobs.enqueue(download(1)).await.unwrap();
    let again = jobs.enqueue(download(1)).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.job.id, first.job.id);

    assert!(
        jobs.enqueue(convert(1)).await.unwrap().created,
        "other kind of work"
    );
    assert!(
        jobs.enqueue(download(2)).await.unwrap().created,
        "other book"
    );

    let running = jobs.claim_next(TaskType::Download).await.unwrap().unwrap();
    assert_eq!(running.id, first.job.id);
    let joined = jobs.enqueue(download(1)).await.unwrap();
    assert!(!joined.created, "a running job is active too");
    assert_eq!(joined.job.status, JobStatus::Running);

    let sync_job = jobs.enqueue(sync()).await.unwrap();
    assert!(sync_job.created);
    assert_eq!(
        jobs.enqueue(sync()).await.unwrap().job.id,
        sync_job.job.id,
        "one sync at a time"
    );
}

/// Many simultaneous requests for the same work produce exactly one job.
pub async fn racing_enqueues_create_one_job(jobs: Arc<dyn JobQueue>) {
    let racers: Vec<_> = (0..12)
        .map(|_| {
            let jobs = jobs.clone();
            tokio::spawn(async move { jobs.enqueue(download(9)).await.unwrap() })
        })
        .collect();
    let mut created = 0;
    let mut ids = HashSet::new();
    for racer in racers {
        let outcome = racer.await.unwrap();
        created += usize::from(outcome.created);
        ids.insert(outcome.job.id);
    }
    assert_eq!((created, ids.len()), (1, 1));
    let page = jobs
        .list(JobFilter {
            limit: 100,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 1);
}

/// Once a job is finished, the same work can be asked for again.
pub async fn finished_work_can_be_enqueued_again(jobs: Arc<dyn JobQueue>) {
    let first = jobs.enqueue(download(3)).await.unwrap().job;
    jobs.claim_next(TaskType::Download).await.unwrap().unwrap();
    jobs.update(first.id, to(JobStatus::Failed)).await.unwrap();
    let second = jobs.enqueue(download(3)).await.unwrap();
    assert!(second.created);
    assert_ne!(second.job.id, first.id);
}
