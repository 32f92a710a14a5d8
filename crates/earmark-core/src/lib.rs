#![doc = include_str!("../README.md")]

pub mod book_life;
pub mod conversion;
pub mod domain;
pub mod download;
pub mod free_space;
pub mod import;
pub mod library_removal;
pub mod library_sync;
pub mod listening;
mod placing;
pub mod ports;
pub mod positions;
pub mod repair;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod unattended;

pub use domain::ParseEnumError;
pub use domain::asin::{Asin, AsinError};
pub use domain::book::{
    Book, BookRecord, BookStatus, BookUpdate, ChangeCursor, ChangePage, UpsertSummary,
};
pub use domain::chapter::{Chapter, ChapterFileError, chapters_from_audible};
pub use domain::event::{JobEvent, Transfer};
pub use domain::file::{FileKind, Fingerprint, NewStoredFile, OutputFile, StoredFile};
pub use domain::format::{ConversionMode, DownloadFormat, OutputFormat};
pub use domain::job::{Job, JobFilter, JobId, JobStatus, JobUpdate, NewJob, TaskType};
pub use domain::job_spec::{
    ConvertOptions, ConvertOptionsError, ConvertParams, DownloadParams, ImportMode, ImportParams,
    JobSpec, RepairParams, SyncParams, UnreadableSpec,
};
pub use domain::library_query::{
    BookPage, BookQuery, BookSortKey, ContentType, ParentFilter, SeriesCount, SeriesFilter,
    SeriesSummary, SortDirection,
};
pub use domain::naming::{NamingScheme, NamingSchemeError, safe_file_name, safe_relative_path};
pub use domain::parenthood::{ItemKind, ParentLink};
pub use domain::progress::{Progress, ProgressError, ProgressReport};
pub use domain::secret::{ActivationBytes, ActivationBytesError};
pub use domain::settings::{NamingVariables, Settings, SettingsError};
