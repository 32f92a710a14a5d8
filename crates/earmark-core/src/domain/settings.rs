//! The person's settings: the defaults of conversions and downloads and of the engine's
//! retries, in the web client's `Settings` shape. Server operators' settings (paths, binds,
//! limits) stay in the environment and TOML configuration.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::format::{ConversionMode, OutputFormat};
use super::job_spec::ConvertOptions;
use super::naming::{BOOK_VARIABLES, CHAPTER_VARIABLES, NamingScheme};

/// Cover sizes Audible serves (audible-cli's `--cover-size`).
pub const COVER_SIZES: &[&str] = &[
    "252", "315", "360", "408", "500", "558", "570", "882", "900", "1215",
];
/// What `move_files_policy` may say.
pub const MOVE_FILES_POLICIES: &[&str] = &["report_only", "always_move", "ask_each"];
/// The longest automatic sync interval, 31 days: longer is as good as off, and would
/// overflow a date.
pub const MAX_AUTO_SYNC_INTERVAL_S: u64 = 31 * 24 * 3600;
/// The most retries a job may be given.
pub const MAX_RETRIES: u8 = 10;

/// Every setting, valid by construction (see [`Settings::patched`]). Read leniently: a
/// setting missing from what was stored takes its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Conversions' format.
    pub output_format: OutputFormat,
    /// One file per book (true) or one per chapter.
    pub single_file: bool,
    /// mp3 compression level, 0–9.
    pub compression_mp3: u8,
    /// flac compression level, 0–12.
    pub compression_flac: u8,
    /// opus compression level, 0–10.
    pub compression_opus: u8,
    /// The cover size asked of Audible, one of [`COVER_SIZES`].
    pub cover_size: String,
    /// Folders of converted books.
    pub dir_naming_scheme: String,
    /// Converted files' names.
    pub file_naming_scheme: String,
    /// Chapter files' names; empty for AAXtoMP3's own.
    pub chapter_naming_scheme: String,
    /// Never replace an existing output or download (a request's `force` still does).
    pub no_clobber: bool,
    /// Kept for the web client; earmark places outputs in their final folder as it writes them.
    pub move_after_complete: bool,
    /// Retry failed jobs whose failure is worth a retry.
    pub auto_retry: bool,
    /// How many retries after the first attempt, 0–[`MAX_RETRIES`].
    pub max_retries: u8,
    /// Author to write instead of Audible's, empty for Audible's.
    pub author_override: String,
    /// Which of several authors to keep (0 for all).
    pub keep_author_index: u8,
    /// Repair: read metadata from files.
    pub repair_extract_metadata: bool,
    /// Repair: delete duplicate files.
    pub repair_delete_duplicates: bool,
    /// Repair: update manifests.
    pub repair_update_manifests: bool,
    /// Repair: what to do with misplaced files, one of [`MOVE_FILES_POLICIES`].
    pub move_files_policy: String,
    /// Seconds between automatic library syncs; 0 for none. The server refuses less than its
    /// operator's minimum (`EARMARK__SCHEDULE__MIN_INTERVAL_S`), so no setting can hammer
    /// Audible.
    pub auto_sync_interval_s: u64,
    /// Download the books a sync finds that were not in the library before.
    pub auto_download_new: bool,
    /// Convert those downloads with these settings' defaults once they are in.
    pub auto_convert: bool,
}

impl Default for Settings {
    /// What earmark did before anything was saved: m4b, one file, `$genre/$artist/$title`,
    /// nothing replaced unless forced, three attempts, nothing done unasked.
    fn default() -> Self {
        Self {
            output_format: OutputFormat::M4b,
            single_file: true,
            compression_mp3: 4,
            compression_flac: 5,
            compression_opus: 5,
            cover_size: "500".into(),
            dir_naming_scheme: "$genre/$artist/$title".into(),
            file_naming_scheme: "$title".into(),
            chapter_naming_scheme: String::new(),
            no_clobber: true,
            move_after_complete: false,
            auto_retry: true,
            max_retries: 2,
            author_override: String::new(),
            keep_author_index: 0,
            repair_extract_metadata: true,
            repair_delete_duplicates: false,
            repair_update_manifests: true,
            move_files_policy: "report_only".into(),
            auto_sync_interval_s: 0,
            auto_download_new: false,
            auto_convert: false,
        }
    }
}

/// A setting that cannot be taken, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    /// The setting.
    pub field: String,
    /// Why, and what it takes.
    pub message: String,
}

fn refused(field: &str, message: impl ToString) -> SettingsError {
    SettingsError {
        field: field.to_owned(),
        message: message.to_string(),
    }
}

