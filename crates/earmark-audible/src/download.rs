//! The [`Downloader`] through `audible download`, one book per run.
//!
//! audible-cli's exit status is not the verdict: it exits 0 for some failed downloads (a wrong
//! content type leaves no file) and 1 or 2 when a job raised. The files are: the audio
//! (`<ASIN>-<codec>.aax` or `.aaxc`), the AAXC's `.voucher`, `<ASIN>-chapters.json`, and
//! `<ASIN>_(500).jpg`. Without a terminal audible-cli prints no progress, so progress is the
//! size of the growing `*.tmp`/`*.resume` file against the expected size.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use earmark_core::ports::{
    DownloadError, DownloadFormat, DownloadOutput, DownloadRequest, Downloader, JobContext,
    LibrarySourceError, ProducedFile,
};
use earmark_core::{FileKind, Transfer};

use crate::cli::{AudibleCli, Finished, classify_failure};

/// How often the growing file is measured.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Books through the real audible-cli.
#[derive(Debug, Clone)]
pub struct AudibleDownloader {
    cli: AudibleCli,
    /// audible-cli's own HTTP timeout (`--timeout`), in seconds.
    http_timeout_s: u64,
}

impl AudibleDownloader {
    /// Downloads through `cli`; each HTTP request may take `http_timeout_s`.
    pub fn new(cli: AudibleCli, http_timeout_s: u64) -> Self {
        Self {
            cli,
            http_timeout_s,
        }
    }

    fn args(&self, request: &DownloadRequest) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "download".into(),
            "-a".into(),
            request.asin.to_string(),
            format!("--{}", request.format.as_str()),
            "--cover".into(),
            "--cover-size".into(),
            request.cover_size.to_string(),
            "--chapter".into(),
        ];
        if request.pdf {
            args.push("--pdf".into());
        }
        if request.in_podcast {
            // audible-cli finds an ASIN in the library's top level only; this adds every
            // podcast's episodes to it (and drops the podcasts, which have no audio).
            args.push("--resolve-podcasts".into());
        }
        args.extend(
            [
                "-y",
                "--no-progress",
                "--filename-mode",
                "asin_only",
                "--timeout",
            ]
            .map(String::from),
        );
        args.push(self.http_timeout_s.to_string());
        args.push("-o".into());
        args.push(request.out_dir.display().to_string());
        args
    }
}

/// The audio bytes in `dir`: the partial download (`*.tmp` or `*.resume`), if one is
/// growing, plus the audio already finished (the earlier parts of a book handed out in parts).
async fn partial_bytes(dir: &Path) -> Option<u64> {
    let mut entries = tokio::fs::read_dir(dir).await.ok()?;
    let mut total = None;
    let mut growing = false;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().into_owned();
        let partial = name.ends_with(".tmp") || name.ends_with(".resume");
        growing |= partial;
        if partial || name.ends_with(".aaxc") || name.ends_with(".aax") {
            let size = entry.metadata().await.ok()?.len();
            *total.get_or_insert(0) += size;
        }
    }
    total.filter(|_| growing)
}

/// The audio's exact size, from the licence audible-cli saves (`.voucher`) before it starts
/// the AAXC download: `content_license.content_metadata.content_reference.content_size_in_bytes`.
/// The book's own licence is the one read (a book handed out in parts has one per part too).
async fn licensed_size(dir: &Path, asin: &str) -> Option<u64> {
    let mut entries = tokio::fs::read_dir(dir).await.ok()?;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{asin}-")) && name.ends_with(".voucher") {
            let raw = tokio::fs::read(entry.path()).await.ok()?;
            let doc: serde_json::Value = serde_json::from_slice(&raw).ok()?;
            return doc
                .pointer(
                    "/content_license/content_metadata/content_reference/content_size_in_bytes",
                )
                .and_then(serde_json::Value::as_u64);
        }
    }
    None
}

/// Reports the growing file's size, rate and share of the expected size (the licensed size
/// once known, else `estimate`) until dropped.
async fn report_progress(dir: PathBuf, asin: &str, estimate: Option<u64>, ctx: &dyn JobContext) {
    let started = Instant::now();
    let mut last = 0;
    let mut expected = estimate;
    let mut licensed = false;
    loop {
        tokio::time::sleep(PROGRESS_EVERY).await;
        if !licensed && let Some(size) = licensed_size(&dir, asin).await {
            expected = Some(size);
            licensed = true;
        }
        let Some(bytes) = partial_bytes(&dir).await else {
            continue;
        };
        if bytes == last {
            continue;
        }
        last = bytes;
        let rate = bytes as f64 / started.elapsed().as_secs_f64().max(0.001);
        let mib = |b: f64| b / (1024.0 * 1024.0);
        let message = format!("{:.1} MiB at {:.1} MiB/s", mib(bytes as f64), mib(rate));
        let percent = expected
            .filter(|e| *e > 0)
            .map_or(0.0, |e| (95.0 * bytes as f64 / e as f64).min(95.0));
        let transfer = Transfer {
            bytes,
            total: expected.filter(|_| licensed),
            bytes_per_sec: rate as u64,
        };
        ctx.transfer(percent, Some(&message), transfer);
    }
}

