//! Encodes every job event to JSON once, for all WebSocket clients.
//!
//! With a hundred clients and chatty jobs, encoding per client would cost a hundred times the
//! work; the hub encodes each event once and hands every client the same shared frame. For
//! clients of all jobs it also gathers log lines and progress into one batch message every
//! 100 ms and hands every such client the same batch: building a batch per client cost a
//! copy of every line per client, and held that much memory while it was being sent.
//!
//! The web client's feed (`/jobs/ws`) reads a `batch` as the complete list of active jobs, so
//! it gets no batches after its snapshot: statuses, and each job's latest progress once per
//! flush as a `status` message too (the client shows progress from status messages).

use std::collections::HashMap;
use std::sync::Arc;

use bytestring::ByteString;
use earmark_core::{JobEvent, JobId, Transfer};
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::broadcast;

use super::status_message;

/// How many frames a client may fall behind before it is told it lost some.
const FRAME_BUFFER: usize = 32 * 1024;
/// How many messages (batches, statuses) a client of all jobs may fall behind: a few seconds.
/// The ring keeps its last messages alive, so it is sized in messages, not events.
const MESSAGE_BUFFER: usize = 64;
/// How often gathered log lines and progress go out.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// What a frame is, for batching decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A status change: sent at once.
    Status,
    /// Progress: gathered, only the latest per job kept.
    Progress,
    /// A log line: gathered.
    Log,
}

/// One encoded event.
#[derive(Debug)]
pub struct Frame {
    /// The job it is about.
    pub job_id: JobId,
    /// What it is.
    pub kind: FrameKind,
    /// For a status: the job's `updated_at`, which tells it from a state a client already has.
    pub as_of: Option<OffsetDateTime>,
    /// The message, as JSON text.
    pub json: Box<str>,
}

impl Frame {
    /// Whether this is a status of a job that `known` already shows as of that time or later
    /// (a client's snapshot can be newer than an event the hub had not yet handed out when
    /// the client subscribed).
    pub fn is_stale_for(&self, known: &HashMap<JobId, OffsetDateTime>) -> bool {
        self.as_of
            .is_some_and(|at| known.get(&self.job_id).is_some_and(|seen| at <= *seen))
    }
}

/// A message ready for clients of all jobs: a status, or a batch of log lines and progress.
#[derive(Debug, Clone)]
pub struct Message {
    /// The text to send.
    pub text: ByteString,
    /// For a status: the frame it came from, to tell a stale one.
    pub status: Option<Arc<Frame>>,
}

impl Message {
    /// See [`Frame::is_stale_for`].
    pub fn is_stale_for(&self, known: &HashMap<JobId, OffsetDateTime>) -> bool {
        self.status.as_ref().is_some_and(|f| f.is_stale_for(known))
    }
}

/// The shared encoder: one task reading the engine's events; a channel of encoded frames (for
/// clients of one job) and one of ready messages (for clients of all jobs).
#[derive(Debug)]
pub struct WsHub {
    frames: broadcast::Sender<Arc<Frame>>,
    messages: broadcast::Sender<Message>,
    client: broadcast::Sender<Message>,
}

/// The web client's feed: the last status of every active job, and the progress each made
/// since the last flush, sent as status messages.
#[derive(Debug, Default)]
struct ClientFeed {
    last_status: HashMap<JobId, serde_json::Value>,
    progressed: HashMap<JobId, (f64, Option<String>, Option<Transfer>)>,
}

impl ClientFeed {
    fn status(
        &mut self,
        event: &JobEvent,
        frame: &Arc<Frame>,
        client: &broadcast::Sender<Message>,
    ) {
        let JobEvent::Status(job) = event else { return };
        self.progressed.remove(&job.id);
        if job.status.is_terminal() {
            self.last_status.remove(&job.id);
        } else {
            self.last_status.insert(job.id, status_message(job));
        }
        let _ = client.send(Message {
            text: ByteString::from(frame.json.to_string()),
            status: Some(frame.clone()),
        });
    }

    fn progress(&mut self, event: &JobEvent) {
        if let JobEvent::Progress {
            job_id,
            percent,
            line,
            transfer,
        } = event
        {
            self.progressed
                .insert(*job_id, (*percent, line.clone(), *transfer));
        }
    }

    fn flush(&mut self, client: &broadcast::Sender<Message>) {
        for (job_id, (percent, line, transfer)) in self.progressed.drain() {
            let Some(last) = self.last_status.get_mut(&job_id) else {
                continue;
            };
            last["progress"] = json!(percent);
            if let Some(line) = line {
                last["message"] = json!(line);
            }
            if let (Some(transfer), Some(meta)) = (transfer, last["meta"].as_object_mut()) {
                meta.extend(transfer_fields(&transfer));
            }
            let _ = client.send(Message {
                text: ByteString::from(last.to_string()),
                status: None,
            });
        }
    }
}

/// Log lines and progress waiting for the next batch, the latest progress per job only.
#[derive(Debug, Default)]
pub struct Gathered(Vec<Arc<Frame>>);

impl Gathered {
    /// Adds a log line or progress frame; a job's newer progress replaces its older one.
    pub fn push(&mut self, frame: Arc<Frame>) {
        if frame.kind == FrameKind::Progress {
            self.0
                .retain(|g| !(g.kind == FrameKind::Progress && g.job_id == frame.job_id));
        }
        self.0.push(frame);
    }

    /// What is gathered as one batch message, emptying it; `None` when nothing is.
    pub fn take_batch(&mut self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        let batch = batch_of(self.0.iter().map(|f| &*f.json));
        self.0.clear();
        Some(batch)
    }