impl Settings {
    /// These settings with `changes` (a JSON object of some settings) applied, each checked
    /// as a request's option is: naming schemes through the allow-list, levels in the
    /// format's range, sizes and policies from their lists. Unknown names are refused.
    ///
    /// # Errors
    /// The first [`SettingsError`], naming its setting.
    pub fn patched(&self, changes: &Map<String, Value>) -> Result<Self, SettingsError> {
        let current = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let with = |changed: &mut dyn Iterator<Item = (&String, &Value)>| {
            let mut merged = current.clone();
            merged.extend(changed.map(|(k, v)| (k.clone(), v.clone())));
            serde_json::from_value::<Settings>(Value::Object(merged))
        };
        if let Some(unknown) = changes.keys().find(|key| !current.contains_key(*key)) {
            return Err(refused(unknown, "no such setting"));
        }
        let next = with(&mut changes.iter()).map_err(|e| {
            // serde names no field in a type error; find the one that fails alone.
            let field = changes
                .iter()
                .find(|change| with(&mut std::iter::once(*change)).is_err())
                .map_or("settings", |(key, _)| key.as_str());
            refused(field, e)
        })?;
        next.check()?;
        Ok(next)
    }

    /// Checks what the types do not.
    ///
    /// # Errors
    /// The first setting out of its range or list.
    pub fn check(&self) -> Result<(), SettingsError> {
        for (field, format, level) in [
            ("compression_mp3", OutputFormat::Mp3, self.compression_mp3),
            (
                "compression_flac",
                OutputFormat::Flac,
                self.compression_flac,
            ),
            (
                "compression_opus",
                OutputFormat::Opus,
                self.compression_opus,
            ),
        ] {
            format.check_level(level).map_err(|e| refused(field, e))?;
        }
        if !COVER_SIZES.contains(&self.cover_size.as_str()) {
            return Err(refused(
                "cover_size",
                format!("use one of {}", COVER_SIZES.join(", ")),
            ));
        }
        NamingScheme::parse(&self.dir_naming_scheme, false)
            .map_err(|e| refused("dir_naming_scheme", e))?;
        NamingScheme::parse(&self.file_naming_scheme, false)
            .map_err(|e| refused("file_naming_scheme", e))?;
        if !self.chapter_naming_scheme.is_empty() {
            NamingScheme::parse(&self.chapter_naming_scheme, true)
                .map_err(|e| refused("chapter_naming_scheme", e))?;
        }
        if self.auto_sync_interval_s > MAX_AUTO_SYNC_INTERVAL_S {
            return Err(refused(
                "auto_sync_interval_s",
                format!("at most {MAX_AUTO_SYNC_INTERVAL_S} seconds (31 days), or 0 for none"),
            ));
        }
        if self.max_retries > MAX_RETRIES {
            return Err(refused("max_retries", format!("use 0 to {MAX_RETRIES}")));
        }
        if self.author_override.chars().count() > 200 {
            return Err(refused("author_override", "at most 200 characters"));
        }
        if !MOVE_FILES_POLICIES.contains(&self.move_files_policy.as_str()) {
            return Err(refused(
                "move_files_policy",
                format!("use one of {}", MOVE_FILES_POLICIES.join(", ")),
            ));
        }
        Ok(())
    }

