//! Listening progress: a player's report checked against the book and saved.

use time::OffsetDateTime;

use crate::domain::asin::Asin;
use crate::domain::progress::{Progress, ProgressError, ProgressReport};
use crate::ports::{LibraryRepo, LibraryRepoError};

/// Why a report was not saved.
#[derive(Debug, thiserror::Error)]
pub enum ListeningError {
    /// The report itself cannot be taken.
    #[error(transparent)]
    Invalid(#[from] ProgressError),
    /// The library failed (or has no such book).
    #[error(transparent)]
    Library(#[from] LibraryRepoError),
}

/// Saves `report` as the book's progress, made `now`, and returns it. A book's length is its
/// running time as Audible gives it (whole minutes), rounded up to the next minute.
///
/// # Errors
/// [`ListeningError::Invalid`] for a position past the end or an odd speed; `BookNotFound`
/// for an unknown book.
pub async fn record_progress(
    library: &dyn LibraryRepo,
    asin: &Asin,
    report: ProgressReport,
    now: OffsetDateTime,
) -> Result<Progress, ListeningError> {
    // Both databases keep times to the microsecond: answer what a read will give back.
    let now = now.replace_microsecond(now.microsecond()).unwrap_or(now);
    let book = library.get_book(asin).await?;
    let length_ms = crate::positions::length_ms(&book);
    let progress = Progress::after(book.progress.as_ref(), report, length_ms, now)?;
    library.save_progress(asin, &progress).await?;
    Ok(progress)
}
