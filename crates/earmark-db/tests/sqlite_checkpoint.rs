//! SQLite's WAL is mostly checkpointed in the background, and stays bounded under a stream of
//! writes that never pauses.

use std::time::Duration;

use earmark_contract::{asin, record};
use earmark_core::Progress;
use earmark_db::testing::TestDb;
use time::OffsetDateTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_under_a_stream_of_writes() {
    let db = TestDb::sqlite().await;
    let library = db.db.library.clone();
    library.upsert_books(vec![record(1)]).await.unwrap();
    let wal = std::path::PathBuf::from(format!("{}-wal", db.url));
    let mut largest = 0;
    // A stream of reports that never pauses for long: left to grow, 6,000 commits of a page
    // or more each make a WAL of over 24 MiB; earmark's commit threshold is 2,000 pages
    // (8 MiB), and the background checkpoint copies most of it before.
    for n in 0..6_000u64 {
        let progress = Progress {
            position_ms: n,
            last_chapter_id: None,
            playback_speed: 1.0,
            is_finished: false,
            last_played_at: OffsetDateTime::now_utc(),
            completed_at: None,
            synced_at: None,
            sync_error: None,
        };
        library.save_progress(&asin(1), &progress).await.unwrap();
        if n % 200 == 0 {
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    largest = largest.max(std::fs::metadata(&wal).unwrap().len());
    assert!(largest > 0, "the database runs in WAL mode");
    assert!(
        largest < 12 * 1024 * 1024,
        "the WAL grew to {largest} bytes: nothing checkpoints it"
    );
}