    /// Checks the automatic sync interval against the operator's floor: 0 (none) or at
    /// least `min_interval_s`.
    ///
    /// # Errors
    /// The interval, naming the floor and where it is set.
    pub fn check_auto_sync(&self, min_interval_s: u64) -> Result<(), SettingsError> {
        match self.auto_sync_interval_s {
            0 => Ok(()),
            short if short < min_interval_s => Err(refused(
                "auto_sync_interval_s",
                format!(
                    "at least {min_interval_s} seconds (this server's \
                     EARMARK__SCHEDULE__MIN_INTERVAL_S, so that Audible is not hammered), \
                     or 0 for no automatic sync"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// `options` with every option it leaves out taken from these settings: format, mode,
    /// naming schemes, the format's compression level, and `force` (not when `no_clobber`).
    pub fn fill(&self, mut options: ConvertOptions) -> ConvertOptions {
        let format = *options.format.get_or_insert(self.output_format);
        options.mode.get_or_insert(if self.single_file {
            ConversionMode::Single
        } else {
            ConversionMode::Chapters
        });
        options
            .naming_scheme
            .get_or_insert_with(|| self.file_naming_scheme.clone());
        options
            .dir_naming_scheme
            .get_or_insert_with(|| self.dir_naming_scheme.clone());
        if options.chapter_naming_scheme.is_none() && !self.chapter_naming_scheme.is_empty() {
            options.chapter_naming_scheme = Some(self.chapter_naming_scheme.clone());
        }
        if options.level.is_none() {
            options.level = match format {
                OutputFormat::Mp3 => Some(self.compression_mp3),
                OutputFormat::Flac => Some(self.compression_flac),
                OutputFormat::Opus => Some(self.compression_opus),
                OutputFormat::M4a | OutputFormat::M4b => None,
            };
        }
        options.force.get_or_insert(!self.no_clobber);
        options
    }

    /// How many attempts a job gets: one, plus the retries when they are on.
    pub fn max_attempts(&self) -> i32 {
        1 + if self.auto_retry {
            i32::from(self.max_retries)
        } else {
            0
        }
    }
}

/// The variables each naming scheme may use (`GET /settings/naming-variables`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamingVariables {
    /// For `dir_naming_scheme`.
    pub directory: Vec<String>,
    /// For `file_naming_scheme`.
    pub file: Vec<String>,
    /// For `chapter_naming_scheme`.
    pub chapter: Vec<String>,
}

impl NamingVariables {
    /// The allow-list the naming schemes are checked against.
    pub fn allowed() -> Self {
        let book: Vec<String> = BOOK_VARIABLES.iter().map(|v| format!("${v}")).collect();
        let mut chapter = book.clone();
        chapter.extend(CHAPTER_VARIABLES.iter().map(|v| format!("${v}")));
        Self {
            directory: book.clone(),
            file: book,
            chapter,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patch(value: Value) -> Result<Settings, SettingsError> {
        let Value::Object(map) = value else {
            unreachable!()
        };
        Settings::default().patched(&map)
    }

    #[test]
    fn the_defaults_are_valid_and_a_patch_changes_only_what_it_names() {
        Settings::default().check().unwrap();
        let next = patch(json!({"output_format": "mp3", "compression_mp3": 2})).unwrap();
        assert_eq!(next.output_format, OutputFormat::Mp3);
        assert_eq!(next.compression_mp3, 2);
        assert_eq!(
            next.dir_naming_scheme,
            Settings::default().dir_naming_scheme
        );
    }

    #[test]
    fn refusals_name_the_setting() {
        for (body, field) in [
            (json!({"output_format": "ogg"}), "output_format"),
            (json!({"compression_flac": 13}), "compression_flac"),
            (json!({"compression_mp3": -1}), "compression_mp3"),
            (
                json!({"dir_naming_scheme": "$(rm -rf ~)"}),
                "dir_naming_scheme",
            ),
            (
                json!({"file_naming_scheme": "$chapter"}),
                "file_naming_scheme",
            ),
            (json!({"cover_size": "640"}), "cover_size"),
            (json!({"max_retries": 11}), "max_retries"),
            (json!({"move_files_policy": "shred"}), "move_files_policy"),
            (json!({"single_file": "yes"}), "single_file"),
            (json!({"colour": "blue"}), "colour"),
        ] {
            let err = patch(body.clone()).unwrap_err();
            assert_eq!(err.field, field, "{body}: {err}");
        }
    }

    #[test]
    fn settings_fill_what_a_request_leaves_out_and_the_request_wins() {
        let settings = patch(json!({
            "output_format": "mp3", "single_file": false, "compression_mp3": 7,
            "file_naming_scheme": "$title - $narrator", "chapter_naming_scheme": "$chapternum",
            "no_clobber": false
        }))
        .unwrap();
        let filled = settings.fill(ConvertOptions::default());
        assert_eq!(filled.format, Some(OutputFormat::Mp3));
        assert_eq!(filled.mode, Some(ConversionMode::Chapters));
        assert_eq!(filled.level, Some(7));
        assert_eq!(filled.naming_scheme.as_deref(), Some("$title - $narrator"));
        assert_eq!(filled.chapter_naming_scheme.as_deref(), Some("$chapternum"));
        assert_eq!(filled.force, Some(true));
        let own = settings.fill(ConvertOptions {
            format: Some(OutputFormat::M4b),
            force: Some(false),
            ..ConvertOptions::default()
        });
        assert_eq!(
            (own.format, own.level, own.force),
            (Some(OutputFormat::M4b), None, Some(false))
        );
        assert_eq!(settings.max_attempts(), 3);
        assert_eq!(
            patch(json!({"auto_retry": false})).unwrap().max_attempts(),
            1
        );
    }
}
