//! The documented shape of the settings: what `GET /settings` answers, and what a `PATCH`
//! may name (any of the same fields, nothing else). The core's `Settings` is the one that is
//! read and checked; this only says it in the API document.

use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// Every setting, as `GET /settings` and `PATCH /settings` answer them.
#[derive(ToSchema)]
#[schema(as = Settings)]
#[expect(
    dead_code,
    reason = "a schema only: the core's Settings is what is read and written"
)]
pub struct SettingsShape {
    /// Conversions' format.
    #[schema(value_type = crate::routes::wire::OutputFormatName)]
    output_format: String,
    /// One file per book (true) or one per chapter.
    single_file: bool,
    /// mp3 compression level.
    #[schema(minimum = 0, maximum = 9)]
    compression_mp3: u8,
    /// flac compression level.
    #[schema(minimum = 0, maximum = 12)]
    compression_flac: u8,
    /// opus compression level.
    #[schema(minimum = 0, maximum = 10)]
    compression_opus: u8,
    /// The cover size asked of Audible.
    #[schema(value_type = crate::routes::wire::CoverSize)]
    cover_size: String,
    /// Folders of converted books (`$variable`s of `GET /settings/naming-variables`).
    dir_naming_scheme: String,
    /// Converted files' names.
    file_naming_scheme: String,
    /// Chapter files' names; empty for AAXtoMP3's own.
    chapter_naming_scheme: String,
    /// Never replace an existing output or download (a request's `force` still does).
    no_clobber: bool,
    /// Kept for the web client.
    move_after_complete: bool,
    /// Retry failed jobs whose failure is worth a retry.
    auto_retry: bool,
    /// Retries after the first attempt.
    #[schema(minimum = 0, maximum = 10)]
    max_retries: u8,
    /// Author to write instead of Audible's, empty for Audible's.
    #[schema(max_length = 200)]
    author_override: String,
    /// Which of several authors to keep (0 for all).
    keep_author_index: u8,
    /// Repair: read metadata from files.
    repair_extract_metadata: bool,
    /// Repair: delete duplicate files.
    repair_delete_duplicates: bool,
    /// Repair: update manifests.
    repair_update_manifests: bool,
    /// Repair: what to do with misplaced files.
    #[schema(value_type = crate::routes::wire::MoveFilesPolicy)]
    move_files_policy: String,
    /// Seconds between automatic library syncs, 0 for none; anything else must be at least
    /// the server's minimum (`EARMARK__SCHEDULE__MIN_INTERVAL_S`, 300 unless its operator
    /// says otherwise), or the change is refused with 422.
    #[schema(minimum = 0, maximum = 2_678_400)]
    auto_sync_interval_s: u64,
    /// Download the books a sync finds that were not in the library before (not on the first
    /// sync, whose books are the library as it stands).
    auto_download_new: bool,
    /// Convert those downloads with these settings' defaults.
    auto_convert: bool,
}

/// The body of `PATCH /settings`: some of [`SettingsShape`]'s fields, no other.
pub struct SettingsPatch;

impl PartialSchema for SettingsPatch {
    fn schema() -> RefOr<Schema> {
        let mut schema = <SettingsShape as PartialSchema>::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.required.clear();
            object.additional_properties = Some(Box::new(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ));
        }
        schema
    }
}

impl ToSchema for SettingsPatch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <SettingsShape as ToSchema>::schemas(schemas);
    }
}
