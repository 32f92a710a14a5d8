//! The request and response shapes of `/jobs`, following the web client's types.

use earmark_core::{
    ConversionMode, ConvertParams, DownloadFormat, DownloadParams, Job, OutputFormat, Settings,
};
use serde::{Deserialize, Serialize};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::routes::wire::rfc3339;

/// A job as the web client knows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: String,
    /// `SYNC`, `DOWNLOAD` or `CONVERT`.
    pub task_type: String,
    /// The book, for downloads and conversions.
    pub book_asin: Option<String>,
    /// `PENDING`, `QUEUED`, `RUNNING`, `COMPLETED`, `FAILED` or `CANCELLED`.
    pub status: String,
    /// 0 to 100.
    pub progress_percent: f64,
    /// What it is doing.
    pub status_message: Option<String>,
    /// Its log on the server (read it through `/jobs/{id}/log`).
    pub log_file_path: Option<String>,
    /// Why it failed.
    pub error_message: Option<String>,
    /// When a worker last started it.
    pub started_at: Option<String>,
    /// When it finished.
    pub completed_at: Option<String>,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// Attempts so far.
    pub attempt: i32,
    /// The job this one retries.
    pub original_job_id: Option<String>,
    /// The request's parameters.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        Self {
            id: job.id.to_string(),
            task_type: job.task_type().as_str().to_owned(),
            book_asin: job.asin().map(ToString::to_string),
            status: job.shown_status().as_str().to_owned(),
            progress_percent: job.progress_percent,
            status_message: job.status_message,
            log_file_path: job.log_file_path,
            error_message: job.error,
            started_at: job.started_at.map(rfc3339),
            completed_at: job.finished_at.map(rfc3339),
            created_at: rfc3339(job.created_at),
            updated_at: rfc3339(job.updated_at),
            attempt: job.attempts,
            original_job_id: job.original_job_id.map(|id| id.to_string()),
            params: job.spec.params_json(),
        }
    }
}

/// The `status` message of the job WebSocket: the REST view of the job under the names the
/// web client's `websocket.ts` reads, so the two never disagree.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusMessage {
    /// Always `status`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Job id.
    pub job_id: String,
    /// The job's status.
    pub status: String,
    /// 0 to 100.
    pub progress: f64,
    /// What it is doing.
    pub message: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Attempts so far.
    pub attempt: i32,
    /// The job this one retries.
    pub original_job_id: Option<String>,
    /// `attempt` and `original_job_id` again, where earlier clients read them.
    #[schema(value_type = Object)]
    pub meta: serde_json::Value,
    /// When it last changed.
    pub updated_at: String,
    /// `SYNC`, `DOWNLOAD` or `CONVERT`.
    pub task_type: String,
    /// The book, for downloads and conversions.
    pub book_asin: Option<String>,
}

impl From<JobView> for StatusMessage {
    fn from(view: JobView) -> Self {
        Self {
            kind: "status".into(),
            meta: serde_json::json!({
                "attempt": view.attempt,
                "original_job_id": view.original_job_id,
            }),
            job_id: view.id,
            status: view.status,
            progress: view.progress_percent,
            message: view.status_message,
            error: view.error_message,
            attempt: view.attempt,
            original_job_id: view.original_job_id,
            updated_at: view.updated_at,
            task_type: view.task_type,
            book_asin: view.book_asin,
        }
    }
}

/// `POST /jobs/download`: one book (`asin`) or several (`asins`), or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadRequest {
    /// One book.
    #[schema(value_type = Option<crate::routes::wire::AsinText>)]
    pub asin: Option<String>,
    /// Several books (1 to 1000, all in the library; with `asin`, all of them).
    #[schema(min_items = 1, max_items = 1000, value_type = Option<Vec<crate::routes::wire::AsinText>>)]
    pub asins: Option<Vec<String>>,
    /// `aaxc` (default), `aax`, or `aax-fallback`.
    #[schema(value_type = Option<crate::routes::wire::DownloadFormatName>)]
    pub format: Option<DownloadFormat>,
    /// Download again even when the book is already downloaded (default: the opposite of
    /// the `no_clobber` setting).
    pub force: Option<bool>,
    /// Also download the companion PDF.
    #[serde(default)]
    pub pdf: bool,
    /// Convert once downloaded.
    pub convert: Option<ConvertOptions>,
    /// The cover size to ask Audible for (`252` … `1215`; default: the `cover_size`
    /// setting).
    pub cover_size: Option<String>,
}

/// How to convert.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertOptions {
    /// `mp3`, `m4a`, `m4b` (the default), `flac` or `opus`.
    #[schema(value_type = Option<crate::routes::wire::OutputFormatName>)]
    pub format: Option<OutputFormat>,
    /// `single` (default) or `chapters`.
    #[schema(value_type = Option<crate::routes::wire::ConversionModeName>)]
    pub mode: Option<ConversionMode>,
    /// File naming scheme with `$title`, `$artist`, ... (see the docs); default `$title`.
    pub naming_scheme: Option<String>,
    /// Directory naming scheme, under `<data>/converted`; default `$genre/$artist/$title`.
    pub dir_naming_scheme: Option<String>,
    /// Chapter file naming scheme, also with `$chapter`, `$chapternum`, `$chaptercount`.
    pub chapter_naming_scheme: Option<String>,
    /// Compression level: mp3 0–9, flac 0–12, opus 0–10 (m4a/m4b are copied: none).
    pub level: Option<u8>,
    /// Replace an existing output (default: the opposite of the `no_clobber` setting).
    pub force: Option<bool>,
}

