//! The DOWNLOAD job: a book's files through a [`Downloader`] into `<data>/downloads/<ASIN>/`.
//!
//! audible-cli writes into the job's scratch directory; only checked files are renamed into
//! place (keeping audible-cli's names, which AAXtoMP3 finds side files by), and the library
//! learns about them in the same transaction that completes the job. A download asked for
//! with `convert` queues the conversion in that transaction too.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

mod parts;

pub use parts::{Expanded, children_of, expand_podcasts, part_owning, parts_of};

use crate::book_life;
use crate::domain::asin::Asin;
use crate::domain::book::{Book, BookStatus, BookUpdate};
use crate::domain::file::{FileKind, OutputFile};
use crate::domain::job::{Job, JobFilter, JobStatus, NewJob, TaskType};
use crate::domain::job_spec::{DownloadParams, JobSpec};
use crate::domain::parenthood::ItemKind;
use crate::free_space::ensure_free_space;
use crate::placing::{self, Staged};
use crate::ports::{
    BookChange, DownloadError, DownloadRequest, Downloader, FailureClass, JobContext, JobEffects,
    JobFailure, JobHandler, JobQueue, LibraryRepo, OutputStore, Stop,
};

/// Bytes per second of audio assumed for estimates (Audible's high quality: 128 kb/s).
pub const BYTES_PER_SECOND: u64 = 16_000;

/// The cover size a download asks for when its parameters name none.
pub const DEFAULT_COVER_SIZE: u16 = 500;

/// Runs DOWNLOAD jobs.
pub struct DownloadBook {
    downloader: Arc<dyn Downloader>,
    store: Arc<dyn OutputStore>,
    repo: Arc<dyn LibraryRepo>,
    queue: Arc<dyn JobQueue>,
    daily_limit: Option<u32>,
}

impl DownloadBook {
    /// A handler downloading with `downloader` into `store` (`<data>/downloads`), counting
    /// the day's downloads in `queue`, and starting at most `daily_limit` downloads in any 24
    /// hours (`None`: no limit).
    pub fn new(
        downloader: Arc<dyn Downloader>,
        store: Arc<dyn OutputStore>,
        repo: Arc<dyn LibraryRepo>,
        queue: Arc<dyn JobQueue>,
        daily_limit: Option<u32>,
    ) -> Self {
        Self {
            downloader,
            store,
            repo,
            queue,
            daily_limit,
        }
    }

    /// Refuses (as throttled, so the job waits and retries) when `daily_limit` downloads
    /// finished in the last 24 hours.
    async fn check_daily_limit(&self) -> Result<(), JobFailure> {
        let Some(limit) = self.daily_limit else {
            return Ok(());
        };
        let recent = self
            .queue
            .list(JobFilter {
                statuses: vec![JobStatus::Completed],
                task_type: Some(TaskType::Download),
                asin: None,
                limit: limit.max(1),
                offset: 0,
            })
            .await
            .map_err(|e| JobFailure::new(FailureClass::Transient, e.to_string()))?;
        let day_ago = OffsetDateTime::now_utc() - time::Duration::days(1);
        let in_last_day = recent
            .items
            .iter()
            .filter(|j| j.finished_at.is_some_and(|at| at > day_ago))
            .count();
        if in_last_day >= limit as usize {
            return Err(JobFailure::new(
                FailureClass::Throttled,
                format!(
                    "the daily download limit ({limit} in 24 hours, EARMARK__AUDIBLE__DAILY_DOWNLOAD_LIMIT) is reached: this download waits and is tried again later"
                ),
            ));
        }
        Ok(())
    }
}

impl DownloadBook {
    /// `book`'s parts when it is a book sold in parts; none otherwise.
    async fn parts(&self, book: &Book) -> Result<Vec<Asin>, JobFailure> {
        if ItemKind::of_item(&book.record.metadata_json) != ItemKind::MultiPartBook {
            return Ok(Vec::new());
        }
        parts_of(self.repo.as_ref(), book)
            .await
            .map_err(JobFailure::from)
    }
}

/// The failure class for each download error: what waiting can fix is retried.
pub fn failure_of(e: &DownloadError) -> JobFailure {
    let class = match e {
        DownloadError::Network(_) | DownloadError::TimedOut(_) => FailureClass::Transient,
        DownloadError::LicenseDenied(_) | DownloadError::Throttled(_) => FailureClass::Throttled,
        DownloadError::NotInLibrary(_)
        | DownloadError::NotDownloadable(_)
        | DownloadError::AuthExpired(_)
        | DownloadError::Cancelled
        | DownloadError::Tool(_) => FailureClass::Permanent,
    };
    JobFailure::new(class, e.to_string())
}

fn expected_bytes(book: &Book) -> Option<u64> {
    let minutes = u64::try_from(book.record.runtime_min?).ok()?;
    Some(minutes * 60 * BYTES_PER_SECOND)
}

/// The conversion a download-then-convert request asked for, as a job to queue with the
/// download's completion.
fn chained_conversion(asin: &Asin, params: &DownloadParams) -> Vec<NewJob> {
    let Some(convert) = &params.convert else {
        return Vec::new();
    };
    let mut convert = convert.clone();
    if convert.profile.is_none() {
        convert.profile.clone_from(&params.profile);
    }
    vec![JobSpec::Convert(asin.clone(), convert).into()]
}

