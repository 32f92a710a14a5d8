//! The ports: what the domain needs from the outside world, as async traits.
//!
//! A port's doc comment is its contract; every adapter passes the same contract test suite.

pub mod audible_accounts;
pub mod audible_positions;
pub mod converter;
pub mod downloader;
pub mod job_handler;
pub mod job_queue;
pub mod library_disk;
pub mod library_repo;
pub mod library_source;
pub mod local_items;
pub mod schedule_store;
pub mod settings_store;
pub mod tag_reader;
pub mod webhook_store;

pub use audible_accounts::{AccountsError, AudibleAccounts, AudibleProfile, LoginStart};
pub use audible_positions::{AudiblePositions, CallLog, MAX_ASINS_PER_READ, RemotePosition};
pub use converter::{
    BookTags, ConversionInput, ConversionOutput, ConversionRequest, ConvertError, Converter, Move,
    OutputStore, PlaceError, PlannedMove, ProducedFile,
};
pub use downloader::{DownloadError, DownloadFormat, DownloadOutput, DownloadRequest, Downloader};
pub use job_handler::{
    BookChange, Cancelled, FailureClass, JobContext, JobEffects, JobFailure, JobHandler, Stop,
};
pub use job_queue::{
    Applied, Enqueued, FinishedJobs, JobPage, JobQueue, JobQueueError, JobSubmitter, RecoveryReport,
};
pub use library_disk::{DiskArea, DiskError, DiskFile, LibraryDisk, Placed};
pub use library_repo::{LibraryRepo, LibraryRepoError, RemovedBook};
pub use library_source::{LibrarySource, LibrarySourceError};
pub use local_items::{LocalItemStore, LocalItemStoreError};
pub use schedule_store::{ScheduleStore, ScheduleStoreError};
pub use settings_store::{SettingsStore, SettingsStoreError};
pub use tag_reader::{AudioTags, TagError, TagReader};
pub use webhook_store::{DueDeliveries, Notifier, WebhookStore, WebhookStoreError};

#[cfg(any(test, feature = "testing"))]
pub use converter::MockOutputStore;
#[cfg(any(test, feature = "testing"))]
pub use job_queue::MockJobQueue;
#[cfg(any(test, feature = "testing"))]
pub use library_disk::MockLibraryDisk;
#[cfg(any(test, feature = "testing"))]
pub use library_repo::MockLibraryRepo;
#[cfg(any(test, feature = "testing"))]
pub use local_items::MockLocalItemStore;
#[cfg(any(test, feature = "testing"))]
pub use schedule_store::MockScheduleStore;
#[cfg(any(test, feature = "testing"))]
pub use settings_store::MockSettingsStore;
#[cfg(any(test, feature = "testing"))]
pub use tag_reader::MockTagReader;
#[cfg(any(test, feature = "testing"))]
pub use webhook_store::MockWebhookStore;

/// The error an adapter could not classify more precisely, kept whole for logs.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
