//! The `LibraryRepo` contract.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use earmark_core::ports::{LibraryRepo, LibraryRepoError};
use earmark_core::{BookStatus, BookUpdate, OutputFormat};

use crate::{asin, record};

/// Runs the whole `LibraryRepo` contract against `$setup`'s fixtures.
#[macro_export]
macro_rules! library_repo_contract {
    ($setup:path) => {
        $crate::__contract_tests!(
            $setup, library_repo, library:
            upsert_inserts_new_books,
            upsert_of_an_unchanged_record_keeps_updated_at,
            upsert_of_a_changed_record_moves_updated_at,
            upsert_leaves_local_state_alone,
            unknown_book_is_not_found,
            removal_leaves_a_tombstone_that_a_resync_lifts,
            update_book_changes_local_state,
            change_feed_pages_by_key,
            change_feed_watermark_hides_nothing,
            change_feed_never_misses_concurrent_writes,
        );
    };
}

/// New books arrive as NEW with every field of their record.
pub async fn upsert_inserts_new_books(repo: Arc<dyn LibraryRepo>) {
    let summary = repo
        .upsert_books(vec![record(1), record(2), record(3)])
        .await
        .unwrap();
    assert_eq!(
        (summary.inserted, summary.updated, summary.unchanged),
        (3, 0, 0)
    );
    let book = repo.get_book(&asin(2)).await.unwrap();
    assert_eq!(book.record, record(2));
    assert_eq!(book.status, BookStatus::New);
    assert_eq!(book.created_at, book.updated_at);
    assert!(book.removed_at.is_none());
}

/// Syncing the same library twice changes nothing, so a delta client sees nothing new.
pub async fn upsert_of_an_unchanged_record_keeps_updated_at(repo: Arc<dyn LibraryRepo>) {
    repo.upsert_books(vec![record(1), record(2)]).await.unwrap();
    let before = repo.get_book(&asin(1)).await.unwrap();
    let watermark = repo
        .changes_since(None, None, 100)
        .await
        .unwrap()
        .next_since;
    tokio::time::sleep(Duration::from_millis(5)).await;

    let summary = repo.upsert_books(vec![record(1), record(2)]).await.unwrap();
    assert_eq!(
        (summary.inserted, summary.updated, summary.unchanged),
        (0, 0, 2)
    );
    assert_eq!(
        repo.get_book(&asin(1)).await.unwrap().updated_at,
        before.updated_at
    );
    let delta = repo
        .changes_since(Some(watermark), None, 100)
        .await
        .unwrap();
    assert!(
        delta.books.is_empty(),
        "a no-op sync must give an empty delta: {:?}",
        delta.books
    );
}

/// A changed record (any field, or only its raw metadata) moves `updated_at` forward.
pub async fn upsert_of_a_changed_record_moves_updated_at(repo: Arc<dyn LibraryRepo>) {
    repo.upsert_books(vec![record(1), record(2)]).await.unwrap();
    let before = repo.get_book(&asin(1)).await.unwrap();
    let mut retitled = record(1);
    retitled.title = "A Wizard of Earthsea".into();
    let mut new_metadata = record(2);
    new_metadata.metadata_json["rating"] = serde_json::json!("4.8");

    let summary = repo
        .upsert_books(vec![retitled.clone(), new_metadata.clone()])
        .await
        .unwrap();
    assert_eq!(
        (summary.inserted, summary.updated, summary.unchanged),
        (0, 2, 0)
    );
    let after = repo.get_book(&asin(1)).await.unwrap();
    assert_eq!(after.record, retitled);
    assert!(after.updated_at > before.updated_at);
    assert_eq!(after.created_at, before.created_at);
    assert_eq!(repo.get_book(&asin(2)).await.unwrap().record, new_metadata);
}

