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
use earmark_core::Transfer;
use earmark_core::ports::{
    DownloadError, DownloadFormat, DownloadOutput, DownloadRequest, Downloader, JobContext,
    LibrarySourceError,
};

use crate::cli::{AudibleCli, Finished, classify_failure};

mod collect;

pub use collect::licence_acr_of;
use collect::{Uncollected, collect};

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
