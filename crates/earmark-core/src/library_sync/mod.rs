//! The SYNC job: fetch the whole library from Audible, then bring the local copy in line.
//!
//! Nothing is written until the whole library has arrived, so a failed fetch leaves the
//! previous library exactly as it was. Records are then upserted in batches (each batch one
//! transaction), and only after every batch is in are books missing from the fetch marked
//! removed: a tombstone is never laid because of a half-read library.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::asin::Asin;
use crate::domain::book::{Book, BookRecord, UpsertSummary};
use crate::domain::job::{NewJob, TaskType};
use crate::domain::job_spec::JobSpec;
use crate::domain::webhook::{Notification, WebhookEvent};
use crate::ports::{
    FailureClass, JobContext, JobEffects, JobFailure, JobHandler, LibraryRepo, LibraryRepoError,
    LibrarySource, LibrarySourceError, Notifier, SettingsStore,
};
use crate::positions::{PositionError, PositionSync};
use crate::unattended::new_books::{downloads_for, new_books, worth_downloading};
use serde_json::json;
use time::OffsetDateTime;

/// How many records one upsert transaction carries.
pub const DEFAULT_BATCH: usize = 1000;

/// Runs SYNC jobs: a [`LibrarySource`] read into a [`LibraryRepo`].
pub struct LibrarySync {
    source: Arc<dyn LibrarySource>,
    repo: Arc<dyn LibraryRepo>,
    batch: usize,
    positions: Option<Arc<PositionSync>>,
    settings: Option<Arc<dyn SettingsStore>>,
    notifier: Option<Arc<dyn Notifier>>,
}

/// What a sync changed, for its log and status message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Books in the fetched library.
    pub fetched: u64,
    /// How the upserts went.
    pub upserted: UpsertSummary,
    /// Books that left the library in this sync.
    pub removed: u64,
}

impl std::fmt::Display for SyncReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} books in the library: {} new, {} changed, {} unchanged, {} removed",
            self.fetched,
            self.upserted.inserted,
            self.upserted.updated,
            self.upserted.unchanged,
            self.removed
        )
    }
}

impl LibrarySync {
    /// A sync from `source` into `repo`, [`DEFAULT_BATCH`] records per transaction.
    pub fn new(source: Arc<dyn LibrarySource>, repo: Arc<dyn LibraryRepo>) -> Self {
        Self {
            source,
            repo,
            batch: DEFAULT_BATCH,
            positions: None,
            settings: None,
            notifier: None,
        }
    }

    /// The same, telling `notifier` of the books each sync adds (`book.added`, not on a first
    /// sync) and removes (`book.removed`).
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// What the library held before this sync: the fetched books it knew, and the books it
    /// held that the fetch no longer has. Read only when something needs it.
    async fn before(&self, fetched: &[Asin]) -> Result<(Vec<Asin>, Vec<Book>), JobFailure> {
        if self.notifier.is_some() {
            let fetched: HashSet<&Asin> = fetched.iter().collect();
            let (known, gone): (Vec<Book>, Vec<Book>) = self
                .repo
                .library_books()
                .await
                .map_err(saving_failed)?
                .into_iter()
                .partition(|book| fetched.contains(&book.record.asin));
            return Ok((known.into_iter().map(|b| b.record.asin).collect(), gone));
        }
        if self.settings.is_some() {
            let known = self
                .repo
                .known_asins(fetched)
                .await
                .map_err(saving_failed)?;
            return Ok((known, Vec::new()));
        }
        Ok((Vec::new(), Vec::new()))
    }

