//! AAXtoMP3 (KrumpetPirate/AAXtoMP3, behaviour of commit e66c51d), wrapped so that it can
//! neither run what it should not nor decide the outcome.
//!
//! - It gets an argument vector: options first, the format flag before `-s`/`-c` (a format
//!   flag resets the mode), `-A` only for AAX, `-t` a fresh empty directory (an existing
//!   output makes it exit 1), `-l 1`, and `--use-audible-cli-data` when the side files are
//!   there (forced by the script itself for `.aaxc`).
//! - Naming schemes reach it only after [`earmark_core::NamingScheme`] validated them (it runs
//!   them through `eval`), and it runs with an empty working and home directory: no
//!   `.authcode` is read from anywhere, and a `*` in a title globs nothing.
//! - Its header line prints the activation bytes and `-d` prints the AAXC key and iv: all are
//!   masked in every line before the line is logged.
//! - Its exit status is ignored in favour of the outputs: chaptered mode exits 1 after writing
//!   every chapter, `-e:m4a`/`-e:m4b` exit 127 at the cover step without `mp4art`.
//! - Output names come from the file's own tags; they are made safe before anything is moved.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use earmark_core::ports::{
    ConversionOutput, ConversionRequest, ConvertError, Converter, JobContext, ProducedFile,
};
use earmark_core::{ConversionMode, FileKind, OutputFormat, safe_relative_path};
use earmark_process::ProcessSpec;

use crate::ffmeta::ffmetadata;
use crate::ffmpeg_engine::{FfmpegConverter, attach_cover};
use crate::probe::{Ffmpeg, book_chapters, decryption, source_duration_ms};
use crate::tool::run_logged;
use crate::verify::{DecodeProof, verify_outputs};

/// Converts by running the user's AAXtoMP3 script.
#[derive(Debug, Clone)]
pub struct AaxToMp3Converter {
    script: PathBuf,
    tools: Ffmpeg,
    timeout: Duration,
    /// For what the script cannot do (chaptered opus: its cover step fails on ffmpeg 5.1
    /// before the first chapter is written; a book in parts).
    fallback: FfmpegConverter,
}

impl AaxToMp3Converter {
    /// Runs `script` with `tools` on its `PATH`, each run limited to `timeout`.
    pub fn new(script: PathBuf, tools: Ffmpeg, timeout: Duration) -> Self {
        Self {
            fallback: FfmpegConverter::new(tools.clone(), timeout),
            script,
            tools,
            timeout,
        }
    }

    fn args(&self, request: &ConversionRequest, target: &Path, side_files: bool) -> Vec<OsString> {
        let format: &[&str] = match request.format {
            OutputFormat::Mp3 => &["-e:mp3"],
            OutputFormat::M4a => &["-e:m4a"],
            OutputFormat::M4b => &["-e:m4b"],
            OutputFormat::Flac => &["--flac"],
            OutputFormat::Opus => &["--opus"],
        };
        let mut args: Vec<OsString> = format.iter().map(OsString::from).collect();
        args.push(match request.mode {
            ConversionMode::Single => "--single".into(),
            ConversionMode::Chapters => "--chaptered".into(),
        });
        if let Some(bytes) = &request.input.activation_bytes
            && !request.input.is_aaxc()
        {
            args.extend(["-A".into(), bytes.expose().into()]);
        }
        args.extend(["-t".into(), target.into()]);
        if let Some(scheme) = &request.dir_scheme {
            args.extend(["-D".into(), scheme.as_str().into()]);
        }
        if let Some(scheme) = &request.file_scheme {
            args.extend(["-F".into(), scheme.as_str().into()]);
        }
        if let Some(scheme) = &request.chapter_scheme {
            args.extend(["--chapter-naming-scheme".into(), scheme.as_str().into()]);
        }
        if side_files {
            args.push("--use-audible-cli-data".into());
        }
        // The script checks the range itself, but only for mp3/flac/opus; the core already
        // refused a level for the stream copies.
        if let Some(level) = request.level {
            args.extend(["--level".into(), level.to_string().into()]);
        }
        if self.tools.ffmpeg.components().count() > 1
            && let Some(dir) = self.tools.ffmpeg.parent()
        {
            args.extend(["--ffmpeg-path".into(), dir.into()]);
        }
        args.extend(["-l".into(), "1".into()]);
        args.push(request.input.audio.clone().into());
        args
    }
}

