//! When the automatic sync runs.
//!
//! One time is kept, the next run's. A run is due when that time has passed, however long
//! ago: a run missed while the server was down happens once at start-up, then the next is
//! an interval from then. The run is asked for before the next time is saved, so a crash in
//! between asks again at start-up, which finds the sync already queued (a sync is never
//! queued twice) rather than skipping one.

use std::time::Duration;

use time::OffsetDateTime;

use crate::domain::settings::MAX_AUTO_SYNC_INTERVAL_S;

/// What the scheduler does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Automatic syncs are off: nothing to wait for; forget the scheduled time if one is kept.
    Off {
        /// A time is kept and must be cleared.
        unschedule: bool,
    },
    /// Nothing is due before `until`; save it first when `save`.
    Wait {
        /// The next run time.
        until: OffsetDateTime,
        /// It differs from the kept one (first scheduled, or the interval was shortened).
        save: bool,
    },
    /// A sync is due: ask for it, then keep `next` as the next run time.
    SyncNow {
        /// The run after this one.
        next: OffsetDateTime,
    },
}

/// The step at `now`, with `scheduled` the kept next run time, `interval_s` the setting and
/// `min_interval` the operator's floor (a shorter setting is taken as the floor).
///
/// Turning automatic syncs on syncs at once; shortening the interval brings a later run
/// forward to an interval from now; lengthening it takes effect after the next run.
pub fn step(
    now: OffsetDateTime,
    scheduled: Option<OffsetDateTime>,
    interval_s: u64,
    min_interval: Duration,
) -> Step {
    if interval_s == 0 {
        return Step::Off {
            unschedule: scheduled.is_some(),
        };
    }
    let interval = Duration::from_secs(interval_s.min(MAX_AUTO_SYNC_INTERVAL_S)).max(min_interval);
    let after_interval = now + interval;
    match scheduled {
        None => Step::SyncNow {
            next: after_interval,
        },
        Some(at) if at <= now => Step::SyncNow {
            next: after_interval,
        },
        Some(at) if at > after_interval => Step::Wait {
            until: after_interval,
            save: true,
        },
        Some(at) => Step::Wait {
            until: at,
            save: false,
        },
    }
}
