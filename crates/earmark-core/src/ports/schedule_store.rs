//! Where the time of the next automatic sync is kept, so that a restart neither skips nor
//! doubles it.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::BoxError;

/// Why the schedule could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleStoreError {
    /// The store cannot be reached right now; retry later.
    #[error("the schedule database is unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Anything else the store reported.
    #[error("the schedule database failed: {0}")]
    Storage(#[source] BoxError),
}

/// The automatic sync's next run time, one for the installation.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// When the next automatic sync is due; `None` when none is scheduled (automatic syncs
    /// off, or never turned on).
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn next_sync_at(&self) -> Result<Option<OffsetDateTime>, ScheduleStoreError>;

    /// Replaces the next run time (`None` unschedules), durably before it returns; the time
    /// reads back to the microsecond.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`; on error the time saved before stays.
    async fn set_next_sync_at(&self, at: Option<OffsetDateTime>) -> Result<(), ScheduleStoreError>;
}
