//! Files earmark stores for a book, known by id so that no client ever names a path.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::asin::Asin;
use super::wire_enum;

wire_enum! {
    /// What a stored file is.
    FileKind, "file kind" {
        /// Encrypted Audible audio, AAX (activation bytes).
        Aax => "aax",
        /// Encrypted Audible audio, AAXC (voucher key/iv).
        Aaxc => "aaxc",
        /// The AAXC licence voucher.
        Voucher => "voucher",
        /// audible-cli's chapter list.
        Chapters => "chapters",
        /// Cover image.
        Cover => "cover",
        /// Companion PDF.
        Pdf => "pdf",
        /// A converted single-file output.
        Converted => "converted",
        /// One chapter of a chapter-mode conversion.
        ConvertedChapter => "converted_chapter",
        /// The `.m3u` playlist of a chapter-mode conversion.
        Playlist => "playlist",
    }
}

/// A file to register for a book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStoredFile {
    /// The book it belongs to.
    pub asin: Asin,
    /// What it is.
    pub kind: FileKind,
    /// Absolute path on disk, inside the data directory.
    pub path: String,
    /// Size in bytes.
    pub size: i64,
    /// Its `Content-Type`.
    pub mime: String,
}

/// What tells one file from another of the same name without reading it: size,
/// modification time and inode survive a rename, and a file written anew changes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, in nanoseconds since the Unix epoch.
    pub modified_ns: i64,
    /// Inode number on its filesystem.
    pub inode: u64,
}

/// A file a job is about to put under its final name, as recorded on the job first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// What it is.
    pub kind: FileKind,
    /// Its final absolute path.
    pub path: String,
    /// Its `Content-Type`.
    pub mime: String,
    /// The file as it was before the move.
    pub fingerprint: Fingerprint,
}

impl OutputFile {
    /// The row to register once the file is in place.
    pub fn registered_for(&self, asin: &Asin) -> NewStoredFile {
        NewStoredFile {
            asin: asin.clone(),
            kind: self.kind,
            path: self.path.clone(),
            size: i64::try_from(self.fingerprint.size).unwrap_or(i64::MAX),
            mime: self.mime.clone(),
        }
    }
}

/// A registered file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    /// Stable id, used by `/stream/{file_id}`.
    pub id: Uuid,
    /// The book it belongs to.
    pub asin: Asin,
    /// What it is.
    pub kind: FileKind,
    /// Absolute path on disk.
    pub path: String,
    /// Size in bytes when registered.
    pub size: i64,
    /// Its `Content-Type`.
    pub mime: String,
    /// When it was registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}