    /// Tells the notifier (if any) of the books added and removed.
    async fn tell(&self, added: &[&BookRecord], removed: &[Book]) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        let mut told: Vec<Notification> = added
            .iter()
            .map(|r| {
                Notification::now(
                    WebhookEvent::BookAdded,
                    json!({"asin": r.asin.as_str(), "title": r.title, "author": r.author}),
                )
            })
            .collect();
        told.extend(removed.iter().map(|b| {
            Notification::now(
                WebhookEvent::BookRemoved,
                json!({"asin": b.record.asin.as_str(), "title": b.record.title, "author": b.record.author}),
            )
        }));
        if !told.is_empty() {
            notifier.notify(told).await;
        }
    }

    /// The same, also queueing downloads of the books a sync finds new, as the saved
    /// settings' `auto_download_new` and `auto_convert` say at the time of each sync.
    #[must_use]
    pub fn with_new_books(mut self, settings: Arc<dyn SettingsStore>) -> Self {
        self.settings = Some(settings);
        self
    }

    /// The downloads to queue for the books `added` by this sync (empty on a first sync, when
    /// `known_before` is), as the settings say now. A failure here costs the automatic
    /// downloads of this sync (said in its log), never the sync.
    async fn downloads_of_new_books(
        &self,
        added: &[BookRecord],
        known_before: &[Asin],
        profile: Option<&str>,
        ctx: &dyn JobContext,
    ) -> Vec<NewJob> {
        let Some(store) = &self.settings else {
            return Vec::new();
        };
        let settings = match store.load().await {
            Ok(settings) => settings,
            Err(e) => {
                ctx.log(&format!("new books were not queued for download: {e}"));
                return Vec::new();
            }
        };
        if !settings.auto_download_new {
            return Vec::new();
        }
        if known_before.is_empty() {
            ctx.log(
                "first sync: its books are taken as the library as it stands; books that appear \
                 from the next sync on are downloaded automatically",
            );
            return Vec::new();
        }
        let new = worth_downloading(added);
        match downloads_for(&new, profile, &settings) {
            Ok(jobs) => {
                if !jobs.is_empty() {
                    let list: Vec<&str> = new.iter().map(Asin::as_str).collect();
                    ctx.log(&format!(
                        "queueing downloads of {} new books: {}",
                        jobs.len(),
                        list.join(", ")
                    ));
                }
                jobs
            }
            Err(e) => {
                ctx.log(&format!(
                    "new books were not queued: the saved conversion defaults are refused ({e}); \
                     fix them in the settings"
                ));
                Vec::new()
            }
        }
    }

    /// The same, also bringing listening positions in step with Audible after each sync
    /// (and running the positions-only syncs).
    #[must_use]
    pub fn with_positions(mut self, positions: Arc<PositionSync>) -> Self {
        self.positions = Some(positions);
        self
    }

    /// A positions-only sync: fails like a library sync when Audible cannot be read.
    async fn positions_only(
        &self,
        profile: Option<&str>,
        ctx: &dyn JobContext,
    ) -> Result<JobEffects, JobFailure> {
        let Some(positions) = &self.positions else {
            return Err(JobFailure::permanent(
                "listening positions are not kept in step with Audible on this server \
                 (EARMARK__AUDIBLE__SYNC_POSITIONS=false)",
            ));
        };
        ctx.progress(0.0, Some("reading listening positions from Audible"));
        let log = |line: &str| ctx.log(line);
        let report = positions
            .sync(profile, OffsetDateTime::now_utc(), &log)
            .await
            .map_err(|e| match e {
                PositionError::Audible(e) => failure_of(&e),
                PositionError::Library(e) => JobFailure::from(e),
            })?;
        ctx.log(&report.to_string());
        ctx.progress(100.0, Some(&report.to_string()));
        Ok(JobEffects::default())
    }

    /// The same, with `batch` records per transaction (at least one).
    #[must_use]
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Writes a fetched library: upserts in batches, then tombstones what is gone.
    ///
    /// # Errors
    /// The repository's error; batches written before it stay written (they hold the
    /// library's current records), and no book is marked removed.
    pub async fn apply(
        &self,
        records: Vec<BookRecord>,
        ctx: &dyn JobContext,
    ) -> Result<SyncReport, LibraryRepoError> {
        self.apply_keeping(records, Vec::new(), ctx).await
    }

    /// The same, where `kept` are books still in the library that were not read again (the
    /// unchanged children of a parent): they are neither written nor marked removed.
    ///
    /// # Errors
    /// As [`LibrarySync::apply`].
    pub async fn apply_keeping(
        &self,
        records: Vec<BookRecord>,
        kept: Vec<Asin>,
        ctx: &dyn JobContext,
    ) -> Result<SyncReport, LibraryRepoError> {
        let fetched = records.len();
        let mut present: Vec<Asin> = {
            let mut seen = HashSet::with_capacity(fetched);
            records
                .iter()
                .filter(|r| seen.insert(r.asin.clone()))
                .map(|r| r.asin.clone())
                .collect()
        };
        let mut report = SyncReport {
            fetched: (present.len() + kept.len()) as u64,
            ..SyncReport::default()
        };
        present.extend(kept);
        let mut done = 0usize;
        let mut records = records;
        while !records.is_empty() {
            let rest = records.split_off(self.batch.min(records.len()));
            let batch = std::mem::replace(&mut records, rest);
            done += batch.len();
            let summary = self.repo.upsert_books(batch).await?;
            report.upserted.inserted += summary.inserted;
            report.upserted.updated += summary.updated;
            report.upserted.unchanged += summary.unchanged;
            let share = done as f64 / fetched.max(1) as f64;
            ctx.progress(
                50.0 + 45.0 * share,
                Some(&format!("saved {done} of {fetched} books")),
            );
        }
        report.removed = self.repo.mark_removed_except(present).await?;
        Ok(report)
    }
}

