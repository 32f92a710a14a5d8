//! Local items: audio files in the data directory that belong to no book of the library
//! (converted elsewhere, or left behind), listed and played like books' files.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::asin::Asin;

/// A local item as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalItem {
    /// Stable id, used by `/stream/local/{id}`.
    pub id: Uuid,
    /// An ASIN its tags or name carry, when one does (the book is not in the library).
    pub asin: Option<Asin>,
    /// What to call it: its tags' title, else its file name without the extension.
    pub title: String,
    /// Its tags' authors, when known.
    pub authors: Option<String>,
    /// Absolute path on disk, inside the data directory.
    pub path: String,
    /// Its format, by its extension (`m4b`, `mp3`, ...).
    pub format: Option<String>,
    /// Size in bytes when registered.
    pub size: i64,
    /// Its `Content-Type`.
    pub mime: String,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// A local item to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLocalItem {
    /// See [`LocalItem::asin`].
    pub asin: Option<Asin>,
    /// See [`LocalItem::title`].
    pub title: String,
    /// See [`LocalItem::authors`].
    pub authors: Option<String>,
    /// See [`LocalItem::path`].
    pub path: String,
    /// See [`LocalItem::format`].
    pub format: Option<String>,
    /// See [`LocalItem::size`].
    pub size: i64,
    /// See [`LocalItem::mime`].
    pub mime: String,
}

/// A page of local items to list: 1-based `page` of `page_size`, optionally only those whose
/// title or authors contain `search` (case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalItemQuery {
    /// 1-based page number.
    pub page: u32,
    /// Items per page.
    pub page_size: u32,
    /// Only items whose title or authors contain this.
    pub search: Option<String>,
}

/// One page of local items, ordered by title then id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalItemPage {
    /// The items of the page.
    pub items: Vec<LocalItem>,
    /// How many items match the query in all.
    pub total: u64,
}
