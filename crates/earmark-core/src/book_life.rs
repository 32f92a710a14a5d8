//! A book's status through the lives of its jobs: what a download or a conversion makes of it
//! when it starts, completes, fails or is cancelled, and how a book left behind by a crash
//! is set right.
//!
//! The handlers say what each step writes ([`crate::ports::JobHandler::starting`],
//! [`crate::ports::JobHandler::stopped`], the effects of a completed run); the engine writes
//! it in the same transaction as the job's own change.

use crate::domain::asin::Asin;
use crate::domain::book::{Book, BookStatus, BookUpdate};
use crate::domain::job::{Job, JobFilter, JobStatus, TaskType};
use crate::domain::library_query::BookQuery;
use crate::ports::{BookChange, JobQueue, JobQueueError, LibraryRepo, LibraryRepoError, Stop};

/// The statuses a job kind gives its book: while a run works, and once it completed.
fn statuses(task_type: TaskType) -> Option<(BookStatus, BookStatus)> {
    match task_type {
        TaskType::Download => Some((BookStatus::Downloading, BookStatus::Downloaded)),
        TaskType::Convert => Some((BookStatus::Converting, BookStatus::Completed)),
        TaskType::Sync | TaskType::Repair | TaskType::Import => None,
    }
}

/// What `job`'s book becomes while a run of it works: DOWNLOADING or CONVERTING.
pub fn starting(job: &Job) -> Option<BookChange> {
    let (working, _) = statuses(job.task_type())?;
    Some(BookChange::new(
        job.asin()?.clone(),
        BookUpdate {
            status: Some(working),
            ..BookUpdate::default()
        },
    ))
}

/// What `job`'s book becomes when a run completes: DOWNLOADED or COMPLETED, the last error
/// cleared. The handler adds the paths and files its run put in place.
pub fn completed(job: &Job) -> Option<BookChange> {
    let (_, done) = statuses(job.task_type())?;
    Some(BookChange::new(
        job.asin()?.clone(),
        BookUpdate {
            status: Some(done),
            error_message: Some(None),
            ..BookUpdate::default()
        },
    ))
}

/// What the book says it is by what it has: converted, downloaded, or nothing yet.
fn status_by_files(book: &Book) -> BookStatus {
    if book.local_path_converted.is_some() {
        BookStatus::Completed
    } else if book.local_path_aax.is_some() {
        BookStatus::Downloaded
    } else {
        BookStatus::New
    }
}

/// What `job`'s book becomes when a run ends without completing: FAILED with the reason
/// when it failed for good; otherwise what its stored files say it is, so that a cancelled
/// re-download of a converted book is still COMPLETED.
pub async fn stopped(repo: &dyn LibraryRepo, job: &Job, how: Stop<'_>) -> Option<BookChange> {
    statuses(job.task_type())?;
    let asin = job.asin()?.clone();
    let update = match how {
        Stop::Failed(failure) => BookUpdate {
            status: Some(BookStatus::Failed),
            error_message: Some(Some(failure.message.clone())),
            ..BookUpdate::default()
        },
        Stop::Cancelled | Stop::Retrying(_) => {
            let book = repo.get_book(&asin).await.ok()?;
            BookUpdate {
                status: Some(status_by_files(&book)),
                ..BookUpdate::default()
            }
        }
    };
    Some(BookChange::new(asin, update))
}

/// Why [`mend_books`] could not finish.
#[derive(Debug, thiserror::Error)]
pub enum MendError {
    /// Reading or writing the library failed.
    #[error(transparent)]
    Library(#[from] LibraryRepoError),
    /// Reading the jobs failed.
    #[error(transparent)]
    Jobs(#[from] JobQueueError),
}

/// Sets right every book whose status says a job is working on it while none is running:
/// what a crash between a job's end and its book's update left behind before the two were
/// written together. Call it at start-up, after interrupted jobs are re-queued and before
/// any runs. Such a book becomes FAILED (with the error) when its latest job of that kind
/// failed, else what its stored files say. Returns the books it changed.
///
/// # Errors
/// [`MendError`] when the library or the jobs cannot be read or written.
pub async fn mend_books(
    library: &dyn LibraryRepo,
    jobs: &dyn JobQueue,
) -> Result<Vec<Asin>, MendError> {
    const PAGE: u32 = 500;
    let mut stuck = Vec::new();
    let mut offset = 0;
    loop {
        let page = library
            .list_books(BookQuery {
                statuses: vec![BookStatus::Downloading, BookStatus::Converting],
                include_removed: true,
                offset,
                limit: PAGE,
                ..BookQuery::default()
            })
            .await?;
        let seen = page.books.len();
        stuck.extend(page.books);
        if seen < PAGE as usize {
            break;
        }
        offset += PAGE as u64;
    }
    let mut mended = Vec::new();
    for book in stuck {
        let task_type = match book.status {
            BookStatus::Downloading => TaskType::Download,
            _ => TaskType::Convert,
        };
        let latest = jobs
            .list(JobFilter {
                task_type: Some(task_type),
                asin: Some(book.record.asin.clone()),
                limit: 1,
                ..JobFilter::default()
            })
            .await?
            .items
            .into_iter()
            .next();
        let update = match latest {
            Some(job) if job.status == JobStatus::Running => continue,
            Some(job) if job.status == JobStatus::Failed => BookUpdate {
                status: Some(BookStatus::Failed),
                error_message: Some(job.error),
                ..BookUpdate::default()
            },
            _ => BookUpdate {
                status: Some(status_by_files(&book)),
                ..BookUpdate::default()
            },
        };
        match library.update_book(&book.record.asin, update).await {
            Ok(_) | Err(LibraryRepoError::BookNotFound(_)) => mended.push(book.record.asin),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(mended)
}
