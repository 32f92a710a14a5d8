//! The CONVERT job: a downloaded book through a [`Converter`] into the [`OutputStore`].
//!
//! The converter writes into the job's own scratch directory; only verified outputs are
//! moved, each with an atomic rename, and the library learns about them in the same
//! transaction that completes the job. A failed or cancelled conversion therefore leaves
//! nothing under `converted/`; one interrupted after its moves is recognised by its next
//! attempt (see `placing`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

pub use crate::domain::job_spec::ConvertParams;

mod parts;

use crate::book_life;
use crate::domain::asin::Asin;
use crate::domain::book::Book;
use crate::domain::file::{FileKind, OutputFile, StoredFile};
use crate::domain::job::{Job, TaskType};
use crate::domain::job_spec::JobSpec;
use crate::domain::parenthood::ItemKind;
use crate::domain::secret::ActivationBytes;
use crate::free_space::ensure_free_space;
use crate::placing::{self, Staged};
use crate::ports::{
    AccountsError, AudibleAccounts, BookChange, BookTags, ConversionInput, ConversionRequest,
    ConvertError, Converter, FailureClass, JobContext, JobEffects, JobFailure, JobHandler,
    LibraryRepo, OutputStore, Stop,
};

/// Runs CONVERT jobs.
pub struct ConvertBook {
    converter: Arc<dyn Converter>,
    store: Arc<dyn OutputStore>,
    repo: Arc<dyn LibraryRepo>,
    accounts: Arc<dyn AudibleAccounts>,
    /// Activation bytes per profile: fetched from Audible once, then reused.
    activation: Mutex<HashMap<Option<String>, ActivationBytes>>,
}

impl ConvertBook {
    /// A handler converting with `converter` into `store`; `accounts` supplies activation
    /// bytes for AAX input.
    pub fn new(
        converter: Arc<dyn Converter>,
        store: Arc<dyn OutputStore>,
        repo: Arc<dyn LibraryRepo>,
        accounts: Arc<dyn AudibleAccounts>,
    ) -> Self {
        Self {
            converter,
            store,
            repo,
            accounts,
            activation: Mutex::new(HashMap::new()),
        }
    }

    async fn activation_bytes(&self, profile: Option<&str>) -> Result<ActivationBytes, JobFailure> {
        let key = profile.map(str::to_owned);
        if let Some(known) = self.cached(&key) {
            return Ok(known);
        }
        let fetched = self
            .accounts
            .activation_bytes(profile)
            .await
            .map_err(|e| match e {
                AccountsError::Tool(_) => JobFailure::new(
                    FailureClass::Transient,
                    format!("cannot get the account's activation bytes: {e}"),
                ),
                _ => JobFailure::permanent(format!(
                    "cannot get the account's activation bytes ({e}): log in to Audible (POST /auth/audible/login), then retry"
                )),
            })?;
        if let Ok(mut cache) = self.activation.lock() {
            cache.insert(key, fetched.clone());
        }
        Ok(fetched)
    }

    fn cached(&self, key: &Option<String>) -> Option<ActivationBytes> {
        self.activation.lock().ok()?.get(key).cloned()
    }
}

/// The newest registered file of one of `kinds`.
fn newest<'f>(files: &'f [StoredFile], kinds: &[FileKind]) -> Option<&'f StoredFile> {
    files
        .iter()
        .filter(|f| kinds.contains(&f.kind))
        .max_by_key(|f| f.created_at)
}

/// The book's side file of `kind`: the newest registered one, else the book's `column`.
fn side_file(files: &[StoredFile], kind: FileKind, column: &Option<String>) -> Option<PathBuf> {
    newest(files, &[kind])
        .map(|f| PathBuf::from(&f.path))
        .or_else(|| column.as_ref().map(PathBuf::from))
}

/// The book's own cover, which a book joined from its parts keeps too.
fn cover_of(book: &Book, files: &[StoredFile]) -> Option<PathBuf> {
    side_file(files, FileKind::Cover, &book.local_path_cover)
}

/// The book's downloaded files, preferring the registered ones over the book's columns.
fn input_of(book: &Book, files: &[StoredFile]) -> Result<(ConversionInput, u64), JobFailure> {
    let audio = newest(files, &[FileKind::Aax, FileKind::Aaxc])
        .map(|f| (f.path.clone(), f.size))
        .or_else(|| book.local_path_aax.clone().map(|p| (p, 0)))
        .ok_or_else(|| {
            JobFailure::permanent(format!(
                "{} is not downloaded yet: download it first (POST /jobs/download)",
                book.record.asin
            ))
        })?;
    Ok((
        ConversionInput {
            audio: PathBuf::from(audio.0),
            voucher: side_file(files, FileKind::Voucher, &book.local_path_voucher),
            chapters: side_file(files, FileKind::Chapters, &None),
            cover: cover_of(book, files),
            activation_bytes: None,
        },
        u64::try_from(audio.1).unwrap_or(0),
    ))
}

fn convert_failure(e: ConvertError) -> JobFailure {
    match e {
        ConvertError::TimedOut(_) => JobFailure::new(FailureClass::Transient, e.to_string()),
        ConvertError::Cancelled
        | ConvertError::BadInput(_)
        | ConvertError::Tool(_)
        | ConvertError::Verification(_) => JobFailure::permanent(e.to_string()),
    }
}

