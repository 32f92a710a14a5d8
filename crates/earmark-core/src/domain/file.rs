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
