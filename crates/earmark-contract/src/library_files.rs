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
