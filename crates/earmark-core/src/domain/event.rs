//! What happens to jobs, as subscribers (the WebSocket) see it.

use super::job::{Job, JobId};

/// One thing that happened to a job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    /// A job was created or changed status; carries the job as it now is.
    Status(Box<Job>),
    /// A running job reported progress.
    Progress {
        /// The job.
        job_id: JobId,
        /// 0 to 100.
        percent: f64,
        /// What it is doing, when it said.
        line: Option<String>,
        /// How far its transfer is, for a download.
        transfer: Option<Transfer>,
    },
    /// A running job wrote a log line.
    Log {
        /// The job.
        job_id: JobId,
        /// The line, secrets masked.
        line: String,
    },
}

/// How far a download's transfer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Bytes received so far.
    pub bytes: u64,
    /// The bytes expected in all, once known.
    pub total: Option<u64>,
    /// The average rate since the transfer started.
    pub bytes_per_sec: u64,
}

impl JobEvent {
    /// The job this event is about.
    pub fn job_id(&self) -> JobId {
        match self {
            JobEvent::Status(job) => job.id,
            JobEvent::Progress { job_id, .. } | JobEvent::Log { job_id, .. } => *job_id,
        }
    }
}
