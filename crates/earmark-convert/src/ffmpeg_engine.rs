//! The native engine: ffmpeg decrypts and converts in one pass per output file.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use earmark_core::ports::{
    ConversionOutput, ConversionRequest, ConvertError, Converter, JobContext, ProducedFile,
};
use earmark_core::{Chapter, ConversionMode, FileKind, OutputFormat};
use earmark_process::{OutputStream, ProcessSpec};

use crate::ffmeta::ffmetadata;
use crate::join::join_parts;
use crate::layout::{book_paths, chapter_stem};
use crate::probe::{Decryption, Ffmpeg, book_chapters, decryption, source_duration_ms};
use crate::tool::run_logged;
use crate::verify::{DecodeProof, verify_outputs};

/// Converts with ffmpeg alone.
#[derive(Debug, Clone)]
pub struct FfmpegConverter {
    tools: Ffmpeg,
    timeout: Duration,
}

impl FfmpegConverter {
    /// An engine running `tools`, each ffmpeg run limited to `timeout`.
    pub fn new(tools: Ffmpeg, timeout: Duration) -> Self {
        Self { tools, timeout }
    }
}

/// The codec options and container of `format`.
fn codec_args(format: OutputFormat) -> (&'static [&'static str], &'static str) {
    match format {
        OutputFormat::M4a | OutputFormat::M4b => (&["-c:a", "copy"], "mp4"),
        OutputFormat::Mp3 => (&["-c:a", "libmp3lame", "-q:a", "5"], "mp3"),
        OutputFormat::Flac => (&["-c:a", "flac"], "flac"),
        OutputFormat::Opus => (&["-c:a", "libopus", "-b:a", "48k"], "ogg"),
    }
}

/// Whether `format` is a stream copy of the source's AAC frames.
fn copies(format: OutputFormat) -> bool {
    matches!(format, OutputFormat::M4a | OutputFormat::M4b)
}

/// Whether ffmpeg can embed a cover picture in `format` (not in Ogg, as of ffmpeg 5.1).
fn takes_cover(format: OutputFormat) -> bool {
    format != OutputFormat::Opus
}

/// One ffmpeg run: the part of the book between `window` (ms) into `output`.
struct Encode<'a> {
    decrypt: &'a Decryption,
    audio: &'a Path,
    window: Option<(u64, u64)>,
    metadata: PathBuf,
    cover: Option<&'a Path>,
    with_chapters: bool,
    format: OutputFormat,
    level: Option<u8>,
    output: PathBuf,
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

impl Encode<'_> {
    fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = ["-nostdin", "-hide_banner", "-v", "error", "-nostats"]
            .iter()
            .map(OsString::from)
            .collect();
        if copies(self.format) {
            // Decoding errors fail the run: see the decoding output added below.
            args.push("-xerror".into());
        }
        args.extend(["-progress", "pipe:1"].map(OsString::from));
        args.extend(self.decrypt.args.iter().cloned());
        if let Some((start, end)) = self.window {
            args.extend([
                "-ss".into(),
                seconds(start).into(),
                "-to".into(),
                seconds(end).into(),
            ]);
        }
        args.extend(["-i".into(), self.audio.into()]);
        args.extend([
            "-f".into(),
            "ffmetadata".into(),
            "-i".into(),
            self.metadata.clone().into(),
        ]);
        if let Some(cover) = self.cover {
            args.extend(["-i".into(), cover.into()]);
        }
        if copies(self.format) {
            // A copy never decodes, so a wrong key would go unnoticed: the same frames are
            // opened once more, limited to their first two seconds, and decoded in this run.
            args.extend(self.decrypt.args.iter().cloned());
            if let Some((start, _)) = self.window {
                args.extend(["-ss".into(), seconds(start).into()]);
            }
            args.extend(["-t".into(), "2".into(), "-i".into(), self.audio.into()]);
        }
        args.extend(["-map", "0:a:0"].map(OsString::from));
        if self.cover.is_some() {
            attach_cover(&mut args, 2);
        }
        args.extend(["-map_metadata", "1", "-map_chapters"].map(OsString::from));
        args.push(if self.with_chapters { "1" } else { "-1" }.into());
        let (codec, container) = codec_args(self.format);
        args.extend(codec.iter().map(OsString::from));
        if let Some(level) = self.level {
            args.extend(["-compression_level".into(), level.to_string().into()]);
        }
        match self.format {
            OutputFormat::M4a | OutputFormat::M4b => {
                args.extend(["-movflags", "+faststart"].map(OsString::from));
            }
            OutputFormat::Mp3 => args.extend(["-id3v2_version", "3"].map(OsString::from)),
            OutputFormat::Flac | OutputFormat::Opus => {}
        }
        args.extend(["-f".into(), container.into(), self.output.clone().into()]);
        if copies(self.format) {
            let check = if self.cover.is_some() { 3 } else { 2 };
            args.extend(["-map".into(), format!("{check}:a:0").into()]);
            args.extend(["-f", "null", "-"].map(OsString::from));
        }
        args
    }
}