/// A sync never resets what downloads and conversions recorded.
pub async fn upsert_leaves_local_state_alone(repo: Arc<dyn LibraryRepo>) {
    repo.upsert_books(vec![record(1)]).await.unwrap();
    let update = BookUpdate {
        status: Some(BookStatus::Downloaded),
        local_path_aax: Some(Some(
            "/data/downloads/B000000001/B000000001-AAX_44_128.aaxc".into(),
        )),
        ..BookUpdate::default()
    };
    repo.update_book(&asin(1), update).await.unwrap();
    let mut changed = record(1);
    changed.narrator = Some("Kobna Holdbrook-Smith".into());
    repo.upsert_books(vec![changed]).await.unwrap();
    let book = repo.get_book(&asin(1)).await.unwrap();
    assert_eq!(book.status, BookStatus::Downloaded);
    assert!(book.local_path_aax.is_some());
    assert_eq!(
        book.record.narrator.as_deref(),
        Some("Kobna Holdbrook-Smith")
    );
}

/// Lookups and updates of an unknown ASIN say so.
pub async fn unknown_book_is_not_found(repo: Arc<dyn LibraryRepo>) {
    assert!(
        matches!(repo.get_book(&asin(404)).await, Err(LibraryRepoError::BookNotFound(a)) if a == asin(404))
    );
    let update = BookUpdate {
        status: Some(BookStatus::Failed),
        ..BookUpdate::default()
    };
    assert!(matches!(
        repo.update_book(&asin(404), update).await,
        Err(LibraryRepoError::BookNotFound(_))
    ));
}

/// Books missing from a sync become tombstones in the feed; when they return, they are live.
pub async fn removal_leaves_a_tombstone_that_a_resync_lifts(repo: Arc<dyn LibraryRepo>) {
    repo.upsert_books(vec![record(1), record(2), record(3)])
        .await
        .unwrap();
    let watermark = repo
        .changes_since(None, None, 100)
        .await
        .unwrap()
        .next_since;

    assert_eq!(repo.mark_removed_except(vec![asin(1)]).await.unwrap(), 2);
    assert_eq!(
        repo.mark_removed_except(vec![asin(1)]).await.unwrap(),
        0,
        "already removed"
    );
    let delta = repo
        .changes_since(Some(watermark), None, 100)
        .await
        .unwrap();
    let tombstones: Vec<_> = delta
        .books
        .iter()
        .map(|b| (b.record.asin.clone(), b.removed_at.is_some()))
        .collect();
    assert_eq!(tombstones, vec![(asin(2), true), (asin(3), true)]);
    assert!(repo.get_book(&asin(1)).await.unwrap().removed_at.is_none());

    let watermark = delta.next_since;
    let summary = repo.upsert_books(vec![record(1), record(2)]).await.unwrap();
    assert_eq!(
        (summary.updated, summary.unchanged),
        (1, 1),
        "a returning book is an update"
    );
    let delta = repo
        .changes_since(Some(watermark), None, 100)
        .await
        .unwrap();
    assert_eq!(delta.books.len(), 1);
    assert_eq!(delta.books[0].record.asin, asin(2));
    assert!(delta.books[0].removed_at.is_none());
}

/// Local-state updates apply field by field and show in the change feed.
pub async fn update_book_changes_local_state(repo: Arc<dyn LibraryRepo>) {
    repo.upsert_books(vec![record(7)]).await.unwrap();
    let before = repo.get_book(&asin(7)).await.unwrap();
    let watermark = repo.changes_since(None, None, 10).await.unwrap().next_since;
    let converted = BookUpdate {
        status: Some(BookStatus::Completed),
        local_path_converted: Some(Some("/data/converted/Book 7.m4b".into())),
        conversion_format: Some(Some(OutputFormat::M4b)),
        error_message: Some(Some("left from an earlier failure".into())),
        ..BookUpdate::default()
    };
    let after = repo.update_book(&asin(7), converted).await.unwrap();
    assert_eq!(after.status, BookStatus::Completed);
    assert_eq!(after.conversion_format, Some(OutputFormat::M4b));
    assert!(after.updated_at > before.updated_at);
    assert_eq!(after.record, before.record);

    let cleared = repo
        .update_book(
            &asin(7),
            BookUpdate {
                error_message: Some(None),
                ..BookUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.error_message, None);
    assert_eq!(
        cleared.local_path_converted.as_deref(),
        Some("/data/converted/Book 7.m4b"),
        "untouched field kept"
    );
    let delta = repo.changes_since(Some(watermark), None, 10).await.unwrap();
    assert_eq!(delta.books.len(), 1);
    assert_eq!(delta.books[0], cleared);
}

/// Keyset pages cover every book exactly once, in `(updated_at, asin)` order.
pub async fn change_feed_pages_by_key(repo: Arc<dyn LibraryRepo>) {
    repo.upsert_books((1..=5).map(record).collect())
        .await
        .unwrap();
    repo.upsert_books((6..=7).map(record).collect())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = repo.changes_since(None, after.clone(), 3).await.unwrap();
        pages += 1;
        assert!(page.books.len() <= 3);
        seen.extend(
            page.books
                .iter()
                .map(|b| (b.updated_at, b.record.asin.clone())),
        );
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "feed order is (updated_at, asin)");
    let asins: Vec<_> = seen.into_iter().map(|(_, a)| a).collect();
    let mut expected: Vec<_> = (1..=7).map(asin).collect();
    expected.sort();
    let mut got = asins.clone();
    got.sort();
    assert_eq!(got, expected);
}

