//! What a download of a parent means: a podcast is not a download at all (its episodes are,
//! each in a job of its own). A book sold in parts is downloaded through its own ASIN:
//! Audible delivers most such books as one file and refuses licences for their parts ("Audio
//! Part asins are no longer supported", BookLibConnect #186; audible-cli #187); when it
//! answers "please download individual parts" instead (audible-cli #150), audible-cli fetches
//! the parts, and every one of them must arrive.

use std::collections::HashSet;

use crate::domain::asin::Asin;
use crate::domain::book::Book;
use crate::domain::library_query::{BookQuery, BookSortKey, ParentFilter};
use crate::domain::parenthood::{ItemKind, is_audio_part, listed_children};
use crate::ports::{JobFailure, LibraryRepo, LibraryRepoError};

/// The most children listed at once (a podcast's whole back catalogue).
const MOST_CHILDREN: u32 = 100_000;

/// The failure of a download job naming a podcast.
pub(super) fn podcast_refused(asin: &Asin) -> JobFailure {
    JobFailure::permanent(format!(
        "{asin} is a podcast: it has no audio of its own; download its episodes (POST \
         /jobs/download with the podcast's ASIN queues one job per episode not yet downloaded)"
    ))
}

/// The failure of a download job naming one part of a book sold in parts: Audible licenses
/// parts only as part of their book ("Audio Part asins are no longer supported"), and
/// audible-cli finds only the book in the library.
pub(super) fn part_refused(asin: &Asin, book: &Book) -> Option<JobFailure> {
    let parent = book
        .record
        .parent
        .as_ref()
        .filter(|_| is_audio_part(&book.record.metadata_json))?;
    Some(JobFailure::permanent(format!(
        "{asin} is part {} of the book {}: download the book (POST /jobs/download with {}), \
         which brings all of its parts",
        parent.position, parent.asin, parent.asin
    )))
}

/// A parent's children in the library (not removed), in their order.
///
/// # Errors
/// The repository's.
pub async fn children_of(
    repo: &dyn LibraryRepo,
    parent: &Asin,
) -> Result<Vec<Book>, LibraryRepoError> {
    Ok(repo
        .list_books(BookQuery {
            parent: ParentFilter::ChildrenOf(parent.clone()),
            sort: BookSortKey::Position,
            limit: MOST_CHILDREN,
            ..BookQuery::default()
        })
        .await?
        .books)
}

/// The parts of a book sold in parts, in order: those its own record names (its
/// `relationships`), else the children stored under it.
///
/// # Errors
/// The repository's.
pub async fn parts_of(repo: &dyn LibraryRepo, book: &Book) -> Result<Vec<Asin>, LibraryRepoError> {
    let named = listed_children(&book.record.metadata_json);
    if !named.is_empty() {
        return Ok(named);
    }
    Ok(children_of(repo, &book.record.asin)
        .await?
        .into_iter()
        .map(|part| part.record.asin)
        .collect())
}

/// The part among `parts` a downloaded file belongs to: audible-cli names every file by its
/// item's ASIN (`--filename-mode asin_only`), so a part's files start with the part's.
pub fn part_owning<'a>(parts: &'a [Asin], path: &str) -> Option<&'a Asin> {
    let name = path.rsplit('/').next().unwrap_or(path);
    parts
        .iter()
        .find(|part| name.starts_with(&format!("{}-", part.as_str())))
}

/// What a download request for `asins` queues: each podcast among them stands for its
/// episodes not yet downloaded (in their order), every other ASIN for itself. Unknown ASINs
/// are left for the request to refuse.
///
/// # Errors
/// The repository's.
pub async fn expand_podcasts(
    repo: &dyn LibraryRepo,
    asins: Vec<Asin>,
) -> Result<Expanded, LibraryRepoError> {
    let mut expanded = Expanded::default();
    let mut seen = HashSet::new();
    for asin in asins {
        let book = match repo.get_book(&asin).await {
            Ok(book) => book,
            Err(LibraryRepoError::BookNotFound(_)) => {
                if seen.insert(asin.clone()) {
                    expanded.asins.push(asin);
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        if ItemKind::of_item(&book.record.metadata_json) != ItemKind::Podcast {
            if seen.insert(asin.clone()) {
                expanded.asins.push(asin);
            }
            continue;
        }
        expanded.podcasts += 1;
        for episode in children_of(repo, &asin).await? {
            let waiting = episode.local_path_aax.is_none();
            if waiting && seen.insert(episode.record.asin.clone()) {
                expanded.asins.push(episode.record.asin);
            }
        }
    }
    Ok(expanded)
}

/// A download request with its podcasts replaced by their episodes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expanded {
    /// The books and episodes to download, each once.
    pub asins: Vec<Asin>,
    /// How many podcasts the request named.
    pub podcasts: usize,
}
