//! Books in the person's library and how they change.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::asin::Asin;
use super::format::OutputFormat;
use super::wire_enum;

wire_enum! {
    /// Where a book stands on its way from the library to a playable file.
    BookStatus, "book status" {
        /// Known from the library, nothing done yet.
        New => "NEW",
        /// A download job is running.
        Downloading => "DOWNLOADING",
        /// The AAX/AAXC and its side files are stored.
        Downloaded => "DOWNLOADED",
        /// A conversion job is running.
        Converting => "CONVERTING",
        /// A converted file is stored.
        Completed => "COMPLETED",
        /// The last job for this book failed; `error_message` says why.
        Failed => "FAILED",
    }
}

/// What a library sync knows about a book: everything but earmark's own local state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookRecord {
    /// The book's identity.
    pub asin: Asin,
    /// Title as Audible spells it.
    pub title: String,
    /// Subtitle, if any.
    pub subtitle: Option<String>,
    /// Authors, comma separated, as the library export gives them.
    pub author: Option<String>,
    /// Narrators, comma separated.
    pub narrator: Option<String>,
    /// Title of the (first) series the book belongs to.
    pub series: Option<String>,
    /// Position in that series; a string because Audible has "1.5" and "2-3".
    pub series_sequence: Option<String>,
    /// Audible's ASIN of that series, when known.
    pub series_asin: Option<String>,
    /// Running time in minutes.
    pub runtime_min: Option<i32>,
    /// The largest cover image URL known.
    pub cover_url: Option<String>,
    /// When the book was published, as Audible gives it (`YYYY-MM-DD`).
    pub release_date: Option<String>,
    /// When the person bought it, as Audible gives it (RFC 3339).
    pub purchase_date: Option<String>,
    /// The whole record as audible-cli returned it, kept verbatim.
    pub metadata_json: serde_json::Value,
    /// The podcast or multi-part book this item is an episode or part of; `None` for the
    /// library's top-level items.
    #[serde(default)]
    pub parent: Option<super::parenthood::ParentLink>,
}

/// A stored book: its library record plus earmark's local state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Book {
    /// What the library says about the book.
    #[serde(flatten)]
    pub record: BookRecord,
    /// Where the book stands locally.
    pub status: BookStatus,
    /// The downloaded AAX or AAXC file.
    pub local_path_aax: Option<String>,
    /// The AAXC voucher beside it.
    pub local_path_voucher: Option<String>,
    /// The downloaded cover image.
    pub local_path_cover: Option<String>,
    /// The main converted output (the first chapter file in chapter mode).
    pub local_path_converted: Option<String>,
    /// The format of that output.
    pub conversion_format: Option<OutputFormat>,
    /// Why the last job for this book failed.
    pub error_message: Option<String>,
    /// When earmark first saw the book.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When anything about the book last changed, its removal included.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When the book disappeared from the library; `None` while it is in it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub removed_at: Option<OffsetDateTime>,
    /// Where the person stopped listening; `None` before they played it.
    pub progress: Option<super::progress::Progress>,
}

/// A change to a book's local state. `None` leaves a field as it is; `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BookUpdate {
    /// New status.
    pub status: Option<BookStatus>,
    /// New downloaded-audio path.
    pub local_path_aax: Option<Option<String>>,
    /// New voucher path.
    pub local_path_voucher: Option<Option<String>>,
    /// New cover path.
    pub local_path_cover: Option<Option<String>>,
    /// New converted-output path.
    pub local_path_converted: Option<Option<String>>,
    /// New conversion format.
    pub conversion_format: Option<Option<OutputFormat>>,
    /// New error message.
    pub error_message: Option<Option<String>>,
}

/// How an upsert batch changed the library.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UpsertSummary {
    /// Books seen for the first time.
    pub inserted: u64,
    /// Known books whose record changed, or that came back after removal.
    pub updated: u64,
    /// Known books whose record is exactly as stored: their `updated_at` is untouched.
    pub unchanged: u64,
}

/// A position in the `(updated_at, asin)` order of a change feed, for keyset paging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCursor {
    /// `updated_at` of the last book returned.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// ASIN of the last book returned.
    pub asin: Asin,
}

/// One page of a change feed.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePage {
    /// Books created, changed or removed (tombstones carry `removed_at`), oldest change first.
    pub books: Vec<Book>,
    /// Where this page ended, when more books may follow under the same `since`.
    pub next_cursor: Option<ChangeCursor>,
    /// The watermark to pass as `since` next time: every change not yet returned by this feed
    /// has `updated_at >= next_since`.
    pub next_since: OffsetDateTime,
}
