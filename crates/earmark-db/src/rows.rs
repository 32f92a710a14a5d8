//! Row structs for the three tables and their conversion to and from domain values.

use diesel::prelude::*;
use earmark_core::{
    Asin, Book, BookRecord, BookStatus, BookUpdate, ContentType, FileKind, Job, JobId, JobSpec,
    JobStatus, NewJob, NewStoredFile, OutputFormat, StoredFile, TaskType,
};

use crate::error::StoreError;
use crate::schema::{books, files, jobs};
use crate::sql_types::{DbId, DbTime};

/// A whole `books` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = books, treat_none_as_default_value = false)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct BookRow {
    pub asin: String,
    pub title: String,
    pub subtitle: Option<String>,
    pub author: Option<String>,
    pub narrator: Option<String>,
    pub series: Option<String>,
    pub series_sequence: Option<String>,
    pub runtime_min: Option<i32>,
    pub cover_url: Option<String>,
    pub metadata_json: String,
    pub status: String,
    pub local_path_aax: Option<String>,
    pub local_path_voucher: Option<String>,
    pub local_path_cover: Option<String>,
    pub local_path_converted: Option<String>,
    pub conversion_format: Option<String>,
    pub error_message: Option<String>,
    pub created_at: DbTime,
    pub updated_at: DbTime,
    pub removed_at: Option<DbTime>,
    pub series_asin: Option<String>,
    pub release_date: Option<String>,
    pub purchase_date: Option<String>,
    pub content_type: String,
    pub position_ms: Option<i64>,
    pub last_chapter_id: Option<String>,
    pub playback_speed: Option<f64>,
    pub is_finished: bool,
    pub last_played_at: Option<DbTime>,
    pub completed_at: Option<DbTime>,
    pub progress_synced_at: Option<DbTime>,
    pub progress_sync_error: Option<String>,
    pub parent_asin: Option<String>,
    pub parent_position: Option<i32>,
}

/// A book's listening progress columns, stamped with the book's `updated_at`.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = books, treat_none_as_null = true)]
pub struct ProgressChanges {
    pub position_ms: Option<i64>,
    pub last_chapter_id: Option<String>,
    pub playback_speed: Option<f64>,
    pub is_finished: bool,
    pub last_played_at: Option<DbTime>,
    pub completed_at: Option<DbTime>,
    pub updated_at: DbTime,
}

impl ProgressChanges {
    /// The columns of `progress`, stamped `now`.
    pub fn of(progress: &earmark_core::Progress, now: DbTime) -> Self {
        Self {
            position_ms: Some(i64::try_from(progress.position_ms).unwrap_or(i64::MAX)),
            last_chapter_id: progress.last_chapter_id.clone(),
            playback_speed: Some(progress.playback_speed),
            is_finished: progress.is_finished,
            last_played_at: Some(DbTime::new(progress.last_played_at)),
            completed_at: progress.completed_at.map(DbTime::new),
            updated_at: now,
        }
    }
}

/// The library-record columns of a book, written by a sync; `None` writes NULL.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = books, treat_none_as_null = true)]
pub struct BookRecordChanges {
    pub title: String,
    pub subtitle: Option<String>,
    pub author: Option<String>,
    pub narrator: Option<String>,
    pub series: Option<String>,
    pub series_sequence: Option<String>,
    pub runtime_min: Option<i32>,
    pub cover_url: Option<String>,
    pub metadata_json: String,
    pub updated_at: DbTime,
    pub removed_at: Option<DbTime>,
    pub series_asin: Option<String>,
    pub release_date: Option<String>,
    pub purchase_date: Option<String>,
    pub content_type: String,
    pub parent_asin: Option<String>,
    pub parent_position: Option<i32>,
}

/// A change to a book's local-state columns; `None` leaves a column, `Some(None)` clears it.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = books)]
pub struct BookLocalChanges {
    pub status: Option<String>,
    pub local_path_aax: Option<Option<String>>,
    pub local_path_voucher: Option<Option<String>>,
    pub local_path_cover: Option<Option<String>>,
    pub local_path_converted: Option<Option<String>>,
    pub conversion_format: Option<Option<String>>,
    pub error_message: Option<Option<String>>,
    pub updated_at: DbTime,
}

impl BookRow {
    /// A first sighting of `record`: status NEW, created and updated `now`.
    pub fn new_from(record: &BookRecord, now: DbTime) -> Self {
        let changes = BookRecordChanges::from_record(record, now);
        Self {
            asin: record.asin.to_string(),
            title: changes.title,
            subtitle: changes.subtitle,
            author: changes.author,
            narrator: changes.narrator,
            series: changes.series,
            series_sequence: changes.series_sequence,
            runtime_min: changes.runtime_min,
            cover_url: changes.cover_url,
            metadata_json: changes.metadata_json,
            status: BookStatus::New.as_str().to_owned(),
            local_path_aax: None,
            local_path_voucher: None,
            local_path_cover: None,
            local_path_converted: None,
            conversion_format: None,
            error_message: None,
            created_at: now,
            updated_at: now,
            removed_at: None,
            series_asin: changes.series_asin,
            release_date: changes.release_date,
            purchase_date: changes.purchase_date,
            content_type: changes.content_type,
            position_ms: None,
            last_chapter_id: None,
            playback_speed: None,
            is_finished: false,
            last_played_at: None,
            completed_at: None,
            progress_synced_at: None,
            progress_sync_error: None,
            parent_asin: changes.parent_asin,
            parent_position: changes.parent_position,
        }
    }

