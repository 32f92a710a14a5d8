//! The JSON of `/library`: the web client's Book shape, read from a stored book's columns and
//! the raw Audible record kept in `metadata_json`.

use std::collections::BTreeMap;

use earmark_core::{Book, ItemKind, SeriesSummary};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::routes::chapters::FileView;
use crate::routes::jobs::JobView;
use crate::routes::wire::rfc3339;

/// An author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Author {
    /// Audible's author ASIN, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asin: Option<String>,
    /// Name.
    pub name: String,
}

/// A narrator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Narrator {
    /// Name.
    pub name: String,
}

/// A series the book belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Series {
    /// Audible's series ASIN, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asin: Option<String>,
    /// Title.
    pub title: String,
    /// Position in it ("1", "2.5").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<String>,
}

/// A book as the web client knows it, plus `removed_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BookView {
    /// Audible's id.
    pub asin: String,
    /// Title.
    pub title: String,
    /// Subtitle.
    pub subtitle: Option<String>,
    /// Authors in Audible's order.
    pub authors: Vec<Author>,
    /// Narrators.
    pub narrators: Vec<Narrator>,
    /// Every series it belongs to; `null` for none.
    pub series: Option<Vec<Series>>,
    /// Running time in minutes.
    pub runtime_length_min: Option<i32>,
    /// Publication date.
    pub release_date: Option<String>,
    /// When the person bought it.
    pub purchase_date: Option<String>,
    /// Cover URLs by pixel size.
    pub product_images: Option<BTreeMap<String, String>>,
    /// Publisher.
    pub publisher: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// `unabridged`, `abridged`, ...
    pub format_type: Option<String>,
    /// `Product`, `Podcast`, ...
    pub content_type: Option<String>,
    /// Audible's `SinglePartBook`, `MultiPartBook`, `AudioPart`, `PodcastParent`,
    /// `PodcastEpisode`, ...
    pub content_delivery_type: Option<String>,
    /// The podcast or multi-part book this is an episode or part of.
    pub parent_asin: Option<String>,
    /// On a podcast or multi-part book: how many episodes or parts the library holds
    /// (`GET /library?parent_asin=` lists them); `null` on other items.
    pub children_count: Option<u64>,
    /// Whether Audible offers an AAX file for it.
    pub aax_available: bool,
    /// Whether Audible offers an AAXC file (any audio codec at all).
    pub aaxc_available: bool,
    /// `NEW`, `DOWNLOADING`, `DOWNLOADED`, `CONVERTING`, `COMPLETED` or `FAILED`.
    pub status: String,
    /// The downloaded AAX/AAXC.
    pub local_path_aax: Option<String>,
    /// Its voucher.
    pub local_path_voucher: Option<String>,
    /// The downloaded cover.
    pub local_path_cover: Option<String>,
    /// The main converted file.
    pub local_path_converted: Option<String>,
    /// Its format.
    pub conversion_format: Option<String>,
    /// Why the last job failed.
    pub error_message: Option<String>,
    /// When earmark first saw it.
    pub created_at: String,
    /// When anything about it last changed.
    pub updated_at: String,
    /// When it left the Audible library (a tombstone); `null` while it is in it.
    pub removed_at: Option<String>,
    /// Where the person stopped listening; `null` before they played it.
    pub progress: Option<super::ProgressView>,
}

/// One book with its files and recent jobs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BookDetail {
    /// The book.
    #[serde(flatten)]
    pub book: BookView,
    /// Its stored files (downloads, side files, converted outputs).
    pub files: Vec<FileView>,
    /// Its most recent jobs, newest first.
    pub jobs: Vec<JobView>,
}

/// A page of the library, or of its changes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BookList {
    /// The books (with `since`, changed and removed ones, oldest change first).
    pub items: Vec<BookView>,
    /// Matches in all (with `since`: books on this page).
    pub total: u64,
    /// 1-based page number.
    pub page: u64,
    /// Page size asked for.
    pub page_size: u32,
    /// Pages in all.
    pub total_pages: u64,
    /// With `since`: the watermark to send as `since` next time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_since: Option<String>,
    /// With `since`: more changes follow; send it back as `cursor` (same `since`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One series and how many of the library's books are in it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SeriesOption {
    /// Title.
    pub title: String,
    /// Audible's series ASIN, when known.
    pub asin: Option<String>,
    /// Books in it.
    pub count: u64,
}

/// The library by series.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SeriesList {
    /// Every series, by title.
    pub items: Vec<SeriesOption>,
    /// Books in none.
    pub no_series_count: u64,
}

/// `POST /library/sync` body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SyncRequest {
    /// The audible-cli profile to sync; its primary profile when absent.
    #[schema(value_type = Option<crate::routes::wire::ProfileName>)]
    pub profile: Option<String>,
}