impl ConvertOptions {
    /// The checked conversion parameters these options ask for, what they leave out taken
    /// from the person's `settings`.
    ///
    /// # Errors
    /// A 422 naming the refused option.
    pub fn try_into_domain(self, settings: &Settings) -> Result<ConvertParams, ApiError> {
        let options = settings.fill(earmark_core::ConvertOptions {
            format: self.format,
            mode: self.mode,
            naming_scheme: self.naming_scheme,
            dir_naming_scheme: self.dir_naming_scheme,
            chapter_naming_scheme: self.chapter_naming_scheme,
            level: self.level,
            force: self.force,
            profile: None,
        });
        ConvertParams::try_from(options).map_err(|e| ApiError::Validation(e.to_string()))
    }
}

impl DownloadRequest {
    /// The checked download parameters this request asks for (the books aside), what it
    /// leaves out taken from the person's `settings`.
    ///
    /// # Errors
    /// A 422 naming the refused option.
    pub fn params(&self, settings: &Settings) -> Result<DownloadParams, ApiError> {
        Ok(DownloadParams {
            format: self.format.unwrap_or_default(),
            force: self.force.unwrap_or(!settings.no_clobber),
            pdf: self.pdf,
            profile: None,
            cover_size: Some(cover_size(
                self.cover_size.as_deref().unwrap_or(&settings.cover_size),
            )?),
            convert: self
                .convert
                .clone()
                .map(|options| options.try_into_domain(settings))
                .transpose()?,
        })
    }
}

/// A cover size Audible serves, as a number.
fn cover_size(raw: &str) -> Result<u16, ApiError> {
    let known = earmark_core::domain::settings::COVER_SIZES;
    match raw.parse::<u16>() {
        Ok(size) if known.contains(&raw) => Ok(size),
        _ => Err(ApiError::Validation(format!(
            "cover_size: `{raw}` is not a size Audible serves; use one of {}",
            known.join(", ")
        ))),
    }
}

/// `POST /jobs/convert`: one book (`asin`) or several (`asins`), or both.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConvertRequest {
    /// One book.
    #[schema(value_type = Option<crate::routes::wire::AsinText>)]
    pub asin: Option<String>,
    /// Several books (1 to 1000, all in the library; with `asin`, all of them).
    #[schema(min_items = 1, max_items = 1000, value_type = Option<Vec<crate::routes::wire::AsinText>>)]
    pub asins: Option<Vec<String>>,
    /// How.
    #[serde(flatten)]
    pub options: ConvertOptions,
}

/// The documented body of `POST /jobs/download`: a [`DownloadRequest`] that names at least
/// one book.
pub struct DownloadBody;

impl utoipa::PartialSchema for DownloadBody {
    fn schema() -> RefOr<Schema> {
        crate::routes::wire::requiring_one_of(
            utoipa::openapi::Ref::from_schema_name("DownloadRequest").into(),
            &["asin", "asins"],
        )
    }
}

impl utoipa::ToSchema for DownloadBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            "DownloadRequest".into(),
            <DownloadRequest as utoipa::PartialSchema>::schema(),
        ));
        <DownloadRequest as utoipa::ToSchema>::schemas(schemas);
    }
}

/// The documented body of `POST /jobs/convert`: [`ConvertOptions`]' fields beside the
/// books, at least one book named. (Derived, the flattened options would come as an
/// `allOf` whose `additionalProperties: false` refuses `asin` itself.)
pub struct ConvertBody;

impl utoipa::PartialSchema for ConvertBody {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, Object};
        let mut merged = match <ConvertOptions as utoipa::PartialSchema>::schema() {
            RefOr::T(Schema::Object(options)) => options,
            _ => Object::new(),
        };
        merged.additional_properties = None;
        merged.properties.insert(
            "asin".into(),
            <crate::routes::wire::AsinText as utoipa::PartialSchema>::schema(),
        );
        merged.properties.insert(
            "asins".into(),
            ArrayBuilder::new()
                .items(<crate::routes::wire::AsinText as utoipa::PartialSchema>::schema())
                .min_items(Some(1))
                .max_items(Some(super::MAX_BATCH))
                .into(),
        );
        crate::routes::wire::requiring_one_of(merged.into(), &["asin", "asins"])
    }
}

impl utoipa::ToSchema for ConvertBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <ConvertOptions as utoipa::ToSchema>::schemas(schemas);
    }
}

/// The answer to a job request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// The job, for a single book.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The jobs, for several books, in request order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_ids: Option<Vec<String>>,
    /// The status of the (first) job.
    pub status: String,
    /// What happened: queued, or joined work already queued or running.
    pub message: String,
}

/// Filters of `GET /jobs`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct JobQuery {
    /// Comma-separated statuses, e.g. `QUEUED,RUNNING`.
    #[param(inline, value_type = Option<crate::routes::wire::JobStatusList>)]
    pub status: Option<String>,
    /// `SYNC`, `DOWNLOAD` or `CONVERT` (`REPAIR` matches none).
    #[param(inline, value_type = Option<crate::routes::wire::TaskTypeFilter>)]
    pub task_type: Option<String>,
    /// Only jobs for this book.
    #[param(inline, value_type = Option<crate::routes::wire::AsinText>)]
    pub book_asin: Option<String>,
    /// At most this many (default 50, or 500 when only active statuses are asked for; at most
    /// 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Skip this many.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4_294_967_295_i64)]
    pub offset: Option<u32>,
}

/// A page of jobs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    /// Newest first.
    pub items: Vec<JobView>,
    /// All matches.
    pub total: u64,
}

/// How many finished jobs were deleted.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    /// Count.
    pub deleted: u64,
    /// The same in words.
    pub message: String,
}

/// The answer to a cancel, pause or resume: the job as it now is, and what happened.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobAnswer {
    /// The job.
    #[serde(flatten)]
    pub job: JobView,
    /// What happened, in words.
    pub message: String,
}
