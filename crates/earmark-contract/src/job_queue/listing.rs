//! The read side: listing, counting, clearing the history.

use std::collections::HashSet;
use std::sync::Arc;

use earmark_core::ports::{FinishedJobs, JobQueue};
use earmark_core::{JobFilter, JobStatus, TaskType};

use super::{convert, download, to};
use crate::asin;

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
    let before_long_ago = FinishedJobs {
        before: Some(long_ago),
        ..FinishedJobs::default()
    };
    assert!(
        jobs.delete_finished(before_long_ago)
            .await
            .unwrap()
            .is_empty(),
        "nothing finished that long ago"
    );
    let only_failed = FinishedJobs {
        statuses: vec![JobStatus::Failed, JobStatus::Running],
        ..FinishedJobs::default()
    };
    assert!(
        jobs.delete_finished(only_failed).await.unwrap().is_empty(),
        "no job failed, and running ones are never deleted"
    );
    let deleted = jobs.delete_finished(FinishedJobs::default()).await.unwrap();
    assert_eq!(deleted.len(), 2);
    assert!(deleted.iter().all(|j| j.status.is_terminal()));
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

/// A history longer than any one statement deletes is deleted whole (the adapters delete in
/// batches, so that other writers get the lock in between).
pub async fn a_long_history_is_deleted_whole(jobs: Arc<dyn JobQueue>) {
    for n in 1..=1_201 {
        let job = jobs.enqueue(download(n)).await.unwrap().job;
        jobs.update(job.id, to(JobStatus::Cancelled)).await.unwrap();
    }
    let active = jobs.enqueue(download(5_000)).await.unwrap().job;
    let deleted = jobs.delete_finished(FinishedJobs::default()).await.unwrap();
    assert_eq!(deleted.len(), 1_201);
    let left = jobs
        .list(JobFilter {
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(left.total, 1);
    assert_eq!(left.items[0].id, active.id);
}
