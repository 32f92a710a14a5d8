//! A book Audible handed out in parts, read by ffmpeg as one input: an `ffconcat` list of the
//! parts, each with its own key (the concat demuxer's `option` directive), their chapters
//! placed one after another.
//!
//! The parts' AAC frames are joined as they are, so a copy (m4a, m4b) loses nothing; at each
//! join a player hears the first part's last frame and the next part's priming frame (about
//! 46 ms), as in any lossless join of AAC.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;

use earmark_core::Chapter;
use earmark_core::ports::{ConversionInput, ConvertError};

use crate::probe::{Decryption, Ffmpeg, decryption, embedded_chapters, source_duration_ms};

/// The parts as one input.
#[derive(Debug)]
pub(crate) struct Joined {
    /// The options that make ffmpeg read `list` as the book (`-f concat`), with every part's
    /// secrets to redact.
    pub decrypt: Decryption,
    /// The ffconcat list.
    pub list: std::path::PathBuf,
    /// The parts' chapters, each part's placed after the ones before it.
    pub chapters: Vec<Chapter>,
    /// The length of all parts.
    pub length_ms: u64,
}

/// `path` quoted for an ffconcat `file` line.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// Reads each of `parts` (its key, chapters and length) and writes the list into `work`.
///
/// # Errors
/// A part whose key, chapters or length cannot be read.
pub(crate) async fn join_parts(
    tools: &Ffmpeg,
    parts: &[ConversionInput],
    work: &Path,
) -> Result<Joined, ConvertError> {
    let mut decrypt = Decryption {
        args: ["-f", "concat", "-safe", "0"].map(OsString::from).to_vec(),
        ..Decryption::default()
    };
    let mut list = String::from("ffconcat version 1.0\n");
    let mut chapters = Vec::new();
    let mut offset = 0u64;
    for (index, part) in parts.iter().enumerate() {
        let own = decryption(part).await?;
        let length = source_duration_ms(tools, part, &own).await?;
        let marks = embedded_chapters(tools, &part.audio, &own).await?;
        if marks.is_empty() {
            chapters.push(Chapter {
                title: format!("Part {}", index + 1),
                start_offset_ms: offset,
                length_ms: length,
            });
        }
        chapters.extend(marks.into_iter().map(|mark| Chapter {
            start_offset_ms: offset + mark.start_offset_ms,
            ..mark
        }));
        let absolute = std::path::absolute(&part.audio).map_err(|e| {
            ConvertError::BadInput(format!("cannot find {}: {e}", part.audio.display()))
        })?;
        let _ = writeln!(list, "file {}", quoted(&absolute));
        for pair in own.args.chunks(2) {
            if let [name, value] = pair {
                let name = name.to_string_lossy();
                let value = value.to_string_lossy();
                decrypt.redactor.add(value.clone().into_owned());
                let _ = writeln!(list, "option {} {value}", name.trim_start_matches('-'));
            }
        }
        let _ = writeln!(list, "duration {}.{:03}", length / 1000, length % 1000);
        offset += length;
    }
    let path = work.join("parts.ffconcat");
    tokio::fs::write(&path, list)
        .await
        .map_err(|e| ConvertError::Tool(format!("cannot write {}: {e}", path.display())))?;
    Ok(Joined {
        decrypt,
        list: path,
        chapters,
        length_ms: offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_quoted_for_ffconcat() {
        assert_eq!(
            quoted(Path::new("/data/it's/B0PART0001-AAX_44_64.aaxc")),
            r"'/data/it'\''s/B0PART0001-AAX_44_64.aaxc'"
        );
    }
}
