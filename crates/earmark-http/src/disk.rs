//! The data directory's health: does it take writes, how much room is left.

use std::io;
use std::path::Path;

use serde::Serialize;

/// What `/healthz` reports about the data directory.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DiskStatus {
    /// Absolute path of the data directory.
    pub path: String,
    /// Whether a file could be created and removed in its `tmp` folder just now.
    pub writable: bool,
    /// Bytes available to earmark on its filesystem.
    pub free_bytes: u64,
    /// Size of that filesystem.
    pub total_bytes: u64,
    /// What went wrong, when something did.
    pub error: Option<String>,
}

/// Checks that the data directory `root` takes writes (a file made and removed in its `tmp`)
/// and measures its filesystem. Blocks: call it on the blocking pool.
pub fn probe(root: &Path) -> DiskStatus {
    let path = root.display().to_string();
    let tmp = root.join("tmp");
    let probe = tmp.join(format!(".healthz-{}", uuid::Uuid::new_v4().simple()));
    let written = std::fs::write(&probe, b"ok").and_then(|()| std::fs::remove_file(&probe));
    let space = rustix::fs::statvfs(root).map_err(io::Error::from);
    let (free_bytes, total_bytes) = match &space {
        Ok(s) => (
            s.f_bavail.saturating_mul(s.f_frsize),
            s.f_blocks.saturating_mul(s.f_frsize),
        ),
        Err(_) => (0, 0),
    };
    let error = match (&written, &space) {
        (Err(e), _) => Some(format!("cannot write in {}: {e}", tmp.display())),
        (_, Err(e)) => Some(format!("cannot measure free space of {path}: {e}")),
        _ => None,
    };
    DiskStatus {
        path,
        writable: written.is_ok(),
        free_bytes,
        total_bytes,
        error,
    }
}