    /// Whether this stored row carries exactly `record` and is not a tombstone.
    pub fn is_current(&self, record: &BookRecord) -> bool {
        let stored_metadata = serde_json::from_str::<serde_json::Value>(&self.metadata_json).ok();
        self.removed_at.is_none()
            && self.title == record.title
            && self.subtitle == record.subtitle
            && self.author == record.author
            && self.narrator == record.narrator
            && self.series == record.series
            && self.series_sequence == record.series_sequence
            && self.runtime_min == record.runtime_min
            && self.cover_url == record.cover_url
            && self.series_asin == record.series_asin
            && self.release_date == record.release_date
            && self.purchase_date == record.purchase_date
            && self.parent_asin.as_deref() == record.parent.as_ref().map(|p| p.asin.as_str())
            && self.parent_position == record.parent.as_ref().map(|p| position_column(p.position))
            && stored_metadata.as_ref() == Some(&record.metadata_json)
    }

    /// The domain book; fails on values no migration could have written.
    pub fn into_book(self) -> Result<Book, StoreError> {
        Ok(Book {
            record: BookRecord {
                asin: Asin::parse(&self.asin).map_err(StoreError::corrupt)?,
                title: self.title,
                subtitle: self.subtitle,
                author: self.author,
                narrator: self.narrator,
                series: self.series,
                series_sequence: self.series_sequence,
                runtime_min: self.runtime_min,
                cover_url: self.cover_url,
                series_asin: self.series_asin,
                release_date: self.release_date,
                purchase_date: self.purchase_date,
                metadata_json: serde_json::from_str(&self.metadata_json)
                    .map_err(StoreError::corrupt)?,
                parent: self
                    .parent_asin
                    .map(|asin| -> Result<earmark_core::ParentLink, StoreError> {
                        Ok(earmark_core::ParentLink {
                            asin: Asin::parse(&asin).map_err(StoreError::corrupt)?,
                            position: self
                                .parent_position
                                .and_then(|p| u32::try_from(p).ok())
                                .unwrap_or(0),
                        })
                    })
                    .transpose()?,
            },
            status: self.status.parse().map_err(StoreError::corrupt)?,
            local_path_aax: self.local_path_aax,
            local_path_voucher: self.local_path_voucher,
            local_path_cover: self.local_path_cover,
            local_path_converted: self.local_path_converted,
            conversion_format: self
                .conversion_format
                .map(|f| f.parse::<OutputFormat>())
                .transpose()
                .map_err(StoreError::corrupt)?,
            error_message: self.error_message,
            created_at: self.created_at.get(),
            updated_at: self.updated_at.get(),
            removed_at: self.removed_at.map(DbTime::get),
            progress: self.position_ms.map(|position| earmark_core::Progress {
                position_ms: u64::try_from(position).unwrap_or(0),
                last_chapter_id: self.last_chapter_id,
                playback_speed: self.playback_speed.unwrap_or(1.0),
                is_finished: self.is_finished,
                last_played_at: self
                    .last_played_at
                    .map_or(self.updated_at.get(), DbTime::get),
                completed_at: self.completed_at.map(DbTime::get),
                synced_at: self.progress_synced_at.map(DbTime::get),
                sync_error: self.progress_sync_error,
            }),
        })
    }
}

/// A child's place as the column stores it (no podcast has two billion episodes).
fn position_column(position: u32) -> i32 {
    i32::try_from(position).unwrap_or(i32::MAX)
}

impl BookRecordChanges {
    /// The columns `record` sets, stamped `now` and no longer removed.
    pub fn from_record(record: &BookRecord, now: DbTime) -> Self {
        Self {
            title: record.title.clone(),
            subtitle: record.subtitle.clone(),
            author: record.author.clone(),
            narrator: record.narrator.clone(),
            series: record.series.clone(),
            series_sequence: record.series_sequence.clone(),
            runtime_min: record.runtime_min,
            cover_url: record.cover_url.clone(),
            metadata_json: record.metadata_json.to_string(),
            updated_at: now,
            removed_at: None,
            series_asin: record.series_asin.clone(),
            release_date: record.release_date.clone(),
            purchase_date: record.purchase_date.clone(),
            content_type: ContentType::of_item(&record.metadata_json)
                .as_str()
                .to_owned(),
            parent_asin: record.parent.as_ref().map(|p| p.asin.to_string()),
            parent_position: record.parent.as_ref().map(|p| position_column(p.position)),
        }
    }
}

