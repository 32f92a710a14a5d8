//! Running one program to its end, its cancel, or its timeout.

use std::ffi::OsString;
use std::future::Future;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::time::{Instant, sleep_until};

use crate::lines::{LineSplitter, Redactor};

/// Which output a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of output, secrets already masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Where it came from.
    pub stream: OutputStream,
    /// Its text, without the terminator.
    pub text: String,
}

/// The niceness tools run at unless a spec says otherwise; see [`set_default_niceness`].
static DEFAULT_NICENESS: AtomicI32 = AtomicI32::new(10);

/// Sets the CPU niceness (0 to 19) of every tool started from now on whose spec keeps the
/// default. Tools (ffmpeg, audible-cli, AAXtoMP3) are batch work: at a higher niceness they
/// take only the CPU that the HTTP API, the streams and the WebSocket leave free, so a
/// conversion that fills every core does not make the web client wait. `main` sets it from
/// configuration once; the default is 10.
pub fn set_default_niceness(niceness: i32) {
    DEFAULT_NICENESS.store(niceness.clamp(0, 19), Ordering::Relaxed);
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments, each passed as is (no shell).
    pub args: Vec<OsString>,
    /// Variables added to the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// The longest the run may take; `None` for no limit.
    pub timeout: Option<Duration>,
    /// How long the group has between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Longest line kept, in bytes.
    pub max_line_bytes: usize,
    /// Secrets masked in every line.
    pub redactor: Redactor,
    /// Bytes written to the program's stdin, which is then closed; `None` leaves stdin
    /// closed from the start. This is how secrets (passwords) are passed: never as arguments.
    pub stdin: Option<Vec<u8>>,
    /// CPU niceness of the program's whole process group (0 to 19; raised only, never
    /// lowered below earmark's own). Starts at the default of [`set_default_niceness`].
    pub niceness: i32,
}

impl ProcessSpec {
    /// `program` with `args`, a 5 s grace period, 8 KiB lines, no timeout.
    pub fn new<I, A>(program: impl Into<PathBuf>, args: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            cwd: None,
            timeout: None,
            grace: Duration::from_secs(5),
            max_line_bytes: 8 * 1024,
            redactor: Redactor::default(),
            stdin: None,
            niceness: DEFAULT_NICENESS.load(Ordering::Relaxed),
        }
    }

    /// The command line for logs: program and arguments, secrets masked.
    pub fn display(&self) -> String {
        let mut parts = vec![self.program.display().to_string()];
        parts.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        self.redactor.redact(&parts.join(" "))
    }
}

/// Why a run did not end with an exit status.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program does not exist.
    #[error("`{0}` was not found")]
    NotFound(String),
    /// The program may not be executed.
    #[error("`{0}` is not executable")]
    PermissionDenied(String),
    /// It could not be started for another reason.
    #[error("cannot start `{0}`: {1}")]
    Spawn(String, std::io::Error),
    /// It ran longer than its timeout; its process group was ended.
    #[error("`{program}` did not finish within {after:?} and was stopped")]
    TimedOut {
        /// The program.
        program: String,
        /// The timeout.
        after: Duration,
    },
    /// It was cancelled; its process group was ended.
    #[error("`{0}` was cancelled")]
    Cancelled(String),
    /// Waiting for it failed.
    #[error("waiting for `{0}` failed: {1}")]
    Wait(String, std::io::Error),
}

/// How long output may keep arriving after the program exited (from a straggling grandchild)
/// before the group is ended and reading stops.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// Sends `signal` to process group `pgid`; a group that is already gone is fine.
fn signal_group(pgid: Option<Pid>, signal: Signal) {
    if let Some(pgid) = pgid {
        let _ = kill_process_group(pgid, signal);
    }
}

/// Ends the group when a run is abandoned (its future dropped) before it finished.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    /// Guards the group led by `pgid`, noting it in the ledger (if any) while it runs.
    fn new(pgid: Option<Pid>) -> Self {
        if let (Some(pgid), Some(ledger)) = (pgid, crate::ledger::current()) {
            ledger.record(pgid);
        }
        Self(pgid)
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        signal_group(self.0, Signal::KILL);
        if let (Some(pgid), Some(ledger)) = (self.0, crate::ledger::current()) {
            ledger.forget(pgid);
        }
    }
}

