//! Stored files kept open for a moment after a `/stream` request, for the next one.
//!
//! A player seeking through a book, or several players on one book, send many range requests
//! for the same file. Opening it costs a trip to the blocking thread pool (an open may wait
//! for a disk that is spinning up, which must never stall the event loop) plus resolving its
//! path to check it is inside the data directory: more than serving 64 KiB from the page
//! cache. So an opened file is reused for `KEEP_OPEN`, then closed and opened (and checked)
//! afresh. Size and modification time are read from the open file on every request, so a
//! file truncated meanwhile is answered correctly; a file replaced or deleted meanwhile is
//! served from the handle opened before for at most `KEEP_OPEN`, consistently, under its
//! own `ETag`.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an opened file is reused.
pub const KEEP_OPEN: Duration = Duration::from_secs(1);

/// A stored file opened and confined to the data directory.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The open file.
    pub file: Arc<File>,
    /// Its path, symlinks resolved.
    pub real: PathBuf,
    at: Instant,
}

impl Opened {
    /// `file`, opened just now at `real`.
    pub fn new(file: File, real: PathBuf) -> Self {
        Self {
            file: Arc::new(file),
            real,
            at: Instant::now(),
        }
    }
}

/// Files opened for streaming in the last `KEEP_OPEN`, by stream id.
#[derive(Debug, Default)]
pub struct OpenFiles {
    entries: Mutex<HashMap<String, Opened>>,
}

impl OpenFiles {
    /// The file opened for `id` less than `KEEP_OPEN` ago.
    pub fn get(&self, id: &str) -> Option<Opened> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(id)
            .filter(|o| o.at.elapsed() < KEEP_OPEN)
            .cloned()
    }

    /// Keeps `opened` for `id`. The caller closes it with [`OpenFiles::expire`] after
    /// `KEEP_OPEN`, so that no file stays open (and a deleted file's space taken) for
    /// longer than that when no request comes.
    pub fn keep(&self, id: &str, opened: Opened) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(id.to_owned(), opened);
        }
    }

    /// Closes `id`'s file if it was opened `KEEP_OPEN` ago or longer.
    pub fn expire(&self, id: &str) {
        if let Ok(mut entries) = self.entries.lock()
            && entries.get(id).is_some_and(|o| o.at.elapsed() >= KEEP_OPEN)
        {
            entries.remove(id);
        }
    }

    /// Closes `id`'s file now, e.g. when serving it failed.
    pub fn close(&self, id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(id);
        }
    }

    /// How many files are open.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_reused_only_while_fresh_and_expiry_closes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let files = OpenFiles::default();
        files.keep("a", Opened::new(File::open(&path).unwrap(), path.clone()));
        assert!(files.get("a").is_some());
        files.expire("a");
        assert_eq!(files.len(), 1, "a fresh file is not expired");

        let mut stale = Opened::new(File::open(&path).unwrap(), path.clone());
        stale.at -= KEEP_OPEN;
        files.keep("b", stale);
        assert!(files.get("b").is_none(), "a stale file is not reused");
        files.expire("b");
        files.close("a");
        assert_eq!(files.len(), 0);
    }
}
