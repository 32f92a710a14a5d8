//! The verdict on a conversion, the same for every engine: the outputs, not the exit status.

use std::path::Path;

use earmark_core::FileKind;
use earmark_core::ports::{ConvertError, ProducedFile};

use crate::probe::{Ffmpeg, decoded_duration_ms};

/// How far the outputs' total length may be from the source's.
pub const DURATION_TOLERANCE_MS: u64 = 1000;

/// Checks that every produced file exists under `out_dir`, that every audio file decodes,
/// and that the audio adds up to `source_ms` within [`DURATION_TOLERANCE_MS`].
///
/// # Errors
/// [`ConvertError::Verification`] saying which check failed.
pub async fn verify_outputs(
    tools: &Ffmpeg,
    out_dir: &Path,
    files: &[ProducedFile],
    source_ms: u64,
) -> Result<(), ConvertError> {
    let audio: Vec<&ProducedFile> = files
        .iter()
        .filter(|f| matches!(f.kind, FileKind::Converted | FileKind::ConvertedChapter))
        .collect();
    if audio.is_empty() {
        return Err(ConvertError::Verification(
            "the converter produced no audio file".into(),
        ));
    }
    for file in files {
        let path = out_dir.join(&file.relative);
        let meta = tokio::fs::metadata(&path).await.map_err(|_| {
            ConvertError::Verification(format!("{} is missing", file.relative.display()))
        })?;
        if meta.len() == 0 {
            return Err(ConvertError::Verification(format!(
                "{} is empty",
                file.relative.display()
            )));
        }
    }
    let mut total = 0;
    for file in &audio {
        total += decoded_duration_ms(tools, &out_dir.join(&file.relative)).await?;
    }
    if total.abs_diff(source_ms) > DURATION_TOLERANCE_MS {
        return Err(ConvertError::Verification(format!(
            "the outputs last {:.1} s, the source {:.1} s",
            total as f64 / 1000.0,
            source_ms as f64 / 1000.0
        )));
    }
    Ok(())
}