async fn check_space(
    store: &dyn OutputStore,
    input_bytes: u64,
    params: &ConvertParams,
) -> Result<(), JobFailure> {
    let estimate = input_bytes.saturating_mul(params.growth_factor());
    let what = format!("converting to {}", params.format);
    ensure_free_space(store, estimate, &what).await
}

/// The completed conversion's effects: `placed` registered, the book's converted path
/// pointed at the main audio, its format recorded and its status COMPLETED.
fn completed(job: &Job, asin: &Asin, params: &ConvertParams, placed: &[OutputFile]) -> JobEffects {
    let main = placed
        .iter()
        .find(|f| matches!(f.kind, FileKind::Converted | FileKind::ConvertedChapter))
        .map(|f| f.path.clone());
    JobEffects::from(book_life::completed(job).map(|mut change| {
        change.update.local_path_converted = Some(main);
        change.update.conversion_format = Some(Some(params.format));
        change.files = placed.iter().map(|f| f.registered_for(asin)).collect();
        change
    }))
}

#[async_trait]
impl JobHandler for ConvertBook {
    async fn starting(&self, job: &Job) -> Option<BookChange> {
        book_life::starting(job)
    }

    async fn run(&self, ctx: &dyn JobContext) -> Result<JobEffects, JobFailure> {
        let (asin, params) = match &ctx.job().spec {
            JobSpec::Convert(asin, params) => (asin.clone(), params.clone()),
            other => return Err(JobFailure::wrong_spec(other, TaskType::Convert)),
        };
        if let Some(placed) = placing::earlier_outputs(ctx, self.store.as_ref()).await? {
            let message = format!(
                "converted to {} by an earlier attempt: its {} file(s) are in place",
                params.format,
                placed.len()
            );
            ctx.log(&message);
            ctx.progress(100.0, Some(&message));
            return Ok(completed(ctx.job(), &asin, &params, &placed));
        }
        let book = self.repo.get_book(&asin).await.map_err(JobFailure::from)?;
        if !params.force
            && book.conversion_format == Some(params.format)
            && book.local_path_converted.is_some()
        {
            let message = format!(
                "already converted to {}: send force: true to convert again",
                params.format
            );
            ctx.log(&message);
            ctx.progress(100.0, Some(&message));
            return Ok(JobEffects::from(book_life::completed(ctx.job())));
        }
        // A book sold in parts converts like any book when it was downloaded whole, and joins
        // its parts when it came in parts.
        if ItemKind::of_item(&book.record.metadata_json) == ItemKind::Podcast {
            return Err(JobFailure::permanent(format!(
                "{asin} is a podcast: it has no audio of its own; convert its episodes (GET \
                 /library?parent_asin={asin} lists them)"
            )));
        }
        let files = self.repo.files_of(&asin).await.map_err(JobFailure::from)?;
        let (mut input, mut parts, input_bytes) =
            match parts::parts_input(self.repo.as_ref(), &book, &files).await? {
                Some((parts, bytes)) => {
                    ctx.log(&format!(
                        "{asin} was downloaded in {} parts: joining them into one book",
                        parts.len()
                    ));
                    let mut first = parts[0].clone();
                    first.cover = cover_of(&book, &files);
                    (first, parts, bytes)
                }
                None => {
                    let (input, bytes) = input_of(&book, &files)?;
                    (input, Vec::new(), bytes)
                }
            };
        for each in std::iter::once(&mut input).chain(parts.iter_mut()) {
            if !each.is_aaxc() {
                each.activation_bytes =
                    Some(self.activation_bytes(params.profile.as_deref()).await?);
            }
        }
        check_space(self.store.as_ref(), input_bytes, &params).await?;

        let out_dir = ctx.work_dir().join("out");
        let request = ConversionRequest {
            input,
            tags: BookTags::of(&book),
            format: params.format,
            mode: params.mode,
            dir_scheme: params.dir_scheme.clone(),
            file_scheme: params.file_scheme.clone(),
            chapter_scheme: params.chapter_scheme.clone(),
            level: params.level,
            out_dir: out_dir.clone(),
            parts,
        };
        ctx.progress(
            0.0,
            Some(&format!("converting with {}", self.converter.engine())),
        );
        let output = self
            .converter
            .convert(&request, ctx)
            .await
            .map_err(convert_failure)?;
        for warning in &output.warnings {
            ctx.log(&format!("warning: {warning}"));
        }
        let staged: Vec<Staged> = output
            .files
            .iter()
            .map(|f| Staged {
                relative: f.relative.clone(),
                kind: f.kind,
                mime: f.mime.clone(),
            })
            .collect();
        let placed =
            placing::put_in_place(ctx, self.store.as_ref(), &out_dir, &staged, params.force)
                .await?;
        let mut message = format!(
            "converted to {} ({} file(s)) with {}",
            params.format,
            placed.len(),
            self.converter.engine()
        );
        if !output.warnings.is_empty() {
            message.push_str(&format!("; warnings: {}", output.warnings.join("; ")));
        }
        ctx.progress(100.0, Some(&message));
        Ok(completed(ctx.job(), &asin, &params, &placed))
    }

    async fn stopped(&self, job: &Job, how: Stop<'_>) -> Option<BookChange> {
        book_life::stopped(self.repo.as_ref(), job, how).await
    }
}

#[cfg(test)]
mod tests;
