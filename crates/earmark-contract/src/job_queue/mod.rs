//! The `JobQueue` contract, one file per part of the port; the helpers below build requests.

mod claims;
mod enqueue;
mod listing;
mod pausing;
mod recovery;

pub use claims::*;
pub use enqueue::*;
pub use listing::*;
pub use pausing::*;
pub use recovery::*;

use earmark_core::{DownloadParams, JobSpec, JobStatus, JobUpdate, NewJob, SyncParams};

use crate::asin;

/// Runs the whole `JobQueue` contract against `$setup`'s fixtures.
#[macro_export]
macro_rules! job_queue_contract {
    ($setup:path) => {
        $crate::__contract_tests!(
            $setup, job_queue, jobs:
            enqueue_persists_a_queued_job,
            enqueue_returns_the_active_job_for_the_same_work,
            racing_enqueues_create_one_job,
            finished_work_can_be_enqueued_again,
            claims_take_the_oldest_job_of_their_lane,
            concurrent_claims_never_share_a_job,
            transitions_follow_the_state_machine,
            listing_filters_and_counts,
            recovery_requeues_or_fails_interrupted_jobs,
            backed_off_jobs_are_queued_when_due,
            history_deletion_spares_active_jobs,
            a_long_history_is_deleted_whole,
            counts_group_by_kind_and_status,
            paused_jobs_are_not_claimed_and_survive_recovery,
        );
    };
}

pub(crate) fn download(n: u32) -> NewJob {
    JobSpec::Download(asin(n), DownloadParams::default()).into()
}

pub(crate) fn convert(n: u32) -> NewJob {
    let params =
        serde_json::from_value(serde_json::json!({"format": "m4b", "mode": "single"})).unwrap();
    JobSpec::Convert(asin(n), params).into()
}

pub(super) fn sync() -> NewJob {
    JobSpec::Sync(SyncParams::default()).into()
}

pub(crate) fn to(status: JobStatus) -> JobUpdate {
    JobUpdate {
        status: Some(status),
        ..JobUpdate::default()
    }
}
