//! The library: books, their local state, their stored files, and a change feed.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::BoxError;
use crate::domain::asin::Asin;
use crate::domain::book::{Book, BookRecord, BookUpdate, ChangeCursor, ChangePage, UpsertSummary};
use crate::domain::file::{NewStoredFile, StoredFile};
use crate::domain::library_query::{BookPage, BookQuery, SeriesSummary};

/// Why a library operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LibraryRepoError {
    /// No book has this ASIN.
    #[error("no book with ASIN {0} in the library")]
    BookNotFound(Asin),
    /// No stored file has this id.
    #[error("no stored file with id {0}")]
    FileNotFound(Uuid),
    /// The store cannot be reached right now (pool exhausted, connection refused); retry later.
    #[error("the library database is unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Anything else the store reported.
    #[error("the library database failed: {0}")]
    Storage(#[source] BoxError),
}

/// A book removed from the library, and the files it no longer owns.
#[derive(Debug, Clone, PartialEq)]
pub struct RemovedBook {
    /// The book as it is now (its tombstone).
    pub book: Book,
    /// The files unregistered with it, to be deleted from disk; empty unless asked for.
    pub forgotten: Vec<StoredFile>,
}

/// Where books and their files are kept.
///
/// Every write moves the touched books' `updated_at` to a time later than every watermark
/// handed out before the write committed, so that [`LibraryRepo::changes_since`] never misses
/// a change.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait LibraryRepo: Send + Sync {
    /// Inserts new books and updates known ones from a library sync, atomically per call.
    ///
    /// A book whose record equals the stored one (every field and `metadata_json`) MUST keep
    /// its `updated_at`; a changed one gets a new `updated_at`; a removed one that appears
    /// again loses its `removed_at`. Local state (status, paths) is never touched.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`; on error nothing of the batch is written.
    async fn upsert_books(
        &self,
        records: Vec<BookRecord>,
    ) -> Result<UpsertSummary, LibraryRepoError>;

    /// Marks every book not in `present` and not yet removed as removed (a tombstone),
    /// returning how many were marked. An empty `present` marks every book.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn mark_removed_except(&self, present: Vec<Asin>) -> Result<u64, LibraryRepoError>;

    /// One book, removed or not.
    ///
    /// # Errors
    /// MUST return `BookNotFound` when no book has this ASIN.
    async fn get_book(&self, asin: &Asin) -> Result<Book, LibraryRepoError>;

    /// Applies `update` to a book's local state and moves its `updated_at`.
    ///
    /// # Errors
    /// MUST return `BookNotFound` when no book has this ASIN.
    async fn update_book(&self, asin: &Asin, update: BookUpdate) -> Result<Book, LibraryRepoError>;

    /// The books created, changed or removed at or after `since` (all books when `None`),
    /// ordered by `(updated_at, asin)`, starting after `after`, at most `limit` of them.
    ///
    /// `next_since` is a watermark: a caller that stores it and passes it as `since` next
    /// time receives every change it has not seen, including changes that were being written
    /// while this call ran. It may receive a book again; it never misses one.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn changes_since(
        &self,
        since: Option<OffsetDateTime>,
        after: Option<ChangeCursor>,
        limit: u32,
    ) -> Result<ChangePage, LibraryRepoError>;

    /// A page of the library under `query`'s filters and order; ties are broken by ASIN so
    /// that pages never overlap.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn list_books(&self, query: BookQuery) -> Result<BookPage, LibraryRepoError>;

    /// The books in the library (not removed) grouped by series title.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn series_summary(&self) -> Result<SeriesSummary, LibraryRepoError>;

    /// Registers a file for a book. Registering the same path again replaces the row (same
    /// id, new kind, size and mime).
    ///
    /// # Errors
    /// MUST return `BookNotFound` when the book does not exist.
    async fn add_file(&self, file: NewStoredFile) -> Result<StoredFile, LibraryRepoError>;

    /// The files of a book, oldest first; empty when it has none or does not exist.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn files_of(&self, asin: &Asin) -> Result<Vec<StoredFile>, LibraryRepoError>;

    /// One stored file by id.
    ///
    /// # Errors
    /// MUST return `FileNotFound` when no file has this id.
    async fn get_file(&self, id: Uuid) -> Result<StoredFile, LibraryRepoError>;

    /// Every stored file of every book (removed ones included), in path order: what a repair
    /// compares with the disk.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn all_files(&self) -> Result<Vec<StoredFile>, LibraryRepoError>;

    /// Points a stored file at the path it was moved to (same id, kind and mime; the new
    /// size), moving its book's `updated_at`.
    ///
    /// # Errors
    /// MUST return `FileNotFound` when no file has this id.
    async fn move_file(
        &self,
        id: Uuid,
        path: String,
        size: i64,
    ) -> Result<StoredFile, LibraryRepoError>;

    /// Unregisters a stored file (its file on disk is not touched), moving its book's
    /// `updated_at`; an unknown id changes nothing.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn forget_file(&self, id: Uuid) -> Result<(), LibraryRepoError>;

    /// Removes a book at the person's request: a tombstone (`removed_at`, a new `updated_at`)
    /// that the change feed reports and listings leave out; a later sync that finds the book
    /// in the Audible library brings it back. With `forget_files`, in the same transaction,
    /// its stored files are unregistered and its local paths cleared (status `NEW`, no error),
    /// and the unregistered files are returned so that the caller deletes them from disk.
    /// Removing a removed book again changes nothing but what `forget_files` asks.
    ///
    /// # Errors
    /// MUST return `BookNotFound` when no book has this ASIN.
    async fn remove_book(
        &self,
        asin: &Asin,
        forget_files: bool,
    ) -> Result<RemovedBook, LibraryRepoError>;

    /// Books in the library (not removed) that have stored files but neither downloaded audio
    /// nor a converted file: what a download that never finished left behind. Oldest change
    /// first.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn incomplete_downloads(&self) -> Result<Vec<Book>, LibraryRepoError>;

    /// Saves where the person stopped listening to a book, moving its `updated_at` (the change
    /// feed reports it), and returns the book.
    ///
    /// # Errors
    /// MUST return `BookNotFound` when no book has this ASIN.
    async fn save_progress(
        &self,
        asin: &Asin,
        progress: &crate::domain::progress::Progress,
    ) -> Result<Book, LibraryRepoError>;

    /// Books in the library (not removed) with progress and not finished, most recently played
    /// first, at most `limit`.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn listening(&self, limit: u32) -> Result<Vec<Book>, LibraryRepoError>;

    /// Which of `asins` are books in the library (not removed), in the order given.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn known_asins(&self, asins: &[Asin]) -> Result<Vec<Asin>, LibraryRepoError>;

    /// How many episodes or parts (not removed) each of `parents` has, for those that have
    /// any, in no particular order.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn count_children(&self, parents: &[Asin]) -> Result<Vec<(Asin, u64)>, LibraryRepoError>;

    /// Every book in the library (not removed), in ASIN order: what a position sync compares
    /// with Audible's.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn library_books(&self) -> Result<Vec<Book>, LibraryRepoError>;

    /// Takes `progress` (read from Audible) as the book's progress only when it is newer than
    /// the stored one (`last_played_at` strictly later, or none stored), marking it in step
    /// with Audible (its `synced_at`, no sync error) and moving `updated_at`. Returns whether
    /// it was taken: a newer report of the person's player is never overwritten, even by a
    /// read that started before it arrived.
    ///
    /// # Errors
    /// MUST return `BookNotFound` when no book has this ASIN.
    async fn adopt_progress(
        &self,
        asin: &Asin,
        progress: &crate::domain::progress::Progress,
    ) -> Result<bool, LibraryRepoError>;

    /// Records how bringing the book's position in step with Audible went: `Ok(at)` marks the
    /// position played `at` as held by Audible (never moving the mark back) and clears the
    /// error; `Err(message)` keeps the mark and shows why. Moves `updated_at` when the error
    /// changes, so the change feed reports it.
    ///
    /// # Errors
    /// MUST return `BookNotFound` when no book has this ASIN.
    async fn record_position_sync(
        &self,
        asin: &Asin,
        outcome: Result<OffsetDateTime, String>,
    ) -> Result<(), LibraryRepoError>;

    /// The `acr` kept for the book's Audible licence, if any.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn licence_acr(&self, asin: &Asin) -> Result<Option<String>, LibraryRepoError>;

    /// Keeps `acr` as the book's licence `acr` (replacing an older one).
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn save_licence_acr(&self, asin: &Asin, acr: &str) -> Result<(), LibraryRepoError>;

    /// Books (not removed) whose position changed since it was last in step with Audible.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn positions_to_push(&self) -> Result<Vec<Book>, LibraryRepoError>;

    /// Proves the store answers, for readiness checks.
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    async fn ping(&self) -> Result<(), LibraryRepoError>;
}

impl From<LibraryRepoError> for crate::ports::JobFailure {
    /// A job's failure for a repository error: an unavailable database is worth a retry,
    /// anything else is not.
    fn from(e: LibraryRepoError) -> Self {
        use crate::ports::{FailureClass, JobFailure};
        match e {
            LibraryRepoError::Unavailable(_) => JobFailure::new(
                FailureClass::Transient,
                format!("the database is unavailable: {e}"),
            ),
            LibraryRepoError::BookNotFound(asin) => JobFailure::permanent(format!(
                "{asin} is not in earmark's library: sync it first (POST /library/sync)"
            )),
            other => JobFailure::permanent(other.to_string()),
        }
    }
}
