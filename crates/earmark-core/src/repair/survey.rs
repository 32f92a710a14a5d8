//! What a repair looks at: the database's view of the library's files and the disk's.

use std::collections::HashSet;
use std::sync::Arc;

use crate::domain::book::Book;
use crate::domain::file::StoredFile;
use crate::domain::job::{JobFilter, JobStatus};
use crate::domain::local_item::LocalItem;
use crate::ports::{
    DiskArea, DiskError, DiskFile, JobQueue, JobQueueError, LibraryDisk, LibraryRepo,
    LibraryRepoError, LocalItemStore, LocalItemStoreError,
};

/// More unfinished jobs than a queue ever holds at once (one per book and kind).
const MAX_UNFINISHED_JOBS: u32 = 1_000_000;

/// The ports a repair reads and writes.
#[derive(Clone)]
pub struct SurveyPorts {
    /// Books and their files.
    pub library: Arc<dyn LibraryRepo>,
    /// Local items.
    pub local_items: Arc<dyn LocalItemStore>,
    /// The data directory's files.
    pub disk: Arc<dyn LibraryDisk>,
    /// Jobs: the outputs of unfinished ones are not orphans.
    pub jobs: Arc<dyn JobQueue>,
}

/// Why a survey could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum SurveyError {
    /// The library could not be read.
    #[error(transparent)]
    Library(#[from] LibraryRepoError),
    /// The local items could not be read.
    #[error(transparent)]
    LocalItems(#[from] LocalItemStoreError),
    /// The job queue could not be read.
    #[error(transparent)]
    Jobs(#[from] JobQueueError),
    /// The data directory could not be read.
    #[error("cannot read the data directory: {0}")]
    Disk(#[from] DiskError),
}

/// The library's files as the database and the disk see them at one moment.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    /// Every book in the library (removed ones are not: their files are left as they are).
    pub books: Vec<Book>,
    /// Every registered file.
    pub files: Vec<StoredFile>,
    /// Every local item.
    pub local_items: Vec<LocalItem>,
    /// The files under `<data>/downloads`.
    pub downloads: Vec<DiskFile>,
    /// The files under `<data>/converted`.
    pub converted: Vec<DiskFile>,
    /// Registered files and local items that lie outside the two scanned areas and were
    /// found where the database says.
    pub elsewhere: Vec<DiskFile>,
    /// Paths that unfinished jobs are putting in place: neither orphans nor duplicates.
    pub in_flight: HashSet<String>,
}

impl Survey {
    /// Reads everything a repair compares.
    ///
    /// # Errors
    /// When the database or the data directory cannot be read.
    pub async fn take(ports: &SurveyPorts) -> Result<Self, SurveyError> {
        let unfinished = ports
            .jobs
            .list(JobFilter {
                statuses: JobStatus::ACTIVE.to_vec(),
                limit: MAX_UNFINISHED_JOBS,
                ..JobFilter::default()
            })
            .await?;
        let in_flight = unfinished
            .items
            .iter()
            .flat_map(|job| job.outputs.iter().map(|o| o.path.clone()))
            .collect();
        let mut survey = Self {
            books: ports.library.library_books().await?,
            files: ports.library.all_files().await?,
            local_items: ports.local_items.all_local_items().await?,
            downloads: ports.disk.scan(DiskArea::Downloads).await?,
            converted: ports.disk.scan(DiskArea::Converted).await?,
            elsewhere: Vec::new(),
            in_flight,
        };
        let scanned: HashSet<&str> = survey
            .downloads
            .iter()
            .chain(&survey.converted)
            .map(|f| f.path.as_str())
            .collect();
        let outside: Vec<String> = survey
            .files
            .iter()
            .map(|f| f.path.as_str())
            .chain(survey.local_items.iter().map(|i| i.path.as_str()))
            .filter(|path| !scanned.contains(path))
            .map(str::to_owned)
            .collect();
        for path in outside {
            if let Some(found) = ports.disk.stat(&path).await? {
                survey.elsewhere.push(found);
            }
        }
        Ok(survey)
    }
}
