//! A CONVERT job's parameters, read back from the JSON the API stored.

use serde_json::Value;

use crate::domain::format::{ConversionMode, OutputFormat};
use crate::domain::naming::NamingScheme;
use crate::ports::JobFailure;

/// What a CONVERT job was asked to do.
#[derive(Debug, Clone)]
pub struct ConvertParams {
    /// Output format.
    pub format: OutputFormat,
    /// One file or one per chapter.
    pub mode: ConversionMode,
    /// `naming_scheme`: the file scheme.
    pub file_scheme: Option<NamingScheme>,
    /// `dir_naming_scheme`.
    pub dir_scheme: Option<NamingScheme>,
    /// `chapter_naming_scheme`.
    pub chapter_scheme: Option<NamingScheme>,
    /// Replace existing outputs.
    pub force: bool,
    /// Compression level, checked against the format.
    pub level: Option<u8>,
    /// The Audible profile whose activation bytes decrypt an AAX.
    pub profile: Option<String>,
}

impl ConvertParams {
    /// Reads `params`; the API validated them already, so a failure here means a job row
    /// was edited or written by something else.
    ///
    /// # Errors
    /// A permanent [`JobFailure`] naming the bad parameter.
    pub fn from_json(params: &Value) -> Result<Self, JobFailure> {
        let text = |key: &str| params.get(key).and_then(Value::as_str);
        let bad = |key: &str, e: &dyn std::fmt::Display| {
            JobFailure::permanent(format!("job parameter `{key}`: {e}"))
        };
        let format = text("format")
            .ok_or_else(|| bad("format", &"missing"))?
            .parse::<OutputFormat>()
            .map_err(|e| bad("format", &e))?;
        let mode = text("mode")
            .map(str::parse::<ConversionMode>)
            .transpose()
            .map_err(|e| bad("mode", &e))?
            .unwrap_or(ConversionMode::Single);
        let scheme = |key: &str, chapter: bool| {
            text(key)
                .map(|raw| NamingScheme::parse(raw, chapter))
                .transpose()
                .map_err(|e| bad(key, &e))
        };
        Ok(Self {
            format,
            mode,
            file_scheme: scheme("naming_scheme", false)?,
            dir_scheme: scheme("dir_naming_scheme", false)?,
            chapter_scheme: scheme("chapter_naming_scheme", true)?,
            force: params
                .get("force")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            level: params
                .get("level")
                .and_then(Value::as_u64)
                .map(|l| {
                    u8::try_from(l)
                        .map_err(|e| e.to_string())
                        .and_then(|l| format.check_level(l))
                })
                .transpose()
                .map_err(|e| bad("level", &e))?,
            profile: text("profile").map(str::to_owned),
        })
    }

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
    use super::*;

    #[test]
    fn defaults_and_refusals() {
        let p = ConvertParams::from_json(&serde_json::json!({"format": "m4b"})).unwrap();
        assert_eq!(p.mode, ConversionMode::Single);
        assert!(!p.force && p.file_scheme.is_none());
        let err = ConvertParams::from_json(&serde_json::json!({"format": "wav"})).unwrap_err();
        assert!(err.message.contains("`format`"), "{err}");
        let err = ConvertParams::from_json(
            &serde_json::json!({"format": "mp3", "naming_scheme": "$(id)"}),
        )
        .unwrap_err();
        assert!(err.message.contains("naming_scheme"), "{err}");
    }
}
