//! The parameters of each job kind, valid by construction: a value of these types has passed
//! every check a request's options must pass (naming schemes through the allow-list, a
//! compression level the format takes).
//!
//! Each serialises to the JSON kept in the job's `params` column, in the shape earmark has
//! always stored; reading that JSON back runs the same checks.

use serde::{Deserialize, Serialize};

use crate::domain::format::{ConversionMode, DownloadFormat, OutputFormat};
use crate::domain::naming::{NamingScheme, NamingSchemeError};

/// What a SYNC job reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncParams {
    /// The audible-cli profile whose library is read (`None`: the primary one).
    #[serde(default)]
    pub profile: Option<String>,
    /// Only bring listening positions in step with Audible; the library itself is not read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub positions_only: bool,
}

/// What a REPAIR job does: it reads the person's settings when it runs (whether duplicates
/// are deleted), so it has no parameters of its own yet; unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairParams {}

crate::domain::wire_enum! {
    /// How an import puts a file into the data directory.
    ImportMode, "import mode" {
        /// A hard link (the file stays where it is too; a copy where the two folders are on
        /// different file systems).
        Link => "link",
        /// A copy.
        Copy => "copy",
        /// The file itself, moved.
        Move => "move",
    }
}

/// What an IMPORT job adopts: every audio file under `path` (inside an import root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportParams {
    /// The folder to import, absolute and resolved.
    pub path: String,
    /// How files are put in place.
    pub mode: ImportMode,
}

/// What a DOWNLOAD job fetches, and what it asks for once the files are in place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadParams {
    /// The audio format to ask Audible for.
    #[serde(default)]
    pub format: DownloadFormat,
    /// Download again even when the book is already downloaded.
    #[serde(default)]
    pub force: bool,
    /// Also fetch the companion PDF.
    #[serde(default)]
    pub pdf: bool,
    /// The audible-cli profile that owns the book (`None`: the primary one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The conversion to queue once the download is in place.
    #[serde(default)]
    pub convert: Option<ConvertParams>,
    /// The cover size to ask Audible for, in pixels; `None` for 500, as downloads stored
    /// before this setting existed asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover_size: Option<u16>,
}

/// What a CONVERT job makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ConvertOptions")]
pub struct ConvertParams {
    /// Output format.
    pub format: OutputFormat,
    /// One file, or one per chapter.
    pub mode: ConversionMode,
    /// The file naming scheme (`naming_scheme`).
    #[serde(rename = "naming_scheme")]
    pub file_scheme: Option<NamingScheme>,
    /// The directory naming scheme (`dir_naming_scheme`).
    #[serde(rename = "dir_naming_scheme")]
    pub dir_scheme: Option<NamingScheme>,
    /// The chapter file naming scheme (`chapter_naming_scheme`).
    #[serde(rename = "chapter_naming_scheme")]
    pub chapter_scheme: Option<NamingScheme>,
    /// Compression level; only where the format takes one, within its range.
    pub level: Option<u8>,
    /// Replace existing outputs.
    pub force: bool,
    /// The audible-cli profile whose activation bytes decrypt an AAX (`None`: the primary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// A conversion's options as they arrive: text where [`ConvertParams`] has checked values.
/// [`ConvertParams::try_from`] checks them; it is the only way in.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConvertOptions {
    /// Output format.
    pub format: Option<OutputFormat>,
    /// One file or one per chapter; `single` when absent.
    #[serde(default)]
    pub mode: Option<ConversionMode>,
    /// File naming scheme.
    #[serde(default)]
    pub naming_scheme: Option<String>,
    /// Directory naming scheme.
    #[serde(default)]
    pub dir_naming_scheme: Option<String>,
    /// Chapter file naming scheme (may use the chapter variables).
    #[serde(default)]
    pub chapter_naming_scheme: Option<String>,
    /// Compression level.
    #[serde(default)]
    pub level: Option<u8>,
    /// Replace existing outputs.
    #[serde(default)]
    pub force: Option<bool>,
    /// The audible-cli profile for an AAX's activation bytes.
    #[serde(default)]
    pub profile: Option<String>,
}