    fn flush(&mut self, messages: &broadcast::Sender<Message>) {
        if let Some(batch) = self.take_batch() {
            let _ = messages.send(Message {
                text: ByteString::from(batch),
                status: None,
            });
        }
    }
}

impl WsHub {
    /// Starts encoding `events` (from [`earmark_jobs::Engine::subscribe`]); needs a runtime.
    pub fn start(mut events: broadcast::Receiver<JobEvent>) -> Arc<Self> {
        let (frames, _) = broadcast::channel(FRAME_BUFFER);
        let (messages, _) = broadcast::channel(MESSAGE_BUFFER);
        let (client, _) = broadcast::channel(FRAME_BUFFER);
        let hub = Arc::new(Self {
            frames: frames.clone(),
            messages: messages.clone(),
            client: client.clone(),
        });
        tokio::spawn(async move {
            let mut gathered = Gathered::default();
            let mut client_feed = ClientFeed::default();
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            loop {
                let event = tokio::select! {
                    event = events.recv() => event,
                    _ = tick.tick() => {
                        gathered.flush(&messages);
                        client_feed.flush(&client);
                        continue;
                    }
                };
                let event = match event {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "the WebSocket hub fell behind the job events");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let frame = Arc::new(encode(&event));
                // No receivers is fine: nobody is watching.
                let _ = frames.send(frame.clone());
                if frame.kind == FrameKind::Status {
                    // Keep order: what a job said before it changed status goes first.
                    gathered.flush(&messages);
                    client_feed.status(&event, &frame, &client);
                    let _ = messages.send(Message {
                        text: ByteString::from(frame.json.to_string()),
                        status: Some(frame),
                    });
                } else {
                    client_feed.progress(&event);
                    gathered.push(frame);
                }
            }
        });
        hub
    }

    /// Every frame from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.frames.subscribe()
    }

    /// The web client's feed from now on: statuses, and progress as statuses, never a batch.
    pub fn subscribe_client(&self) -> broadcast::Receiver<Message> {
        self.client.subscribe()
    }

    /// Every message for clients of all jobs from now on: statuses, and batches of log lines
    /// and progress, ready to send.
    pub fn subscribe_messages(&self) -> broadcast::Receiver<Message> {
        self.messages.subscribe()
    }
}

fn encode(event: &JobEvent) -> Frame {
    let as_of = match event {
        JobEvent::Status(job) => Some(job.updated_at),
        _ => None,
    };
    let (kind, value) = match event {
        JobEvent::Status(job) => (FrameKind::Status, status_message(job)),
        JobEvent::Progress {
            job_id,
            percent,
            line,
            transfer,
        } => {
            let mut message = json!({"type": "progress", "job_id": job_id.to_string(), "percent": percent, "line": line});
            if let (Some(transfer), Some(fields)) = (transfer, message.as_object_mut()) {
                fields.extend(transfer_fields(transfer));
            }
            (FrameKind::Progress, message)
        }
        JobEvent::Log { job_id, line } => (
            FrameKind::Log,
            json!({"type": "log", "job_id": job_id.to_string(), "line": line}),
        ),
    };
    Frame {
        job_id: event.job_id(),
        kind,
        as_of,
        json: value.to_string().into_boxed_str(),
    }
}

/// A transfer under the names the web client reads from a status message's `meta`
/// (`download_bytes_current`, `download_bytes_total`, `download_bytes_per_sec`).
fn transfer_fields(transfer: &Transfer) -> serde_json::Map<String, serde_json::Value> {
    let mut fields = serde_json::Map::new();
    fields.insert("download_bytes_current".into(), json!(transfer.bytes));
    if let Some(total) = transfer.total {
        fields.insert("download_bytes_total".into(), json!(total));
    }
    fields.insert(
        "download_bytes_per_sec".into(),
        json!(transfer.bytes_per_sec),
    );
    fields
}

/// `{"type":"batch","messages":[...],"count":n}` from already-encoded messages.
pub fn batch_of<'a>(messages: impl ExactSizeIterator<Item = &'a str>) -> String {
    let count = messages.len();
    let mut out = String::from("{\"type\":\"batch\",\"messages\":[");
    for (i, message) in messages.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(message);
    }
    out.push_str(&format!("],\"count\":{count}}}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_a_client_already_has_is_stale_and_a_newer_one_is_not() {
        let now = OffsetDateTime::now_utc();
        let (known_job, other_job) = (JobId::new(), JobId::new());
        let known = HashMap::from([(known_job, now)]);
        let status = |job_id, as_of| Frame {
            job_id,
            kind: FrameKind::Status,
            as_of: Some(as_of),
            json: "{}".into(),
        };
        assert!(
            status(known_job, now).is_stale_for(&known),
            "the snapshot's own state"
        );
        assert!(status(known_job, now - time::Duration::milliseconds(5)).is_stale_for(&known));
        assert!(!status(known_job, now + time::Duration::microseconds(1)).is_stale_for(&known));
        assert!(
            !status(other_job, now).is_stale_for(&known),
            "a job the snapshot lacks"
        );
        let log = Frame {
            job_id: known_job,
            kind: FrameKind::Log,
            as_of: None,
            json: "{}".into(),
        };
        assert!(!log.is_stale_for(&known), "log lines are never dropped");
    }

    #[test]
    fn batches_are_valid_json_with_their_count() {
        let text = batch_of(["{\"a\":1}", "{\"b\":2}"].into_iter());
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["count"], 2);
        assert_eq!(value["messages"][1]["b"], 2);
        let empty: serde_json::Value = serde_json::from_str(&batch_of(std::iter::empty())).unwrap();
        assert_eq!(empty["count"], 0);
    }
}
