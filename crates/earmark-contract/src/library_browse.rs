//! The browsing half of the `LibraryRepo` contract: filtered, ordered pages and the series
//! summary.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;

use earmark_core::ports::LibraryRepo;
use earmark_core::{
    Book, BookQuery, BookSortKey, BookStatus, BookUpdate, ContentType, ParentFilter, ParentLink,
    SeriesCount, SeriesFilter, SortDirection,
};

use crate::{asin, record};

/// Runs the browsing contract against `$setup`'s fixtures.
#[macro_export]
macro_rules! library_browse_contract {
    ($setup:path) => {
        $crate::__contract_tests!(
            $setup, library_browse, library:
            pages_cover_the_library_without_overlap,
            every_sort_key_orders_both_ways_with_missing_values_last,
            text_search_matches_every_word_in_any_field,
            search_wildcards_are_literal,
            filters_by_status_series_and_author,
            filters_by_no_series_content_type_and_local_files,
            removed_books_are_listed_only_on_request,
            series_summary_counts_listed_books,
            known_asins_are_those_in_the_library,
            children_are_listed_under_their_parent_in_order_and_counted,
        );
    };
}

/// A library of `n` books where every third has no narrator and every fifth no runtime.
async fn seed(repo: &Arc<dyn LibraryRepo>, n: u32) {
    let records = (1..=n)
        .map(|i| {
            let mut r = record(i);
            if i.is_multiple_of(3) {
                r.narrator = None;
            }
            if i.is_multiple_of(5) {
                r.runtime_min = None;
            }
            r.author = Some(format!("Author {}", i % 4));
            r
        })
        .collect();
    repo.upsert_books(records).await.unwrap();
}

async fn all(repo: &Arc<dyn LibraryRepo>, query: BookQuery) -> Vec<Book> {
    repo.list_books(BookQuery {
        limit: 1000,
        ..query
    })
    .await
    .unwrap()
    .books
}

fn asins(books: &[Book]) -> Vec<String> {
    books.iter().map(|b| b.record.asin.to_string()).collect()
}

/// Paging through any order yields every listed book exactly once, with `total` right.
pub async fn pages_cover_the_library_without_overlap(repo: Arc<dyn LibraryRepo>) {
    seed(&repo, 23).await;
    for sort in [
        BookSortKey::Title,
        BookSortKey::RuntimeLengthMin,
        BookSortKey::Series,
    ] {
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let page = repo
                .list_books(BookQuery {
                    sort,
                    offset,
                    limit: 5,
                    ..BookQuery::default()
                })
                .await
                .unwrap();
            assert_eq!(page.total, 23, "total under {sort}");
            if page.books.is_empty() {
                break;
            }
            offset += page.books.len() as u64;
            seen.extend(asins(&page.books));
        }
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(seen.len(), 23, "every book once under {sort}");
        assert_eq!(unique.len(), 23, "no book twice under {sort}");
    }
}

/// The value a sort key orders by, as comparable text (lower-cased, numbers zero-padded);
/// `None` when the book has none.
fn sort_value(book: &Book, key: BookSortKey) -> Option<String> {
    let r = &book.record;
    match key {
        BookSortKey::Title => Some(r.title.to_lowercase()),
        BookSortKey::Author => r.author.as_deref().map(str::to_lowercase),
        BookSortKey::Narrator => r.narrator.as_deref().map(str::to_lowercase),
        BookSortKey::Series => r.series.as_deref().map(str::to_lowercase),
        BookSortKey::RuntimeLengthMin => r.runtime_min.map(|m| format!("{m:010}")),
        BookSortKey::ReleaseDate => r.release_date.clone(),
        BookSortKey::PurchaseDate => r.purchase_date.clone(),
        BookSortKey::CreatedAt => Some(book.created_at.unix_timestamp_nanos().to_string()),
        BookSortKey::UpdatedAt => Some(book.updated_at.unix_timestamp_nanos().to_string()),
        BookSortKey::Status => Some(book.status.as_str().to_owned()),
        BookSortKey::Asin => Some(r.asin.to_string()),
        BookSortKey::Position => r.parent.as_ref().map(|p| format!("{:010}", p.position)),
    }
}

