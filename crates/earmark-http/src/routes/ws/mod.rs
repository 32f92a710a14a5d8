//! `/ws/jobs` (also `/jobs/ws`), and `/ws/jobs/{id}` (also `/jobs/ws/{id}`): live job events.
//!
//! A connection first receives a snapshot (`batch` of the active jobs' `status` messages; for
//! one job, its status and its recent log lines), then `status`, `progress` and `log` events as
//! they happen. Log lines and progress are gathered for about 100 ms and sent as one `batch`,
//! so a chatty job costs a few frames a second. Each connection reads the engine's event
//! channel on its own: a client that stops reading falls behind alone, and is told how many
//! events it lost (`{"type":"lost","count":n}`) instead of slowing the jobs or anyone else.

use std::collections::{HashMap, VecDeque};

use actix_web::{HttpRequest, HttpResponse, get, web};
use actix_ws::{AggregatedMessage, Session};
use earmark_core::{Job, JobFilter, JobId, JobStatus};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

mod hub;

pub use hub::WsHub;
use hub::{FLUSH_EVERY, Frame, FrameKind, Gathered, Message, batch_of};
use std::sync::Arc;

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
    open(req, body, state, None).await
}

/// The same, at the web client's other path.
pub async fn all_jobs_alias(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    open(req, body, state, None).await
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
    one_job_inner(req, body, state, &id).await
}

/// The same, at the web client's other path.
pub async fn one_job_alias(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    one_job_inner(req, body, state, &id).await
}

async fn one_job_inner(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    id: &str,
) -> Result<HttpResponse, ApiError> {
    let id = uuid::Uuid::parse_str(id)
        .map(JobId)
        .map_err(|_| ApiError::Validation(format!("`{id}` is not a job id")))?;
    open(req, body, state, Some(id)).await
}

async fn open(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    only: Option<JobId>,
) -> Result<HttpResponse, ApiError> {
    // Subscribe before the snapshot is read, so nothing falls between them.
    let feed = match only {
        Some(_) => Feed::Frames(state.ws_hub.subscribe()),
        None => Feed::Messages(state.ws_hub.subscribe_messages()),
    };
    let snapshot = match only {
        Some(id) => {
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
            snapshot
        }
        None => {
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

/// What a client gets first, and the state of each job it shows: an event the hub hands out
/// after the client subscribed may be older than that state, and is not sent again.
struct Snapshot {
    messages: Vec<Value>,
    known: HashMap<JobId, OffsetDateTime>,
}

impl Snapshot {
    /// The status messages of `jobs`, oldest first.
    fn of(jobs: &[Job]) -> Self {
        Self {
            messages: jobs.iter().map(status_message).collect(),
            known: jobs.iter().map(|j| (j.id, j.updated_at)).collect(),
        }
    }
}

/// What a client is fed from: single frames it batches itself (one job's client, which
/// filters), or the hub's ready messages (a client of all jobs).
enum Feed {
    Frames(tokio::sync::broadcast::Receiver<Arc<Frame>>),
    Messages(tokio::sync::broadcast::Receiver<Message>),
}

/// Answers a client's text `ping` and pings; `false` when the client is gone.
async fn answer(
    session: &mut Session,
    message: Option<Result<AggregatedMessage, actix_ws::ProtocolError>>,
) -> bool {
    match message {
        Some(Ok(AggregatedMessage::Text(text))) if text.trim().eq_ignore_ascii_case("ping") => {
            session.text("pong").await.is_ok()
        }
        Some(Ok(AggregatedMessage::Ping(bytes))) => session.pong(&bytes).await.is_ok(),
        Some(Ok(AggregatedMessage::Close(_))) | None | Some(Err(_)) => false,
        Some(Ok(_)) => true,
    }
}

/// Moves the hub's ready messages to a client of all jobs until either side goes away.
///
/// Each client sends on a 100 ms tick of its own, at a phase of its own, everything that is
/// ready by then. A hundred clients woken by the same batch at the same instant would queue
/// a hundred sends on the workers in one burst, and every HTTP request arriving meanwhile
/// (a `GET /jobs`, a range of a stream) would wait behind them; spread over the 100 ms, a
/// request waits behind one or two. The price is up to one more tick of delay.
async fn pump_messages(
    mut session: Session,
    mut incoming: actix_ws::AggregatedMessageStream,
    mut messages: tokio::sync::broadcast::Receiver<Message>,
    snapshot: Snapshot,
) {
    if send_snapshot(&mut session, &snapshot.messages)
        .await
        .is_err()
    {
        return;
    }
    let phase = FLUSH_EVERY.mul_f64(f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 256.0);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + phase, FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                loop {
                    let sent = match messages.try_recv() {
                        Ok(message) if message.is_stale_for(&snapshot.known) => continue,
                        Ok(message) => session.text(message.text).await,
                        Err(TryRecvError::Lagged(count)) => {
                            session.text(json!({"type": "lost", "count": count}).to_string()).await
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Closed) => {
                            let _ = session.close(None).await;
                            return;
                        }
                    };
                    if sent.is_err() {
                        return;
                    }
                }
            }
            message = incoming.recv() => {
                if !answer(&mut session, message).await {
                    break;
                }
            }
        }
    }
    let _ = session.close(None).await;
}

/// Moves frames to one client until either side goes away.
async fn pump(
    mut session: Session,
    mut incoming: actix_ws::AggregatedMessageStream,
    mut frames: tokio::sync::broadcast::Receiver<Arc<Frame>>,
    snapshot: Snapshot,
    only: Option<JobId>,
) {
    if send_snapshot(&mut session, &snapshot.messages)
        .await
        .is_err()
    {
        return;
    }
    let mut gathered = Gathered::default();
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Ok(frame) if only.is_some_and(|id| id != frame.job_id) => {}
                Ok(frame) if frame.is_stale_for(&snapshot.known) => {}
                Ok(frame) if frame.kind == FrameKind::Status => {
                    // Keep order: what a job said before it changed status goes first.
                    if flush_gathered(&mut session, &mut gathered).await.is_err()
                        || session.text(frame.json.to_string()).await.is_err()
                    {
                        return;
                    }
                }
                Ok(frame) => gathered.push(frame),
                Err(RecvError::Lagged(count)) => {
                    if flush_gathered(&mut session, &mut gathered).await.is_err()
                        || session.text(json!({"type": "lost", "count": count}).to_string()).await.is_err()
                    {
                        return;
                    }
                }
                Err(RecvError::Closed) => break,
            },
            _ = flush.tick() => {
                if flush_gathered(&mut session, &mut gathered).await.is_err() {
                    return;
                }
            }
            message = incoming.recv() => {
                if !answer(&mut session, message).await {
                    break;
                }
            }
        }
    }
    let _ = session.close(None).await;
}

/// The snapshot a client gets first, as one batch.
async fn send_snapshot(session: &mut Session, snapshot: &[Value]) -> Result<(), actix_ws::Closed> {
    let snapshot: Vec<String> = snapshot.iter().map(Value::to_string).collect();
    session
        .text(batch_of(snapshot.iter().map(String::as_str)))
        .await
}

async fn flush_gathered(
    session: &mut Session,
    gathered: &mut Gathered,
) -> Result<(), actix_ws::Closed> {
    match gathered.take_batch() {
        Some(batch) => session.text(batch).await,
        None => Ok(()),
    }
}
