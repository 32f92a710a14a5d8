//! The `JobQueue` contract.

use std::collections::HashSet;
use std::sync::Arc;

use earmark_core::ports::{JobQueue, JobQueueError};
use earmark_core::{JobFilter, JobId, JobStatus, JobUpdate, NewJob, TaskType};

use crate::asin;

/// Runs the whole `JobQueue` contract against `$setup`'s fixtures.
#[macro_export]
macro_rules! job_queue_contract {
    ($setup:path) => {
        $crate::__contract_tests!(
            $setup, job_queue, jobs:
            enqueue_persists_a_queued_job,
            enqueue_returns_the_active_job_for_the_same_work,
            racing_enqueues_create_one_job,
            finished_work_can_be_enqueued_again,
            claims_take_the_oldest_job_of_their_lane,
            concurrent_claims_never_share_a_job,
            transitions_follow_the_state_machine,
            listing_filters_and_counts,
            recovery_requeues_or_fails_interrupted_jobs,
            backed_off_jobs_are_queued_when_due,
            history_deletion_spares_active_jobs,
            counts_group_by_kind_and_status,
        );
    };
}

fn download(n: u32) -> NewJob {
    NewJob {
        task_type: TaskType::Download,
        asin: Some(asin(n)),
        params: serde_json::json!({"format": "aaxc"}),
        original_job_id: None,
    }
}

fn convert(n: u32) -> NewJob {
    NewJob {
        task_type: TaskType::Convert,
        params: serde_json::json!({"format": "m4b", "mode": "single"}),
        ..download(n)
    }
}

fn sync() -> NewJob {
    NewJob {
        task_type: TaskType::Sync,
        asin: None,
        params: serde_json::json!({}),
        original_job_id: None,
    }
}

fn to(status: JobStatus) -> JobUpdate {
    JobUpdate {
        status: Some(status),
        ..JobUpdate::default()
    }
}

/// A job is stored QUEUED before enqueue returns, with its request intact.
pub async fn enqueue_persists_a_queued_job(jobs: Arc<dyn JobQueue>) {
    let enqueued = jobs.enqueue(convert(1)).await.unwrap();
    assert!(enqueued.created);
    let job = enqueued.job;
    assert_eq!(
        (job.status, job.task_type, job.attempts),
        (JobStatus::Queued, TaskType::Convert, 0)
    );
    assert_eq!(job.asin, Some(asin(1)));
    assert_eq!(job.params["format"], "m4b");
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

/// Listings filter by status, kind and book, newest first, counting all matches.
pub async fn listing_filters_and_counts(jobs: Arc<dyn JobQueue>) {
    let d1 = jobs.enqueue(download(1)).await.unwrap().job;
    let d2 = jobs.enqueue(download(2)).await.unwrap().job;
    let c1 = jobs.enqueue(convert(1)).await.unwrap().job;
    jobs.claim_next(TaskType::Download).await.unwrap();

    let all = jobs
        .list(JobFilter {
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(
        all.items.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![c1.id, d2.id, d1.id]
    );

    let first = jobs
        .list(JobFilter {
            limit: 1,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!((first.total, first.items.len()), (3, 1));
    let second = jobs
        .list(JobFilter {
            limit: 1,
            offset: 1,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(second.items[0].id, d2.id);

    let running = jobs
        .list(JobFilter {
            statuses: vec![JobStatus::Running],
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        running.items.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![d1.id]
    );
    let waiting_downloads = jobs
        .list(JobFilter {
            statuses: vec![JobStatus::Queued, JobStatus::Pending],
            task_type: Some(TaskType::Download),
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        waiting_downloads
            .items
            .iter()
            .map(|j| j.id)
            .collect::<Vec<_>>(),
        vec![d2.id]
    );
    let for_book = jobs
        .list(JobFilter {
            asin: Some(asin(1)),
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(for_book.total, 2);
}

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

/// Clearing history removes finished jobs only.
pub async fn history_deletion_spares_active_jobs(jobs: Arc<dyn JobQueue>) {
    let done = jobs.enqueue(download(1)).await.unwrap().job;
    jobs.claim_next(TaskType::Download).await.unwrap();
    jobs.update(done.id, to(JobStatus::Completed))
        .await
        .unwrap();
    let cancelled = jobs.enqueue(download(2)).await.unwrap().job;
    jobs.update(cancelled.id, to(JobStatus::Cancelled))
        .await
        .unwrap();
    let waiting = jobs.enqueue(download(3)).await.unwrap().job;
    let running = jobs.enqueue(convert(3)).await.unwrap().job;
    jobs.claim_next(TaskType::Convert).await.unwrap();

    let long_ago = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    assert_eq!(
        jobs.delete_finished(Some(long_ago)).await.unwrap(),
        0,
        "nothing finished that long ago"
    );
    assert_eq!(jobs.delete_finished(None).await.unwrap(), 2);
    let left: HashSet<_> = jobs
        .list(JobFilter {
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(left, HashSet::from([waiting.id, running.id]));
}

/// Counts per kind and status, for metrics.
pub async fn counts_group_by_kind_and_status(jobs: Arc<dyn JobQueue>) {
    assert!(jobs.counts().await.unwrap().is_empty());
    jobs.enqueue(download(1)).await.unwrap();
    jobs.enqueue(download(2)).await.unwrap();
    jobs.enqueue(convert(1)).await.unwrap();
    jobs.claim_next(TaskType::Download).await.unwrap();
    let mut counts = jobs.counts().await.unwrap();
    counts.sort_by_key(|(t, s, _)| (t.as_str(), s.as_str()));
    assert_eq!(
        counts,
        vec![
            (TaskType::Convert, JobStatus::Queued, 1),
            (TaskType::Download, JobStatus::Queued, 1),
            (TaskType::Download, JobStatus::Running, 1),
        ]
    );
}
