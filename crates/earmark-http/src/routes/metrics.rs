//! `GET /metrics`: Prometheus text format.

use actix_web::{HttpResponse, get, web};

use crate::error::ApiError;
use crate::state::AppState;

/// Jobs by lane and status, lane occupancy and capacity, queue depth, HTTP request counts
/// and latencies (by route pattern). Carries no secrets, ids or paths.
#[utoipa::path(tag = "health", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let counts = state.engine.queue().counts().await?;
    let running = state.engine.running_by_kind();
    let engine = state.engine.clone();
    let text = state
        .metrics
        .render(
            &counts,
            &|lane| running.get(&lane).copied().unwrap_or(0),
            &|lane| engine.capacity(lane),
        )
        .map_err(|_| ApiError::Internal("cannot encode metrics".into()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