/// Each key orders ascending and descending, books without a value come last either way.
pub async fn every_sort_key_orders_both_ways_with_missing_values_last(repo: Arc<dyn LibraryRepo>) {
    seed(&repo, 17).await;
    repo.update_book(
        &asin(4),
        BookUpdate {
            status: Some(BookStatus::Completed),
            ..BookUpdate::default()
        },
    )
    .await
    .unwrap();
    for &key in BookSortKey::ALL {
        for &direction in SortDirection::ALL {
            let books = all(
                &repo,
                BookQuery {
                    sort: key,
                    direction,
                    ..BookQuery::default()
                },
            )
            .await;
            assert_eq!(books.len(), 17, "{key} {direction}");
            let values: Vec<Option<String>> = books.iter().map(|b| sort_value(b, key)).collect();
            for pair in values.windows(2) {
                let ordered = match (&pair[0], &pair[1]) {
                    (Some(_), None) | (None, None) => true,
                    (None, Some(_)) => false,
                    (Some(a), Some(b)) => match direction {
                        SortDirection::Asc => a.cmp(b) != Ordering::Greater,
                        SortDirection::Desc => a.cmp(b) != Ordering::Less,
                    },
                };
                assert!(
                    ordered,
                    "{key} {direction}: {:?} then {:?}",
                    pair[0], pair[1]
                );
            }
        }
    }
}

/// `text` splits into words; each must appear, in any case, in one of the searched fields.
pub async fn text_search_matches_every_word_in_any_field(repo: Arc<dyn LibraryRepo>) {
    let mut a = record(1);
    a.title = "The Left Hand of Darkness".into();
    a.narrator = Some("George Guidall".into());
    let mut b = record(2);
    b.title = "The Dispossessed".into();
    b.subtitle = Some("An Ambiguous Utopia".into());
    let mut c = record(3);
    c.title = "Unrelated".into();
    c.series = Some("Hainish Cycle".into());
    repo.upsert_books(vec![a, b, c]).await.unwrap();

    let search = async |text: &str| {
        let books = all(
            &repo,
            BookQuery {
                text: Some(text.into()),
                sort: BookSortKey::Asin,
                ..BookQuery::default()
            },
        )
        .await;
        asins(&books)
    };
    assert_eq!(search("darkness").await, vec![asin(1).to_string()]);
    assert_eq!(search("AMBIGUOUS").await, vec![asin(2).to_string()]);
    assert_eq!(search("guidall left").await, vec![asin(1).to_string()]);
    assert_eq!(search("hainish").await, vec![asin(3).to_string()]);
    assert_eq!(search("guidall dispossessed").await, Vec::<String>::new());
    assert_eq!(search("le guin").await.len(), 3, "authors are searched");
}

/// `%`, `_` and `\` in a search are plain characters, not patterns.
pub async fn search_wildcards_are_literal(repo: Arc<dyn LibraryRepo>) {
    let mut a = record(1);
    a.title = "100% Pure_Fun".into();
    let mut b = record(2);
    b.title = "1000 PureXFun".into();
    repo.upsert_books(vec![a, b]).await.unwrap();
    for text in ["%", "0%", "pure_fun"] {
        let books = all(
            &repo,
            BookQuery {
                text: Some(text.into()),
                ..BookQuery::default()
            },
        )
        .await;
        assert_eq!(asins(&books), vec![asin(1).to_string()], "search {text:?}");
    }
    let books = all(
        &repo,
        BookQuery {
            text: Some("\\".into()),
            ..BookQuery::default()
        },
    )
    .await;
    assert!(books.is_empty());
}

