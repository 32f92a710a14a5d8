//! The data directory and its fixed layout.

use std::io;
use std::path::{Path, PathBuf};

use earmark_http::disk::DiskStatus;

/// Holds the data directory for this process until dropped (see [`DataDir::lock`]).
#[derive(Debug)]
pub struct DataDirLock(#[allow(dead_code, reason = "held for its lock, never read")] std::fs::File);

/// `<data>` with its subfolders: `library`, `downloads`, `converted`, `logs`, `tmp`, `audible`.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The subfolders every data directory has.
    pub const SUBDIRS: [&'static str; 6] = [
        "library",
        "downloads",
        "converted",
        "logs",
        "tmp",
        "audible",
    ];

    /// Creates `root` and its subfolders as needed and resolves it to an absolute path.
    ///
    /// # Errors
    /// When a folder cannot be created.
    pub fn prepare(root: &Path) -> io::Result<Self> {
        for sub in Self::SUBDIRS {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(Self {
            root: std::fs::canonicalize(root)?,
        })
    }

    /// The absolute root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the data directory for this process alone (an advisory lock on `<data>/.lock`,
    /// released by the kernel when the process ends, however it ends). Two earmarks on one
    /// data directory would re-run each other's jobs and end each other's tools.
    ///
    /// # Errors
    /// When another process holds it, or the lock file cannot be opened.
    pub fn lock(&self) -> io::Result<DataDirLock> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(".lock"))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |e| {
                if e == rustix::io::Errno::WOULDBLOCK {
                    io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "another earmark is using it: stop that one first, or give this one its own EARMARK__DATA_DIR",
                    )
                } else {
                    io::Error::from(e)
                }
            },
        )?;
        Ok(DataDirLock(file))
    }

    /// `<data>/run`, where the tool process groups that are running are on record (see
    /// `earmark_process::Ledger`).
    pub fn running_tools(&self) -> PathBuf {
        self.root.join("run")
    }

    /// `<data>/tmp`, where work in progress lives.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Checks that the directory takes writes and measures its filesystem.
    pub fn probe(&self) -> DiskStatus {
        earmark_http::disk::probe(&self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_at_a_time_holds_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::prepare(dir.path()).unwrap();
        let held = data.lock().unwrap();
        let refused = data.lock().unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::WouldBlock);
        assert!(
            refused.to_string().contains("EARMARK__DATA_DIR"),
            "{refused}"
        );
        drop(held);
        data.lock().unwrap();
    }

    #[test]
    fn prepare_creates_the_layout_and_probe_measures_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::prepare(&dir.path().join("nested/data")).unwrap();
        for sub in DataDir::SUBDIRS {
            assert!(data.root().join(sub).is_dir(), "{sub} missing");
        }
        assert!(data.root().is_absolute());
        let status = data.probe();
        assert!(status.writable, "{status:?}");
        assert!(status.total_bytes > 0 && status.free_bytes <= status.total_bytes);
        assert_eq!(
            std::fs::read_dir(data.tmp()).unwrap().count(),
            0,
            "probe file removed"
        );
    }
}
