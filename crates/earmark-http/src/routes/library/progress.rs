//! Listening progress: `GET`/`PATCH /library/{asin}/progress` and
//! `GET /library/continue-listening`, in the web client's `PlaybackProgressResponse` shape.

use actix_web::{HttpResponse, get, patch, post, web};
use earmark_core::listening::{ListeningError, record_progress};
use earmark_core::{JobSpec, NewJob, SyncParams};
use earmark_core::{Progress, ProgressReport};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::routes::wire::rfc3339;
use crate::state::AppState;

/// Where the person stopped in a book (the web client's `PlaybackProgressResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProgressView {
    /// The book.
    pub book_asin: String,
    /// Where playback stopped.
    pub position_ms: u64,
    /// The player's chapter id.
    pub last_chapter_id: Option<String>,
    /// The speed it played at.
    pub playback_speed: f64,
    /// Finished.
    pub is_finished: bool,
    /// When the position was last set.
    pub last_played_at: String,
    /// When the book was finished.
    pub completed_at: Option<String>,
    /// Why the position could not be brought in step with Audible's apps; `null` when it is
    /// (or when positions are not kept in step).
    pub sync_error: Option<String>,
}

impl ProgressView {
    /// The view of `progress` on the book `asin`.
    pub fn of(asin: &str, progress: &Progress) -> Self {
        Self {
            book_asin: asin.to_owned(),
            position_ms: progress.position_ms,
            last_chapter_id: progress.last_chapter_id.clone(),
            playback_speed: progress.playback_speed,
            is_finished: progress.is_finished,
            last_played_at: rfc3339(progress.last_played_at),
            completed_at: progress.completed_at.map(rfc3339),
            sync_error: progress.sync_error.clone(),
        }
    }
}

impl From<ListeningError> for ApiError {
    fn from(e: ListeningError) -> Self {
        match e {
            ListeningError::Invalid(invalid) => ApiError::Validation(invalid.to_string()),
            ListeningError::Library(library) => ApiError::Library(library),
        }
    }
}

/// Where the person stopped in the book; `null` before they played it.
#[utoipa::path(tag = "library", params(("asin" = String, Path, description = "The book's ASIN")), responses((status = 200, body = Option<ProgressView>), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/library/{asin}/progress")]
pub async fn book_progress(
    state: web::Data<AppState>,
    raw: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let asin = super::asin(&raw)?;
    let book = state.library.get_book(&asin).await?;
    let view = book
        .progress
        .as_ref()
        .map(|p| ProgressView::of(asin.as_str(), p));
    Ok(HttpResponse::Ok().json(view))
}

/// The documented shape of a player's report (the core's `ProgressReport` is what is read).
#[derive(utoipa::ToSchema)]
#[schema(as = ProgressReport)]
#[expect(
    dead_code,
    reason = "a schema only: the core's ProgressReport is what is read"
)]
pub struct ProgressReportShape {
    /// Where it is, in milliseconds from the start (at most the book's length).
    position_ms: u64,
    /// The speed it plays at; unchanged (1.0 at first) when left out.
    #[schema(minimum = 0.25, maximum = 4.0)]
    playback_speed: Option<f64>,
    /// Finished (or not any more); unchanged when left out.
    is_finished: Option<bool>,
    /// The chapter it is in; unchanged when left out.
    chapter_id: Option<String>,
}

/// A player's report of where it is: `{position_ms, playback_speed?, is_finished?,
/// chapter_id?}`; what it leaves out stays. A position past the end of the book is refused.
#[utoipa::path(tag = "library", params(("asin" = String, Path, description = "The book's ASIN")), request_body = ProgressReportShape, responses((status = 200, body = ProgressView), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[patch("/library/{asin}/progress")]
pub async fn report_progress(
    state: web::Data<AppState>,
    raw: web::Path<String>,
    body: web::Json<ProgressReport>,
) -> Result<HttpResponse, ApiError> {
    let asin = super::asin(&raw)?;
    let saved = record_progress(
        state.library.as_ref(),
        &asin,
        body.into_inner(),
        OffsetDateTime::now_utc(),
    )
    .await?;
    if let Some(pushes) = &state.position_pushes {
        pushes.changed(asin.clone());
    }
    Ok(HttpResponse::Ok().json(ProgressView::of(asin.as_str(), &saved)))
}

/// Brings listening positions in step with Audible's apps now, as a SYNC job that reads no
/// library: 202 with the job at once (a sync already queued or running is returned instead).
#[utoipa::path(tag = "library", responses((status = 202, body = crate::routes::jobs::Accepted), (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/library/positions/sync")]
pub async fn sync_positions(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.position_pushes.is_none() {
        return Err(ApiError::TurnedOff(
            "listening positions are not kept in step with Audible on this server: set \
             EARMARK__AUDIBLE__SYNC_POSITIONS=true and restart"
                .into(),
        ));
    }
    let enqueued = state
        .engine
        .submit(NewJob::from(JobSpec::Sync(SyncParams {
            profile: None,
            positions_only: true,
        })))
        .await
        .map_err(crate::routes::jobs::engine_error)?;
    Ok(
        HttpResponse::Accepted().json(crate::routes::jobs::Accepted {
            job_id: Some(enqueued.job.id.to_string()),
            job_ids: None,
            status: enqueued.job.status.as_str().into(),
            message: if enqueued.created {
                "position sync queued".into()
            } else {
                "a sync is already queued or running: returning that job".into()
            },
        }),
    )
}

/// How many books `continue-listening` lists.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListeningParams {
    /// At most this many (default 5, 1 to 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Books started and not finished, most recently played first.
#[utoipa::path(tag = "library", params(ListeningParams), responses((status = 200, body = Vec<ProgressView>), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/library/continue-listening")]
pub async fn continue_listening(
    state: web::Data<AppState>,
    params: web::Query<ListeningParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = params.limit.unwrap_or(5);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::Validation(format!("limit {limit}: use 1 to 100")));
    }
    let books = state.library.listening(limit).await?;
    let views: Vec<ProgressView> = books
        .iter()
        .filter_map(|b| {
            Some(ProgressView::of(
                b.record.asin.as_str(),
                b.progress.as_ref()?,
            ))
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}
