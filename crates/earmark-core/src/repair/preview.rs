//! The repair preview: how the library stands on disk and in the database, and what a repair
//! would change (the web client's stats cards and Repair button read it).

use std::collections::HashSet;

use serde::Serialize;
use time::OffsetDateTime;

use super::plan::RepairPlan;
use super::survey::Survey;
use super::{DOWNLOADED_AUDIO, extension_of};
use crate::domain::asin::Asin;
use crate::domain::file::FileKind;

/// Counts of a survey and its plan, in the web client's `RepairPreview` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairPreview {
    /// Books in the library.
    pub remote_total: u64,
    /// Books whose download is on disk.
    pub downloaded_total: u64,
    /// Books whose converted output is on disk.
    pub converted_total: u64,
    /// Books with both on disk.
    pub converted_of_downloaded: u64,
    /// AAX/AAXC files under `downloads` that no row names.
    pub orphan_downloads: u64,
    /// Audio under `converted` that no row and no local item names (copies excluded).
    pub orphan_conversions: u64,
    /// Registered files that are nowhere on disk.
    pub missing_files: u64,
    /// Copies of converted files.
    pub duplicate_conversions: u64,
    /// AAX/AAXC files under `downloads`.
    pub downloaded_on_disk_total: u64,
    /// Of those, the ones registered for a book in the library.
    pub downloaded_on_disk_remote_total: u64,
    /// `.m4b` files under `converted`.
    pub converted_m4b_files_on_disk_total: u64,
    /// Books with a registered `.m4b` on disk.
    pub converted_m4b_titles_on_disk_total: u64,
    /// Registered `.m4b` files on disk under `converted`.
    pub converted_m4b_in_audiobook_dir_total: u64,
    /// Registered `.m4b` files on disk elsewhere.
    pub converted_m4b_outside_audiobook_dir_total: u64,
    /// Books the database says are downloaded.
    pub downloaded_db_total: u64,
    /// Books the database says are converted.
    pub converted_db_total: u64,
    /// Registered files found moved under another name.
    pub misplaced_files_count: u64,
    /// When the survey was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
}

impl RepairPreview {
    /// The preview of `survey` and its `plan`, taken at `now`.
    pub fn of(survey: &Survey, plan: &RepairPlan, now: OffsetDateTime) -> Self {
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let library: HashSet<&Asin> = survey.books.iter().map(|b| &b.record.asin).collect();
        let missing: HashSet<&str> = plan.missing.iter().map(|f| f.path.as_str()).collect();
        let present = survey
            .files
            .iter()
            .filter(|f| !missing.contains(f.path.as_str()) && library.contains(&f.asin));
        let is_m4b = |path: &str| extension_of(path).as_deref() == Some("m4b");
        let converted_dir: HashSet<&str> =
            survey.converted.iter().map(|f| f.path.as_str()).collect();
        let moved_to: std::collections::HashMap<&str, &str> = plan
            .moved
            .iter()
            .map(|m| (m.file.path.as_str(), m.to.path.as_str()))
            .collect();
        let (mut downloaded, mut converted, mut m4b_titles) =
            (HashSet::new(), HashSet::new(), HashSet::new());
        let (mut downloads_registered, mut m4b_in, mut m4b_outside) = (0, 0, 0);
        for file in present {
            match file.kind {
                FileKind::Aax | FileKind::Aaxc => {
                    downloaded.insert(&file.asin);
                    downloads_registered += 1;
                }
                FileKind::Converted | FileKind::ConvertedChapter => {
                    converted.insert(&file.asin);
                    if is_m4b(&file.path) {
                        m4b_titles.insert(&file.asin);
                        let now_at = moved_to.get(file.path.as_str()).copied();
                        if converted_dir.contains(now_at.unwrap_or(file.path.as_str())) {
                            m4b_in += 1;
                        } else {
                            m4b_outside += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        let downloads_on_disk = survey
            .downloads
            .iter()
            .filter(|f| {
                extension_of(&f.path).is_some_and(|e| DOWNLOADED_AUDIO.contains(&e.as_str()))
            })
            .count();
        let adopted_downloads = plan
            .adopted
            .iter()
            .filter(|a| matches!(a.kind, FileKind::Aax | FileKind::Aaxc))
            .count();
        Self {
            remote_total: count(survey.books.len()),
            downloaded_total: count(downloaded.len()),
            converted_total: count(converted.len()),
            converted_of_downloaded: count(downloaded.intersection(&converted).count()),
            orphan_downloads: count(adopted_downloads + plan.unknown_downloads.len()),
            orphan_conversions: count(
                plan.adopted.len() - adopted_downloads + plan.new_local_items.len(),
            ),
            missing_files: count(plan.missing.len()),
            duplicate_conversions: count(plan.duplicates.len()),
            downloaded_on_disk_total: count(downloads_on_disk),
            downloaded_on_disk_remote_total: downloads_registered,
            converted_m4b_files_on_disk_total: count(
                survey.converted.iter().filter(|f| is_m4b(&f.path)).count(),
            ),
            converted_m4b_titles_on_disk_total: count(m4b_titles.len()),
            converted_m4b_in_audiobook_dir_total: m4b_in,
            converted_m4b_outside_audiobook_dir_total: m4b_outside,
            downloaded_db_total: count(
                survey
                    .books
                    .iter()
                    .filter(|b| b.local_path_aax.is_some())
                    .count(),
            ),
            converted_db_total: count(
                survey
                    .books
                    .iter()
                    .filter(|b| b.local_path_converted.is_some())
                    .count(),
            ),
            misplaced_files_count: count(plan.moved.len()),
            generated_at: now,
        }
    }
}
