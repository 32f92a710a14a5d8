//! `GET /library/repair/preview` and `POST /library/repair/apply`: how far the database and the
//! data directory have drifted apart, and a REPAIR job that brings them back in step.

use actix_web::{HttpResponse, get, post, web};
use earmark_core::repair::{RepairPlan, RepairPreview, Survey, SurveyPorts};
use earmark_core::{JobSpec, RepairParams};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::routes::jobs::{Accepted, accept_one};
use crate::routes::wire::rfc3339;
use crate::state::AppState;

/// The web client's `RepairPreview`: every count a number, `generated_at` RFC 3339.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RepairPreviewView {
    /// Books in the library.
    pub remote_total: u64,
    /// Books whose download is on disk.
    pub downloaded_total: u64,
    /// Books whose converted output is on disk.
    pub converted_total: u64,
    /// Books with both on disk.
    pub converted_of_downloaded: u64,
    /// AAX/AAXC files under `downloads` that no record names.
    pub orphan_downloads: u64,
    /// Audio under `converted` that no record and no local item names (copies excluded).
    pub orphan_conversions: u64,
    /// Recorded files that are nowhere on disk.
    pub missing_files: u64,
    /// Copies of converted files (same size and format as a recorded one, or a book's second
    /// output in its main one's format).
    pub duplicate_conversions: u64,
    /// AAX/AAXC files under `downloads`.
    pub downloaded_on_disk_total: u64,
    /// Of those, the ones recorded for a book in the library.
    pub downloaded_on_disk_remote_total: u64,
    /// `.m4b` files under `converted`.
    pub converted_m4b_files_on_disk_total: u64,
    /// Books with a recorded `.m4b` on disk.
    pub converted_m4b_titles_on_disk_total: u64,
    /// Recorded `.m4b` files on disk under `converted`.
    pub converted_m4b_in_audiobook_dir_total: u64,
    /// Recorded `.m4b` files on disk elsewhere.
    pub converted_m4b_outside_audiobook_dir_total: u64,
    /// Books the database says are downloaded.
    pub downloaded_db_total: u64,
    /// Books the database says are converted.
    pub converted_db_total: u64,
    /// Recorded files found moved under another name.
    pub misplaced_files_count: u64,
    /// When the survey was taken (RFC 3339).
    pub generated_at: String,
}

impl From<RepairPreview> for RepairPreviewView {
    fn from(p: RepairPreview) -> Self {
        Self {
            remote_total: p.remote_total,
            downloaded_total: p.downloaded_total,
            converted_total: p.converted_total,
            converted_of_downloaded: p.converted_of_downloaded,
            orphan_downloads: p.orphan_downloads,
            orphan_conversions: p.orphan_conversions,
            missing_files: p.missing_files,
            duplicate_conversions: p.duplicate_conversions,
            downloaded_on_disk_total: p.downloaded_on_disk_total,
            downloaded_on_disk_remote_total: p.downloaded_on_disk_remote_total,
            converted_m4b_files_on_disk_total: p.converted_m4b_files_on_disk_total,
            converted_m4b_titles_on_disk_total: p.converted_m4b_titles_on_disk_total,
            converted_m4b_in_audiobook_dir_total: p.converted_m4b_in_audiobook_dir_total,
            converted_m4b_outside_audiobook_dir_total: p.converted_m4b_outside_audiobook_dir_total,
            downloaded_db_total: p.downloaded_db_total,
            converted_db_total: p.converted_db_total,
            misplaced_files_count: p.misplaced_files_count,
            generated_at: rfc3339(p.generated_at),
        }
    }
}

/// The ports a repair reads, when this server has them.
fn survey_ports(state: &AppState) -> Result<SurveyPorts, ApiError> {
    match (&state.local_items, &state.disk) {
        (Some(local_items), Some(disk)) => Ok(SurveyPorts {
            library: state.library.clone(),
            local_items: local_items.clone(),
            disk: disk.clone(),
            jobs: state.engine.queue().clone(),
        }),
        _ => Err(ApiError::TurnedOff(
            "this server keeps no local items and repairs nothing".into(),
        )),
    }
}

/// Compares the database with the data directory now, changing nothing: the web client's
/// stats cards and the counts a repair would act on.
#[utoipa::path(tag = "library", responses((status = 200, body = RepairPreviewView), (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/library/repair/preview")]
pub async fn repair_preview(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let survey = Survey::take(&survey_ports(&state)?).await?;
    let plan = RepairPlan::of(&survey);
    let preview = RepairPreview::of(&survey, &plan, time::OffsetDateTime::now_utc());
    Ok(HttpResponse::Ok().json(RepairPreviewView::from(preview)))
}

/// Queues a REPAIR job (202 with the job at once; a repair already queued or running is
/// returned instead): records of files gone from disk are removed and their books' status
/// corrected, moved files followed, files named by a book's ASIN recorded for it, other audio
/// under `converted` listed as local items, copies reported (and deleted, after a byte
/// comparison, only with the `repair_delete_duplicates` setting). Every action is in the
/// job's log.
#[utoipa::path(tag = "library", responses((status = 202, body = Accepted), (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/library/repair/apply")]
pub async fn repair_apply(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    survey_ports(&state)?;
    accept_one(
        &state,
        JobSpec::Repair(RepairParams::default()),
        "repair queued".into(),
        "a repair is already queued or running: returning that job",
    )
    .await
}
