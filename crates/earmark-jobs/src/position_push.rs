//! Writing the person's listening positions to Audible in the background.
//!
//! A player reports its position every few seconds; each report is answered at once and only
//! announced here. The first change of a book schedules one push `delay` later (at most 30 s),
//! which writes whatever position the book has by then, so the changes of that window cost one
//! write. At most one push per book is in flight; a change that arrives during it schedules
//! another. A failed push is retried with a doubling back-off and shown on the book; the next
//! change or sync starts again. Pushes are not jobs: a person listening for an hour would
//! otherwise fill the job history with a hundred of them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use earmark_core::Asin;
use earmark_core::positions::{PositionSync, PushOutcome};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The longest a change may wait before it is written (the bound).
pub const MAX_DELAY: Duration = Duration::from_secs(30);

/// How pushes are paced.
#[derive(Debug, Clone, Copy)]
pub struct PushPacing {
    /// From a book's first unwritten change to its push (capped at [`MAX_DELAY`]).
    pub delay: Duration,
    /// The first retry's wait; each further retry waits twice as long.
    pub retry: Duration,
    /// Attempts per change before giving up until the next change or sync.
    pub attempts: u32,
}

impl Default for PushPacing {
    fn default() -> Self {
        Self {
            delay: Duration::from_secs(10),
            retry: Duration::from_secs(30),
            attempts: 6,
        }
    }
}

/// Announces position changes to the background pusher. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PositionPusher {
    changes: mpsc::UnboundedSender<Asin>,
}

/// A book waiting for its push.
struct Pending {
    due: Instant,
    failures: u32,
    in_flight: bool,
    changed_again: bool,
}

impl PositionPusher {
    /// Starts the pusher on the current runtime; it first schedules every position the
    /// library says Audible does not hold yet (changes a restart interrupted).
    pub fn start(sync: Arc<PositionSync>, pacing: PushPacing) -> Self {
        let (changes, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(sync, pacing, rx));
        Self { changes }
    }

    /// The book's position changed: write it to Audible soon.
    pub fn changed(&self, asin: Asin) {
        // The pusher ends only with the runtime; a send after that has nobody to tell.
        let _ = self.changes.send(asin);
    }
}

async fn run(
    sync: Arc<PositionSync>,
    pacing: PushPacing,
    mut changes: mpsc::UnboundedReceiver<Asin>,
) {
    let delay = pacing.delay.min(MAX_DELAY);
    let mut pending: HashMap<Asin, Pending> = HashMap::new();
    match sync.repo().positions_to_push().await {
        Ok(books) => {
            for book in books {
                schedule(&mut pending, book.record.asin, Instant::now() + delay);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not list positions Audible does not hold yet"),
    }
    let (done_tx, mut done) = mpsc::unbounded_channel::<(Asin, bool)>();
    loop {
        let next = pending
            .values()
            .filter(|p| !p.in_flight)
            .map(|p| p.due)
            .min();
        tokio::select! {
            change = changes.recv() => {
                let Some(asin) = change else { return };
                schedule(&mut pending, asin, Instant::now() + delay);
            }
            Some((asin, ok)) = done.recv() => {
                finished(&mut pending, asin, ok, delay, &pacing);
            }
            () = sleep_until(next) => {
                let now = Instant::now();
                for (asin, p) in pending.iter_mut().filter(|(_, p)| !p.in_flight && p.due <= now) {
                    p.in_flight = true;
                    p.changed_again = false;
                    let (sync, asin, done_tx) = (sync.clone(), asin.clone(), done_tx.clone());
                    let last_try = p.failures + 1 >= pacing.attempts;
                    tokio::spawn(async move {
                        let ok = push(&sync, &asin, last_try).await;
                        let _ = done_tx.send((asin, ok));
                    });
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A change of `asin`: pushed at `due` unless a push is already scheduled or running.
fn schedule(pending: &mut HashMap<Asin, Pending>, asin: Asin, due: Instant) {
    match pending.get_mut(&asin) {
        Some(p) if p.in_flight => p.changed_again = true,
        // Already waiting: its push will carry this change too, within the bound.
        Some(p) => {
            p.failures = 0;
            p.due = p.due.min(due);
        }
        None => {
            pending.insert(
                asin,
                Pending {
                    due,
                    failures: 0,
                    in_flight: false,
                    changed_again: false,
                },
            );
        }
    }
}

/// A push of `asin` ended.
fn finished(
    pending: &mut HashMap<Asin, Pending>,
    asin: Asin,
    ok: bool,
    delay: Duration,
    pacing: &PushPacing,
) {
    let Some(p) = pending.get_mut(&asin) else {
        return;
    };
    p.in_flight = false;
    if p.changed_again {
        p.failures = 0;
        p.due = Instant::now() + delay;
    } else if ok {
        pending.remove(&asin);
    } else {
        p.failures += 1;
        if p.failures >= pacing.attempts {
            pending.remove(&asin);
        } else {
            p.due = Instant::now() + pacing.retry * 2u32.saturating_pow(p.failures - 1);
        }
    }
}

/// Pushes one book; a failure is shown on the book (and logged) whatever the retries left,
/// so the person sees it while earmark keeps trying.
async fn push(sync: &PositionSync, asin: &Asin, last_try: bool) -> bool {
    let log = |line: &str| tracing::debug!(target: "earmark::positions", %asin, "{line}");
    match sync.push(None, asin, &log).await {
        Ok(outcome) => {
            match outcome {
                PushOutcome::Written => tracing::info!(%asin, "position written to Audible"),
                PushOutcome::TookAudibles => {
                    tracing::info!(%asin, "Audible held a newer position: taken instead");
                }
                PushOutcome::InStep => {}
            }
            true
        }
        Err(e) => {
            tracing::warn!(%asin, error = %e, last_try, "writing the position to Audible failed");
            if let Err(e) = sync.record_failure(asin, &e).await {
                tracing::warn!(%asin, error = %e, "could not show the failure on the book");
            }
            false
        }
    }
}
