//! The stored-files half of the `LibraryRepo` contract: registering files, and writers that
//! race on the store.

use std::sync::Arc;

use earmark_core::ports::{LibraryRepo, LibraryRepoError};
use earmark_core::{BookStatus, BookUpdate, FileKind, NewStoredFile};

use crate::{asin, record};

/// Runs the stored-files contract against `$setup`'s fixtures.
#[macro_export]
macro_rules! library_files_contract {
    ($setup:path) => {
        $crate::__contract_tests!(
            $setup, library_files, library:
            files_are_registered_by_path,
            racing_writers_all_succeed,
            removal_leaves_a_tombstone_and_forgets_files_when_asked,
            incomplete_downloads_have_side_files_but_no_audio,
            progress_is_saved_on_the_book_and_listed_while_unfinished,
            a_file_follows_its_move_and_is_forgotten_when_gone,
        );
    };
}

/// Files belong to existing books, are found by id and book, and re-registering a path
/// replaces its row.
pub async fn files_are_registered_by_path(repo: Arc<dyn LibraryRepo>) {
    let cover = NewStoredFile {
        asin: asin(1),
        kind: FileKind::Cover,
        path: "/data/downloads/B000000001/B000000001_(500).jpg".into(),
        size: 51_234,
        mime: "image/jpeg".into(),
    };
    assert!(matches!(
        repo.add_file(cover.clone()).await,
        Err(LibraryRepoError::BookNotFound(_))
    ));
    repo.upsert_books(vec![record(1)]).await.unwrap();

    let stored = repo.add_file(cover.clone()).await.unwrap();
    assert_eq!((stored.kind, stored.size), (FileKind::Cover, 51_234));
    let audio = repo
        .add_file(NewStoredFile {
            kind: FileKind::Aaxc,
            path: "/data/downloads/B000000001/B000000001-AAX_44_128.aaxc".into(),
            size: 7,
            mime: "audio/vnd.audible.aaxc".into(),
            ..cover.clone()
        })
        .await
        .unwrap();
    assert_eq!(repo.get_file(stored.id).await.unwrap(), stored);

    let replaced = repo
        .add_file(NewStoredFile {
            size: 60_000,
            ..cover
        })
        .await
        .unwrap();
    assert_eq!(replaced.id, stored.id, "same path, same id");
    assert_eq!(replaced.size, 60_000);
    let ids: Vec<_> = repo
        .files_of(&asin(1))
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&stored.id) && ids.contains(&audio.id));
    assert!(repo.files_of(&asin(2)).await.unwrap().is_empty());
    let missing = uuid::Uuid::new_v4();
    assert!(
        matches!(repo.get_file(missing).await, Err(LibraryRepoError::FileNotFound(id)) if id == missing)
    );
}