/// What audible-cli's messages say went wrong, in the download's terms.
fn classify(request: &DownloadRequest, finished: &Finished) -> DownloadError {
    let said = |needle: &str| finished.errors.iter().any(|l| l.contains(needle));
    let last = || {
        finished
            .errors
            .iter()
            .rev()
            .find(|l| l.contains("failed for"))
            .or_else(|| {
                finished
                    .errors
                    .iter()
                    .rev()
                    .find(|l| l.starts_with("error:"))
            })
            .or(finished.errors.last())
            .map(|l| l.trim_start_matches("error:").trim().to_owned())
            .unwrap_or_else(|| format!("exit code {:?}", finished.code))
    };
    if let Some(line) = finished
        .errors
        .iter()
        .find(|l| l.contains("Wrong content type"))
    {
        let got = line
            .split("Got: ")
            .nth(1)
            .and_then(|g| g.split(';').next())
            .unwrap_or("something else");
        return DownloadError::Tool(format!(
            "Audible answered with {got} instead of audio, and audible-cli wrote no audio file; retry later, or report it if it persists"
        ));
    }
    if said("not found in library") {
        return DownloadError::NotInLibrary(request.asin.to_string());
    }
    // A 403 on the licence request (the library was read fine, so the login is good) is
    // Audible refusing this licence, not the login.
    let licence_forbidden = finished
        .errors
        .iter()
        .any(|l| l.contains("failed for") && l.contains("(403)"));
    if said("LicenseDenied") || licence_forbidden {
        return DownloadError::LicenseDenied(last());
    }
    if said("NotDownloadableAsAAX") || said("is not downloadable") {
        let hint = if request.format == DownloadFormat::Aax {
            ": ask for aaxc, or aax-fallback"
        } else {
            ""
        };
        return DownloadError::NotDownloadable(format!("{}{hint}", last()));
    }
    match classify_failure(request.profile.as_deref(), finished) {
        LibrarySourceError::NoProfile(p) => DownloadError::AuthExpired(format!(
            "no audible-cli profile {}",
            p.unwrap_or_else(|| "(primary)".into())
        )),
        LibrarySourceError::AuthRejected(m) => DownloadError::AuthExpired(m),
        LibrarySourceError::Throttled(m) => DownloadError::Throttled(m),
        LibrarySourceError::Network(m) => DownloadError::Network(m),
        other => DownloadError::Tool(other.to_string()),
    }
}

/// The licence `acr` in a voucher audible-cli saved (`content_license.acr`), if readable.
pub async fn licence_acr_of(voucher: &Path) -> Option<String> {
    let raw = tokio::fs::read(voucher).await.ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    doc.pointer("/content_license/acr")?
        .as_str()
        .filter(|acr| !acr.is_empty())
        .map(str::to_owned)
}

/// The audio (`<owner>-<codec>.aax` or `.aaxc`) and, for AAXC, its voucher, that audible-cli
/// left in `names` for `owner` (the book, or one of its parts).
fn audio_of(names: &[String], owner: &str) -> Result<Option<Vec<ProducedFile>>, String> {
    let is_audio = |n: &String| n.ends_with(".aaxc") || n.ends_with(".aax");
    let Some(audio) = names
        .iter()
        .find(|n| n.starts_with(&format!("{owner}-")) && is_audio(n))
    else {
        return Ok(None);
    };
    let aaxc = audio.ends_with(".aaxc");
    let mut files = vec![ProducedFile {
        relative: audio.into(),
        kind: if aaxc { FileKind::Aaxc } else { FileKind::Aax },
        mime: "audio/vnd.audible.aax".into(),
    }];
    if aaxc {
        let voucher = format!("{}.voucher", audio.trim_end_matches(".aaxc"));
        if !names.contains(&voucher) {
            return Err(format!("the AAXC came without its voucher {voucher}"));
        }
        files.push(ProducedFile {
            relative: voucher.into(),
            kind: FileKind::Voucher,
            mime: "application/json".into(),
        });
    }
    Ok(Some(files))
}