/// Status (any of several), exact series and author substring filters combine.
pub async fn filters_by_status_series_and_author(repo: Arc<dyn LibraryRepo>) {
    seed(&repo, 12).await;
    for (n, status) in [(3, BookStatus::Downloaded), (6, BookStatus::Failed)] {
        repo.update_book(
            &asin(n),
            BookUpdate {
                status: Some(status),
                ..BookUpdate::default()
            },
        )
        .await
        .unwrap();
    }
    let query = |statuses: Vec<BookStatus>, series: Option<&str>, author: Option<&str>| BookQuery {
        statuses,
        series: series.map(|s| SeriesFilter::Titled(s.to_owned())),
        author: author.map(str::to_owned),
        sort: BookSortKey::Asin,
        ..BookQuery::default()
    };
    let downloaded_or_failed = all(
        &repo,
        query(vec![BookStatus::Downloaded, BookStatus::Failed], None, None),
    )
    .await;
    assert_eq!(
        asins(&downloaded_or_failed),
        vec![asin(3).to_string(), asin(6).to_string()]
    );
    let earthsea = all(&repo, query(vec![], Some("Earthsea"), None)).await;
    assert_eq!(earthsea.len(), 4, "books 3, 6, 9, 12");
    let author_1 = all(&repo, query(vec![], None, Some("author 1"))).await;
    assert_eq!(
        asins(&author_1),
        [1, 5, 9].map(|n| asin(n).to_string()).to_vec()
    );
    let combined = all(
        &repo,
        query(vec![BookStatus::New], Some("Earthsea"), Some("AUTHOR 1")),
    )
    .await;
    assert_eq!(asins(&combined), vec![asin(9).to_string()]);
    let page = repo
        .list_books(BookQuery {
            limit: 1,
            ..query(vec![], Some("Earthsea"), None)
        })
        .await
        .unwrap();
    assert_eq!((page.books.len(), page.total), (1, 4));
}

/// Books of no series, podcasts or books (as the item Audible sent says), and books with or
/// without a file on this server.
pub async fn filters_by_no_series_content_type_and_local_files(repo: Arc<dyn LibraryRepo>) {
    let mut records: Vec<_> = (1..=6).map(record).collect();
    // Books 3 and 6 are in a series (see `record`); 4 is a podcast parent, 5 an episode.
    records[3].metadata_json["content_type"] = "Podcast".into();
    records[4].metadata_json["content_delivery_type"] = "PodcastEpisode".into();
    repo.upsert_books(records).await.unwrap();
    let local = |aax: bool, converted: bool| BookUpdate {
        local_path_aax: Some(aax.then(|| "/data/downloads/a.aaxc".to_owned())),
        local_path_converted: Some(converted.then(|| "/data/converted/a.m4b".to_owned())),
        ..BookUpdate::default()
    };
    repo.update_book(&asin(1), local(true, false))
        .await
        .unwrap();
    repo.update_book(&asin(2), local(true, true)).await.unwrap();
    let by = |query: BookQuery| {
        let repo = repo.clone();
        async move {
            asins(
                &all(
                    &repo,
                    BookQuery {
                        sort: BookSortKey::Asin,
                        ..query
                    },
                )
                .await,
            )
        }
    };
    let numbered = |ns: &[u32]| ns.iter().map(|n| asin(*n).to_string()).collect::<Vec<_>>();
    let no_series = by(BookQuery {
        series: Some(SeriesFilter::Without),
        ..BookQuery::default()
    })
    .await;
    assert_eq!(no_series, numbered(&[1, 2, 4, 5]));
    let podcasts = by(BookQuery {
        content_type: Some(ContentType::Podcast),
        ..BookQuery::default()
    })
    .await;
    assert_eq!(podcasts, numbered(&[4, 5]));
    let books = by(BookQuery {
        content_type: Some(ContentType::Audiobook),
        ..BookQuery::default()
    })
    .await;
    assert_eq!(books, numbered(&[1, 2, 3, 6]));
    let with_files = by(BookQuery {
        has_local: Some(true),
        ..BookQuery::default()
    })
    .await;
    assert_eq!(with_files, numbered(&[1, 2]));
    let without = by(BookQuery {
        has_local: Some(false),
        content_type: Some(ContentType::Audiobook),
        ..BookQuery::default()
    })
    .await;
    assert_eq!(without, numbered(&[3, 6]));
}

/// Tombstones stay out of lists unless asked for.
pub async fn removed_books_are_listed_only_on_request(repo: Arc<dyn LibraryRepo>) {
    seed(&repo, 4).await;
    repo.mark_removed_except(vec![asin(1), asin(2)])
        .await
        .unwrap();
    let listed = all(&repo, BookQuery::default()).await;
    assert_eq!(listed.len(), 2);
    let with_removed = all(
        &repo,
        BookQuery {
            include_removed: true,
            ..BookQuery::default()
        },
    )
    .await;
    assert_eq!(with_removed.len(), 4);
    assert_eq!(
        with_removed
            .iter()
            .filter(|b| b.removed_at.is_some())
            .count(),
        2
    );
}