/// Writers racing on the store all succeed: a write that reads first (registering a file
/// checks its book) waits for the others instead of failing when one went first.
pub async fn racing_writers_all_succeed(repo: Arc<dyn LibraryRepo>) {
    repo.upsert_books((1..=4).map(record).collect())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for worker in 0..8u32 {
        let repo = repo.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..10u32 {
                let n = 1 + (worker + round) % 4;
                repo.add_file(NewStoredFile {
                    asin: asin(n),
                    kind: FileKind::Converted,
                    path: format!("/data/converted/{worker}-{round}.m4b"),
                    size: i64::from(round),
                    mime: "audio/mp4".into(),
                })
                .await
                .unwrap();
                repo.update_book(
                    &asin(n),
                    BookUpdate {
                        status: Some(BookStatus::Completed),
                        ..BookUpdate::default()
                    },
                )
                .await
                .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let files = files_in_library(&repo).await;
    assert_eq!(files, 80);
}

async fn files_in_library(repo: &Arc<dyn LibraryRepo>) -> usize {
    let mut total = 0;
    for n in 1..=4 {
        total += repo.files_of(&asin(n)).await.unwrap().len();
    }
    total
}

fn file(n: u32, kind: FileKind, name: &str) -> NewStoredFile {
    NewStoredFile {
        asin: asin(n),
        kind,
        path: format!("/data/downloads/{}/{name}", asin(n)),
        size: 100,
        mime: "application/octet-stream".into(),
    }
}

/// Removing a book leaves a tombstone the change feed reports; its files stay registered
/// unless the caller asks to forget them, and then they come back to be deleted and the
/// book's local state is cleared. Unknown books are `BookNotFound`.
pub async fn removal_leaves_a_tombstone_and_forgets_files_when_asked(repo: Arc<dyn LibraryRepo>) {
    assert!(matches!(
        repo.remove_book(&asin(1), true).await,
        Err(LibraryRepoError::BookNotFound(_))
    ));
    repo.upsert_books(vec![record(1), record(2)]).await.unwrap();
    for n in [1, 2] {
        repo.add_file(file(n, FileKind::Aaxc, "a.aaxc"))
            .await
            .unwrap();
        repo.add_file(file(n, FileKind::Cover, "c.jpg"))
            .await
            .unwrap();
        let update = BookUpdate {
            status: Some(BookStatus::Downloaded),
            local_path_aax: Some(Some(format!("/data/downloads/{}/a.aaxc", asin(n)))),
            ..BookUpdate::default()
        };
        repo.update_book(&asin(n), update).await.unwrap();
    }
    let before = repo.changes_since(None, None, 10).await.unwrap().next_since;

    let kept = repo.remove_book(&asin(1), false).await.unwrap();
    assert!(kept.book.removed_at.is_some());
    assert!(kept.forgotten.is_empty());
    assert_eq!(kept.book.status, BookStatus::Downloaded, "local state kept");
    assert_eq!(repo.files_of(&asin(1)).await.unwrap().len(), 2);

    let gone = repo.remove_book(&asin(2), true).await.unwrap();
    let mut names: Vec<_> = gone.forgotten.iter().map(|f| f.kind).collect();
    names.sort_by_key(|k| k.as_str());
    assert_eq!(names, [FileKind::Aaxc, FileKind::Cover]);
    assert!(repo.files_of(&asin(2)).await.unwrap().is_empty());
    assert_eq!(gone.book.status, BookStatus::New);
    assert_eq!(gone.book.local_path_aax, None);
    let first_removal = gone.book.removed_at;
    let again = repo.remove_book(&asin(2), true).await.unwrap();
    assert!(again.forgotten.is_empty(), "nothing left to forget");
    assert_eq!(
        again.book.removed_at, first_removal,
        "removed once, when first removed"
    );

    let feed = repo.changes_since(Some(before), None, 10).await.unwrap();
    let tombstones: Vec<_> = feed
        .books
        .iter()
        .filter(|b| b.removed_at.is_some())
        .map(|b| b.record.asin.clone())
        .collect();
    assert_eq!(tombstones, [asin(1), asin(2)], "both in the change feed");
    repo.upsert_books(vec![record(2)]).await.unwrap();
    assert_eq!(
        repo.get_book(&asin(2)).await.unwrap().removed_at,
        None,
        "a sync brings it back"
    );
}

/// Incomplete downloads are the books in the library with stored files but no downloaded
/// audio and no converted file.
pub async fn incomplete_downloads_have_side_files_but_no_audio(repo: Arc<dyn LibraryRepo>) {
    repo.upsert_books((1..=4).map(record).collect())
        .await
        .unwrap();
    // 1: a cover and a voucher only; 2: downloaded; 3: nothing; 4: a cover, but removed.
    repo.add_file(file(1, FileKind::Cover, "c.jpg"))
        .await
        .unwrap();
    repo.add_file(file(1, FileKind::Voucher, "v.voucher"))
        .await
        .unwrap();
    repo.add_file(file(2, FileKind::Aaxc, "a.aaxc"))
        .await
        .unwrap();
    let downloaded = BookUpdate {
        local_path_aax: Some(Some("/data/downloads/B000000002/a.aaxc".into())),
        ..BookUpdate::default()
    };
    repo.update_book(&asin(2), downloaded).await.unwrap();
    repo.add_file(file(4, FileKind::Cover, "c.jpg"))
        .await
        .unwrap();
    repo.remove_book(&asin(4), false).await.unwrap();
    let incomplete: Vec<_> = repo
        .incomplete_downloads()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.record.asin)
        .collect();
    assert_eq!(incomplete, [asin(1)]);
}

/// Progress is kept on the book (the change feed reports it), read back whole, and the
/// unfinished books are listed most recently played first.
pub async fn progress_is_saved_on_the_book_and_listed_while_unfinished(repo: Arc<dyn LibraryRepo>) {
    use earmark_core::Progress;
    use time::{Duration, OffsetDateTime};

    let t0 = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let at = |n: i64, position_ms: u64, is_finished: bool| Progress {
        position_ms,
        last_chapter_id: Some(format!("ch{n}")),
        playback_speed: 1.25,
        is_finished,
        last_played_at: t0 + Duration::minutes(n),
        completed_at: is_finished.then_some(t0 + Duration::minutes(n)),
        synced_at: None,
        sync_error: None,
    };
    assert!(matches!(
        repo.save_progress(&asin(1), &at(1, 5, false)).await,
        Err(LibraryRepoError::BookNotFound(_))
    ));
    repo.upsert_books((1..=4).map(record).collect())
        .await
        .unwrap();
    assert_eq!(repo.get_book(&asin(1)).await.unwrap().progress, None);
    let before = repo.changes_since(None, None, 10).await.unwrap().next_since;
    repo.save_progress(&asin(1), &at(1, 1000, false))
        .await
        .unwrap();
    repo.save_progress(&asin(2), &at(3, 2000, false))
        .await
        .unwrap();
    repo.save_progress(&asin(3), &at(2, 3000, true))
        .await
        .unwrap();
    repo.save_progress(&asin(4), &at(4, 4000, false))
        .await
        .unwrap();
    repo.remove_book(&asin(4), false).await.unwrap();
    let saved = repo.get_book(&asin(3)).await.unwrap().progress.unwrap();
    assert_eq!(saved, at(2, 3000, true));
    let listening: Vec<_> = repo
        .listening(10)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.record.asin)
        .collect();
    assert_eq!(
        listening,
        [asin(2), asin(1)],
        "unfinished, newest first, not removed"
    );
    assert_eq!(repo.listening(1).await.unwrap().len(), 1);
    let feed = repo.changes_since(Some(before), None, 10).await.unwrap();
    assert_eq!(
        feed.books.len(),
        4,
        "every change of progress is in the change feed"
    );
}

