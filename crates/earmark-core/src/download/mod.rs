//! The DOWNLOAD job: a book's files through a [`Downloader`] into `<data>/downloads/<ASIN>/`.
//!
//! audible-cli writes into the job's scratch directory; only checked files are renamed into
//! place (keeping audible-cli's names, which AAXtoMP3 finds side files by), and only then does
//! the library learn about them. A download asked for with `convert` queues the conversion
//! once its files are in place.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use crate::domain::asin::Asin;
use crate::domain::book::{Book, BookUpdate};
use crate::domain::file::{FileKind, NewStoredFile};
use crate::domain::job::{JobFilter, JobStatus, NewJob, TaskType};
use crate::free_space::ensure_free_space;
use crate::ports::{
    DownloadError, DownloadFormat, DownloadRequest, Downloader, FailureClass, JobContext,
    JobFailure, JobHandler, JobQueue, LibraryRepo, OutputStore, PlaceError,
};

/// Bytes per second of audio assumed for estimates (Audible's high quality: 128 kb/s).
pub const BYTES_PER_SECOND: u64 = 16_000;

/// Runs DOWNLOAD jobs.
pub struct DownloadBook {
    downloader: Arc<dyn Downloader>,
    store: Arc<dyn OutputStore>,
    repo: Arc<dyn LibraryRepo>,
    queue: Arc<dyn JobQueue>,
    daily_limit: Option<u32>,
}

impl DownloadBook {
    /// A handler downloading with `downloader` into `store` (`<data>/downloads`), queueing
    /// follow-up conversions on `queue`, and starting at most `daily_limit` downloads in any
    /// 24 hours (`None`: no limit).
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

/// What a DOWNLOAD job was asked to do.
struct DownloadParams {
    format: DownloadFormat,
    force: bool,
    pdf: bool,
    profile: Option<String>,
    convert: Option<Value>,
}

fn params_of(params: &Value) -> Result<DownloadParams, JobFailure> {
    let format = params
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or("aaxc")
        .parse::<DownloadFormat>()
        .map_err(|e| JobFailure::permanent(format!("job parameter `format`: {e}")))?;
    Ok(DownloadParams {
        format,
        force: params
            .get("force")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        pdf: params.get("pdf").and_then(Value::as_bool).unwrap_or(false),
        profile: params
            .get("profile")
            .and_then(Value::as_str)
            .map(str::to_owned),
        convert: params.get("convert").filter(|c| c.is_object()).cloned(),
    })
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

#[async_trait]
impl JobHandler for DownloadBook {
    async fn run(&self, ctx: &dyn JobContext) -> Result<(), JobFailure> {
        let job = ctx.job();
        let asin: Asin = job
            .asin
            .clone()
            .ok_or_else(|| JobFailure::permanent("a download job needs a book (asin)"))?;
        let params = params_of(&job.params)?;
        let book = self.repo.get_book(&asin).await.map_err(JobFailure::from)?;
        if book.local_path_aax.is_some() && !params.force {
            let message = "already downloaded: send force: true to download again";
            ctx.log(message);
            ctx.progress(100.0, Some(message));
            return self.chain_conversion(&asin, &params).await;
        }
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
            out_dir: staging.join(asin.as_str()),
            expected_bytes: expected,
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
        let relative: Vec<PathBuf> = output
            .files
            .iter()
            .map(|f| PathBuf::from(asin.as_str()).join(&f.relative))
            .collect();
        let placed = self
            .store
            .place(&staging, &relative, true)
            .await
            .map_err(|e| match e {
                PlaceError::Io(_) => JobFailure::new(FailureClass::Transient, e.to_string()),
                _ => JobFailure::permanent(e.to_string()),
            })?;
        let mut update = BookUpdate::default();
        for (produced, placed) in output.files.iter().zip(&placed) {
            self.repo
                .add_file(NewStoredFile {
                    asin: asin.clone(),
                    kind: produced.kind,
                    path: placed.path.clone(),
                    size: placed.size,
                    mime: produced.mime.clone(),
                })
                .await
                .map_err(JobFailure::from)?;
            match produced.kind {
                FileKind::Aax | FileKind::Aaxc => {
                    update.local_path_aax = Some(Some(placed.path.clone()));
                }
                FileKind::Voucher => update.local_path_voucher = Some(Some(placed.path.clone())),
                FileKind::Cover => update.local_path_cover = Some(Some(placed.path.clone())),
                _ => {}
            }
        }
        self.repo
            .update_book(&asin, update)
            .await
            .map_err(JobFailure::from)?;
        let mut message = format!("downloaded {} file(s)", placed.len());
        if !output.warnings.is_empty() {
            message.push_str(&format!("; warnings: {}", output.warnings.join("; ")));
        }
        ctx.progress(100.0, Some(&message));
        self.chain_conversion(&asin, &params).await
    }
}

impl DownloadBook {
    /// Queues the conversion a download-then-convert request asked for.
    async fn chain_conversion(
        &self,
        asin: &Asin,
        params: &DownloadParams,
    ) -> Result<(), JobFailure> {
        let Some(convert) = &params.convert else {
            return Ok(());
        };
        let mut convert = convert.clone();
        if let (Some(profile), Some(map)) = (&params.profile, convert.as_object_mut()) {
            map.insert("profile".into(), Value::from(profile.clone()));
        }
        self.queue
            .enqueue(NewJob {
                task_type: TaskType::Convert,
                asin: Some(asin.clone()),
                params: convert,
                original_job_id: None,
            })
            .await
            .map_err(|e| {
                JobFailure::new(
                    FailureClass::Transient,
                    format!("downloaded, but the conversion could not be queued: {e}"),
                )
            })?;
        Ok(())
    }
}