/// The failure a sync reports for a source error: only what a retry can fix is retried.
pub fn failure_of(err: &LibrarySourceError) -> JobFailure {
    let class = match err {
        LibrarySourceError::Network(_) | LibrarySourceError::TimedOut(_) => FailureClass::Transient,
        LibrarySourceError::Throttled(_) => FailureClass::Throttled,
        LibrarySourceError::NoProfile(_)
        | LibrarySourceError::AuthRejected(_)
        | LibrarySourceError::Cancelled
        | LibrarySourceError::Tool(_)
        | LibrarySourceError::Malformed(_) => FailureClass::Permanent,
    };
    JobFailure::new(class, err.to_string())
}

#[async_trait]
impl JobHandler for LibrarySync {
    async fn run(&self, ctx: &dyn JobContext) -> Result<JobEffects, JobFailure> {
        let (profile, positions_only) = match &ctx.job().spec {
            JobSpec::Sync(params) => (params.profile.clone(), params.positions_only),
            other => return Err(JobFailure::wrong_spec(other, TaskType::Sync)),
        };
        if positions_only {
            return self.positions_only(profile.as_deref(), ctx).await;
        }
        ctx.progress(0.0, Some("fetching the library from Audible"));
        let mut records = self
            .source
            .fetch_library(profile.as_deref(), ctx)
            .await
            .map_err(|e| failure_of(&e))?;
        ctx.log(&format!("fetched {} library records", records.len()));
        let children = children::read_children(
            self.source.as_ref(),
            self.repo.as_ref(),
            profile.as_deref(),
            &records,
            ctx,
        )
        .await?;
        // Should Audible also list a child at the top, it is kept once, under its parent.
        let children_read: HashSet<&Asin> = children.read.iter().map(|r| &r.asin).collect();
        records.retain(|r| !children_read.contains(&r.asin));
        records.extend(children.read);
        ctx.progress(50.0, Some(&format!("saving {} books", records.len())));
        let fetched: Vec<Asin> = records
            .iter()
            .map(|r| r.asin.clone())
            .chain(children.kept.iter().cloned())
            .collect();
        let (known_before, gone) = self.before(&fetched).await?;
        let added: Vec<BookRecord> = {
            let new: HashSet<Asin> = new_books(&fetched, &known_before).into_iter().collect();
            records
                .iter()
                .filter(|r| new.contains(&r.asin))
                .cloned()
                .collect()
        };
        let report = self
            .apply_keeping(records, children.kept, ctx)
            .await
            .map_err(saving_failed)?;
        self.tell(&added.iter().collect::<Vec<_>>(), &gone).await;
        ctx.log(&report.to_string());
        let mut message = report.to_string();
        let follow_ups = self
            .downloads_of_new_books(&added, &known_before, profile.as_deref(), ctx)
            .await;
        if !follow_ups.is_empty() {
            message = format!(
                "{message}; {} new books queued for download",
                follow_ups.len()
            );
        }
        if let Some(positions) = &self.positions {
            // The library is in: a position that cannot be read now is read next time, so
            // its failure is logged, not the sync's.
            ctx.progress(95.0, Some("reading listening positions from Audible"));
            let log = |line: &str| ctx.log(line);
            match positions
                .sync(profile.as_deref(), OffsetDateTime::now_utc(), &log)
                .await
            {
                Ok(positions) => {
                    ctx.log(&positions.to_string());
                    message = format!("{message}; {positions}");
                }
                Err(e) => {
                    ctx.log(&format!(
                        "listening positions were not brought in step: {e}"
                    ));
                    message = format!("{message}; listening positions not synced: {e}");
                }
            }
        }
        ctx.progress(100.0, Some(&message));
        Ok(JobEffects {
            follow_ups,
            ..JobEffects::default()
        })
    }
}

/// The failure of a sync whose library could not be saved.
fn saving_failed(e: LibraryRepoError) -> JobFailure {
    let class = match e {
        LibraryRepoError::Unavailable(_) => FailureClass::Transient,
        _ => FailureClass::Permanent,
    };
    JobFailure::new(class, format!("saving the library failed: {e}"))
}

mod children;
#[cfg(test)]
mod children_tests;
#[cfg(test)]
mod tests;
