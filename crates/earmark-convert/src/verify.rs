//! The verdict on a conversion, the same for every engine: the outputs, not the exit status.

use std::path::Path;

use earmark_core::FileKind;
use earmark_core::ports::{ConvertError, ProducedFile};

use crate::mp3_check::check_mp3;
use crate::mp4_check::check_mp4;
use crate::probe::{Ffmpeg, decoded_duration_ms};

/// How far the outputs' total length may be from the source's.
pub const DURATION_TOLERANCE_MS: u64 = 1000;

/// How an output's audio is proven to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeProof {
    /// By an ffmpeg run on the output itself (its first and last two seconds). For outputs
    /// of a tool whose exit status means nothing (AAXtoMP3).
    Decode,
    /// The native engine's own ffmpeg run wrote the output and ended cleanly: a stream copy
    /// of frames the same run decoded (with `-xerror`), or an encoder's output. Its container
    /// is then checked in process where earmark can read it (MPEG-4: [`check_mp4`], boxes
    /// whole, samples inside `mdat`, `moov` first; MP3: [`check_mp3`], first frame and
    /// Xing frame count), saving a process start per file; FLAC and Ogg are still decoded.
    WrittenByFfmpeg,
}

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
    proof: DecodeProof,
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
        let path = out_dir.join(&file.relative);
        total += match (proof, file.mime.as_str()) {
            (DecodeProof::WrittenByFfmpeg, "audio/mp4") => {
                let facts = check_mp4(&path).await?;
                if !facts.moov_first {
                    return Err(ConvertError::Verification(format!(
                        "{}: moov does not come before mdat",
                        file.relative.display()
                    )));
                }
                facts.duration_ms
            }
            (DecodeProof::WrittenByFfmpeg, "audio/mpeg") => match check_mp3(&path).await? {
                Some(facts) => facts.duration_ms,
                None => decoded_duration_ms(tools, &path).await?,
            },
            _ => decoded_duration_ms(tools, &path).await?,
        };
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
