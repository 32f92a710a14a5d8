//! The REPAIR job: carries out a repair plan, every action in the job's log.

use async_trait::async_trait;

use super::plan::RepairPlan;
use super::survey::{Survey, SurveyPorts};
use crate::domain::file::NewStoredFile;
use crate::domain::job::TaskType;
use crate::domain::job_spec::JobSpec;
use crate::ports::{JobContext, JobEffects, JobFailure, JobHandler, SettingsStore};

/// Runs REPAIR jobs.
pub struct RepairLibrary {
    ports: SurveyPorts,
    settings: std::sync::Arc<dyn SettingsStore>,
}

impl RepairLibrary {
    /// A repair over `ports`, deleting duplicates only when `settings` say so
    /// (`repair_delete_duplicates`).
    pub fn new(ports: SurveyPorts, settings: std::sync::Arc<dyn SettingsStore>) -> Self {
        Self { ports, settings }
    }

    async fn carry_out(
        &self,
        plan: RepairPlan,
        delete_duplicates: bool,
        ctx: &dyn JobContext,
    ) -> Result<Tally, String> {
        let (library, disk) = (&self.ports.library, &self.ports.disk);
        let mut tally = Tally::default();
        for moved in plan.moved {
            let size = i64::try_from(moved.to.size).unwrap_or(i64::MAX);
            library
                .move_file(moved.file.id, moved.to.path.clone(), size)
                .await
                .map_err(|e| e.to_string())?;
            ctx.log(&format!(
                "moved: {} file of {} now at {} (was {})",
                moved.file.kind, moved.file.asin, moved.to.path, moved.file.path
            ));
            tally.moved += 1;
        }
        for missing in plan.missing {
            library
                .forget_file(missing.id)
                .await
                .map_err(|e| e.to_string())?;
            ctx.log(&format!(
                "missing: {} file of {} is gone from {}; its record is removed",
                missing.kind, missing.asin, missing.path
            ));
            tally.missing += 1;
        }
        for adopted in plan.adopted {
            library
                .add_file(NewStoredFile {
                    asin: adopted.asin.clone(),
                    kind: adopted.kind,
                    path: adopted.file.path.clone(),
                    size: i64::try_from(adopted.file.size).unwrap_or(i64::MAX),
                    mime: adopted.mime,
                })
                .await
                .map_err(|e| e.to_string())?;
            ctx.log(&format!(
                "registered: {} as the {} file of {}",
                adopted.file.path, adopted.kind, adopted.asin
            ));
            tally.registered += 1;
        }
        for item in plan.new_local_items {
            let path = item.path.clone();
            self.ports
                .local_items
                .add_local_item(item)
                .await
                .map_err(|e| e.to_string())?;
            ctx.log(&format!(
                "local item: {path} belongs to no book in the library"
            ));
            tally.local_items += 1;
        }
        for unknown in plan.unknown_downloads {
            ctx.log(&format!(
                "left alone: {} is a download of no book in the library",
                unknown.path
            ));
        }
        for gone in plan.gone_local_items {
            self.ports
                .local_items
                .remove_local_item(gone.id)
                .await
                .map_err(|e| e.to_string())?;
            ctx.log(&format!(
                "local item gone: {} is no longer on disk",
                gone.path
            ));
            tally.missing += 1;
        }
        for duplicate in plan.duplicates {
            if !delete_duplicates {
                ctx.log(&format!(
                    "duplicate: {} repeats {}; kept (repair_delete_duplicates is off)",
                    duplicate.path, duplicate.of
                ));
                tally.duplicates += 1;
                continue;
            }
            if duplicate.registered.is_none()
                && !disk
                    .same_content(&duplicate.path, &duplicate.of)
                    .await
                    .map_err(|e| e.to_string())?
            {
                ctx.log(&format!(
                    "not a duplicate: {} differs from {} in content; kept",
                    duplicate.path, duplicate.of
                ));
                continue;
            }
            if let Some(row) = &duplicate.registered {
                library
                    .forget_file(row.id)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            disk.remove(&duplicate.path)
                .await
                .map_err(|e| e.to_string())?;
            ctx.log(&format!(
                "duplicate deleted: {} (a copy of {})",
                duplicate.path, duplicate.of
            ));
            tally.duplicates += 1;
        }
        for (asin, update) in plan.books {
            let book = library
                .update_book(&asin, update)
                .await
                .map_err(|e| e.to_string())?;
            ctx.log(&format!(
                "book {asin}: now {} (download: {}, converted: {})",
                book.status,
                book.local_path_aax.as_deref().unwrap_or("none"),
                book.local_path_converted.as_deref().unwrap_or("none")
            ));
            tally.books += 1;
        }
        Ok(tally)
    }
}

/// What a repair did, for its status message.
#[derive(Debug, Default)]
struct Tally {
    moved: usize,
    missing: usize,
    registered: usize,
    local_items: usize,
    duplicates: usize,
    books: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} moved, {} missing removed, {} registered, {} new local items, {} duplicates, \
             {} books corrected",
            self.moved,
            self.missing,
            self.registered,
            self.local_items,
            self.duplicates,
            self.books
        )
    }
}

#[async_trait]
impl JobHandler for RepairLibrary {
    async fn run(&self, ctx: &dyn JobContext) -> Result<JobEffects, JobFailure> {
        match &ctx.job().spec {
            JobSpec::Repair(_) => {}
            other => return Err(JobFailure::wrong_spec(other, TaskType::Repair)),
        }
        ctx.progress(0.0, Some("comparing the database with the data directory"));
        let delete_duplicates = self
            .settings
            .load()
            .await
            .map_err(|e| JobFailure::permanent(e.to_string()))?
            .repair_delete_duplicates;
        let survey = Survey::take(&self.ports)
            .await
            .map_err(|e| JobFailure::permanent(e.to_string()))?;
        let plan = RepairPlan::of(&survey);
        ctx.log(&format!(
            "surveyed {} books, {} registered files, {} local items, {} files under downloads, \
             {} under converted",
            survey.books.len(),
            survey.files.len(),
            survey.local_items.len(),
            survey.downloads.len(),
            survey.converted.len()
        ));
        if plan.is_empty() {
            ctx.progress(100.0, Some("nothing to repair"));
            return Ok(JobEffects::default());
        }
        ctx.progress(50.0, Some("repairing"));
        let tally = self
            .carry_out(plan, delete_duplicates, ctx)
            .await
            .map_err(|e| JobFailure::permanent(format!("the repair stopped: {e}")))?;
        ctx.progress(100.0, Some(&tally.to_string()));
        Ok(JobEffects::default())
    }
}
