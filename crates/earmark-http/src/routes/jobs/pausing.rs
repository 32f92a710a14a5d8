//! `POST /jobs/{id}/pause` and `/resume`: holding a job without losing it.

use actix_web::{HttpResponse, post, web};

use super::{JobAnswer, JobView, engine_error, job_id};
use crate::error::ApiError;
use crate::state::AppState;

/// Pauses a job: a waiting one is not started until resumed; a running one has its whole
/// process tree stopped where it is (its watchdog and timeouts stand still). The pause
/// outlasts a restart. 409 for a job that has ended.
#[utoipa::path(tag = "jobs", params(("id" = String, Path, description = "The job's id")), responses((status = 200, body = JobAnswer), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "Already finished", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/jobs/{id}/pause")]
pub async fn pause(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = state
        .engine
        .pause(job_id(&id)?)
        .await
        .map_err(engine_error)?;
    let message = if job.status == earmark_core::JobStatus::Running {
        "paused: its processes stand still until it is resumed"
    } else {
        "paused: it does not start until it is resumed"
    };
    Ok(HttpResponse::Ok().json(JobAnswer {
        job: JobView::from(job),
        message: message.into(),
    }))
}

/// Resumes a paused job: a running one goes on where it stood; a waiting one (or one whose
/// process a restart ended) takes its place in the queue again. 409 for a job that has ended.
#[utoipa::path(tag = "jobs", params(("id" = String, Path, description = "The job's id")), responses((status = 200, body = JobAnswer), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "Already finished", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/jobs/{id}/resume")]
pub async fn resume(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = state
        .engine
        .resume(job_id(&id)?)
        .await
        .map_err(engine_error)?;
    Ok(HttpResponse::Ok().json(JobAnswer {
        job: JobView::from(job),
        message: "resumed".into(),
    }))
}
