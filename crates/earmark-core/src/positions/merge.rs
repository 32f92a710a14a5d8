//! What to do with one book's position, given earmark's and Audible's.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::book::Book;
use crate::domain::progress::Progress;
use crate::ports::RemotePosition;

/// The decision for one book.
#[derive(Debug, Clone, PartialEq)]
pub enum Merge {
    /// Audible's position is newer (or earmark has none): take it.
    Take(Progress),
    /// Neither side has a position; the library's listening state gives this first one.
    Seed(Progress),
    /// Both hold the same position: mark earmark's, played at this time, as in step.
    InStep(OffsetDateTime),
    /// earmark's position is newer (a tie included): write it to Audible.
    Push(Progress),
    /// Nothing to do.
    Nothing,
}

/// A book's length: its running time as Audible gives it (whole minutes), rounded up to the
/// next minute; positions past it are refused.
pub fn length_ms(book: &Book) -> Option<u64> {
    book.record
        .runtime_min
        .and_then(|m| u64::try_from(m).ok())
        .map(|m| (m + 1) * 60_000)
}

/// Decides what to do with `book`'s position given Audible's (`None`: it holds none).
pub fn merge(book: &Book, remote: Option<&RemotePosition>, now: OffsetDateTime) -> Merge {
    match (book.progress.as_ref(), remote) {
        (None, Some(r)) => Merge::Take(taken(book, None, r)),
        (None, None) => seed(book, now).map_or(Merge::Nothing, Merge::Seed),
        (Some(local), None) if local.needs_push() => Merge::Push(local.clone()),
        (Some(_), None) => Merge::Nothing,
        (Some(local), Some(r)) if r.position_ms == local.position_ms => {
            if local.needs_push() {
                Merge::InStep(local.last_played_at)
            } else {
                Merge::Nothing
            }
        }
        (Some(local), Some(r)) if r.last_updated > local.last_played_at => {
            Merge::Take(taken(book, Some(local), r))
        }
        (Some(local), Some(_)) => Merge::Push(local.clone()),
    }
}

/// Audible's position `r` as the book's progress: what earmark knew of speed and finishing
/// stays; the chapter is unknown at the new position.
fn taken(book: &Book, before: Option<&Progress>, r: &RemotePosition) -> Progress {
    let position_ms = length_ms(book).map_or(r.position_ms, |l| r.position_ms.min(l));
    let is_finished = before.map_or_else(|| finished_on_audible(book), |b| b.is_finished);
    let completed_at = match (is_finished, before.and_then(|b| b.completed_at)) {
        (false, _) => None,
        (true, Some(at)) => Some(at),
        (true, None) => Some(r.last_updated),
    };
    Progress {
        position_ms,
        last_chapter_id: None,
        playback_speed: before.map_or(1.0, |b| b.playback_speed),
        is_finished,
        last_played_at: r.last_updated,
        completed_at,
        synced_at: Some(r.last_updated),
        sync_error: None,
    }
}

/// A first position from the library's listening state (`is_finished`, `percent_complete`),
/// dated when the book joined the library so that any real position, from either side, is
/// newer. `None` when the book was never started.
pub fn seed(book: &Book, now: OffsetDateTime) -> Option<Progress> {
    let finished = finished_on_audible(book);
    let percent = percent_complete(book);
    if !finished && percent <= 0.0 {
        return None;
    }
    let length = book
        .record
        .runtime_min
        .and_then(|m| u64::try_from(m).ok())
        .map_or(0, |m| m * 60_000);
    let position_ms = if finished {
        length
    } else {
        // A share of a length that fits in u64 many times over: no overflow, no sign.
        (length as f64 * percent.min(100.0) / 100.0) as u64
    };
    let dated = ["/library_status/date_added", "/purchase_date"]
        .iter()
        .filter_map(|p| book.record.metadata_json.pointer(p)?.as_str())
        .find_map(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        .unwrap_or(now)
        .min(now);
    Some(Progress {
        position_ms,
        last_chapter_id: None,
        playback_speed: 1.0,
        is_finished: finished,
        last_played_at: dated,
        completed_at: finished.then_some(dated),
        synced_at: Some(dated),
        sync_error: None,
    })
}

/// Whether the library's record says the person started the book in Audible's apps.
pub(crate) fn started_on_audible(book: &Book) -> bool {
    finished_on_audible(book) || percent_complete(book) > 0.0
}

fn finished_on_audible(book: &Book) -> bool {
    book.record
        .metadata_json
        .get("is_finished")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

fn percent_complete(book: &Book) -> f64 {
    book.record
        .metadata_json
        .get("percent_complete")
        .and_then(serde_json::Value::as_f64)
        .filter(|p| p.is_finite())
        .unwrap_or(0.0)
}
