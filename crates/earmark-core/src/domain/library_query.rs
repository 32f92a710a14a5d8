//! Browsing the library: the filters, orders and pages a client can ask for.

use serde::Serialize;

use super::book::{Book, BookStatus};
use super::wire_enum;

wire_enum! {
    /// What a book list is ordered by. Every key is a column, so every key is valid.
    BookSortKey, "sort key" {
        /// Title, then ASIN.
        Title => "title",
        /// The authors as one string.
        Author => "author",
        /// The narrators as one string.
        Narrator => "narrator",
        /// Series title (books without one last), then position in it.
        Series => "series",
        /// Running time.
        RuntimeLengthMin => "runtime_length_min",
        /// Publication date.
        ReleaseDate => "release_date",
        /// When the person bought it.
        PurchaseDate => "purchase_date",
        /// When earmark first saw it.
        CreatedAt => "created_at",
        /// When anything about it last changed.
        UpdatedAt => "updated_at",
        /// Local status.
        Status => "status",
        /// The ASIN.
        Asin => "asin",
        /// The place among a parent's children (episodes and parts in Audible's order).
        Position => "position",
    }
}

wire_enum! {
    /// Ascending or descending.
    SortDirection, "sort direction" {
        /// Smallest first.
        Asc => "asc",
        /// Largest first.
        Desc => "desc",
    }
}

wire_enum! {
    /// What kind of listening an item is.
    ContentType, "content type" {
        /// A book (of one part or several).
        Audiobook => "audiobook",
        /// A podcast or one of its episodes.
        Podcast => "podcast",
    }
}

impl ContentType {
    /// What Audible's library item says it is: a podcast when its `content_type` is
    /// `Podcast` or its `content_delivery_type` is a podcast's (`PodcastParent`, `Periodical`,
    /// `PodcastEpisode`), a book otherwise.
    pub fn of_item(item: &serde_json::Value) -> Self {
        let field = |key: &str| item.get(key).and_then(serde_json::Value::as_str);
        let podcast = field("content_type") == Some("Podcast")
            || matches!(
                field("content_delivery_type"),
                Some("PodcastParent" | "Periodical" | "PodcastEpisode")
            );
        if podcast {
            ContentType::Podcast
        } else {
            ContentType::Audiobook
        }
    }
}

/// Which series a book list is limited to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeriesFilter {
    /// Books of the series with this exact title.
    Titled(String),
    /// Books that belong to no series.
    Without,
}

/// Which level of the library a book list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ParentFilter {
    /// Books, podcasts and multi-part books: the items that belong to no parent.
    #[default]
    TopLevel,
    /// One parent's episodes or parts.
    ChildrenOf(super::asin::Asin),
    /// Every item, parents and children alike.
    Any,
}

/// A page of the library, filtered and ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookQuery {
    /// Words that must each appear (case-insensitively) in the title, subtitle, authors,
    /// narrators or series.
    pub text: Option<String>,
    /// Only books in one of these statuses; empty means any.
    pub statuses: Vec<BookStatus>,
    /// Only books of this series, or of none.
    pub series: Option<SeriesFilter>,
    /// Only books, or only podcasts.
    pub content_type: Option<ContentType>,
    /// Top-level items, one parent's children, or both.
    pub parent: ParentFilter,
    /// Only books with a downloaded or converted file on this server (`true`), or only books
    /// with neither (`false`).
    pub has_local: Option<bool>,
    /// Only books whose authors contain this (case-insensitively).
    pub author: Option<String>,
    /// Whether books removed from the Audible library are listed too.
    pub include_removed: bool,
    /// The order.
    pub sort: BookSortKey,
    /// Its direction.
    pub direction: SortDirection,
    /// How many books of the ordered list to skip.
    pub offset: u64,
    /// How many books to return at most.
    pub limit: u32,
}

impl Default for BookQuery {
    fn default() -> Self {
        Self {
            text: None,
            statuses: Vec::new(),
            series: None,
            content_type: None,
            parent: ParentFilter::TopLevel,
            has_local: None,
            author: None,
            include_removed: false,
            sort: BookSortKey::Title,
            direction: SortDirection::Asc,
            offset: 0,
            limit: 50,
        }
    }
}

/// One page of a [`BookQuery`].
#[derive(Debug, Clone, PartialEq)]
pub struct BookPage {
    /// The books on this page.
    pub books: Vec<Book>,
    /// How many books match the filters in all.
    pub total: u64,
}

/// How many (listed, not removed) books a series has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeriesCount {
    /// The series title.
    pub title: String,
    /// Audible's ASIN for the series, when a book named it.
    pub asin: Option<String>,
    /// Books of the library in it.
    pub count: u64,
}

/// The library grouped by series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeriesSummary {
    /// Every series, by title.
    pub items: Vec<SeriesCount>,
    /// Books that belong to no series.
    pub no_series_count: u64,
}
