//! After a crash or a failure: recovery of interrupted jobs, back-off until due.

use std::sync::Arc;

use earmark_core::ports::JobQueue;
use earmark_core::{JobStatus, JobUpdate, TaskType};

use super::{convert, download, to};

/// Jobs a crash left RUNNING go back to the queue while they have attempts left.
pub async fn recovery_requeues_or_fails_interrupted_jobs(jobs: Arc<dyn JobQueue>) {
    let fresh = jobs.enqueue(download(1)).await.unwrap().job;
    let worn = jobs.enqueue(convert(2)).await.unwrap().job;
    let idle = jobs.enqueue(download(3)).await.unwrap().job;
    jobs.claim_next(TaskType::Download).await.unwrap();
    // Wear out the conversion: claimed, re-queued, claimed again (two attempts).
    jobs.claim_next(TaskType::Convert).await.unwrap();
    jobs.update(worn.id, to(JobStatus::Queued)).await.unwrap();
    assert_eq!(
        jobs.claim_next(TaskType::Convert)
            .await
            .unwrap()
            .unwrap()
            .attempts,
        2
    );

    let report = jobs.recover_interrupted(2).await.unwrap();
    assert_eq!(
        report.requeued.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![fresh.id]
    );
    assert_eq!(
        report.failed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![worn.id]
    );
    assert_eq!(jobs.get(fresh.id).await.unwrap().status, JobStatus::Queued);
    let failed = jobs.get(worn.id).await.unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(failed.error.unwrap().contains("interrupted"));
    assert_eq!(
        jobs.get(idle.id).await.unwrap().status,
        JobStatus::Queued,
        "queued jobs untouched"
    );
    assert_eq!(
        jobs.recover_interrupted(2).await.unwrap(),
        Default::default(),
        "nothing left running"
    );

    let again = jobs.claim_next(TaskType::Download).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (fresh.id, 2));
}

/// A failed attempt waits PENDING until its `run_after`, then is queued again, once.
pub async fn backed_off_jobs_are_queued_when_due(jobs: Arc<dyn JobQueue>) {
    let job = jobs.enqueue(download(1)).await.unwrap().job;
    jobs.claim_next(TaskType::Download).await.unwrap().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let due = now + time::Duration::seconds(30);
    let waiting = jobs
        .update(
            job.id,
            JobUpdate {
                status: Some(JobStatus::Pending),
                run_after: Some(Some(due)),
                error: Some("throttled".into()),
                ..JobUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(waiting.status, JobStatus::Pending);
    assert_eq!(
        waiting.run_after.map(|t| t.unix_timestamp()),
        Some(due.unix_timestamp())
    );
    assert!(
        !jobs.enqueue(download(1)).await.unwrap().created,
        "a backing-off job is still the active one"
    );
    assert_eq!(
        jobs.claim_next(TaskType::Download).await.unwrap(),
        None,
        "not claimable while pending"
    );

    assert!(
        jobs.promote_due(now).await.unwrap().is_empty(),
        "not yet due"
    );
    let promoted = jobs
        .promote_due(due + time::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(
        promoted
            .iter()
            .map(|j| (j.id, j.status))
            .collect::<Vec<_>>(),
        vec![(job.id, JobStatus::Queued)]
    );
    assert_eq!(promoted[0].run_after, None);
    assert!(
        jobs.promote_due(due + time::Duration::seconds(2))
            .await
            .unwrap()
            .is_empty(),
        "promoted once"
    );
    let again = jobs.claim_next(TaskType::Download).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (job.id, 2));
}
