//! Moving events to one WebSocket client: its snapshot first, then what the hub hands out.

use std::collections::HashMap;
use std::sync::Arc;

use actix_ws::{AggregatedMessage, Session};
use earmark_core::{Job, JobId};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::hub::{FLUSH_EVERY, Frame, FrameKind, Gathered, Message, batch_of};
use super::status_message;

/// What a client gets first, and the state of each job it shows: an event the hub hands out
/// after the client subscribed may be older than that state, and is not sent again.
pub(super) struct Snapshot {
    /// Sent first, as one batch.
    pub(super) messages: Vec<Value>,
    /// Each job's `updated_at` in the snapshot.
    pub(super) known: HashMap<JobId, OffsetDateTime>,
    /// Sent before the batch, where the client expects it (`connected` on the web client's
    /// one-job feed, so that it starts its log afresh on a reconnect).
    pub(super) greeting: Option<Value>,
}

impl Snapshot {
    /// The status messages of `jobs`, oldest first.
    pub(super) fn of(jobs: &[Job]) -> Self {
        Self {
            messages: jobs.iter().map(status_message).collect(),
            known: jobs.iter().map(|j| (j.id, j.updated_at)).collect(),
            greeting: None,
        }
    }
}

/// What a client is fed from: single frames it batches itself (one job's client, which
/// filters), or the hub's ready messages (a client of all jobs).
pub(super) enum Feed {
    /// One job's frames.
    Frames(tokio::sync::broadcast::Receiver<Arc<Frame>>),
    /// Ready messages.
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
pub(super) async fn pump_messages(
    mut session: Session,
    mut incoming: actix_ws::AggregatedMessageStream,
    mut messages: tokio::sync::broadcast::Receiver<Message>,
    snapshot: Snapshot,
) {
    if send_snapshot(&mut session, &snapshot).await.is_err() {
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
pub(super) async fn pump(
    mut session: Session,
    mut incoming: actix_ws::AggregatedMessageStream,
    mut frames: tokio::sync::broadcast::Receiver<Arc<Frame>>,
    snapshot: Snapshot,
    only: Option<JobId>,
) {
    if send_snapshot(&mut session, &snapshot).await.is_err() {
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

/// The snapshot a client gets first: its greeting, if any, then one batch.
async fn send_snapshot(session: &mut Session, snapshot: &Snapshot) -> Result<(), actix_ws::Closed> {
    if let Some(greeting) = &snapshot.greeting {
        session.text(greeting.to_string()).await?;
    }
    let messages: Vec<String> = snapshot.messages.iter().map(Value::to_string).collect();
    session
        .text(batch_of(messages.iter().map(String::as_str)))
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