impl FfmpegConverter {
    /// Runs one encode, mapping its `out_time_us` progress onto `[from, to]` percent.
    async fn run(
        &self,
        encode: &Encode<'_>,
        length_ms: u64,
        (from, to): (f64, f64),
        ctx: &dyn JobContext,
    ) -> Result<(), ConvertError> {
        let mut spec = ProcessSpec::new(&self.tools.ffmpeg, encode.args());
        spec.timeout = Some(self.timeout);
        spec.redactor = encode.decrypt.redactor.clone();
        let mut errors = Vec::new();
        let status = run_logged(&spec, ctx, |line| {
            if line.stream == OutputStream::Stderr {
                errors.push(line.text.clone());
            } else if let Some(us) = line.text.strip_prefix("out_time_us=")
                && let Ok(us) = us.trim().parse::<u64>()
            {
                let share = (us as f64 / 1000.0 / length_ms.max(1) as f64).clamp(0.0, 1.0);
                ctx.progress(from + (to - from) * share, None);
            }
        })
        .await?;
        if status.success() {
            Ok(())
        } else if errors.iter().any(|l| l.contains("mismatch in checksums")) {
            Err(ConvertError::BadInput(
                "ffmpeg: mismatch in checksums: these activation bytes do not decrypt this AAX; it was downloaded with another Audible account (convert with that account's profile)".into(),
            ))
        } else {
            let start = errors.len().saturating_sub(3);
            Err(ConvertError::Tool(format!(
                "ffmpeg failed ({status}): {}",
                if errors.is_empty() {
                    "no message".to_owned()
                } else {
                    errors[start..].join(" | ")
                }
            )))
        }
    }
}

fn tags(
    request: &ConversionRequest,
    title: &str,
    track: Option<(usize, usize)>,
) -> Vec<(&'static str, String)> {
    let t = &request.tags;
    let mut out = vec![
        ("title", title.to_owned()),
        ("artist", t.author.clone()),
        ("album_artist", t.author.clone()),
        ("album", t.title.clone()),
        ("composer", t.narrator.clone()),
        ("date", t.year.clone()),
        ("genre", t.genre.clone()),
        ("series", t.series.clone()),
        ("series_sequence", t.series_sequence.clone()),
    ];
    if let Some((n, of)) = track {
        out.push(("track", format!("{n}/{of}")));
    }
    out
}

