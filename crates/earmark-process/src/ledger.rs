//! A record on disk of the tool process groups that are running, so that after a crash the
//! next start can end the ones the crash orphaned.
//!
//! Every tool runs in a process group of its own and is killed with it on cancel, on timeout
//! and when its run is dropped. None of that happens when earmark itself is killed (`kill -9`,
//! the OOM killer, a power cut of the service manager): the groups live on, writing into
//! scratch directories nobody reads, until their own timeout, which is hours for a download.
//! Each group therefore leaves a file `<dir>/<pgid>` holding its leader's start time while it
//! runs; at start-up [`Ledger::reap`] kills every group still on record.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::process::{Pid, Signal, kill_process_group};

/// The ledger every run records into, once `main` has chosen one.
static LEDGER: OnceLock<Ledger> = OnceLock::new();

/// Makes every tool started from now on record its process group in `ledger`. Set once, by
/// `main`, after [`Ledger::reap`]; later calls are ignored.
pub fn set_ledger(ledger: Ledger) {
    let _ = LEDGER.set(ledger);
}

/// Kills every tool group the ledger `main` set has on record (see [`Ledger::reap`]): what a
/// stopping server does last, so that no tool outlives it. Returns the groups it killed.
pub fn kill_recorded_tools() -> Vec<i32> {
    current().map(Ledger::reap).unwrap_or_default()
}

/// The ledger runs record into, if one was set.
pub(crate) fn current() -> Option<&'static Ledger> {
    LEDGER.get()
}

/// A directory of running tool process groups.
#[derive(Debug, Clone)]
pub struct Ledger {
    dir: PathBuf,
}

impl Ledger {
    /// The ledger kept in `dir` (created when the first group is recorded).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Notes that the group led by `pgid` runs. Best effort: a ledger that cannot be written
    /// costs only the clean-up after a crash, never the run.
    pub fn record(&self, pgid: Pid) {
        let Some(started) = start_time(pgid) else {
            return;
        };
        let (entry, text) = (self.entry(pgid), started.to_string());
        // The directory exists after the first tool; create it only when it does not.
        if std::fs::write(&entry, &text).is_err() && std::fs::create_dir_all(&self.dir).is_ok() {
            let _ = std::fs::write(&entry, &text);
        }
    }

    /// Notes that the group led by `pgid` is over.
    pub fn forget(&self, pgid: Pid) {
        let _ = std::fs::remove_file(self.entry(pgid));
    }

    /// Kills (SIGKILL) every group on record that is still running and empties the ledger.
    /// Call it before any tool starts. Returns the groups it killed.
    ///
    /// A group is killed only if its leader is the very process recorded (same start time),
    /// or if the leader is gone: Linux does not hand out a process id again while a group of
    /// that id has members, so remaining members are the recorded group's.
    pub fn reap(&self) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut killed = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let recorded = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok());
            let pgid = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<i32>().ok())
                .and_then(Pid::from_raw);
            if let (Some(pgid), Some(recorded)) = (pgid, recorded) {
                let ours = start_time(pgid).is_none_or(|now| now == recorded);
                if ours && kill_process_group(pgid, Signal::KILL).is_ok() {
                    killed.push(pgid.as_raw_nonzero().get());
                }
            }
            let _ = std::fs::remove_file(&path);
        }
        killed
    }

    fn entry(&self, pgid: Pid) -> PathBuf {
        self.dir.join(pgid.as_raw_nonzero().to_string())
    }
}

/// When process `pid` started (clock ticks since boot, field 22 of `/proc/<pid>/stat`), which
/// tells a process from a later one that got the same id.
fn start_time(pid: Pid) -> Option<u64> {
    let stat = std::fs::read_to_string(
        Path::new("/proc")
            .join(pid.as_raw_nonzero().to_string())
            .join("stat"),
    )
    .ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}
