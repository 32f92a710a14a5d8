//! The part of the `JobQueue` contract that reaches into the library: a job's change written
//! together with its book's change, its files and its follow-up work, and the outputs an
//! attempt records before it moves them.

use std::sync::Arc;

use earmark_core::ports::{BookChange, JobEffects, JobQueue, JobQueueError, LibraryRepo};
use earmark_core::{
    BookStatus, BookUpdate, FileKind, Fingerprint, JobId, JobSpec, JobStatus, JobUpdate, NewJob,
    NewStoredFile, OutputFile, OutputFormat, TaskType,
};

use crate::job_queue::{convert, download, to};
use crate::{asin, record};

/// Runs the job-effects contract against `$setup`'s fixtures.
#[macro_export]
macro_rules! job_effects_contract {
    ($setup:path) => {
        $crate::__contract_tests!(
            $setup, job_effects, both:
            a_job_its_book_its_files_and_its_follow_ups_are_written_together,
            the_other_books_a_job_changes_are_written_with_it,
            a_refused_change_writes_nothing,
            a_book_that_is_gone_leaves_the_job_change_standing,
            recorded_outputs_come_back_with_the_job,
        );
    };
}

fn converted_file(n: u32) -> NewStoredFile {
    NewStoredFile {
        asin: asin(n),
        kind: FileKind::Converted,
        path: format!("/data/converted/Book {n}/Book {n}.m4b"),
        size: 4_321,
        mime: "audio/mp4".into(),
    }
}

fn conversion_done(n: u32) -> JobEffects {
    JobEffects {
        book: Some(BookChange {
            licence_acr: Some(format!("CR!{n}")),
            asin: asin(n),
            update: BookUpdate {
                status: Some(BookStatus::Completed),
                local_path_converted: Some(Some(converted_file(n).path)),
                conversion_format: Some(Some(OutputFormat::M4b)),
                error_message: Some(None),
                ..BookUpdate::default()
            },
            files: vec![converted_file(n)],
        }),
        other_books: Vec::new(),
        follow_ups: vec![NewJob::from(JobSpec::Sync(Default::default())), download(n)],
    }
}

/// Completing a job writes its book's state, registers its files and queues its follow-ups
/// in the same call; a follow-up that joins active work says so.
pub async fn a_job_its_book_its_files_and_its_follow_ups_are_written_together(
    (library, jobs): (Arc<dyn LibraryRepo>, Arc<dyn JobQueue>),
) {
    library.upsert_books(vec![record(1)]).await.unwrap();
    let before = library.get_book(&asin(1)).await.unwrap();
    let waiting = jobs.enqueue(download(1)).await.unwrap().job;
    let job = jobs.enqueue(convert(1)).await.unwrap().job;
    jobs.claim_next(TaskType::Convert).await.unwrap().unwrap();

    let applied = jobs
        .apply(job.id, to(JobStatus::Completed), conversion_done(1))
        .await
        .unwrap();
    assert_eq!(applied.job.status, JobStatus::Completed);
    assert_eq!(applied.job.progress_percent, 100.0);
    assert!(applied.job.finished_at.is_some());

    let book = library.get_book(&asin(1)).await.unwrap();
    assert_eq!(book.status, BookStatus::Completed);
    assert_eq!(book.local_path_converted, Some(converted_file(1).path));
    assert_eq!(book.conversion_format, Some(OutputFormat::M4b));
    assert!(
        book.updated_at > before.updated_at,
        "a book write moves updated_at"
    );
    assert_eq!(
        library.licence_acr(&asin(1)).await.unwrap().as_deref(),
        Some("CR!1"),
        "the licence's acr is kept with the book's change"
    );
    let files = library.files_of(&asin(1)).await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].path.as_str(), files[0].size),
        (converted_file(1).path.as_str(), 4_321)
    );

    let [sync, joined] = applied.follow_ups.as_slice() else {
        panic!("{:?}", applied.follow_ups)
    };
    assert!(sync.created);
    assert_eq!(sync.job.task_type(), TaskType::Sync);
    assert_eq!(sync.job.status, JobStatus::Queued);
    assert!(!joined.created, "the download already waiting is returned");
    assert_eq!(joined.job.id, waiting.id);
    assert_eq!(jobs.get(sync.job.id).await.unwrap(), sync.job);
}