#[async_trait]
impl Converter for FfmpegConverter {
    fn engine(&self) -> &'static str {
        "ffmpeg"
    }

    async fn convert(
        &self,
        request: &ConversionRequest,
        ctx: &dyn JobContext,
    ) -> Result<ConversionOutput, ConvertError> {
        let (decrypt, audio, chapters, source_ms) = if request.parts.is_empty() {
            let decrypt = decryption(&request.input).await?;
            let chapters = book_chapters(&self.tools, &request.input, &decrypt).await?;
            let source_ms = source_duration_ms(&self.tools, &request.input, &decrypt).await?;
            (decrypt, request.input.audio.clone(), chapters, source_ms)
        } else {
            let joined = join_parts(&self.tools, &request.parts, ctx.work_dir()).await?;
            (
                joined.decrypt,
                joined.list,
                joined.chapters,
                joined.length_ms,
            )
        };
        let audio = &audio;
        let (dir, stem) = book_paths(request);
        let out_dir = request.out_dir.join(&dir);
        tokio::fs::create_dir_all(&out_dir)
            .await
            .map_err(|e| ConvertError::Tool(format!("cannot create {}: {e}", out_dir.display())))?;

        let mut warnings = Vec::new();
        let cover = match &request.input.cover {
            Some(c) if tokio::fs::metadata(c).await.is_ok() && takes_cover(request.format) => {
                Some(c.as_path())
            }
            Some(_) if !takes_cover(request.format) => {
                warnings.push(format!(
                    "{} files get no embedded cover (ffmpeg cannot write one into Ogg)",
                    request.format
                ));
                None
            }
            _ => {
                warnings.push("the book has no downloaded cover: the outputs have none".into());
                None
            }
        };
        let ext = request.format.extension();
        let mut files = Vec::new();
        match request.mode {
            ConversionMode::Single => {
                let metadata = ctx.work_dir().join("book.ffmeta");
                write(
                    &metadata,
                    &ffmetadata(&tags(request, &request.tags.title, None), &chapters),
                )
                .await?;
                let name = format!("{stem}.{ext}");
                let encode = Encode {
                    decrypt: &decrypt,
                    audio,
                    window: None,
                    metadata,
                    cover,
                    with_chapters: true,
                    format: request.format,
                    level: request.level,
                    output: out_dir.join(&name),
                };
                self.run(&encode, source_ms, (0.0, 99.0), ctx).await?;
                files.push(ProducedFile {
                    relative: dir.join(name),
                    kind: FileKind::Converted,
                    mime: request.format.mime().to_owned(),
                });
            }
            ConversionMode::Chapters => {
                let parts = if chapters.is_empty() {
                    vec![Chapter {
                        title: request.tags.title.clone(),
                        start_offset_ms: 0,
                        length_ms: source_ms,
                    }]
                } else {
                    chapters
                };
                let count = parts.len();
                let mut playlist = String::from("#EXTM3U\n");
                for (index, chapter) in parts.iter().enumerate() {
                    let number = index + 1;
                    let end = (chapter.start_offset_ms + chapter.length_ms).min(source_ms);
                    let metadata = ctx.work_dir().join(format!("chapter-{number}.ffmeta"));
                    write(
                        &metadata,
                        &ffmetadata(&tags(request, &chapter.title, Some((number, count))), &[]),
                    )
                    .await?;
                    let name = format!(
                        "{}.{ext}",
                        chapter_stem(request, &chapter.title, number, count)
                    );
                    let encode = Encode {
                        decrypt: &decrypt,
                        audio,
                        window: Some((chapter.start_offset_ms, end)),
                        metadata,
                        cover,
                        with_chapters: false,
                        format: request.format,
                        level: request.level,
                        output: out_dir.join(&name),
                    };
                    let span = 99.0 / count as f64;
                    let from = span * index as f64;
                    self.run(
                        &encode,
                        end.saturating_sub(chapter.start_offset_ms),
                        (from, from + span),
                        ctx,
                    )
                    .await?;
                    ctx.progress(from + span, Some(&format!("chapter {number} of {count}")));
                    let _ = writeln!(
                        playlist,
                        "#EXTINF:{},{} - {}\n{name}",
                        end.saturating_sub(chapter.start_offset_ms) / 1000,
                        request.tags.title.replace('\n', " "),
                        chapter.title.replace('\n', " ")
                    );
                    files.push(ProducedFile {
                        relative: dir.join(name),
                        kind: FileKind::ConvertedChapter,
                        mime: request.format.mime().to_owned(),
                    });
                }
                let name = format!("{stem}.m3u");
                write(&out_dir.join(&name), &playlist).await?;
                files.push(ProducedFile {
                    relative: dir.join(name),
                    kind: FileKind::Playlist,
                    mime: "audio/x-mpegurl".into(),
                });
            }
        }
        let proof = DecodeProof::WrittenByFfmpeg;
        verify_outputs(&self.tools, &request.out_dir, &files, source_ms, proof).await?;
        Ok(ConversionOutput { files, warnings })
    }
}

async fn write(path: &Path, text: &str) -> Result<(), ConvertError> {
    tokio::fs::write(path, text)
        .await
        .map_err(|e| ConvertError::Tool(format!("cannot write {}: {e}", path.display())))
}

/// Maps input `input`'s picture as the output's cover: copied, marked as an attached picture
/// (what players show as the album art).
pub(crate) fn attach_cover(args: &mut Vec<OsString>, input: usize) {
    args.extend([
        "-map".into(),
        format!("{input}:v:0").into(),
        "-c:v".into(),
        "copy".into(),
        "-disposition:v:0".into(),
        "attached_pic".into(),
    ]);
}
