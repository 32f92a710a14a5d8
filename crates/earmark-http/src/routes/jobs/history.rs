//! `DELETE /jobs/history`: clearing finished jobs, and their logs when asked.

use actix_web::{HttpResponse, delete, web};
use earmark_core::JobStatus;
use earmark_core::ports::FinishedJobs;
use serde::Deserialize;
use utoipa::IntoParams;

use super::engine_error;
use crate::error::ApiError;
use crate::routes::jobs::Deleted;
use crate::routes::wire::upper_list;
use crate::state::AppState;

/// Which finished jobs to delete.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// Comma-separated finished statuses (`COMPLETED,FAILED,CANCELLED`, the default).
    #[param(inline, value_type = Option<crate::routes::wire::FinishedStatusList>)]
    pub status: Option<String>,
    /// Only jobs that finished before this instant (RFC 3339).
    #[param(format = DateTime)]
    pub older_than: Option<String>,
    /// Also delete their log files (default `false`).
    #[serde(default)]
    pub delete_logs: bool,
}

impl HistoryQuery {
    fn which(&self) -> Result<FinishedJobs, ApiError> {
        let statuses = upper_list::<JobStatus>("status", self.status.as_deref())?;
        if let Some(active) = statuses.iter().find(|s| !s.is_terminal()) {
            return Err(ApiError::Validation(format!(
                "status {active}: only finished jobs (COMPLETED, FAILED, CANCELLED) are history"
            )));
        }
        let before = self
            .older_than
            .as_deref()
            .map(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339))
            .transpose()
            .map_err(|e| {
                ApiError::Validation(format!(
                    "older_than: {e}; use RFC 3339, e.g. 2026-01-31T00:00:00Z"
                ))
            })?;
        Ok(FinishedJobs { statuses, before })
    }
}

/// Deletes finished jobs (completed, failed, cancelled by default), and with `delete_logs`
/// their logs; active jobs stay.
#[utoipa::path(tag = "jobs", params(HistoryQuery), responses((status = 200, body = Deleted), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[delete("/jobs/history")]
pub async fn clear_history(
    state: web::Data<AppState>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let which = query.which()?;
    let deleted = state
        .engine
        .clear_history(which, query.delete_logs)
        .await
        .map_err(engine_error)?;
    let logs = if query.delete_logs {
        " and their logs"
    } else {
        ""
    };
    Ok(HttpResponse::Ok().json(Deleted {
        deleted: deleted as u64,
        message: format!("deleted {deleted} finished job(s){logs}"),
    }))
}