/// Which conversion option was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConvertOptionsError {
    /// The option, as the request spells it (`naming_scheme`, `level`, ...).
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn refused(field: &'static str, message: impl ToString) -> ConvertOptionsError {
    ConvertOptionsError {
        field,
        message: message.to_string(),
    }
}

fn scheme(
    field: &'static str,
    raw: Option<&str>,
    chapter: bool,
) -> Result<Option<NamingScheme>, ConvertOptionsError> {
    raw.map(|raw| NamingScheme::parse(raw, chapter))
        .transpose()
        .map_err(|e: NamingSchemeError| refused(field, e))
}

impl TryFrom<ConvertOptions> for ConvertParams {
    type Error = ConvertOptionsError;

    fn try_from(options: ConvertOptions) -> Result<Self, Self::Error> {
        let format = options
            .format
            .ok_or_else(|| refused("format", "missing: use mp3, m4a, m4b, flac or opus"))?;
        let level = options
            .level
            .map(|level| format.check_level(level))
            .transpose()
            .map_err(|e| refused("level", e))?;
        Ok(Self {
            format,
            mode: options.mode.unwrap_or(ConversionMode::Single),
            file_scheme: scheme("naming_scheme", options.naming_scheme.as_deref(), false)?,
            dir_scheme: scheme(
                "dir_naming_scheme",
                options.dir_naming_scheme.as_deref(),
                false,
            )?,
            chapter_scheme: scheme(
                "chapter_naming_scheme",
                options.chapter_naming_scheme.as_deref(),
                true,
            )?,
            level,
            force: options.force.unwrap_or(false),
            profile: options.profile,
        })
    }
}

impl ConvertParams {
    /// How many bytes the outputs may take per byte of AAC input, with room to spare:
    /// re-encoding keeps about the source's bitrate, except FLAC, which decodes to lossless
    /// (a 64 kb/s book grows about elevenfold).
    pub fn growth_factor(&self) -> u64 {
        match self.format {
            OutputFormat::Flac => 14,
            OutputFormat::Mp3 => 3,
            OutputFormat::M4a | OutputFormat::M4b | OutputFormat::Opus => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn convert(value: serde_json::Value) -> Result<ConvertParams, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_refusals() {
        let p = convert(json!({"format": "m4b"})).unwrap();
        assert_eq!(p.mode, ConversionMode::Single);
        assert!(!p.force && p.file_scheme.is_none());
        let err = convert(json!({"format": "wav"})).unwrap_err();
        assert!(err.contains("wav"), "{err}");
        let err = convert(json!({"format": "mp3", "naming_scheme": "$(id)"})).unwrap_err();
        assert!(err.contains("naming_scheme"), "{err}");
        let err = convert(json!({"format": "m4b", "level": 3})).unwrap_err();
        assert!(err.contains("level"), "{err}");
        let err = convert(json!({"format": "mp3", "naming_scheme": "$chapter"})).unwrap_err();
        assert!(err.contains("chapter naming scheme"), "{err}");
        convert(json!({"format": "mp3", "chapter_naming_scheme": "$chapternum $title"})).unwrap();
    }

    #[test]
    fn stored_json_reads_back_to_the_same_params() {
        let params = convert(json!({
            "format": "mp3", "mode": "chapters", "naming_scheme": "$title by $artist",
            "dir_naming_scheme": "$artist/$title", "chapter_naming_scheme": "$chapternum",
            "level": 4, "force": true, "profile": "second"
        }))
        .unwrap();
        let stored = serde_json::to_value(&params).unwrap();
        assert_eq!(stored["naming_scheme"], "$title by $artist");
        assert_eq!(stored["mode"], "chapters");
        assert_eq!(convert(stored).unwrap(), params);

        let download = DownloadParams {
            convert: Some(params),
            pdf: true,
            ..DownloadParams::default()
        };
        let stored = serde_json::to_value(&download).unwrap();
        assert_eq!(stored["format"], "aaxc");
        let back: DownloadParams = serde_json::from_value(stored).unwrap();
        assert_eq!(back, download);
    }
}