/// A job that changes other books besides its own (a book downloaded as its parts: each part
/// gets its files) writes them in the same call; a refused change writes none of them.
pub async fn the_other_books_a_job_changes_are_written_with_it(
    (library, jobs): (Arc<dyn LibraryRepo>, Arc<dyn JobQueue>),
) {
    library
        .upsert_books(vec![record(7), record(8)])
        .await
        .unwrap();
    let part_file = NewStoredFile {
        asin: asin(8),
        kind: FileKind::Aaxc,
        path: "/data/downloads/B000000007/B000000008-AAX_44_64.aaxc".into(),
        size: 1_234,
        mime: "audio/vnd.audible.aax".into(),
    };
    let mut effects = conversion_done(7);
    effects.other_books = vec![BookChange {
        files: vec![part_file.clone()],
        ..BookChange::new(
            asin(8),
            BookUpdate {
                status: Some(BookStatus::Downloaded),
                local_path_aax: Some(Some(part_file.path.clone())),
                ..BookUpdate::default()
            },
        )
    }];

    let refused_job = jobs.enqueue(convert(7)).await.unwrap().job;
    let refused = jobs
        .apply(refused_job.id, to(JobStatus::Completed), effects.clone())
        .await;
    assert!(
        refused.is_err(),
        "a queued job cannot complete: {refused:?}"
    );
    assert!(library.files_of(&asin(8)).await.unwrap().is_empty());

    jobs.claim_next(TaskType::Convert).await.unwrap().unwrap();
    jobs.apply(refused_job.id, to(JobStatus::Completed), effects)
        .await
        .unwrap();
    let part = library.get_book(&asin(8)).await.unwrap();
    assert_eq!(part.status, BookStatus::Downloaded);
    assert_eq!(part.local_path_aax, Some(part_file.path.clone()));
    let files = library.files_of(&asin(8)).await.unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].path, part_file.path);
    assert_eq!(
        library.get_book(&asin(7)).await.unwrap().status,
        BookStatus::Completed
    );
}

/// A change the state machine refuses leaves the job, the book, the files and the queue as
/// they were.
pub async fn a_refused_change_writes_nothing(
    (library, jobs): (Arc<dyn LibraryRepo>, Arc<dyn JobQueue>),
) {
    library.upsert_books(vec![record(2)]).await.unwrap();
    let before = library.get_book(&asin(2)).await.unwrap();
    let job = jobs.enqueue(convert(2)).await.unwrap().job;
    let refused = jobs
        .apply(job.id, to(JobStatus::Completed), conversion_done(2))
        .await;
    assert!(
        matches!(
            refused,
            Err(JobQueueError::InvalidTransition {
                from: JobStatus::Queued,
                to: JobStatus::Completed,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(library.get_book(&asin(2)).await.unwrap(), before);
    assert!(library.files_of(&asin(2)).await.unwrap().is_empty());
    assert_eq!(jobs.get(job.id).await.unwrap(), job);
    assert_eq!(
        jobs.counts().await.unwrap(),
        [(TaskType::Convert, JobStatus::Queued, 1)]
    );

    let unknown = JobId::new();
    assert!(matches!(
        jobs.apply(unknown, to(JobStatus::Completed), JobEffects::default()).await,
        Err(JobQueueError::NotFound(id)) if id == unknown
    ));
}

/// A job whose book was removed from the database still changes; its book change is dropped.
pub async fn a_book_that_is_gone_leaves_the_job_change_standing(
    (library, jobs): (Arc<dyn LibraryRepo>, Arc<dyn JobQueue>),
) {
    let job = jobs.enqueue(convert(3)).await.unwrap().job;
    jobs.claim_next(TaskType::Convert).await.unwrap().unwrap();
    let applied = jobs
        .apply(
            job.id,
            JobUpdate {
                status: Some(JobStatus::Failed),
                error: Some("gone".into()),
                ..JobUpdate::default()
            },
            conversion_done(3),
        )
        .await
        .unwrap();
    assert_eq!(applied.job.status, JobStatus::Failed);
    assert!(library.files_of(&asin(3)).await.unwrap().is_empty());
}

/// What an attempt records before moving its outputs comes back with the job, on every read
/// and on the next claim after a crash.
pub async fn recorded_outputs_come_back_with_the_job(
    (_library, jobs): (Arc<dyn LibraryRepo>, Arc<dyn JobQueue>),
) {
    let job = jobs.enqueue(convert(4)).await.unwrap().job;
    assert!(job.outputs.is_empty());
    jobs.claim_next(TaskType::Convert).await.unwrap().unwrap();
    let outputs = vec![OutputFile {
        kind: FileKind::Converted,
        path: converted_file(4).path,
        mime: "audio/mp4".into(),
        fingerprint: Fingerprint {
            size: 4_321,
            modified_ns: 1_764_000_000_123_456_789,
            inode: 77,
        },
    }];
    jobs.record_outputs(job.id, outputs.clone()).await.unwrap();
    assert_eq!(jobs.get(job.id).await.unwrap().outputs, outputs);

    jobs.recover_interrupted(3).await.unwrap();
    let again = jobs.claim_next(TaskType::Convert).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (job.id, 2));
    assert_eq!(again.outputs, outputs, "the next attempt sees the record");

    let unknown = JobId::new();
    assert!(matches!(
        jobs.record_outputs(unknown, Vec::new()).await,
        Err(JobQueueError::NotFound(id)) if id == unknown
    ));
}