impl AaxToMp3Converter {
    /// What AAXtoMP3 leaves undone in MPEG-4 outputs on a system without mp4v2-utils (and
    /// never does at all): the chapter names (mp4chaps), the cover (mp4art), and `moov`
    /// before `mdat`. One stream-copy remux per file does all three; each file is replaced
    /// by a rename. Answers whether a cover went in (there is none to add when the download
    /// came without one).
    async fn finish_mp4(
        &self,
        request: &ConversionRequest,
        target: &Path,
        files: &[ProducedFile],
        decrypt: &crate::probe::Decryption,
        ctx: &dyn JobContext,
    ) -> Result<bool, ConvertError> {
        let single = request.mode == ConversionMode::Single;
        let chapters = if single {
            book_chapters(&self.tools, &request.input, decrypt).await?
        } else {
            Vec::new()
        };
        let metadata = ctx.work_dir().join("finish.ffmeta");
        tokio::fs::write(&metadata, ffmetadata(&[], &chapters))
            .await
            .map_err(|e| ConvertError::Tool(format!("cannot write {}: {e}", metadata.display())))?;
        let cover = match &request.input.cover {
            Some(c) if tokio::fs::metadata(c).await.is_ok() => Some(c.clone()),
            _ => None,
        };
        let ext = request.format.extension();
        for file in files.iter().filter(|f| f.kind != FileKind::Playlist) {
            let path = target.join(&file.relative);
            let finished = path.with_extension(format!("finishing.{ext}"));
            let mut args: Vec<OsString> = ["-nostdin", "-hide_banner", "-v", "error", "-i"]
                .map(OsString::from)
                .into();
            args.push(path.clone().into());
            args.extend([
                "-f".into(),
                "ffmetadata".into(),
                "-i".into(),
                metadata.clone().into(),
            ]);
            if let Some(cover) = &cover {
                args.extend(["-i".into(), cover.into()]);
            }
            args.extend(["-map", "0:a:0"].map(OsString::from));
            if cover.is_some() {
                attach_cover(&mut args, 2);
            }
            args.extend(["-map_metadata", "0", "-map_chapters"].map(OsString::from));
            args.push(if single { "1" } else { "-1" }.into());
            args.extend(
                ["-c:a", "copy", "-movflags", "+faststart", "-f", "mp4"].map(OsString::from),
            );
            args.push(finished.clone().into());
            let mut spec = ProcessSpec::new(&self.tools.ffmpeg, args);
            spec.timeout = Some(self.timeout);
            let status = run_logged(&spec, ctx, |_| {}).await?;
            if !status.success() {
                return Err(ConvertError::Tool(format!(
                    "adding chapters and cover to {} failed ({status})",
                    file.relative.display()
                )));
            }
            tokio::fs::rename(&finished, &path).await.map_err(|e| {
                ConvertError::Tool(format!("cannot replace {}: {e}", path.display()))
            })?;
        }
        Ok(cover.is_some())
    }
}

/// Progress from AAXtoMP3's output: the transcode takes the first part, chapter splitting
/// the rest.
struct ProgressReader {
    total_s: f64,
    transcode_share: f64,
}

