//! `POST /library/sync` and `GET /library/sync/status`: refreshing the library from Audible.

use actix_web::{HttpResponse, get, post, web};
use earmark_core::{BookQuery, JobFilter, JobSpec, JobStatus, SyncParams, TaskType};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::SyncRequest;
use crate::error::ApiError;
use crate::routes::jobs::{Accepted, accept_one};
use crate::routes::wire::{check_profile, rfc3339};
use crate::state::AppState;

/// Refreshes the library from Audible through audible-cli, as a SYNC job: 202 with the job
/// at once. While a sync is queued or running, another request returns that job.
#[utoipa::path(tag = "library", request_body(content = Option<SyncRequest>), responses((status = 202, body = Accepted), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/library/sync")]
pub async fn sync(
    state: web::Data<AppState>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // A sync request is a profile name at most: a few bytes.
    const LIMIT: usize = 4096;
    let body = body
        .to_bytes_limited(LIMIT)
        .await
        .map_err(|_| ApiError::BodyTooLarge { limit: LIMIT })?
        .map_err(|e| ApiError::Malformed(format!("the body could not be read: {e}")))?;
    // The body is optional (absent, or `null`); but one that is there must be right, not
    // silently ignored.
    let request: SyncRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SyncRequest::default()
    } else {
        serde_json::from_slice::<Option<SyncRequest>>(&body)
            .map_err(|e| ApiError::Validation(format!("the body is not a sync request: {e}")))?
            .unwrap_or_default()
    };
    if let Some(profile) = &request.profile {
        check_profile(profile)?;
    }
    let spec = JobSpec::Sync(SyncParams {
        profile: request.profile,
        positions_only: false,
    });
    accept_one(
        &state,
        spec,
        "library sync queued".into(),
        "a library sync is already queued or running: returning that job",
    )
    .await
}

/// When the library was last refreshed, as the web client shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SyncStatus {
    /// When the last completed sync finished (RFC 3339), if one ever did.
    pub last_sync_completed_at: Option<String>,
    /// That sync's job.
    pub last_sync_job_id: Option<String>,
    /// Books in the library now (removed ones not counted).
    pub total_books: u64,
    /// When the next automatic sync is due (RFC 3339); `null` when automatic syncs are off.
    /// A time in the past means it is about to be asked for.
    pub next_auto_sync_at: Option<String>,
}

/// The last completed library sync, the size of the library, and when the next automatic sync
/// is due.
#[utoipa::path(tag = "library", responses((status = 200, body = SyncStatus)))]
#[get("/library/sync/status")]
pub async fn sync_status(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let last = state
        .engine
        .queue()
        .list(JobFilter {
            statuses: vec![JobStatus::Completed],
            task_type: Some(TaskType::Sync),
            limit: 1,
            ..JobFilter::default()
        })
        .await?
        .items
        .into_iter()
        .next();
    let books = state
        .library
        .list_books(BookQuery {
            limit: 1,
            ..BookQuery::default()
        })
        .await?;
    let next_auto_sync = match &state.schedule {
        Some(schedule) if state.settings.load().await?.auto_sync_interval_s > 0 => {
            schedule.next_sync_at().await?
        }
        _ => None,
    };
    Ok(HttpResponse::Ok().json(SyncStatus {
        last_sync_completed_at: last.as_ref().and_then(|j| j.finished_at).map(rfc3339),
        last_sync_job_id: last.map(|j| j.id.to_string()),
        total_books: books.total,
        next_auto_sync_at: next_auto_sync.map(rfc3339),
    }))
}
