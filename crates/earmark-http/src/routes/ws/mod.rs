//! `/ws/jobs` and `/ws/jobs/{id}`: live job events; `/jobs/ws` and `/jobs/ws/{id}`: the same
//! in the shape the web client reads.
//!
//! A connection first receives a snapshot (`batch` of the active jobs' `status` messages; for
//! one job, its status and its recent log lines), then `status`, `progress` and `log` events as
//! they happen. Log lines and progress are gathered for about 100 ms and sent as one `batch`,
//! so a chatty job costs a few frames a second. Each connection reads the engine's event
//! channel on its own: a client that stops reading falls behind alone, and is told how many
//! events it lost (`{"type":"lost","count":n}`) instead of slowing the jobs or anyone else.
//!
//! The web client reads any `batch` on `/jobs/ws` as the complete list of active jobs, so that
//! path sends one batch (the snapshot) and then only `status` messages, a job's progress
//! included (once per 100 ms at most); it has no log lines. On `/jobs/ws/{id}` it first gets
//! `{"type":"connected","job_id":...}`, on which it starts its log view afresh.

use std::collections::VecDeque;

use actix_web::{HttpRequest, HttpResponse, get, web};
use earmark_core::{Job, JobFilter, JobId, JobStatus};
use serde_json::{Value, json};

mod hub;
mod pump;

pub use hub::WsHub;
use pump::{Feed, Snapshot, pump, pump_messages};

use crate::error::ApiError;
use crate::routes::jobs::{JobView, StatusMessage, engine_error};
use crate::state::AppState;

/// Log lines replayed to a client that connects to one job.
const REPLAY_LINES: usize = 200;

/// The `status` message for `job`: its REST view ([`JobView`]) under the WebSocket's names.
pub fn status_message(job: &Job) -> Value {
    let message = StatusMessage::from(JobView::from(job.clone()));
    // A struct of strings and numbers always serialises.
    serde_json::to_value(message).unwrap_or(Value::Null)
}

/// Live events of every job.
#[utoipa::path(tag = "jobs", responses((status = 101, description = "WebSocket of job events")))]
#[get("/ws/jobs")]
pub async fn all_jobs(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    open(req, body, state, Audience::AllJobs).await
}

/// Live events of every job in the web client's shape: the snapshot, then statuses only.
pub async fn all_jobs_alias(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    open(req, body, state, Audience::WebClient).await
}

/// Live events of one job, after its recent log lines.
#[utoipa::path(tag = "jobs", responses((status = 101, description = "WebSocket of one job's events")))]
#[get("/ws/jobs/{id}")]
pub async fn one_job(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    open(req, body, state, Audience::OneJob(job_id(&id)?, false)).await
}

/// The same, at the web client's path, greeted with `connected` first.
pub async fn one_job_alias(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    open(req, body, state, Audience::OneJob(job_id(&id)?, true)).await
}

fn job_id(raw: &str) -> Result<JobId, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(JobId)
        .map_err(|_| ApiError::Validation(format!("`{raw}` is not a job id")))
}

/// Who is listening, and so what it is sent.
#[derive(Debug, Clone, Copy)]
enum Audience {
    /// Every job, in earmark's shape.
    AllJobs,
    /// Every job, in the web client's shape.
    WebClient,
    /// One job; `true` for the web client (greeted with `connected`).
    OneJob(JobId, bool),
}

async fn open(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    audience: Audience,
) -> Result<HttpResponse, ApiError> {
    // Subscribe before the snapshot is read, so nothing falls between them.
    let (feed, only) = match audience {
        Audience::OneJob(id, _) => (Feed::Frames(state.ws_hub.subscribe()), Some(id)),
        Audience::AllJobs => (Feed::Messages(state.ws_hub.subscribe_messages()), None),
        Audience::WebClient => (Feed::Messages(state.ws_hub.subscribe_client()), None),
    };
    let snapshot = match audience {
        Audience::OneJob(id, web_client) => {
            let job = state
                .engine
                .queue()
                .get(id)
                .await
                .map_err(|e| engine_error(e.into()))?;
            let lines = recent_log(&job).await;
            let mut snapshot = Snapshot::of(std::slice::from_ref(&job));
            snapshot.messages.extend(
                lines
                    .into_iter()
                    .map(|line| json!({"type": "log", "job_id": id.to_string(), "line": line})),
            );
            if web_client {
                snapshot.greeting = Some(json!({"type": "connected", "job_id": id.to_string()}));
            }
            snapshot
        }
        Audience::AllJobs | Audience::WebClient => {
            let filter = JobFilter {
                statuses: JobStatus::ACTIVE.to_vec(),
                limit: 1000,
                ..JobFilter::default()
            };
            let mut jobs = state.engine.queue().list(filter).await?.items;
            jobs.reverse();
            Snapshot::of(&jobs)
        }
    };
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::Malformed(format!("not a WebSocket handshake: {e}")))?;
    let incoming = stream
        .aggregate_continuations()
        .max_continuation_size(64 * 1024);
    match feed {
        Feed::Frames(frames) => {
            actix_web::rt::spawn(pump(session, incoming, frames, snapshot, only));
        }
        Feed::Messages(messages) => {
            actix_web::rt::spawn(pump_messages(session, incoming, messages, snapshot));
        }
    }
    Ok(response)
}

/// The last lines of `job`'s log; none before it has one.
async fn recent_log(job: &Job) -> Vec<String> {
    let Some(path) = &job.log_file_path else {
        return Vec::new();
    };
    let Ok(text) = tokio::fs::read_to_string(path).await else {
        return Vec::new();
    };
    let mut lines: VecDeque<String> = VecDeque::with_capacity(REPLAY_LINES);
    for line in text.lines() {
        if lines.len() == REPLAY_LINES {
            lines.pop_front();
        }
        lines.push_back(line.to_owned());
    }
    lines.into()
}