impl BookLocalChanges {
    /// The columns `update` sets, stamped `now`.
    pub fn from_update(update: BookUpdate, now: DbTime) -> Self {
        Self {
            status: update.status.map(|s| s.as_str().to_owned()),
            local_path_aax: update.local_path_aax,
            local_path_voucher: update.local_path_voucher,
            local_path_cover: update.local_path_cover,
            local_path_converted: update.local_path_converted,
            conversion_format: update
                .conversion_format
                .map(|f| f.map(|f| f.as_str().to_owned())),
            error_message: update.error_message,
            updated_at: now,
        }
    }
}

/// A whole `jobs` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = jobs, treat_none_as_default_value = false)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct JobRow {
    pub id: DbId,
    pub task_type: String,
    pub asin: Option<String>,
    pub params: String,
    pub status: String,
    pub progress_percent: f64,
    pub status_message: Option<String>,
    pub log_file_path: Option<String>,
    pub error: Option<String>,
    pub attempts: i32,
    pub original_job_id: Option<DbId>,
    pub created_at: DbTime,
    pub started_at: Option<DbTime>,
    pub finished_at: Option<DbTime>,
    pub updated_at: DbTime,
    pub run_after: Option<DbTime>,
    pub outputs: String,
    pub paused_at: Option<DbTime>,
}

/// A change to a job; `None` leaves a column as it is.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = jobs)]
pub struct JobChanges {
    pub status: Option<String>,
    pub progress_percent: Option<f64>,
    pub status_message: Option<String>,
    pub error: Option<String>,
    pub log_file_path: Option<String>,
    pub started_at: Option<DbTime>,
    pub finished_at: Option<DbTime>,
    pub attempts: Option<i32>,
    pub updated_at: Option<DbTime>,
    pub run_after: Option<Option<DbTime>>,
    pub outputs: Option<String>,
    pub paused_at: Option<Option<DbTime>>,
}

impl JobRow {
    /// A fresh QUEUED job.
    pub fn queued(job: NewJob, now: DbTime) -> Self {
        Self {
            id: DbId(JobId::new().0),
            task_type: job.task_type().as_str().to_owned(),
            asin: job.asin().map(ToString::to_string),
            params: job.spec.params_json().to_string(),
            status: JobStatus::Queued.as_str().to_owned(),
            progress_percent: 0.0,
            status_message: None,
            log_file_path: None,
            error: None,
            attempts: 0,
            original_job_id: job.original_job_id.map(|id| DbId(id.0)),
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
            run_after: None,
            outputs: "[]".to_owned(),
            paused_at: None,
        }
    }

    /// The row's status, checked.
    pub fn job_status(&self) -> Result<JobStatus, StoreError> {
        self.status.parse().map_err(StoreError::corrupt)
    }

    /// The domain job.
    pub fn into_job(self) -> Result<Job, StoreError> {
        let task_type = self
            .task_type
            .parse::<TaskType>()
            .map_err(StoreError::corrupt)?;
        let asin = self
            .asin
            .as_deref()
            .map(Asin::parse)
            .transpose()
            .map_err(StoreError::corrupt)?;
        Ok(Job {
            id: JobId(self.id.0),
            spec: JobSpec::read(task_type, asin, &self.params),
            status: self.job_status()?,
            progress_percent: self.progress_percent,
            status_message: self.status_message,
            log_file_path: self.log_file_path,
            error: self.error,
            attempts: self.attempts,
            original_job_id: self.original_job_id.map(|id| JobId(id.0)),
            created_at: self.created_at.get(),
            started_at: self.started_at.map(DbTime::get),
            finished_at: self.finished_at.map(DbTime::get),
            updated_at: self.updated_at.get(),
            run_after: self.run_after.map(DbTime::get),
            // A record that cannot be read is no record: the next attempt then treats files in
            // its way as somebody else's, which is the safe side.
            outputs: serde_json::from_str(&self.outputs).unwrap_or_default(),
            paused_at: self.paused_at.map(DbTime::get),
        })
    }
}

/// A whole `files` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = files, treat_none_as_default_value = false)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct FileRow {
    pub id: DbId,
    pub asin: String,
    pub kind: String,
    pub path: String,
    pub size: i64,
    pub mime: String,
    pub created_at: DbTime,
}

impl FileRow {
    /// A new row for `file` with a fresh id.
    pub fn new_from(file: NewStoredFile, now: DbTime) -> Self {
        Self {
            id: DbId(uuid::Uuid::now_v7()),
            asin: file.asin.to_string(),
            kind: file.kind.as_str().to_owned(),
            path: file.path,
            size: file.size,
            mime: file.mime,
            created_at: now,
        }
    }

    /// The domain file.
    pub fn into_file(self) -> Result<StoredFile, StoreError> {
        Ok(StoredFile {
            id: self.id.0,
            asin: Asin::parse(&self.asin).map_err(StoreError::corrupt)?,
            kind: self.kind.parse::<FileKind>().map_err(StoreError::corrupt)?,
            path: self.path,
            size: self.size,
            mime: self.mime,
            created_at: self.created_at.get(),
        })
    }
}
