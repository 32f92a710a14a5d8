//! The position-sync half of the `LibraryRepo` contract: taking Audible's positions only
//! when newer, recording how writes to Audible went, and the licence `acr` kept per book.

use std::sync::Arc;

use earmark_core::Progress;
use earmark_core::ports::{LibraryRepo, LibraryRepoError};
use time::{Duration, OffsetDateTime};

use crate::{asin, record};

/// Runs the position-sync contract against `$setup`'s fixtures.
#[macro_export]
macro_rules! library_positions_contract {
    ($setup:path) => {
        $crate::__contract_tests!(
            $setup, library_positions, library:
            a_position_is_taken_only_when_newer,
            sync_outcomes_mark_positions_in_step_or_show_why_not,
            licence_acrs_are_kept_per_book,
        );
    };
}

fn t(minutes: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_750_000_000).unwrap() + Duration::minutes(minutes)
}

fn progress(position_ms: u64, played: i64, synced: Option<i64>) -> Progress {
    Progress {
        position_ms,
        last_chapter_id: None,
        playback_speed: 1.0,
        is_finished: false,
        last_played_at: t(played),
        completed_at: None,
        synced_at: synced.map(t),
        sync_error: None,
    }
}

/// Audible's position replaces none or an older one, never a newer one or a tie, and comes
/// back marked in step; every book is listed, the removed ones aside.
pub async fn a_position_is_taken_only_when_newer(repo: Arc<dyn LibraryRepo>) {
    assert!(matches!(
        repo.adopt_progress(&asin(1), &progress(1, 1, Some(1)))
            .await,
        Err(LibraryRepoError::BookNotFound(_))
    ));
    repo.upsert_books((1..=3).map(record).collect())
        .await
        .unwrap();
    repo.mark_removed_except(vec![asin(1), asin(2)])
        .await
        .unwrap();
    let listed: Vec<_> = repo
        .library_books()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.record.asin)
        .collect();
    assert_eq!(listed, vec![asin(1), asin(2)]);

    let before = repo.get_book(&asin(1)).await.unwrap().updated_at;
    assert!(
        repo.adopt_progress(&asin(1), &progress(5_000, 10, Some(10)))
            .await
            .unwrap()
    );
    let book = repo.get_book(&asin(1)).await.unwrap();
    assert!(book.updated_at > before, "the change feed reports it");
    let taken = book.progress.unwrap();
    assert_eq!((taken.position_ms, taken.synced_at), (5_000, Some(t(10))));
    assert!(!taken.needs_push());

    assert!(
        !repo
            .adopt_progress(&asin(1), &progress(9_000, 10, Some(10)))
            .await
            .unwrap(),
        "a tie keeps what is stored"
    );
    repo.save_progress(&asin(1), &progress(7_000, 20, None))
        .await
        .unwrap();
    assert!(
        !repo
            .adopt_progress(&asin(1), &progress(9_000, 15, Some(15)))
            .await
            .unwrap(),
        "an older position never replaces a newer report"
    );
    let kept = repo.get_book(&asin(1)).await.unwrap().progress.unwrap();
    assert_eq!(kept.position_ms, 7_000);
    assert_eq!(
        kept.synced_at,
        Some(t(10)),
        "a player's report leaves the sync state alone"
    );
    assert!(kept.needs_push());
}

/// A success marks the position in step (never moving the mark back) and clears the error;
/// a failure shows why and keeps the mark; the books to push are those not in step.
pub async fn sync_outcomes_mark_positions_in_step_or_show_why_not(repo: Arc<dyn LibraryRepo>) {
    assert!(matches!(
        repo.record_position_sync(&asin(1), Ok(t(1))).await,
        Err(LibraryRepoError::BookNotFound(_))
    ));
    repo.upsert_books((1..=3).map(record).collect())
        .await
        .unwrap();
    repo.save_progress(&asin(1), &progress(1_000, 10, None))
        .await
        .unwrap();
    repo.save_progress(&asin(2), &progress(2_000, 10, None))
        .await
        .unwrap();
    let to_push = |books: Vec<earmark_core::Book>| -> Vec<_> {
        books.into_iter().map(|b| b.record.asin).collect()
    };
    assert_eq!(
        to_push(repo.positions_to_push().await.unwrap()),
        vec![asin(1), asin(2)],
        "never pushed, no book without a position"
    );

    repo.record_position_sync(&asin(1), Ok(t(10)))
        .await
        .unwrap();
    assert_eq!(
        to_push(repo.positions_to_push().await.unwrap()),
        vec![asin(2)]
    );

    let before = repo.get_book(&asin(2)).await.unwrap().updated_at;
    repo.record_position_sync(&asin(2), Err("Audible said no".into()))
        .await
        .unwrap();
    let failed = repo.get_book(&asin(2)).await.unwrap();
    assert!(failed.updated_at > before, "a new error is news");
    let progress2 = failed.progress.unwrap();
    assert_eq!(progress2.sync_error.as_deref(), Some("Audible said no"));
    assert_eq!(progress2.synced_at, None);

    repo.record_position_sync(&asin(2), Ok(t(10)))
        .await
        .unwrap();
    repo.record_position_sync(&asin(2), Ok(t(5))).await.unwrap();
    let healed = repo.get_book(&asin(2)).await.unwrap().progress.unwrap();
    assert_eq!(healed.sync_error, None);
    assert_eq!(healed.synced_at, Some(t(10)), "the mark never moves back");
    assert!(repo.positions_to_push().await.unwrap().is_empty());

    repo.save_progress(&asin(2), &progress(3_000, 11, None))
        .await
        .unwrap();
    assert_eq!(
        to_push(repo.positions_to_push().await.unwrap()),
        vec![asin(2)],
        "a later report needs a push again"
    );
}

/// A book's licence `acr` is kept, replaced by a newer one, and unknown for other books.
pub async fn licence_acrs_are_kept_per_book(repo: Arc<dyn LibraryRepo>) {
    repo.upsert_books((1..=2).map(record).collect())
        .await
        .unwrap();
    assert_eq!(repo.licence_acr(&asin(1)).await.unwrap(), None);
    repo.save_licence_acr(&asin(1), "CR!ONE").await.unwrap();
    repo.save_licence_acr(&asin(1), "CR!TWO").await.unwrap();
    assert_eq!(
        repo.licence_acr(&asin(1)).await.unwrap().as_deref(),
        Some("CR!TWO")
    );
    assert_eq!(repo.licence_acr(&asin(2)).await.unwrap(), None);
}
