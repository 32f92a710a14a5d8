//! What the converter tests share: a job context that records, and book fixtures.

use std::path::{Path, PathBuf};
use std::process::Command;

use earmark_core::ports::{BookTags, ConversionInput, ConversionRequest};
use earmark_core::testing::RecordingContext;
use earmark_core::{ActivationBytes, Asin, ConversionMode, JobSpec, OutputFormat};
use earmark_fixtures::{ACTIVATION_BYTES, DownloadedBook, SyntheticBook, downloaded_book};

/// A job context that keeps every log line and progress report, working in `work` (created).
pub fn recorder(work: &Path) -> RecordingContext {
    std::fs::create_dir_all(work).unwrap();
    let params = serde_json::from_value(serde_json::json!({"format": "m4b"})).unwrap();
    RecordingContext::new(
        JobSpec::Convert(Asin::parse("B0FIXTURE1").unwrap(), params),
        work,
    )
}

/// One converter test's world: a temporary directory holding a downloaded book, a recording
/// job context working in `work/`, and the output directory `out/`.
pub struct Case {
    /// The temporary directory everything is in.
    pub dir: tempfile::TempDir,
    /// The downloaded book.
    pub files: DownloadedBook,
    /// The job context, working in `work/`.
    pub ctx: RecordingContext,
    /// Where the converter writes.
    pub out: PathBuf,
}

impl Case {
    /// `synthetic` downloaded as AAXC (with voucher) or AAX.
    pub fn new(aaxc: bool, synthetic: &SyntheticBook) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let files = book(dir.path(), aaxc, synthetic);
        let ctx = recorder(&dir.path().join("work"));
        let out = dir.path().join("out");
        Self {
            dir,
            files,
            ctx,
            out,
        }
    }

    /// The request to convert this case's book into its `out/`.
    pub fn request(&self, format: OutputFormat, mode: ConversionMode) -> ConversionRequest {
        request(&self.files, format, mode, &self.out)
    }
}

/// A downloaded book in `dir`.
pub fn book(dir: &Path, aaxc: bool, book: &SyntheticBook) -> DownloadedBook {
    downloaded_book(Path::new("ffmpeg"), dir, "B0FIXTURE1", book, aaxc).unwrap()
}

/// The request to convert `files` into `out`.
pub fn request(
    files: &DownloadedBook,
    format: OutputFormat,
    mode: ConversionMode,
    out: &Path,
) -> ConversionRequest {
    ConversionRequest {
        input: ConversionInput {
            audio: files.audio.clone(),
            voucher: files.voucher.clone(),
            chapters: Some(files.chapters.clone()),
            cover: Some(files.cover.clone()),
            activation_bytes: Some(ActivationBytes::parse(ACTIVATION_BYTES).unwrap()),
        },
        tags: BookTags {
            title: "The Synthetic Book".into(),
            author: "Ada Fixture".into(),
            narrator: "Nora Reader".into(),
            year: "2021".into(),
            genre: "Audiobook".into(),
            ..BookTags::default()
        },
        format,
        mode,
        dir_scheme: None,
        file_scheme: None,
        chapter_scheme: None,
        level: None,
        out_dir: out.to_path_buf(),
        parts: Vec::new(),
    }
}

/// Decoded PCM of a file's first audio stream (it must decode).
pub fn pcm(path: &Path) -> Vec<u8> {
    earmark_fixtures::decoded_pcm(path, &[]).unwrap()
}

/// ffprobe's JSON for a file: format, streams, chapters.
pub fn probe(path: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_format",
            "-show_streams",
            "-show_chapters",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every file under `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A file's duration in seconds, as ffprobe reads it.
pub fn duration(path: &Path) -> f64 {
    probe(path)["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}
