//! Pausing and resuming: a paused job keeps its status, shows as PAUSED, is never claimed,
//! and stays paused through a restart.

use std::sync::Arc;

use earmark_core::ports::{JobQueue, JobQueueError};
use earmark_core::{JobFilter, JobId, JobStatus, TaskType};

use super::{convert, to};

async fn ids(queue: &dyn JobQueue, statuses: &[JobStatus]) -> Vec<JobId> {
    let page = queue
        .list(JobFilter {
            statuses: statuses.to_vec(),
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    let mut ids: Vec<JobId> = page.items.iter().map(|j| j.id).collect();
    ids.sort();
    ids
}

/// Paused jobs are left by claims and found by `PAUSED` filters only; resuming gives them
/// back their place; ended jobs cannot be paused; a restart keeps the pause.
pub async fn paused_jobs_are_not_claimed_and_survive_recovery(queue: Arc<dyn JobQueue>) {
    let first = queue.enqueue(convert(1)).await.unwrap().job.id;
    let second = queue.enqueue(convert(2)).await.unwrap().job.id;
    let held = queue.set_paused(first, true).await.unwrap();
    assert_eq!(held.status, JobStatus::Queued, "the status it resumes to");
    assert_eq!(held.shown_status(), JobStatus::Paused);
    assert!(held.paused_at.is_some());
    let again = queue.set_paused(first, true).await.unwrap();
    assert_eq!(
        again.paused_at, held.paused_at,
        "pausing twice changes nothing"
    );

    let claimed = queue.claim_next(TaskType::Convert).await.unwrap().unwrap();
    assert_eq!(claimed.id, second, "the paused job is passed over");
    assert!(queue.claim_next(TaskType::Convert).await.unwrap().is_none());
    assert_eq!(ids(queue.as_ref(), &[JobStatus::Paused]).await, [first]);
    assert!(ids(queue.as_ref(), &[JobStatus::Queued]).await.is_empty());
    assert_eq!(ids(queue.as_ref(), &[JobStatus::Running]).await, [second]);
    let mut both = vec![first, second];
    both.sort();
    assert_eq!(
        ids(queue.as_ref(), &[JobStatus::Running, JobStatus::Paused]).await,
        both
    );

    // A running job paused, then the process dies: it comes back queued and still paused.
    queue.set_paused(second, true).await.unwrap();
    assert!(ids(queue.as_ref(), &[JobStatus::Running]).await.is_empty());
    queue.recover_interrupted(3).await.unwrap();
    let recovered = queue.get(second).await.unwrap();
    assert_eq!(
        (recovered.status, recovered.shown_status()),
        (JobStatus::Queued, JobStatus::Paused)
    );
    assert!(queue.claim_next(TaskType::Convert).await.unwrap().is_none());

    let resumed = queue.set_paused(first, false).await.unwrap();
    assert_eq!(resumed.shown_status(), JobStatus::Queued);
    assert_eq!(
        queue
            .claim_next(TaskType::Convert)
            .await
            .unwrap()
            .map(|j| j.id),
        Some(first),
        "a resumed job is claimed again"
    );

    queue.update(first, to(JobStatus::Completed)).await.unwrap();
    assert!(matches!(
        queue.set_paused(first, true).await,
        Err(JobQueueError::InvalidTransition {
            to: JobStatus::Paused,
            ..
        })
    ));
    assert!(matches!(
        queue.set_paused(JobId::new(), true).await,
        Err(JobQueueError::NotFound(_))
    ));
}
