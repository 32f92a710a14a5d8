use std::time::Duration;

use time::macros::datetime;

use super::new_books::{downloads_for, new_books};
use super::schedule::{Step, step};
use crate::domain::asin::Asin;
use crate::domain::job_spec::JobSpec;
use crate::domain::settings::Settings;
use crate::{ConversionMode, OutputFormat};

const MIN: Duration = Duration::from_secs(300);

fn asins(raw: &[&str]) -> Vec<Asin> {
    raw.iter().map(|a| Asin::parse(a).unwrap()).collect()
}

#[test]
fn off_clears_a_kept_time_and_then_rests() {
    let now = datetime!(2026-12-04 12:00 UTC);
    assert_eq!(step(now, Some(now), 0, MIN), Step::Off { unschedule: true });
    assert_eq!(step(now, None, 0, MIN), Step::Off { unschedule: false });
}

#[test]
fn turning_on_syncs_at_once_and_schedules_an_interval_later() {
    let now = datetime!(2026-12-04 12:00 UTC);
    assert_eq!(
        step(now, None, 3600, MIN),
        Step::SyncNow {
            next: datetime!(2026-12-04 13:00 UTC)
        }
    );
}

#[test]
fn a_run_missed_while_down_happens_once_and_the_next_counts_from_now() {
    let now = datetime!(2026-12-04 12:00 UTC);
    // Three intervals were missed: one run now, the next an interval from now.
    let long_ago = datetime!(2026-12-04 09:00 UTC);
    assert_eq!(
        step(now, Some(long_ago), 3600, MIN),
        Step::SyncNow {
            next: datetime!(2026-12-04 13:00 UTC)
        }
    );
    // Exactly due is due.
    assert!(matches!(
        step(now, Some(now), 3600, MIN),
        Step::SyncNow { .. }
    ));
}

#[test]
fn a_kept_time_is_waited_for_unchanged() {
    let now = datetime!(2026-12-04 12:00 UTC);
    let at = datetime!(2026-12-04 12:30 UTC);
    assert_eq!(
        step(now, Some(at), 3600, MIN),
        Step::Wait {
            until: at,
            save: false
        }
    );
}

#[test]
fn a_shortened_interval_brings_the_run_forward() {
    let now = datetime!(2026-12-04 12:00 UTC);
    let far = datetime!(2026-12-05 12:00 UTC);
    assert_eq!(
        step(now, Some(far), 600, MIN),
        Step::Wait {
            until: datetime!(2026-12-04 12:10 UTC),
            save: true
        }
    );
}

#[test]
fn no_interval_is_shorter_than_the_floor_or_longer_than_a_month() {
    let now = datetime!(2026-12-04 12:00 UTC);
    assert_eq!(
        step(now, None, 1, MIN),
        Step::SyncNow {
            next: datetime!(2026-12-04 12:05 UTC)
        }
    );
    assert_eq!(
        step(now, None, u64::MAX, MIN),
        Step::SyncNow {
            next: datetime!(2027-01-04 12:00 UTC)
        }
    );
}

#[test]
fn the_floor_and_ceiling_are_told_when_set() {
    let mut settings = Settings {
        auto_sync_interval_s: 60,
        ..Settings::default()
    };
    let refused = settings.check_auto_sync(300).unwrap_err();
    assert_eq!(refused.field, "auto_sync_interval_s");
    assert!(
        refused
            .message
            .contains("EARMARK__SCHEDULE__MIN_INTERVAL_S"),
        "{refused}"
    );
    settings.auto_sync_interval_s = 0;
    assert!(settings.check_auto_sync(300).is_ok());
    settings.auto_sync_interval_s = 300;
    assert!(settings.check_auto_sync(300).is_ok());
    settings.auto_sync_interval_s = 40 * 24 * 3600;
    assert_eq!(settings.check().unwrap_err().field, "auto_sync_interval_s");
}

#[test]
fn new_books_are_those_not_known_before_except_on_a_first_sync() {
    let fetched = asins(&["B000000001", "B000000002", "B000000003", "B000000002"]);
    assert_eq!(
        new_books(&fetched, &asins(&["B000000001"])),
        asins(&["B000000002", "B000000003"])
    );
    assert!(new_books(&fetched, &[]).is_empty(), "a first sync");
    assert!(new_books(&fetched, &fetched).is_empty());
}

#[test]
fn downloads_follow_the_switches_and_the_saved_defaults() {
    let new = asins(&["B000000002"]);
    let mut settings = Settings::default();
    assert!(downloads_for(&new, None, &settings).unwrap().is_empty());

    settings.auto_download_new = true;
    settings.cover_size = "882".into();
    let jobs = downloads_for(&new, Some("second"), &settings).unwrap();
    let [job] = jobs.as_slice() else {
        panic!("{jobs:?}")
    };
    let JobSpec::Download(asin, params) = &job.spec else {
        panic!("{job:?}")
    };
    assert_eq!(asin, &new[0]);
    assert_eq!(params.profile.as_deref(), Some("second"));
    assert_eq!(params.cover_size, Some(882));
    assert!(!params.force);
    assert!(params.convert.is_none());

    settings.auto_convert = true;
    settings.output_format = OutputFormat::Mp3;
    settings.single_file = false;
    let jobs = downloads_for(&new, None, &settings).unwrap();
    let JobSpec::Download(_, params) = &jobs[0].spec else {
        panic!()
    };
    let convert = params.convert.as_ref().unwrap();
    assert_eq!(convert.format, OutputFormat::Mp3);
    assert_eq!(convert.mode, ConversionMode::Chapters);
    assert_eq!(convert.level, Some(4), "the saved mp3 level");
}
