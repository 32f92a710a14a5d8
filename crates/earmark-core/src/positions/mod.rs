//! Listening positions that follow the person between earmark and Audible's own apps.
//!
//! Both sides keep a position with the time it was set; whichever is newer wins, and a tie
//! keeps earmark's. A sync reads Audible's positions for the books that can have one and
//! merges them; earmark's newer positions are written back, each only after a fresh read of
//! Audible's (so a position set on the phone a moment ago is never overwritten by an older
//! one). Books with no position on either side are seeded from the library's
//! `is_finished` / `percent_complete`.

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::domain::asin::Asin;
use crate::domain::book::Book;
use crate::domain::progress::Progress;
use crate::ports::{
    AudiblePositions, CallLog, LibraryRepo, LibraryRepoError, LibrarySourceError,
    MAX_ASINS_PER_READ, RemotePosition,
};

mod merge;
#[cfg(test)]
mod tests;

#[cfg(test)]
use merge::started_on_audible;
pub use merge::{Merge, length_ms, merge, seed};

/// Why positions could not be brought in step.
#[derive(Debug, thiserror::Error)]
pub enum PositionError {
    /// Audible (through audible-cli) failed.
    #[error(transparent)]
    Audible(#[from] LibrarySourceError),
    /// The library failed.
    #[error(transparent)]
    Library(#[from] LibraryRepoError),
}

/// What a sync of positions did, for its log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PositionReport {
    /// Books whose position was asked of Audible.
    pub asked: usize,
    /// Positions taken from Audible (newer there).
    pub taken: usize,
    /// Books given a first position from the library's listening state.
    pub seeded: usize,
    /// Positions written to Audible (newer here).
    pub pushed: usize,
    /// Positions that could not be written (shown on their books).
    pub failed: usize,
}

impl std::fmt::Display for PositionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "positions: {} asked of Audible, {} taken from it, {} seeded from the library, \
             {} written to it, {} failed",
            self.asked, self.taken, self.seeded, self.pushed, self.failed
        )
    }
}

/// How one push ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Audible already held this position (or the book has none).
    InStep,
    /// Audible held a newer position: it was taken instead of writing.
    TookAudibles,
    /// The position was written to Audible.
    Written,
}

/// Keeps positions in step between the library and Audible.
pub struct PositionSync {
    audible: Arc<dyn AudiblePositions>,
    repo: Arc<dyn LibraryRepo>,
}

impl PositionSync {
    /// Positions of `repo`'s books, kept in step with `audible`.
    pub fn new(audible: Arc<dyn AudiblePositions>, repo: Arc<dyn LibraryRepo>) -> Self {
        Self { audible, repo }
    }

    /// The library this sync writes to.
    pub fn repo(&self) -> &Arc<dyn LibraryRepo> {
        &self.repo
    }

    /// Reads Audible's positions for every book that can have one (started here or, by the
    /// library's record, there), merges them, seeds the rest, and writes earmark's newer ones
    /// back. A book whose write fails keeps the error on its progress; the others go on.
    ///
    /// # Errors
    /// Reading from Audible or the library failed: nothing after that point was done.
    pub async fn sync(
        &self,
        profile: Option<&str>,
        now: OffsetDateTime,
        log: CallLog<'_>,
    ) -> Result<PositionReport, PositionError> {
        let books = self.repo.library_books().await?;
        let candidates: Vec<&Book> = books
            .iter()
            .filter(|b| b.progress.is_some() || merge::started_on_audible(b))
            .collect();
        let mut report = PositionReport {
            asked: candidates.len(),
            ..PositionReport::default()
        };
        let mut remote: HashMap<Asin, RemotePosition> = HashMap::new();
        for chunk in candidates.chunks(MAX_ASINS_PER_READ) {
            let asins: Vec<Asin> = chunk.iter().map(|b| b.record.asin.clone()).collect();
            for position in self.audible.read(profile, &asins, log).await? {
                remote.insert(position.asin.clone(), position);
            }
        }
        for book in candidates {
            let asin = &book.record.asin;
            match merge(book, remote.get(asin), now) {
                Merge::Take(progress) => {
                    if self.repo.adopt_progress(asin, &progress).await? {
                        report.taken += 1;
                    }
                }
                Merge::Seed(progress) => {
                    if self.repo.adopt_progress(asin, &progress).await? {
                        report.seeded += 1;
                    }
                }
                Merge::InStep(at) => self.repo.record_position_sync(asin, Ok(at)).await?,
                Merge::Push(progress) => match self.write(profile, book, &progress, log).await {
                    Ok(()) => report.pushed += 1,
                    Err(PositionError::Audible(e)) => {
                        log(&format!("{asin}: the position was not written: {e}"));
                        self.repo
                            .record_position_sync(asin, Err(e.to_string()))
                            .await?;
                        report.failed += 1;
                    }
                    Err(e) => return Err(e),
                },
                Merge::Nothing => {}
            }
        }
        Ok(report)
    }

