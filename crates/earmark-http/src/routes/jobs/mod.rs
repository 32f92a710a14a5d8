//! `/jobs`: ask for downloads and conversions, watch them, cancel and retry them.

use actix_files::NamedFile;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use earmark_core::download::expand_podcasts;
use earmark_core::ports::JobQueueError;
use earmark_core::{Asin, JobFilter, JobId, JobSpec, JobStatus, NewJob, TaskType};
use earmark_jobs::EngineError;

mod history;
mod pausing;
mod shapes;

pub use history::clear_history;
pub use pausing::{pause, resume};

pub use shapes::*;

use crate::error::ApiError;
use crate::routes::wire::upper_list;
use crate::state::AppState;

/// The most books one download or conversion request may name.
pub const MAX_BATCH: usize = 1000;

/// The books a request names: `asin`, then `asins` (each once); whether it is a batch.
fn asins(one: Option<String>, many: Option<Vec<String>>) -> Result<(Vec<Asin>, bool), ApiError> {
    let batch = many.is_some();
    let mut raw: Vec<String> = one.into_iter().chain(many.into_iter().flatten()).collect();
    if raw.len() > MAX_BATCH {
        return Err(ApiError::BatchTooLarge {
            max: MAX_BATCH,
            got: raw.len(),
        });
    }
    if raw.is_empty() {
        return Err(ApiError::Validation(if batch {
            "`asins` is empty: name at least one book".into()
        } else {
            "`asin` (or `asins`) is required".into()
        }));
    }
    let mut seen = std::collections::HashSet::new();
    raw.retain(|a| seen.insert(a.clone()));
    let parsed = raw
        .iter()
        .map(|a| Asin::parse(a).map_err(|e| ApiError::Validation(format!("`{a}`: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((parsed, batch))
}

/// Submits one job per book, `spec` making each one's spec.
async fn submit_all(
    state: &AppState,
    task_type: TaskType,
    books: Vec<Asin>,
    batch: bool,
    spec: impl Fn(Asin) -> JobSpec,
) -> Result<HttpResponse, ApiError> {
    if batch {
        refuse_unknown(state, &books).await?;
    }
    let mut ids = Vec::with_capacity(books.len());
    let mut first: Option<(JobStatus, bool)> = None;
    for asin in books {
        let job = NewJob::from(spec(asin));
        let enqueued = state.engine.submit(job).await.map_err(engine_error)?;
        first.get_or_insert((enqueued.job.status, enqueued.created));
        ids.push(enqueued.job.id.to_string());
    }
    let (status, created) = first.unwrap_or((JobStatus::Queued, true));
    let message = match (batch, created) {
        (true, _) => format!(
            "{} {} job(s) accepted",
            ids.len(),
            task_type.as_str().to_lowercase()
        ),
        (false, true) => "queued".to_owned(),
        (false, false) => "already queued or running for this book: returning that job".to_owned(),
    };
    let body = if batch {
        Accepted {
            job_id: None,
            job_ids: Some(ids),
            status: status.as_str().into(),
            message,
        }
    } else {
        Accepted {
            job_id: ids.pop(),
            job_ids: None,
            status: status.as_str().into(),
            message,
        }
    };
    Ok(HttpResponse::Accepted().json(body))
}

/// A batch is taken whole or not at all: one book not in the library refuses it, before any
/// job exists (each would only fail).
async fn refuse_unknown(state: &AppState, books: &[Asin]) -> Result<(), ApiError> {
    let known: std::collections::HashSet<Asin> = state
        .library
        .known_asins(books)
        .await?
        .into_iter()
        .collect();
    let unknown: Vec<&str> = books
        .iter()
        .filter(|a| !known.contains(*a))
        .map(Asin::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let shown = unknown
        .iter()
        .take(10)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    let more = if unknown.len() > 10 {
        format!(" and {} more", unknown.len() - 10)
    } else {
        String::new()
    };
    Err(ApiError::Validation(format!(
        "asins: not in the library: {shown}{more}; sync the library (POST /library/sync) or \
         leave them out (nothing was queued)"
    )))
}

/// Submits `spec`, work of its own lane with no book (a sync, a repair, an import), and
/// answers 202 with its job: `queued` when it was queued now, `joined` when the same work
/// was already queued or running and that job is returned.
pub(crate) async fn accept_one(
    state: &AppState,
    spec: JobSpec,
    queued: String,
    joined: &str,
) -> Result<HttpResponse, ApiError> {
    let enqueued = state
        .engine
        .submit(NewJob::from(spec))
        .await
        .map_err(engine_error)?;
    Ok(HttpResponse::Accepted().json(Accepted {
        job_id: Some(enqueued.job.id.to_string()),
        job_ids: None,
        status: enqueued.job.status.as_str().into(),
        message: if enqueued.created {
            queued
        } else {
            joined.to_owned()
        },
    }))
}

pub(crate) fn engine_error(e: EngineError) -> ApiError {
    match e {
        EngineError::Queue(q) => ApiError::Jobs(q),
        EngineError::NotRetryable { id, status } => {
            ApiError::Jobs(JobQueueError::InvalidTransition {
                id,
                from: status,
                to: JobStatus::Queued,
            })
        }
    }
}

/// Queues downloads; answers at once with the job(s). A request for a book whose download is
/// already queued or running returns that job. A podcast stands for its episodes not yet
/// downloaded, one job each (`job_ids`); a multi-part book is one job for all its parts.
#[utoipa::path(tag = "jobs", request_body = DownloadBody, responses((status = 202, body = Accepted), (status = 413, description = "More than 1000 books", body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/jobs/download")]
pub async fn download(
    state: web::Data<AppState>,
    body: web::Json<DownloadRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let params = body.params(&state.settings.load().await?)?;
    let (books, batch) = asins(body.asin, body.asins)?;
    let expanded = expand_podcasts(state.library.as_ref(), books).await?;
    if expanded.podcasts > 0 && expanded.asins.is_empty() {
        return Ok(HttpResponse::Accepted().json(Accepted {
            job_id: None,
            job_ids: Some(Vec::new()),
            status: JobStatus::Completed.as_str().into(),
            message: "every episode is downloaded already: nothing was queued".into(),
        }));
    }
    submit_all(
        &state,
        TaskType::Download,
        expanded.asins,
        batch || expanded.podcasts > 0,
        |asin| JobSpec::Download(asin, params.clone()),
    )
    .await
}

/// Queues conversions; answers at once with the job(s).
#[utoipa::path(tag = "jobs", request_body = ConvertBody, responses((status = 202, body = Accepted), (status = 413, description = "More than 1000 books", body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/jobs/convert")]
pub async fn convert(
    state: web::Data<AppState>,
    body: web::Json<ConvertRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let params = body
        .options
        .try_into_domain(&state.settings.load().await?)?;
    let (books, batch) = asins(body.asin, body.asins)?;
    submit_all(&state, TaskType::Convert, books, batch, |asin| {
        JobSpec::Convert(asin, params.clone())
    })
    .await
}

/// Active and recent jobs, newest first.
#[utoipa::path(tag = "jobs", operation_id = "list_jobs", params(JobQuery), responses((status = 200, body = JobList), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/jobs")]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<JobQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let statuses = upper_list::<JobStatus>("status", query.status.as_deref())?;
    let task_type = query
        .task_type
        .map(|t| t.to_ascii_uppercase().parse::<TaskType>())
        .transpose()
        .map_err(|e| ApiError::Validation(format!("task_type: {e}")))?;
    let asin = query
        .book_asin
        .map(|a| Asin::parse(&a))
        .transpose()
        .map_err(|e| ApiError::Validation(format!("book_asin: {e}")))?;
    // The client lists the active jobs with no limit and expects them all.
    let all_active = !statuses.is_empty() && statuses.iter().all(|s| !s.is_terminal());
    let limit = query.limit.unwrap_or(if all_active { 500 } else { 50 });
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Validation(format!("limit {limit}: use 1 to 500")));
    }
    let filter = JobFilter {
        statuses,
        task_type,
        asin,
        limit,
        offset: query.offset.unwrap_or(0),
    };
    let page = state.engine.queue().list(filter).await?;
    Ok(HttpResponse::Ok().json(JobList {
        items: page.items.into_iter().map(JobView::from).collect(),
        total: page.total,
    }))
}

fn job_id(raw: &str) -> Result<JobId, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(JobId)
        .map_err(|_| ApiError::Validation(format!("`{raw}` is not a job id")))
}

/// One job.
#[utoipa::path(tag = "jobs", responses((status = 200, body = JobView), (status = 404, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/jobs/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = state.engine.queue().get(job_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(JobView::from(job)))
}

