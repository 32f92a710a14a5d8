//! The `ScheduleStore` contract: nothing scheduled until set; a time reads back exactly;
//! `None` unschedules.

use std::sync::Arc;

use earmark_core::ports::ScheduleStore;
use time::macros::datetime;

/// Runs the schedule contract against `$setup`'s fixtures.
#[macro_export]
macro_rules! schedule_store_contract {
    ($setup:path) => {
        $crate::__contract_tests!(
            $setup, schedule_store, schedule:
            nothing_is_scheduled_until_a_time_is_set_and_it_reads_back_exactly,
        );
    };
}

/// A fresh store has no time; a time set (with microseconds, in any offset) reads back as the
/// same instant; a second replaces the first; `None` clears it and may be set twice.
pub async fn nothing_is_scheduled_until_a_time_is_set_and_it_reads_back_exactly(
    store: Arc<dyn ScheduleStore>,
) {
    assert_eq!(store.next_sync_at().await.unwrap(), None);
    let first = datetime!(2026-12-04 13:00:00.123456 +02:00);
    store.set_next_sync_at(Some(first)).await.unwrap();
    assert_eq!(store.next_sync_at().await.unwrap(), Some(first));
    let second = datetime!(2027-01-04 11:00:00.000001 UTC);
    store.set_next_sync_at(Some(second)).await.unwrap();
    assert_eq!(store.next_sync_at().await.unwrap(), Some(second));
    store.set_next_sync_at(None).await.unwrap();
    store.set_next_sync_at(None).await.unwrap();
    assert_eq!(store.next_sync_at().await.unwrap(), None);
}