/// Every file is listed in path order; a moved file keeps its id under its new path, a
/// forgotten one is gone; both show in the change feed as changes of the book.
pub async fn a_file_follows_its_move_and_is_forgotten_when_gone(repo: Arc<dyn LibraryRepo>) {
    repo.upsert_books(vec![record(1), record(2)]).await.unwrap();
    let file = |n: u32, path: &str| NewStoredFile {
        asin: asin(n),
        kind: FileKind::Converted,
        path: path.into(),
        size: 100,
        mime: "audio/mp4".into(),
    };
    let b = repo
        .add_file(file(2, "/data/converted/b.m4b"))
        .await
        .unwrap();
    let a = repo
        .add_file(file(1, "/data/converted/a.m4b"))
        .await
        .unwrap();
    let all = repo.all_files().await.unwrap();
    assert_eq!(all, vec![a.clone(), b.clone()], "path order");

    let watermark = repo.changes_since(None, None, 10).await.unwrap().next_since;
    let moved = repo
        .move_file(a.id, "/data/converted/Author/a.m4b".into(), 101)
        .await
        .unwrap();
    assert_eq!(
        (moved.id, moved.path.as_str(), moved.size, moved.kind),
        (
            a.id,
            "/data/converted/Author/a.m4b",
            101,
            FileKind::Converted
        )
    );
    assert_eq!(repo.get_file(a.id).await.unwrap(), moved);
    repo.forget_file(b.id).await.unwrap();
    repo.forget_file(b.id).await.unwrap();
    assert!(matches!(
        repo.get_file(b.id).await,
        Err(LibraryRepoError::FileNotFound(_))
    ));
    assert_eq!(repo.all_files().await.unwrap(), vec![moved]);
    let changed: Vec<String> = repo
        .changes_since(Some(watermark), None, 10)
        .await
        .unwrap()
        .books
        .iter()
        .map(|book| book.record.asin.to_string())
        .collect();
    assert!(
        changed.contains(&asin(1).to_string()) && changed.contains(&asin(2).to_string()),
        "{changed:?}"
    );
    assert!(matches!(
        repo.move_file(b.id, "/x".into(), 1).await,
        Err(LibraryRepoError::FileNotFound(id)) if id == b.id
    ));
}