fn clock_seconds(text: &str) -> Option<f64> {
    let mut parts = text.trim().split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

impl ProgressReader {
    fn read(&mut self, line: &str) -> Option<f64> {
        if let Some(total) = line.strip_prefix("Total length:") {
            self.total_s = clock_seconds(total)?;
            return None;
        }
        if let Some(at) = line.find("time=") {
            let done = clock_seconds(line[at + 5..].split_whitespace().next()?)?;
            return Some(self.transcode_share * (done / self.total_s.max(1.0)).min(1.0));
        }
        if line.starts_with("Chapter splitting:") {
            let counts = line.rsplit('(').next()?.split_whitespace().next()?;
            let (done, of) = counts.split_once('/')?;
            let share = done.parse::<f64>().ok()? / of.parse::<f64>().ok()?.max(1.0);
            return Some(self.transcode_share + (99.0 - self.transcode_share) * share);
        }
        None
    }
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                out.push(relative.to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Renames what the script produced to safe names (it names files after the book's tags),
/// rewrites the playlist to match, and says what each kept file is.
fn collect_outputs(
    target: &Path,
    request: &ConversionRequest,
) -> Result<Vec<ProducedFile>, ConvertError> {
    let io = |e: std::io::Error| ConvertError::Tool(format!("reading AAXtoMP3's outputs: {e}"));
    let ext = request.format.extension();
    let leftover = format!(".cover.{ext}");
    let mut renamed: HashMap<String, String> = HashMap::new();
    let mut produced = Vec::new();
    for relative in files_under(target).map_err(io)? {
        let name = relative.to_string_lossy().into_owned();
        let kind = if name.ends_with(".m3u") {
            FileKind::Playlist
        } else if name.ends_with(&format!(".{ext}")) && !name.ends_with(&leftover) {
            match request.mode {
                ConversionMode::Single => FileKind::Converted,
                ConversionMode::Chapters => FileKind::ConvertedChapter,
            }
        } else {
            continue;
        };
        let safe = safe_relative_path(&name);
        if safe != relative {
            let to = target.join(&safe);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::rename(target.join(&relative), &to).map_err(io)?;
            if let (Some(old), Some(new)) = (relative.file_name(), safe.file_name()) {
                renamed.insert(
                    old.to_string_lossy().into_owned(),
                    new.to_string_lossy().into_owned(),
                );
            }
        }
        produced.push(ProducedFile {
            relative: safe,
            kind,
            mime: if kind == FileKind::Playlist {
                "audio/x-mpegurl".into()
            } else {
                request.format.mime().to_owned()
            },
        });
    }
    for playlist in produced.iter().filter(|f| f.kind == FileKind::Playlist) {
        let path = target.join(&playlist.relative);
        let text = std::fs::read_to_string(&path).map_err(io)?;
        let fixed: Vec<String> = text
            .lines()
            .map(|l| renamed.get(l).cloned().unwrap_or_else(|| l.to_owned()))
            .collect();
        std::fs::write(&path, fixed.join("\n") + "\n").map_err(io)?;
    }
    // Main audio first, playlists last.
    produced.sort_by_key(|f| (f.kind == FileKind::Playlist, f.relative.clone()));
    Ok(produced)
}

#[async_trait]
impl Converter for AaxToMp3Converter {
    fn engine(&self) -> &'static str {
        "AAXtoMP3"
    }

    async fn convert(
        &self,
        request: &ConversionRequest,
        ctx: &dyn JobContext,
    ) -> Result<ConversionOutput, ConvertError> {
        if request.format == OutputFormat::Opus && request.mode == ConversionMode::Chapters {
            ctx.log(
                "AAXtoMP3 cannot write chaptered opus with ffmpeg 5.1 (its cover step fails before the first chapter): converting with ffmpeg directly",
            );
            return self.fallback.convert(request, ctx).await;
        }
        if !request.parts.is_empty() {
            ctx.log(&format!(
                "AAXtoMP3 converts one file per run and this book is {} parts: joining and \
                 converting them with ffmpeg directly",
                request.parts.len()
            ));
            return self.fallback.convert(request, ctx).await;
        }
        let decrypt = decryption(&request.input).await?;
        let source_ms = source_duration_ms(&self.tools, &request.input, &decrypt).await?;
        let side_files = request.input.is_aaxc()
            || (request.input.chapters.is_some() && request.input.cover.is_some());

        let target = request.out_dir.clone();
        let home = ctx.work_dir().join("aaxtomp3-home");
        for dir in [&target, &home] {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| ConvertError::Tool(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut spec = ProcessSpec::new(&self.script, self.args(request, &target, side_files));
        spec.cwd = Some(home.clone());
        spec.env.push(("HOME".into(), home.into()));
        spec.timeout = Some(self.timeout);
        spec.redactor = decrypt.redactor.clone();
        let mut reader = ProgressReader {
            total_s: source_ms as f64 / 1000.0,
            transcode_share: match request.mode {
                ConversionMode::Single => 95.0,
                ConversionMode::Chapters => 60.0,
            },
        };
        let mut tail: Vec<String> = Vec::new();
        let status = run_logged(&spec, ctx, |line| {
            if let Some(percent) = reader.read(&line.text) {
                ctx.progress(percent, None);
            }
            if !line.text.trim().is_empty() {
                tail.push(line.text.clone());
                if tail.len() > 5 {
                    tail.remove(0);
                }
            }
        })
        .await?;

        let files = collect_outputs(&target, request)?;
        if let Err(e) =
            verify_outputs(&self.tools, &target, &files, source_ms, DecodeProof::Decode).await
        {
            return Err(ConvertError::Tool(format!(
                "AAXtoMP3 exited with {status} and {e}; its last words: {}",
                tail.join(" | ")
            )));
        }
        if !status.success() {
            ctx.log(&format!(
                "AAXtoMP3 exited with {status}, but every output is present and verified"
            ));
        }
        let has_cover = if matches!(request.format, OutputFormat::M4a | OutputFormat::M4b) {
            self.finish_mp4(request, &target, &files, &decrypt, ctx)
                .await?
        } else if let Some(main) = files.iter().find(|f| f.kind != FileKind::Playlist) {
            crate::probe::has_cover(&self.tools, &target.join(&main.relative)).await
        } else {
            false
        };
        let mut warnings = Vec::new();
        if !has_cover {
            warnings.push(format!(
                "the {} output has no embedded cover (AAXtoMP3 needs mp4art for m4a/m4b, and ffmpeg 5.1 cannot put one in Ogg)",
                request.format
            ));
        }
        Ok(ConversionOutput { files, warnings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_follows_the_transcode_then_the_chapters() {
        let mut reader = ProgressReader {
            total_s: 0.0,
            transcode_share: 60.0,
        };
        assert_eq!(reader.read("Total length: 01:00:00"), None);
        let half = reader
            .read("size=   12kB time=00:30:00.00 bitrate=  64.0kbits/s speed=300x")
            .unwrap();
        assert!((half - 30.0).abs() < 1e-9, "{half}");
        let split = reader
            .read("Chapter splitting: |##########          |  50% (2/4 chapters)")
            .unwrap();
        assert!((split - 79.5).abs() < 1e-9, "{split}");
    }
}
