//! The data directory's files as they are on disk, for a repair to compare with what the
//! database says.

use async_trait::async_trait;

use super::BoxError;

/// Which part of the data directory a file lies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiskArea {
    /// `<data>/downloads`: AAX/AAXC and their side files.
    Downloads,
    /// `<data>/converted`: converted outputs.
    Converted,
}

/// A regular file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskFile {
    /// Absolute path.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Inode number, which a rename keeps.
    pub inode: u64,
}

/// How a file was put in place by [`LibraryDisk::place`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// Hard-linked.
    Linked,
    /// Copied (as asked).
    Copied,
    /// Copied because a hard link cannot cross file systems.
    CopiedInsteadOfLink,
    /// Moved (renamed, or copied then removed across file systems).
    Moved,
}

/// Why the disk could not be read or changed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct DiskError {
    /// What was being done, with the path.
    pub what: String,
    /// What the file system said.
    #[source]
    pub source: BoxError,
}

/// The data directory's files.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait LibraryDisk: Send + Sync {
    /// Every regular file under `area`, at any depth, in path order. Symbolic links are not
    /// followed and not listed; unreadable folders are skipped (and logged by the adapter).
    ///
    /// # Errors
    /// When the area itself cannot be read.
    async fn scan(&self, area: DiskArea) -> Result<Vec<DiskFile>, DiskError>;

    /// The file at `path` when it is a regular file, else `None`.
    ///
    /// # Errors
    /// When the file system fails otherwise than "not found".
    async fn stat(&self, path: &str) -> Result<Option<DiskFile>, DiskError>;

    /// Whether the two files hold the same bytes (both read to the end).
    ///
    /// # Errors
    /// When either cannot be read.
    async fn same_content(&self, a: &str, b: &str) -> Result<bool, DiskError>;

    /// Every regular file under the folder `root`, at any depth, in path order, never
    /// leaving it: symbolic links are neither followed nor listed, unreadable folders are
    /// skipped.
    ///
    /// # Errors
    /// When `root` itself cannot be read.
    async fn walk(&self, root: &str) -> Result<Vec<DiskFile>, DiskError>;

    /// Puts the file `from` at `to` (its folders made) by `mode`, never replacing a file
    /// there, and never leaving a partial file under `to`.
    ///
    /// # Errors
    /// When `to` exists, or the file system refuses.
    async fn place(
        &self,
        from: &str,
        to: &str,
        mode: crate::domain::job_spec::ImportMode,
    ) -> Result<Placed, DiskError>;

    /// Deletes the file at `path`; a file already gone is not an error.
    ///
    /// # Errors
    /// When it exists and cannot be deleted.
    async fn remove(&self, path: &str) -> Result<(), DiskError>;
}