    /// Brings one book's position in step: re-reads Audible's first, takes it when newer,
    /// else writes earmark's. Records success on the book; a failure is left to the caller
    /// (which may retry before showing it, see [`PositionSync::record_failure`]).
    ///
    /// # Errors
    /// Audible or the library failed.
    pub async fn push(
        &self,
        profile: Option<&str>,
        asin: &Asin,
        log: CallLog<'_>,
    ) -> Result<PushOutcome, PositionError> {
        let book = self.repo.get_book(asin).await?;
        if !book.progress.as_ref().is_some_and(Progress::needs_push) {
            return Ok(PushOutcome::InStep);
        }
        let remote = self
            .audible
            .read(profile, std::slice::from_ref(asin), log)
            .await?
            .into_iter()
            .find(|p| &p.asin == asin);
        // Only a position of earmark's own is ever written; seeding needs no write.
        match merge(&book, remote.as_ref(), OffsetDateTime::now_utc()) {
            Merge::Take(progress) => {
                self.repo.adopt_progress(asin, &progress).await?;
                Ok(PushOutcome::TookAudibles)
            }
            Merge::InStep(at) => {
                self.repo.record_position_sync(asin, Ok(at)).await?;
                Ok(PushOutcome::InStep)
            }
            Merge::Push(progress) => {
                self.write(profile, &book, &progress, log).await?;
                Ok(PushOutcome::Written)
            }
            Merge::Seed(_) | Merge::Nothing => Ok(PushOutcome::InStep),
        }
    }

    /// Shows on the book why its position could not be written.
    ///
    /// # Errors
    /// The library failed.
    pub async fn record_failure(
        &self,
        asin: &Asin,
        error: &PositionError,
    ) -> Result<(), PositionError> {
        self.repo
            .record_position_sync(asin, Err(error.to_string()))
            .await?;
        Ok(())
    }

    /// Writes `progress` to Audible with the book's licence `acr` (asked for once when not
    /// kept yet), then marks it in step.
    async fn write(
        &self,
        profile: Option<&str>,
        book: &Book,
        progress: &Progress,
        log: CallLog<'_>,
    ) -> Result<(), PositionError> {
        let asin = &book.record.asin;
        let acr = match self.repo.licence_acr(asin).await? {
            Some(acr) => acr,
            None => {
                let voucher = book.local_path_voucher.as_deref().map(std::path::Path::new);
                let acr = self
                    .audible
                    .licence_acr(profile, asin, voucher, log)
                    .await?;
                self.repo.save_licence_acr(asin, &acr).await?;
                acr
            }
        };
        self.audible
            .write(profile, asin, &acr, progress.position_ms, log)
            .await?;
        self.repo
            .record_position_sync(asin, Ok(progress.last_played_at))
            .await?;
        Ok(())
    }
}
