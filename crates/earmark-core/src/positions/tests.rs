use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::domain::book::{BookRecord, BookStatus};

fn t(minutes: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap() + Duration::minutes(minutes)
}

fn book(progress: Option<Progress>, metadata: serde_json::Value) -> Book {
    Book {
        record: BookRecord {
            asin: Asin::parse("B000000001").unwrap(),
            title: "A".into(),
            subtitle: None,
            author: None,
            narrator: None,
            series: None,
            series_sequence: None,
            series_asin: None,
            runtime_min: Some(100),
            cover_url: None,
            release_date: None,
            purchase_date: None,
            metadata_json: metadata,
            parent: None,
        },
        status: BookStatus::New,
        local_path_aax: None,
        local_path_voucher: None,
        local_path_cover: None,
        local_path_converted: None,
        conversion_format: None,
        error_message: None,
        created_at: t(0),
        updated_at: t(0),
        removed_at: None,
        progress,
    }
}

fn local(position_ms: u64, played: i64, synced: Option<i64>) -> Progress {
    Progress {
        position_ms,
        last_chapter_id: Some("4".into()),
        playback_speed: 1.5,
        is_finished: false,
        last_played_at: t(played),
        completed_at: None,
        synced_at: synced.map(t),
        sync_error: None,
    }
}

fn remote(position_ms: u64, updated: i64) -> RemotePosition {
    RemotePosition {
        asin: Asin::parse("B000000001").unwrap(),
        position_ms,
        last_updated: t(updated),
    }
}

#[test]
fn the_newer_side_wins_and_a_tie_keeps_earmarks() {
    let mine = book(Some(local(1_000, 10, None)), json!({}));
    let Merge::Take(taken) = merge(&mine, Some(&remote(5_000, 11)), t(20)) else {
        panic!("Audible's newer position is taken");
    };
    assert_eq!((taken.position_ms, taken.last_played_at), (5_000, t(11)));
    assert_eq!(taken.playback_speed, 1.5, "the speed stays");
    assert_eq!(taken.last_chapter_id, None, "the chapter is unknown there");
    assert!(
        !taken.needs_push(),
        "what came from Audible is in step with it"
    );
    assert_eq!(
        merge(&mine, Some(&remote(5_000, 9)), t(20)),
        Merge::Push(local(1_000, 10, None))
    );
    assert_eq!(
        merge(&mine, Some(&remote(5_000, 10)), t(20)),
        Merge::Push(local(1_000, 10, None)),
        "a tie keeps earmark's"
    );
}

#[test]
fn equal_positions_are_marked_in_step_once() {
    let unpushed = book(Some(local(1_000, 10, None)), json!({}));
    assert_eq!(
        merge(&unpushed, Some(&remote(1_000, 12)), t(20)),
        Merge::InStep(t(10))
    );
    let pushed = book(Some(local(1_000, 10, Some(10))), json!({}));
    assert_eq!(
        merge(&pushed, Some(&remote(1_000, 12)), t(20)),
        Merge::Nothing
    );
    assert_eq!(merge(&pushed, None, t(20)), Merge::Nothing);
    assert_eq!(
        merge(&unpushed, None, t(20)),
        Merge::Push(local(1_000, 10, None)),
        "Audible holding none is no reason to keep earmark's to itself"
    );
}

#[test]
fn a_remote_position_is_kept_within_the_book() {
    let fresh = book(None, json!({}));
    let Merge::Take(taken) = merge(&fresh, Some(&remote(10_000_000, 1)), t(20)) else {
        panic!("taken");
    };
    assert_eq!(taken.position_ms, 101 * 60_000);
}

#[test]
fn books_started_only_in_the_library_record_are_seeded_before_any_real_position() {
    let half = book(
        None,
        json!({"percent_complete": 50.0, "library_status": {"date_added": "2024-01-01T00:00:00.000Z"}}),
    );
    let Merge::Seed(seeded) = merge(&half, None, t(20)) else {
        panic!("seeded");
    };
    assert_eq!(seeded.position_ms, 50 * 60_000);
    assert_eq!(
        seeded.last_played_at,
        OffsetDateTime::parse(
            "2024-01-01T00:00:00Z",
            &time::format_description::well_known::Rfc3339
        )
        .unwrap(),
        "dated when bought: any real position is newer"
    );
    assert!(!seeded.needs_push(), "a seed is never written back");
    let done = book(None, json!({"is_finished": true}));
    let Merge::Seed(finished) = merge(&done, None, t(20)) else {
        panic!("seeded");
    };
    assert!(finished.is_finished && finished.completed_at.is_some());
    assert_eq!(finished.position_ms, 100 * 60_000);
    assert_eq!(
        merge(&book(None, json!({"percent_complete": 0})), None, t(20)),
        Merge::Nothing
    );
    assert!(!started_on_audible(&book(None, json!({}))));
    assert!(started_on_audible(&half));
}
