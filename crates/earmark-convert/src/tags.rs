//! The `TagReader` port on ffprobe: an audio file's container tags and length.

use std::ffi::OsString;
use std::path::Path;

use async_trait::async_trait;
use earmark_core::ports::{AudioTags, TagError, TagReader};
use earmark_process::Redactor;

use crate::probe::{Ffmpeg, probe_spec};
use crate::tool::capture;

/// Reads tags with ffprobe.
#[derive(Debug, Clone)]
pub struct FfprobeTags {
    tools: Ffmpeg,
}

impl FfprobeTags {
    /// A reader running `tools`' ffprobe.
    pub fn new(tools: Ffmpeg) -> Self {
        Self { tools }
    }
}

/// The tags and length in ffprobe's JSON (`-show_entries format=duration:format_tags`).
fn parse(json: &str) -> Result<AudioTags, TagError> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| TagError(format!("ffprobe said no JSON: {e}")))?;
    let format = value
        .get("format")
        .ok_or_else(|| TagError("ffprobe found no container".into()))?;
    let tags = format
        .get("tags")
        .and_then(|t| t.as_object())
        .map(|t| {
            t.iter()
                .filter_map(|(k, v)| Some((k.to_lowercase(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let duration_ms = format
        .get("duration")
        .and_then(|d| d.as_str())
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s * 1000.0).round() as u64);
    Ok(AudioTags { tags, duration_ms })
}

#[async_trait]
impl TagReader for FfprobeTags {
    async fn read_tags(&self, path: &str) -> Result<AudioTags, TagError> {
        let args: Vec<OsString> = [
            "-v",
            "error",
            "-show_entries",
            "format=duration:format_tags",
            "-of",
            "json",
        ]
        .iter()
        .map(OsString::from)
        .chain([OsString::from(path)])
        .collect();
        let out = capture(&probe_spec(
            Path::new(&self.tools.ffprobe),
            args,
            &Redactor::default(),
        ))
        .await
        .map_err(|e| TagError(e.to_string()))?;
        if !out.status.success() {
            return Err(TagError(format!(
                "ffprobe cannot read it: {}",
                out.stderr.join(" ")
            )));
        }
        let tags = parse(&out.stdout.join("\n"))?;
        if tags.duration_ms.is_none() {
            return Err(TagError("ffprobe finds no length: not audio".into()));
        }
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_lower_cased_and_the_length_read() {
        let tags = parse(
            r#"{"format": {"duration": "61.250000", "tags": {"ASIN": "B000000001", "album": "A", "track": "3/9"}}}"#,
        )
        .unwrap();
        assert_eq!(tags.duration_ms, Some(61_250));
        assert_eq!(
            tags.tags.get("asin").map(String::as_str),
            Some("B000000001")
        );
        assert_eq!(tags.tags.len(), 3);
        assert!(parse("{}").is_err());
        assert!(parse("not json").is_err());
    }
}
