//! Removing books from the library at the person's request, never from under a running job.

use crate::domain::asin::Asin;
use crate::domain::job::{JobFilter, JobId, JobStatus};
use crate::ports::{JobQueue, JobQueueError, LibraryRepo, LibraryRepoError, RemovedBook};

/// Why books could not be removed.
#[derive(Debug, thiserror::Error)]
pub enum RemovalError {
    /// A job for one of the books is queued or running: removing its book (or its files)
    /// under it would lose its work. Nothing was removed.
    #[error(
        "book {asin} has a job in progress ({job}): cancel it (DELETE /jobs/{job}) or wait until it ends, then remove the book"
    )]
    Busy {
        /// The book.
        asin: Asin,
        /// Its job.
        job: JobId,
    },
    /// Reading or writing the library failed.
    #[error(transparent)]
    Library(#[from] LibraryRepoError),
    /// Reading the job queue failed.
    #[error(transparent)]
    Jobs(#[from] JobQueueError),
}

/// Removes `asins` (a tombstone each; with `forget_files`, their stored files unregistered),
/// after making sure no job for any of them is waiting or running: then either every book is
/// removed or, on [`RemovalError::Busy`], none. Unknown ASINs are passed over when `strict`
/// is false and refused with `BookNotFound` when it is true. The caller deletes the returned
/// forgotten files from disk.
///
/// # Errors
/// [`RemovalError::Busy`] when a book has an active job; a library or queue error otherwise.
pub async fn remove_books(
    library: &dyn LibraryRepo,
    jobs: &dyn JobQueue,
    asins: &[Asin],
    forget_files: bool,
    strict: bool,
) -> Result<Vec<RemovedBook>, RemovalError> {
    for asin in asins {
        let active = jobs
            .list(JobFilter {
                statuses: JobStatus::ACTIVE.to_vec(),
                asin: Some(asin.clone()),
                limit: 1,
                ..JobFilter::default()
            })
            .await?;
        if let Some(job) = active.items.first() {
            return Err(RemovalError::Busy {
                asin: asin.clone(),
                job: job.id,
            });
        }
    }
    let mut removed = Vec::with_capacity(asins.len());
    for asin in asins {
        match library.remove_book(asin, forget_files).await {
            Ok(book) => removed.push(book),
            Err(LibraryRepoError::BookNotFound(_)) if !strict => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::job_spec::{DownloadParams, JobSpec};
    use crate::ports::JobPage;
    use crate::ports::{JobContext, MockJobQueue, MockLibraryRepo};
    use crate::testing::RecordingContext;

    fn asin(n: u32) -> Asin {
        Asin::parse(&format!("B{n:09}")).unwrap()
    }

    #[tokio::test]
    async fn a_book_with_an_active_job_stops_the_whole_batch() {
        let mut jobs = MockJobQueue::new();
        let busy = JobId::new();
        jobs.expect_list().returning(move |filter| {
            assert_eq!(filter.statuses, JobStatus::ACTIVE);
            let items = if filter.asin == Some(asin(2)) {
                let spec = JobSpec::Download(asin(2), DownloadParams::default());
                let mut job = RecordingContext::new(spec, "/nowhere").job().clone();
                job.id = busy;
                vec![job]
            } else {
                Vec::new()
            };
            Ok(JobPage {
                total: items.len() as u64,
                items,
            })
        });
        let mut library = MockLibraryRepo::new();
        library.expect_remove_book().never();
        let err = remove_books(&library, &jobs, &[asin(1), asin(2)], true, false)
            .await
            .unwrap_err();
        assert!(
            matches!(err, RemovalError::Busy { job, .. } if job == busy),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("DELETE /jobs/{busy}")));
    }

    #[tokio::test]
    async fn unknown_books_are_passed_over_in_a_batch_and_refused_alone() {
        let mut jobs = MockJobQueue::new();
        jobs.expect_list().returning(|_| {
            Ok(JobPage {
                items: Vec::new(),
                total: 0,
            })
        });
        let mut library = MockLibraryRepo::new();
        library
            .expect_remove_book()
            .returning(|a, _| Err(LibraryRepoError::BookNotFound(a.clone())));
        let none = remove_books(&library, &jobs, &[asin(1)], false, false)
            .await
            .unwrap();
        assert!(none.is_empty());
        let err = remove_books(&library, &jobs, &[asin(1)], false, true)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            RemovalError::Library(LibraryRepoError::BookNotFound(_))
        ));
    }
}