/// Series are grouped by title with their ASIN; books without one and removed books are
/// counted apart or not at all.
pub async fn series_summary_counts_listed_books(repo: Arc<dyn LibraryRepo>) {
    seed(&repo, 10).await;
    let mut extra = record(11);
    extra.series = Some("Annals of the Western Shore".into());
    extra.series_asin = None;
    repo.upsert_books(vec![extra]).await.unwrap();
    repo.mark_removed_except((1..=8).map(asin).chain([asin(11)]).collect())
        .await
        .unwrap();
    let summary = repo.series_summary().await.unwrap();
    assert_eq!(
        summary.items,
        vec![
            SeriesCount {
                title: "Annals of the Western Shore".into(),
                asin: None,
                count: 1
            },
            SeriesCount {
                title: "Earthsea".into(),
                asin: Some("B000EARTHS".into()),
                count: 2
            },
        ],
        "books 3 and 6 are listed; 9 is removed"
    );
    assert_eq!(summary.no_series_count, 6, "books 1, 2, 4, 5, 7, 8");
}

/// `known_asins` keeps the books in the library, in the order asked, without removed ones, and
/// answers a batch larger than one query's chunk.
pub async fn known_asins_are_those_in_the_library(repo: Arc<dyn LibraryRepo>) {
    seed(&repo, 5).await;
    repo.mark_removed_except((1..=4).map(asin).collect())
        .await
        .unwrap();
    let asked = vec![asin(3), asin(99), asin(1), asin(5), asin(2)];
    assert_eq!(
        repo.known_asins(&asked).await.unwrap(),
        vec![asin(3), asin(1), asin(2)]
    );
    let many: Vec<_> = (1..=2_500).map(asin).collect();
    assert_eq!(repo.known_asins(&many).await.unwrap().len(), 4);
    assert!(repo.known_asins(&[]).await.unwrap().is_empty());
}

/// The library lists top-level items unless asked for a parent's children (in their order,
/// whatever their titles) or for every item; each parent's children are counted, removed
/// ones not; a child's link to its parent is kept and is part of what makes it current.
pub async fn children_are_listed_under_their_parent_in_order_and_counted(
    repo: Arc<dyn LibraryRepo>,
) {
    let parent = |n: u32| {
        let mut r = record(n);
        r.metadata_json =
            serde_json::json!({"content_delivery_type": "PodcastParent", "has_children": true});
        r
    };
    let child = |n: u32, of: u32, position: u32| {
        let mut r = record(n);
        // Titles in the reverse of the children's order.
        r.title = format!("Episode {}", 100 - position);
        r.parent = Some(ParentLink {
            asin: asin(of),
            position,
        });
        r
    };
    repo.upsert_books(vec![
        record(1),
        parent(2),
        child(10, 2, 3),
        child(11, 2, 1),
        child(12, 2, 2),
        parent(3),
        child(20, 3, 1),
    ])
    .await
    .unwrap();
    let top = all(&repo, BookQuery::default()).await;
    assert_eq!(asins(&top), [1, 2, 3].map(|n| asin(n).to_string()));
    let episodes = all(
        &repo,
        BookQuery {
            parent: ParentFilter::ChildrenOf(asin(2)),
            sort: BookSortKey::Position,
            ..BookQuery::default()
        },
    )
    .await;
    assert_eq!(asins(&episodes), [11, 12, 10].map(|n| asin(n).to_string()));
    assert_eq!(
        episodes[0].record.parent,
        Some(ParentLink {
            asin: asin(2),
            position: 1
        })
    );
    let every = all(
        &repo,
        BookQuery {
            parent: ParentFilter::Any,
            ..BookQuery::default()
        },
    )
    .await;
    assert_eq!(every.len(), 7);

    // The same records again change nothing; a child moved to another place does.
    let again = repo.upsert_books(vec![child(10, 2, 3)]).await.unwrap();
    assert_eq!(again.unchanged, 1);
    let moved = repo.upsert_books(vec![child(10, 2, 4)]).await.unwrap();
    assert_eq!(moved.updated, 1);

    repo.mark_removed_except(vec![
        asin(1),
        asin(2),
        asin(3),
        asin(10),
        asin(11),
        asin(20),
    ])
    .await
    .unwrap();
    let mut counts = repo
        .count_children(&[asin(1), asin(2), asin(3)])
        .await
        .unwrap();
    counts.sort();
    assert_eq!(counts, [(asin(2), 2), (asin(3), 1)]);
}