/// The job's whole log as text; `Range` works, so a client can follow it.
#[utoipa::path(tag = "jobs", responses((status = 200, description = "The log", content_type = "text/plain"), (status = 404, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/jobs/{id}/log")]
pub async fn log(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = job_id(&id)?;
    let job = state.engine.queue().get(id).await?;
    let path = job
        .log_file_path
        .ok_or_else(|| ApiError::NoLogYet(id.to_string()))?;
    let file = web::block(move || NamedFile::open(path))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|_| ApiError::NoLogYet(id.to_string()))?;
    let mut response = file
        .set_content_type(actix_web::mime::TEXT_PLAIN_UTF_8)
        .disable_content_disposition()
        .into_response(&req);
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// Cancels a job: a waiting one at once, a running one by stopping its whole process tree.
#[utoipa::path(tag = "jobs", responses((status = 200, body = JobAnswer), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "Already finished", body = crate::error::Problem, content_type = "application/problem+json")))]
#[delete("/jobs/{id}")]
pub async fn cancel(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let job = state
        .engine
        .cancel(job_id(&id)?)
        .await
        .map_err(engine_error)?;
    let message = match job.status {
        JobStatus::Cancelled => "cancelled".to_owned(),
        other => format!("asked to stop; it is still {other}, and stops shortly"),
    };
    Ok(HttpResponse::Ok().json(JobAnswer {
        job: JobView::from(job),
        message,
    }))
}