impl From<SeriesSummary> for SeriesList {
    fn from(s: SeriesSummary) -> Self {
        Self {
            items: s
                .items
                .into_iter()
                .map(|i| SeriesOption {
                    title: i.title,
                    asin: i.asin,
                    count: i.count,
                })
                .collect(),
            no_series_count: s.no_series_count,
        }
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn people(meta: &Value, key: &str) -> Option<Vec<(Option<String>, String)>> {
    let list = meta.get(key)?.as_array()?;
    Some(
        list.iter()
            .filter_map(|p| Some((text(p, "asin"), text(p, "name")?)))
            .collect(),
    )
}

/// A `", "`-joined column split back into names (records without the API's lists).
fn split(joined: Option<&str>) -> Vec<(Option<String>, String)> {
    joined
        .map(|s| {
            s.split(", ")
                .filter(|n| !n.is_empty())
                .map(|n| (None, n.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The views of `books`, parents with their children counted.
///
/// # Errors
/// The repository's, when the counts cannot be read.
pub async fn views_of(
    library: &dyn earmark_core::ports::LibraryRepo,
    books: &[Book],
) -> Result<Vec<BookView>, earmark_core::ports::LibraryRepoError> {
    let mut views: Vec<BookView> = books.iter().map(BookView::from).collect();
    let parents: Vec<(usize, earmark_core::Asin)> = books
        .iter()
        .enumerate()
        .filter(|(_, b)| ItemKind::of_item(&b.record.metadata_json).is_parent())
        .map(|(index, b)| (index, b.record.asin.clone()))
        .collect();
    if parents.is_empty() {
        return Ok(views);
    }
    let asins: Vec<earmark_core::Asin> = parents.iter().map(|(_, asin)| asin.clone()).collect();
    let counts: std::collections::HashMap<earmark_core::Asin, u64> =
        library.count_children(&asins).await?.into_iter().collect();
    for (index, asin) in parents {
        views[index].children_count = Some(counts.get(&asin).copied().unwrap_or(0));
    }
    Ok(views)
}

impl From<&Book> for BookView {
    fn from(book: &Book) -> Self {
        let r = &book.record;
        let meta = &r.metadata_json;
        let authors = people(meta, "authors").unwrap_or_else(|| split(r.author.as_deref()));
        let narrators = people(meta, "narrators").unwrap_or_else(|| split(r.narrator.as_deref()));
        let series = match meta.get("series").and_then(Value::as_array) {
            Some(list) => Some(
                list.iter()
                    .filter_map(|s| {
                        Some(Series {
                            asin: text(s, "asin"),
                            title: text(s, "title")?,
                            sequence: match s.get("sequence") {
                                Some(Value::String(q)) => Some(q.clone()),
                                Some(Value::Number(n)) => Some(n.to_string()),
                                _ => None,
                            },
                        })
                    })
                    .collect::<Vec<_>>(),
            )
            .filter(|l| !l.is_empty()),
            None => r.series.as_ref().map(|title| {
                vec![Series {
                    asin: r.series_asin.clone(),
                    title: title.clone(),
                    sequence: r.series_sequence.clone(),
                }]
            }),
        };
        let product_images = meta
            .get("product_images")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect::<BTreeMap<_, _>>()
            })
            .or_else(|| {
                r.cover_url
                    .as_ref()
                    .map(|u| BTreeMap::from([("500".to_owned(), u.clone())]))
            })
            .filter(|m| !m.is_empty());
        let codecs: Vec<&str> = meta
            .get("available_codecs")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            asin: r.asin.to_string(),
            title: r.title.clone(),
            subtitle: r.subtitle.clone(),
            authors: authors
                .into_iter()
                .map(|(asin, name)| Author { asin, name })
                .collect(),
            narrators: narrators
                .into_iter()
                .map(|(_, name)| Narrator { name })
                .collect(),
            series,
            runtime_length_min: r.runtime_min,
            release_date: r.release_date.clone(),
            purchase_date: r.purchase_date.clone(),
            product_images,
            publisher: text(meta, "publisher_name").or_else(|| text(meta, "publisher")),
            language: text(meta, "language"),
            format_type: text(meta, "format_type"),
            content_type: text(meta, "content_type"),
            content_delivery_type: text(meta, "content_delivery_type"),
            parent_asin: r.parent.as_ref().map(|p| p.asin.to_string()),
            // Counted by `views_of`, which reads the library.
            children_count: None,
            aax_available: codecs.iter().any(|c| c.starts_with("aax")),
            aaxc_available: !codecs.is_empty(),
            status: book.status.as_str().to_owned(),
            local_path_aax: book.local_path_aax.clone(),
            local_path_voucher: book.local_path_voucher.clone(),
            local_path_cover: book.local_path_cover.clone(),
            local_path_converted: book.local_path_converted.clone(),
            conversion_format: book.conversion_format.map(|f| f.as_str().to_owned()),
            error_message: book.error_message.clone(),
            created_at: rfc3339(book.created_at),
            updated_at: rfc3339(book.updated_at),
            removed_at: book.removed_at.map(rfc3339),
            progress: book
                .progress
                .as_ref()
                .map(|p| super::ProgressView::of(r.asin.as_str(), p)),
        }
    }
}
