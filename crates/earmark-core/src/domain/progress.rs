//! Where the person stopped listening to a book.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A book's listening progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Where playback stopped, from the start of the book.
    pub position_ms: u64,
    /// The player's id of the chapter it stopped in.
    pub last_chapter_id: Option<String>,
    /// The speed it played at.
    pub playback_speed: f64,
    /// Whether the person finished the book.
    pub is_finished: bool,
    /// When the position was last set.
    #[serde(with = "time::serde::rfc3339")]
    pub last_played_at: OffsetDateTime,
    /// When the book was marked finished.
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    /// The `last_played_at` of the position Audible is known to hold (pushed to it, or read
    /// from it); `None` while the two were never in step.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub synced_at: Option<OffsetDateTime>,
    /// Why the last attempt to bring Audible in step failed; `None` after a success.
    #[serde(default)]
    pub sync_error: Option<String>,
}

/// A player's report of where it is (`PATCH /library/{asin}/progress`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ProgressReport {
    /// Where it is.
    pub position_ms: u64,
    /// The speed it plays at; unchanged (1.0 at first) when left out.
    pub playback_speed: Option<f64>,
    /// Finished (or not any more); unchanged when left out.
    pub is_finished: Option<bool>,
    /// The chapter it is in; unchanged when left out.
    pub chapter_id: Option<String>,
}

/// Why a report cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ProgressError {
    /// The refused field.
    pub field: &'static str,
    /// Why.
    pub message: String,
}

/// The slowest and fastest speeds a player may report.
pub const SPEEDS: (f64, f64) = (0.25, 4.0);

impl Progress {
    /// The progress after `report`, made `now`, on a book of `length_ms` (its running time,
    /// when known), over `before`.
    ///
    /// # Errors
    /// A position past the book's end, or a speed outside [`SPEEDS`].
    pub fn after(
        before: Option<&Progress>,
        report: ProgressReport,
        length_ms: Option<u64>,
        now: OffsetDateTime,
    ) -> Result<Self, ProgressError> {
        if let Some(length) = length_ms
            && report.position_ms > length
        {
            return Err(ProgressError {
                field: "position_ms",
                message: format!(
                    "{} is past the end of the book ({length} ms)",
                    report.position_ms
                ),
            });
        }
        let speed = report
            .playback_speed
            .or(before.map(|b| b.playback_speed))
            .unwrap_or(1.0);
        if !(SPEEDS.0..=SPEEDS.1).contains(&speed) {
            return Err(ProgressError {
                field: "playback_speed",
                message: format!("use {} to {}", SPEEDS.0, SPEEDS.1),
            });
        }
        let is_finished = report
            .is_finished
            .or(before.map(|b| b.is_finished))
            .unwrap_or(false);
        let completed_at = match (is_finished, before.and_then(|b| b.completed_at)) {
            (false, _) => None,
            (true, Some(at)) => Some(at),
            (true, None) => Some(now),
        };
        Ok(Self {
            position_ms: report.position_ms,
            last_chapter_id: report
                .chapter_id
                .or_else(|| before.and_then(|b| b.last_chapter_id.clone())),
            playback_speed: speed,
            is_finished,
            last_played_at: now,
            completed_at,
            synced_at: before.and_then(|b| b.synced_at),
            sync_error: before.and_then(|b| b.sync_error.clone()),
        })
    }

    /// Whether Audible may not hold this position yet: it changed after the last time the two
    /// were in step.
    pub fn needs_push(&self) -> bool {
        self.synced_at.is_none_or(|at| at < self.last_played_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(position_ms: u64) -> ProgressReport {
        ProgressReport {
            position_ms,
            ..ProgressReport::default()
        }
    }

    #[test]
    fn reports_keep_what_they_leave_out_and_finishing_is_stamped_once() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let first = Progress::after(None, report(1000), Some(60_000), t0).unwrap();
        assert_eq!((first.playback_speed, first.is_finished), (1.0, false));
        let faster = ProgressReport {
            playback_speed: Some(1.5),
            chapter_id: Some("3".into()),
            ..report(2000)
        };
        let second = Progress::after(Some(&first), faster, Some(60_000), t0).unwrap();
        let done = ProgressReport {
            is_finished: Some(true),
            ..report(60_000)
        };
        let t1 = t0 + time::Duration::hours(1);
        let third = Progress::after(Some(&second), done, Some(60_000), t1).unwrap();
        assert_eq!(
            (third.playback_speed, third.last_chapter_id.as_deref()),
            (1.5, Some("3"))
        );
        assert_eq!(third.completed_at, Some(t1));
        let later = t1 + time::Duration::hours(1);
        let again = Progress::after(Some(&third), report(60_000), Some(60_000), later).unwrap();
        assert_eq!(
            again.completed_at,
            Some(t1),
            "finished once, when first finished"
        );
        let restarted = ProgressReport {
            is_finished: Some(false),
            ..report(0)
        };
        assert_eq!(
            Progress::after(Some(&again), restarted, None, later)
                .unwrap()
                .completed_at,
            None
        );
    }

    #[test]
    fn positions_past_the_end_and_odd_speeds_are_refused() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let past = Progress::after(None, report(60_001), Some(60_000), t0).unwrap_err();
        assert_eq!(past.field, "position_ms");
        let fast = ProgressReport {
            playback_speed: Some(9.0),
            ..report(0)
        };
        assert_eq!(
            Progress::after(None, fast, None, t0).unwrap_err().field,
            "playback_speed"
        );
    }
}