/// A new attempt at a failed or cancelled job (`original_job_id` links them).
#[utoipa::path(tag = "jobs", responses((status = 202, body = Accepted), (status = 409, description = "Not failed or cancelled", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/jobs/{id}/retry")]
pub async fn retry(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let enqueued = state
        .engine
        .retry(job_id(&id)?)
        .await
        .map_err(engine_error)?;
    let message = if enqueued.created {
        "queued a new attempt"
    } else {
        "this work is already queued or running"
    };
    Ok(HttpResponse::Accepted().json(Accepted {
        job_id: Some(enqueued.job.id.to_string()),
        job_ids: None,
        status: enqueued.job.status.as_str().into(),
        message: message.into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(books: &[Asin]) -> Vec<&str> {
        books.iter().map(Asin::as_str).collect()
    }

    #[test]
    fn asin_and_asins_together_name_all_their_books_once() {
        let (books, batch) = asins(
            Some("B000000001".into()),
            Some(vec!["B000000002".into(), "B000000001".into()]),
        )
        .unwrap();
        assert_eq!(names(&books), ["B000000001", "B000000002"]);
        assert!(batch);
        let (books, batch) = asins(Some("B000000001".into()), None).unwrap();
        assert_eq!(names(&books), ["B000000001"]);
        assert!(!batch);
    }

    #[test]
    fn no_book_or_too_many_are_refused() {
        assert!(matches!(asins(None, None), Err(ApiError::Validation(_))));
        assert!(matches!(
            asins(None, Some(Vec::new())),
            Err(ApiError::Validation(m)) if m.contains("empty")
        ));
        let many = (0..=MAX_BATCH).map(|n| format!("B{n:09}")).collect();
        assert!(matches!(
            asins(Some("B000000001".into()), Some(many)),
            Err(ApiError::BatchTooLarge { got, .. }) if got == MAX_BATCH + 2
        ));
    }
}