/// Why the files audible-cli left are not a download of the book.
#[derive(Debug)]
enum Uncollected {
    /// Something is missing; audible-cli's own messages may say why.
    Missing(String),
    /// Audible handed out the book in parts and one of them did not come: this, whatever
    /// else audible-cli said.
    PartMissing(String),
}

impl From<String> for Uncollected {
    fn from(missing: String) -> Self {
        Self::Missing(missing)
    }
}

/// The parts' audio and vouchers, in the parts' order, when audible-cli was told to
/// "please download individual parts" (cmd_download.py `_add_audioparts_to_queue`: it then
/// downloads each part under the part's own ASIN, with no chapters or cover of its own).
fn delivered_parts(
    names: &[String],
    request: &DownloadRequest,
) -> Result<Vec<ProducedFile>, Uncollected> {
    let asin = request.asin.as_str();
    let stray: Vec<&str> = names
        .iter()
        .filter(|n| n.ends_with(".aaxc") || n.ends_with(".aax"))
        .map(String::as_str)
        .collect();
    if request.parts.is_empty() {
        return Err(Uncollected::Missing(if stray.is_empty() {
            "audible-cli wrote no audio file".into()
        } else {
            format!(
                "audible-cli wrote no audio for {asin} but other files ({}); earmark knows no \
                 parts of {asin}: sync the library (POST /library/sync), then download it again",
                stray.join(", ")
            )
        }));
    }
    let count = request.parts.len();
    let mut files = Vec::new();
    for (index, part) in request.parts.iter().enumerate() {
        match audio_of(names, part.as_str())? {
            Some(audio) => files.extend(audio),
            None if stray.is_empty() => {
                return Err(Uncollected::Missing(
                    "audible-cli wrote no audio file".into(),
                ));
            }
            None => {
                return Err(Uncollected::PartMissing(format!(
                    "Audible handed out {asin} in parts, but not part {part} ({} of {count}): \
                     the book is incomplete; download it again later",
                    index + 1
                )));
            }
        }
    }
    Ok(files)
}

/// The files audible-cli left in `dir` for `asin`, judged.
async fn collect(dir: &Path, request: &DownloadRequest) -> Result<DownloadOutput, Uncollected> {
    let asin = request.asin.as_str();
    let mut names = Vec::new();
    if let Ok(mut entries) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    let (mut files, in_parts) = match audio_of(&names, asin)? {
        Some(whole) => (whole, false),
        None => (delivered_parts(&names, request)?, true),
    };
    let chapters = format!("{asin}-chapters.json");
    if names.contains(&chapters) {
        files.push(ProducedFile {
            relative: chapters.into(),
            kind: FileKind::Chapters,
            mime: "application/json".into(),
        });
    } else if !in_parts {
        // The parts carry their chapters in their own files.
        return Err(format!("audible-cli wrote no chapter file {chapters}").into());
    }
    let mut warnings = Vec::new();
    let cover = format!("{asin}_({}).jpg", request.cover_size);
    if names.contains(&cover) {
        files.push(ProducedFile {
            relative: cover.into(),
            kind: FileKind::Cover,
            mime: "image/jpeg".into(),
        });
    } else {
        warnings.push(format!(
            "Audible offers no {} px cover for this book",
            request.cover_size
        ));
    }
    let pdf = format!("{asin}.pdf");
    if request.pdf && names.contains(&pdf) {
        files.push(ProducedFile {
            relative: pdf.into(),
            kind: FileKind::Pdf,
            mime: "application/pdf".into(),
        });
    }
    // The book's own licence (also saved when its audio then came in parts).
    let own_voucher = names
        .iter()
        .find(|n| n.starts_with(&format!("{asin}-")) && n.ends_with(".voucher"));
    let licence_acr = match own_voucher {
        Some(voucher) => licence_acr_of(&dir.join(voucher)).await,
        None => None,
    };
    Ok(DownloadOutput {
        files,
        warnings,
        licence_acr,
    })
}