/// Runs `spec` until it exits, `cancel` completes, or its timeout passes; every output line
/// goes to `on_line` as it arrives.
///
/// On cancel or timeout the process group gets SIGTERM, then SIGKILL after `spec.grace`. When
/// the run ends, for whatever reason, what is left of the group is killed.
///
/// # Errors
/// [`ProcessError`]: not found, not executable, timed out, cancelled, or a failed wait. A
/// non-zero exit is not an error here: the caller judges the outcome.
pub async fn run<C, F>(
    spec: &ProcessSpec,
    cancel: C,
    mut on_line: F,
) -> Result<ExitStatus, ProcessError>
where
    C: Future<Output = ()>,
    F: FnMut(Line),
{
    let name = spec.program.display().to_string();
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ProcessError::NotFound(name.clone()),
        std::io::ErrorKind::PermissionDenied => ProcessError::PermissionDenied(name.clone()),
        _ => ProcessError::Spawn(name.clone(), e),
    })?;
    let pgid = child.id().and_then(|id| Pid::from_raw(id as i32));
    let _guard = GroupGuard::new(pgid);
    if pgid.is_some() && spec.niceness > 0 {
        // For the group, so whatever the tool has already started gets it too. Refused only
        // when it would lower the niceness earmark itself runs at: then the tool keeps that.
        let _ = rustix::process::setpriority_pgrp(pgid, spec.niceness);
    }
    if let (Some(input), Some(mut pipe)) = (spec.stdin.clone(), child.stdin.take()) {
        // Written beside the reading below, so a program that talks before it reads cannot
        // block on a full pipe; closing the pipe is the end of the input.
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = pipe.write_all(&input).await;
            let _ = pipe.shutdown().await;
        });
    }

    let (mut stdout, mut stderr) = match (child.stdout.take(), child.stderr.take()) {
        (Some(out), Some(err)) => (out, err),
        _ => {
            return Err(ProcessError::Spawn(
                name,
                std::io::Error::other("no output pipes"),
            ));
        }
    };
    let mut split_out = LineSplitter::new(spec.max_line_bytes);
    let mut split_err = LineSplitter::new(spec.max_line_bytes);
    let (mut buf_out, mut buf_err) = (vec![0u8; 8192], vec![0u8; 8192]);
    let (mut out_open, mut err_open) = (true, true);
    let mut emit = |stream, lines: Vec<String>| {
        for text in lines {
            on_line(Line {
                stream,
                text: spec.redactor.redact(&text),
            });
        }
    };

    tokio::pin!(cancel);
    let mut hold = crate::hold::current();
    let mut stopped_since: Option<Instant> = None;
    if hold.as_ref().is_some_and(|h| *h.borrow()) {
        signal_group(pgid, Signal::STOP);
        stopped_since = Some(Instant::now());
    }
    let started = Instant::now();
    let far = started + Duration::from_secs(60 * 60 * 24 * 365);
    let mut timeout_at = spec.timeout.map_or(far, |t| started + t);
    let mut kill_at = far;
    let mut drain_until = far;
    let mut status: Option<ExitStatus> = None;
    let mut stop_reason: Option<ProcessError> = None;
    let mut cancel_armed = true;

    while status.is_none() || out_open || err_open {
        tokio::select! {
            read = stdout.read(&mut buf_out), if out_open => match read {
                Ok(n) if n > 0 => emit(OutputStream::Stdout, split_out.push(&buf_out[..n])),
                _ => out_open = false,
            },
            read = stderr.read(&mut buf_err), if err_open => match read {
                Ok(n) if n > 0 => emit(OutputStream::Stderr, split_err.push(&buf_err[..n])),
                _ => err_open = false,
            },
            waited = child.wait(), if status.is_none() => {
                status = Some(waited.map_err(|e| ProcessError::Wait(name.clone(), e))?);
                drain_until = Instant::now() + DRAIN_AFTER_EXIT;
            },
            held = crate::hold::next_change(&mut hold), if status.is_none() && stop_reason.is_none() => {
                if held && stopped_since.is_none() {
                    signal_group(pgid, Signal::STOP);
                    stopped_since = Some(Instant::now());
                } else if !held && let Some(since) = stopped_since.take() {
                    signal_group(pgid, Signal::CONT);
                    // The time it stood still is not the program's: its timeout moves on.
                    if timeout_at < far {
                        timeout_at += since.elapsed();
                    }
                }
            },
            () = &mut cancel, if cancel_armed => {
                cancel_armed = false;
                if stop_reason.is_none() && status.is_none() {
                    stop_reason = Some(ProcessError::Cancelled(name.clone()));
                    signal_group(pgid, Signal::TERM);
                    // A stopped group must run to act on its TERM.
                    signal_group(pgid, Signal::CONT);
                    kill_at = Instant::now() + spec.grace;
                    timeout_at = far;
                }
            },
            () = sleep_until(kill_at.min(drain_until).min(if stopped_since.is_some() { far } else { timeout_at })) => {
                let now = Instant::now();
                if now >= drain_until {
                    // The program is done; whatever still holds its pipes is not ours to wait for.
                    signal_group(pgid, Signal::KILL);
                    break;
                }
                if now >= kill_at {
                    signal_group(pgid, Signal::KILL);
                    kill_at = far;
                } else if now >= timeout_at && stopped_since.is_none() {
                    stop_reason = Some(ProcessError::TimedOut { program: name.clone(), after: spec.timeout.unwrap_or_default() });
                    signal_group(pgid, Signal::TERM);
                    kill_at = now + spec.grace;
                    timeout_at = far;
                }
            },
        }
    }
    emit(
        OutputStream::Stdout,
        split_out.finish().into_iter().collect(),
    );
    emit(
        OutputStream::Stderr,
        split_err.finish().into_iter().collect(),
    );
    // Nothing of the group outlives the run (background grandchildren included).
    signal_group(pgid, Signal::KILL);
    match (stop_reason, status) {
        (Some(reason), _) => Err(reason),
        (None, Some(status)) => Ok(status),
        (None, None) => Err(ProcessError::Wait(
            name,
            std::io::Error::other("the program did not exit"),
        )),
    }
}