/// Points `change`'s paths at `files` (the first audio, the voucher, the cover) and registers
/// them for its book.
fn point_at(change: &mut BookChange, files: &[&OutputFile]) {
    for file in files {
        let path = Some(Some(file.path.clone()));
        match file.kind {
            FileKind::Aax | FileKind::Aaxc if change.update.local_path_aax.is_none() => {
                change.update.local_path_aax = path;
            }
            FileKind::Voucher => change.update.local_path_voucher = path,
            FileKind::Cover => change.update.local_path_cover = path,
            _ => {}
        }
    }
    change
        .files
        .extend(files.iter().map(|f| f.registered_for(&change.asin)));
}

/// The completed download's effects: `placed` registered, the book's paths pointed at them
/// and its status DOWNLOADED, the chained conversion queued. A book that came as its `parts`
/// has each part's files registered for the part (DOWNLOADED too), and its own audio path at
/// its first part's.
fn completed(
    job: &Job,
    asin: &Asin,
    params: &DownloadParams,
    placed: &[OutputFile],
    parts: &[Asin],
    licence_acr: Option<String>,
) -> JobEffects {
    let of = |owner: Option<&Asin>| -> Vec<&OutputFile> {
        placed
            .iter()
            .filter(|f| part_owning(parts, &f.path) == owner)
            .collect()
    };
    let other_books: Vec<BookChange> = parts
        .iter()
        .filter_map(|part| {
            let files = of(Some(part));
            if files.is_empty() {
                return None;
            }
            let mut change = BookChange::new(
                part.clone(),
                BookUpdate {
                    status: Some(BookStatus::Downloaded),
                    error_message: Some(None),
                    ..BookUpdate::default()
                },
            );
            point_at(&mut change, &files);
            Some(change)
        })
        .collect();
    let book = book_life::completed(job).map(|mut change| {
        change.licence_acr = licence_acr;
        point_at(&mut change, &of(None));
        if change.update.local_path_aax.is_none() {
            change.update.local_path_aax = other_books
                .first()
                .and_then(|part| part.update.local_path_aax.clone());
        }
        change
    });
    JobEffects {
        book,
        other_books,
        follow_ups: chained_conversion(asin, params),
    }
}

#[async_trait]
impl JobHandler for DownloadBook {
    async fn starting(&self, job: &Job) -> Option<BookChange> {
        book_life::starting(job)
    }

    async fn run(&self, ctx: &dyn JobContext) -> Result<JobEffects, JobFailure> {
        let (asin, params) = match &ctx.job().spec {
            JobSpec::Download(asin, params) => (asin.clone(), params.clone()),
            other => return Err(JobFailure::wrong_spec(other, TaskType::Download)),
        };
        let book = self.repo.get_book(&asin).await.map_err(JobFailure::from)?;
        if let Some(placed) = placing::earlier_outputs(ctx, self.store.as_ref()).await? {
            let message = "the files of an earlier attempt are in place";
            ctx.log(message);
            ctx.progress(100.0, Some(message));
            let parts = self.parts(&book).await?;
            return Ok(completed(ctx.job(), &asin, &params, &placed, &parts, None));
        }
        if book.local_path_aax.is_some() && !params.force {
            let message = "already downloaded: send force: true to download again";
            ctx.log(message);
            ctx.progress(100.0, Some(message));
            return Ok(completed(ctx.job(), &asin, &params, &[], &[], None));
        }
        if let Some(refused) = parts::part_refused(&asin, &book) {
            return Err(refused);
        }
        let in_podcast = match ItemKind::of_item(&book.record.metadata_json) {
            ItemKind::Playable => book.record.parent.is_some(),
            ItemKind::Podcast => return Err(parts::podcast_refused(&asin)),
            ItemKind::MultiPartBook => {
                ctx.log(&format!(
                    "{asin} is a book sold in parts: downloading it through its own ASIN, as \
                     Audible delivers such books (whole, or, when it says so, its parts)"
                ));
                false
            }
        };
        let parts = self.parts(&book).await?;
        self.check_daily_limit().await?;
        let expected = expected_bytes(&book);
        // The download plus audible-cli's side files and some slack.
        let estimate = expected.unwrap_or(0).saturating_mul(12) / 10;
        ensure_free_space(self.store.as_ref(), estimate, "the download").await?;

        let staging = ctx.work_dir().join("downloads");
        let request = DownloadRequest {
            asin: asin.clone(),
            profile: params.profile.clone(),
            format: params.format,
            pdf: params.pdf,
            cover_size: params.cover_size.unwrap_or(DEFAULT_COVER_SIZE),
            out_dir: staging.join(asin.as_str()),
            expected_bytes: expected,
            in_podcast,
            parts: parts.clone(),
        };
        ctx.progress(0.0, Some("asking Audible for the book"));
        let output = self
            .downloader
            .download(&request, ctx)
            .await
            .map_err(|e| failure_of(&e))?;
        for warning in &output.warnings {
            ctx.log(&format!("warning: {warning}"));
        }
        let staged: Vec<Staged> = output
            .files
            .iter()
            .map(|f| Staged {
                relative: PathBuf::from(asin.as_str()).join(&f.relative),
                kind: f.kind,
                mime: f.mime.clone(),
            })
            .collect();
        let placed =
            placing::put_in_place(ctx, self.store.as_ref(), &staging, &staged, true).await?;
        let mut message = format!("downloaded {} file(s)", placed.len());
        if !output.warnings.is_empty() {
            message.push_str(&format!("; warnings: {}", output.warnings.join("; ")));
        }
        ctx.progress(100.0, Some(&message));
        Ok(completed(
            ctx.job(),
            &asin,
            &params,
            &placed,
            &parts,
            output.licence_acr,
        ))
    }

    async fn stopped(&self, job: &Job, how: Stop<'_>) -> Option<BookChange> {
        book_life::stopped(self.repo.as_ref(), job, how).await
    }
}

#[cfg(test)]
mod tests;