/// After a read, the watermark hides everything already returned and nothing written later.
pub async fn change_feed_watermark_hides_nothing(repo: Arc<dyn LibraryRepo>) {
    repo.upsert_books(vec![record(1), record(2)]).await.unwrap();
    let first = repo.changes_since(None, None, 100).await.unwrap();
    assert_eq!(first.books.len(), 2);
    assert!(first.next_since >= first.books.iter().map(|b| b.updated_at).max().unwrap());
    assert!(
        repo.changes_since(Some(first.next_since), None, 100)
            .await
            .unwrap()
            .books
            .is_empty()
    );

    repo.update_book(
        &asin(2),
        BookUpdate {
            status: Some(BookStatus::Downloading),
            ..BookUpdate::default()
        },
    )
    .await
    .unwrap();
    let second = repo
        .changes_since(Some(first.next_since), None, 100)
        .await
        .unwrap();
    assert_eq!(second.books.len(), 1);
    assert_eq!(second.books[0].status, BookStatus::Downloading);
    assert!(second.next_since >= first.next_since);
}

/// A reader that always follows `next_since` ends with exactly the stored state, even when
/// writers commit while its reads run.
pub async fn change_feed_never_misses_concurrent_writes(repo: Arc<dyn LibraryRepo>) {
    const BOOKS: u32 = 12;
    const ROUNDS: u32 = 40;
    repo.upsert_books((1..=BOOKS).map(record).collect())
        .await
        .unwrap();

    let writers: Vec<_> = (0..2u32)
        .map(|w| {
            let repo = repo.clone();
            tokio::spawn(async move {
                for round in 0..ROUNDS {
                    let n = 1 + (round * 7 + w * 5) % BOOKS;
                    let mut changed = record(n);
                    changed.title = format!("Book {n} by writer {w} round {round}");
                    repo.upsert_books(vec![changed]).await.unwrap();
                    if round % 3 == 0 {
                        repo.update_book(
                            &asin(1 + (n % BOOKS)),
                            BookUpdate {
                                error_message: Some(Some(format!("w{w} r{round}"))),
                                ..BookUpdate::default()
                            },
                        )
                        .await
                        .unwrap();
                    }
                }
            })
        })
        .collect();

    let mut mirror: HashMap<String, earmark_core::Book> = HashMap::new();
    let mut since = None;
    let catch_up = async |mirror: &mut HashMap<String, earmark_core::Book>,
                          since: &mut Option<time::OffsetDateTime>| {
        let mut after = None;
        loop {
            let page = repo.changes_since(*since, after.clone(), 4).await.unwrap();
            for book in page.books {
                mirror.insert(book.record.asin.to_string(), book);
            }
            match page.next_cursor {
                Some(cursor) => after = Some(cursor),
                None => {
                    *since = Some(page.next_since);
                    break;
                }
            }
        }
    };
    while writers.iter().any(|w| !w.is_finished()) {
        catch_up(&mut mirror, &mut since).await;
        tokio::task::yield_now().await;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    catch_up(&mut mirror, &mut since).await;

    for n in 1..=BOOKS {
        let stored = repo.get_book(&asin(n)).await.unwrap();
        assert_eq!(
            mirror.get(asin(n).as_str()),
            Some(&stored),
            "the mirror missed a change to {}",
            asin(n)
        );
    }
}
