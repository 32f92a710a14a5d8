//! The automatic sync: asks for a library sync whenever the schedule says one is due.
//!
//! The decisions are the core's ([`earmark_core::unattended::schedule::step`]); this is the
//! clock. It reads the settings every tick, so a change of the interval takes effect within a
//! tick without any call into it, and it asks for syncs through the same submitter as a
//! person's request, so an automatic sync joins a sync already queued or running instead of
//! starting a second.

use std::sync::Arc;
use std::time::Duration;

use earmark_core::ports::{JobSubmitter, ScheduleStore, SettingsStore};
use earmark_core::unattended::schedule::{Step, step};
use earmark_core::{JobSpec, SyncParams};
use time::OffsetDateTime;

/// How the automatic sync is paced.
#[derive(Debug, Clone, Copy)]
pub struct AutoSyncPacing {
    /// The shortest interval any setting gets (`EARMARK__SCHEDULE__MIN_INTERVAL_S`).
    pub min_interval: Duration,
    /// How often the settings and the schedule are looked at.
    pub tick: Duration,
}

impl Default for AutoSyncPacing {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(300),
            tick: Duration::from_secs(1),
        }
    }
}

/// Starts the automatic sync on the current runtime; it runs until the runtime ends.
pub fn start_auto_sync(
    submitter: Arc<dyn JobSubmitter>,
    settings: Arc<dyn SettingsStore>,
    schedule: Arc<dyn ScheduleStore>,
    pacing: AutoSyncPacing,
) {
    tokio::spawn(async move {
        loop {
            if let Err(why) = tick(&*submitter, &*settings, &*schedule, pacing.min_interval).await {
                // The next tick tries again: a database that is away now is back later.
                tracing::warn!(%why, "the automatic sync could not be scheduled");
            }
            tokio::time::sleep(pacing.tick).await;
        }
    });
}

/// One look at the schedule: asks for a sync if one is due, keeps the next time.
async fn tick(
    submitter: &dyn JobSubmitter,
    settings: &dyn SettingsStore,
    schedule: &dyn ScheduleStore,
    min_interval: Duration,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let interval = settings.load().await?.auto_sync_interval_s;
    let now = OffsetDateTime::now_utc();
    match step(now, schedule.next_sync_at().await?, interval, min_interval) {
        Step::Off { unschedule: false }
        | Step::Wait {
            save: false,
            until: _,
        } => {}
        Step::Off { unschedule: true } => schedule.set_next_sync_at(None).await?,
        Step::Wait { until, save: true } => schedule.set_next_sync_at(Some(until)).await?,
        Step::SyncNow { next } => {
            // Asked before the next time is kept: a crash in between asks again at start-up
            // and finds this sync queued, rather than skipping it.
            let sync = submitter
                .submit(
                    JobSpec::Sync(SyncParams {
                        profile: None,
                        positions_only: false,
                    })
                    .into(),
                )
                .await?;
            schedule.set_next_sync_at(Some(next)).await?;
            tracing::info!(
                job = %sync.job.id,
                joined = !sync.created,
                next = %next,
                "automatic library sync"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