#[async_trait]
impl Downloader for AudibleDownloader {
    async fn download(
        &self,
        request: &DownloadRequest,
        ctx: &dyn JobContext,
    ) -> Result<DownloadOutput, DownloadError> {
        if !self.cli.has_config() {
            return Err(DownloadError::AuthExpired(
                "no audible-cli profile yet".into(),
            ));
        }
        tokio::fs::create_dir_all(&request.out_dir)
            .await
            .map_err(|e| {
                DownloadError::Tool(format!("cannot create the download directory: {e}"))
            })?;
        let spec = self
            .cli
            .spec(request.profile.as_deref(), self.args(request));
        let progress = report_progress(
            request.out_dir.clone(),
            request.asin.as_str(),
            request.expected_bytes,
            ctx,
        );
        let finished = tokio::select! {
            finished = self.cli.run(&spec, ctx) => finished,
            () = progress => unreachable!("progress reporting runs until dropped"),
        };
        let finished = finished.map_err(|e| match e {
            LibrarySourceError::Cancelled => DownloadError::Cancelled,
            LibrarySourceError::TimedOut(s) => DownloadError::TimedOut(s),
            other => DownloadError::Tool(other.to_string()),
        })?;
        match collect(&request.out_dir, request).await {
            Ok(output) => Ok(output),
            Err(Uncollected::PartMissing(why)) => Err(DownloadError::NotDownloadable(why)),
            Err(Uncollected::Missing(missing)) if finished.success => {
                Err(match classify(request, &finished) {
                    DownloadError::Tool(_) => DownloadError::Tool(format!(
                        "audible-cli reported success but {missing}: {}",
                        finished
                            .errors
                            .last()
                            .map_or("it said nothing", String::as_str)
                    )),
                    known => known,
                })
            }
            Err(_) => Err(classify(request, &finished)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_licence_acr_is_read_from_the_voucher() {
        let dir = std::env::temp_dir().join(format!("earmark-voucher-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let voucher = dir.join("B000000001-AAX_44_64.voucher");
        std::fs::write(
            &voucher,
            r#"{"content_license": {"acr": "CR!ABC", "status_code": "Granted"}}"#,
        )
        .unwrap();
        assert_eq!(licence_acr_of(&voucher).await.as_deref(), Some("CR!ABC"));
        std::fs::write(&voucher, r#"{"content_license": {"acr": ""}}"#).unwrap();
        assert_eq!(licence_acr_of(&voucher).await, None);
        assert_eq!(licence_acr_of(&dir.join("missing.voucher")).await, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn request_in(dir: &Path, parts: &[&str]) -> DownloadRequest {
        DownloadRequest {
            asin: earmark_core::Asin::parse("B0MULTI001").unwrap(),
            profile: None,
            format: DownloadFormat::Aaxc,
            pdf: false,
            cover_size: 500,
            out_dir: dir.to_owned(),
            expected_bytes: None,
            in_podcast: false,
            parts: parts
                .iter()
                .map(|p| earmark_core::Asin::parse(p).unwrap())
                .collect(),
        }
    }

    /// What audible-cli leaves after "please download individual parts": the book's own
    /// voucher (its audio never came), cover and chapters, and the parts' audio and vouchers.
    fn handed_out_in_parts(name: &str, parts: &[&str]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("earmark-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("B0MULTI001-AAX_44_64.voucher"),
            r#"{"content_license": {"acr": "CR!BOOK"}}"#,
        )
        .unwrap();
        for name in ["B0MULTI001-chapters.json", "B0MULTI001_(500).jpg"] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        for part in parts {
            for ext in ["aaxc", "voucher"] {
                std::fs::write(dir.join(format!("{part}-AAX_44_64.{ext}")), b"x").unwrap();
            }
        }
        dir
    }

    #[tokio::test]
    async fn a_book_handed_out_in_parts_is_its_parts_in_order() {
        let dir = handed_out_in_parts("parts", &["B0PART0002", "B0PART0001"]);
        let request = request_in(&dir, &["B0PART0002", "B0PART0001"]);
        let output = collect(&dir, &request).await.unwrap();
        let names: Vec<String> = output
            .files
            .iter()
            .map(|f| f.relative.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "B0PART0002-AAX_44_64.aaxc",
                "B0PART0002-AAX_44_64.voucher",
                "B0PART0001-AAX_44_64.aaxc",
                "B0PART0001-AAX_44_64.voucher",
                "B0MULTI001-chapters.json",
                "B0MULTI001_(500).jpg",
            ]
        );
        assert_eq!(output.licence_acr.as_deref(), Some("CR!BOOK"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_part_audible_did_not_hand_out_is_named() {
        let dir = handed_out_in_parts("part-missing", &["B0PART0001"]);
        let Err(Uncollected::PartMissing(refused)) =
            collect(&dir, &request_in(&dir, &["B0PART0001", "B0PART0002"])).await
        else {
            panic!("a missing part is named");
        };
        assert!(
            refused.contains("not part B0PART0002 (2 of 2): the book is incomplete"),
            "{refused}"
        );
        let Err(Uncollected::Missing(unknown)) = collect(&dir, &request_in(&dir, &[])).await else {
            panic!("parts of a book earmark knows no parts of are not collected");
        };
        assert!(
            unknown.contains("earmark knows no parts of B0MULTI001: sync the library"),
            "{unknown}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
