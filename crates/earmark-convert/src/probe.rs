//! What ffprobe and ffmpeg say about a file: its length, its chapters, whether it decodes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use earmark_core::ports::{ConversionInput, ConvertError};
use earmark_core::{Chapter, chapters_from_audible};
use earmark_process::{ProcessSpec, Redactor};

use crate::tool::capture;

/// How long one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// The ffmpeg and ffprobe programs.
#[derive(Debug, Clone)]
pub struct Ffmpeg {
    /// `ffmpeg`.
    pub ffmpeg: PathBuf,
    /// `ffprobe`.
    pub ffprobe: PathBuf,
}

impl Ffmpeg {
    /// `ffmpeg` as configured, and the `ffprobe` beside it (or on `PATH` when `ffmpeg` is a
    /// bare name).
    pub fn new(ffmpeg: impl Into<PathBuf>) -> Self {
        let ffmpeg = ffmpeg.into();
        let ffprobe = if ffmpeg.components().count() > 1 {
            ffmpeg.with_file_name("ffprobe")
        } else {
            PathBuf::from("ffprobe")
        };
        Self { ffmpeg, ffprobe }
    }
}

/// The decryption options for an input, and the secrets in them (to redact).
#[derive(Debug, Clone, Default)]
pub struct Decryption {
    /// `-activation_bytes X` or `-audible_key K -audible_iv I`.
    pub args: Vec<OsString>,
    /// The values to mask in logs.
    pub redactor: Redactor,
}

/// How ffmpeg decrypts `input`: the voucher's key and iv for AAXC, the activation bytes for
/// AAX.
///
/// # Errors
/// [`ConvertError::BadInput`] when the voucher or the activation bytes are missing.
pub async fn decryption(input: &ConversionInput) -> Result<Decryption, ConvertError> {
    let mut out = Decryption::default();
    if input.is_aaxc() {
        let (key, iv) = voucher_key_iv(input).await?;
        out.redactor.add(key.clone());
        out.redactor.add(iv.clone());
        out.args = vec![
            "-audible_key".into(),
            key.into(),
            "-audible_iv".into(),
            iv.into(),
        ];
    } else {
        let bytes = input.activation_bytes.as_ref().ok_or_else(|| {
            ConvertError::BadInput("an AAX file needs the account's activation bytes".into())
        })?;
        out.redactor.add(bytes.expose());
        out.args = vec!["-activation_bytes".into(), bytes.expose().into()];
    }
    Ok(out)
}

/// The key and iv from the AAXC's voucher (`content_license.license_response`).
async fn voucher_key_iv(input: &ConversionInput) -> Result<(String, String), ConvertError> {
    let path = input.voucher.as_ref().ok_or_else(|| {
        ConvertError::BadInput("an AAXC file needs its .voucher: download the book again".into())
    })?;
    let raw = tokio::fs::read(path).await.map_err(|e| {
        ConvertError::BadInput(format!("cannot read the voucher {}: {e}", path.display()))
    })?;
    let doc: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|e| ConvertError::BadInput(format!("the voucher is not JSON: {e}")))?;
    let field = |name: &str| {
        doc.pointer(&format!("/content_license/license_response/{name}"))
            .and_then(serde_json::Value::as_str)
            .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_owned)
            .ok_or_else(|| {
                ConvertError::BadInput(format!(
                    "the voucher has no 32-hex-digit `{name}`: download the book again"
                ))
            })
    };
    Ok((field("key")?, field("iv")?))
}

pub(crate) fn probe_spec(program: &Path, args: Vec<OsString>, redactor: &Redactor) -> ProcessSpec {
    let mut spec = ProcessSpec::new(program, args);
    spec.timeout = Some(PROBE_TIMEOUT);
    spec.redactor = redactor.clone();
    spec
}

/// The file's duration in milliseconds.
///
/// # Errors
/// [`ConvertError::Verification`] when ffprobe cannot read it.
pub async fn duration_ms(
    tools: &Ffmpeg,
    path: &Path,
    decrypt: &Decryption,
) -> Result<u64, ConvertError> {
    let mut args: Vec<OsString> = vec!["-v".into(), "error".into()];
    args.extend(decrypt.args.iter().cloned());
    args.extend(
        ["-show_entries", "format=duration", "-of", "csv=p=0"]
            .iter()
            .map(OsString::from),
    );
    args.push(path.into());
    let out = capture(&probe_spec(&tools.ffprobe, args, &decrypt.redactor)).await?;
    let seconds = out
        .stdout
        .first()
        .and_then(|l| l.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| {
            ConvertError::Verification(format!(
                "{} has no readable duration: {}",
                path.display(),
                out.stderr.join(" ")
            ))
        })?;
    Ok((seconds * 1000.0).round() as u64)
}

/// The chapter marks inside the file itself.
///
/// # Errors
/// [`ConvertError::BadInput`] when ffprobe cannot read them.
pub async fn embedded_chapters(
    tools: &Ffmpeg,
    path: &Path,
    decrypt: &Decryption,
) -> Result<Vec<Chapter>, ConvertError> {
    let mut args: Vec<OsString> = vec!["-v".into(), "error".into()];
    args.extend(decrypt.args.iter().cloned());
    args.extend(["-show_chapters", "-of", "json"].iter().map(OsString::from));
    args.push(path.into());
    let out = capture(&probe_spec(&tools.ffprobe, args, &decrypt.redactor)).await?;
    let doc: serde_json::Value = serde_json::from_str(&out.stdout.join("\n"))
        .map_err(|e| ConvertError::BadInput(format!("cannot read the chapters: {e}")))?;
    let seconds = |c: &serde_json::Value, key: &str| {
        c.get(key)
            .and_then(serde_json::Value::as_str)
            .and_then(|s| s.parse::<f64>().ok())
            .map_or(0, |s| (s * 1000.0).round() as u64)
    };
    Ok(doc
        .get("chapters")
        .and_then(serde_json::Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| {
                    let start = seconds(c, "start_time");
                    Chapter {
                        title: c
                            .pointer("/tags/title")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        start_offset_ms: start,
                        length_ms: seconds(c, "end_time").saturating_sub(start),
                    }
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Decodes the first and the last two seconds of an output in one ffmpeg run (a full decode
/// of a 30-hour book would take longer than its conversion; two runs would pay the start-up
/// twice) and returns its duration in milliseconds, from the header ffmpeg prints.
///
/// # Errors
/// [`ConvertError::Verification`] naming the file and ffmpeg's complaint.
pub async fn decoded_duration_ms(tools: &Ffmpeg, path: &Path) -> Result<u64, ConvertError> {
    // `-xerror` makes a decoding error fail the run; demuxer complaints that do not stop
    // playback (a dangling chapter-track reference AAXtoMP3's copies carry) do not.
    let mut args: Vec<OsString> = [
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-v",
        "info",
        "-xerror",
        "-i",
    ]
    .map(OsString::from)
    .into();
    args.push(path.into());
    args.extend(["-sseof", "-2", "-i"].map(OsString::from));
    args.push(path.into());
    args.extend(
        [
            "-map", "0:a:0", "-t", "2", "-f", "null", "-", "-map", "1:a:0", "-f", "null", "-",
        ]
        .map(OsString::from),
    );
    let out = capture(&probe_spec(&tools.ffmpeg, args, &Redactor::default())).await?;
    let complaint = || {
        out.stderr
            .iter()
            .filter(|l| l.contains("rror") || l.contains("nvalid"))
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !out.status.success() {
        return Err(ConvertError::Verification(format!(
            "{} does not decode: {}",
            path.display(),
            complaint()
        )));
    }
    out.stderr
        .iter()
        .find_map(|l| l.trim().strip_prefix("Duration: "))
        .and_then(|rest| rest.split(',').next())
        .and_then(clock_ms)
        .ok_or_else(|| {
            ConvertError::Verification(format!("{} has no readable duration", path.display()))
        })
}

/// `HH:MM:SS.cc` in milliseconds.
fn clock_ms(text: &str) -> Option<u64> {
    let mut parts = text.trim().split(':');
    let hours: u64 = parts.next()?.parse().ok()?;
    let minutes: u64 = parts.next()?.parse().ok()?;
    let seconds: f64 = parts.next()?.parse().ok()?;
    Some(hours * 3_600_000 + minutes * 60_000 + (seconds * 1000.0).round() as u64)
}

/// Whether the file carries a picture (an attached cover, or a picture stream).
pub async fn has_cover(tools: &Ffmpeg, path: &Path) -> bool {
    let args: Vec<OsString> = vec![
        "-v".into(),
        "error".into(),
        "-select_streams".into(),
        "v".into(),
        "-show_entries".into(),
        "stream=codec_type".into(),
        "-of".into(),
        "csv=p=0".into(),
        path.into(),
    ];
    capture(&probe_spec(&tools.ffprobe, args, &Redactor::default()))
        .await
        .is_ok_and(|out| out.stdout.iter().any(|l| l.trim() == "video"))
}

/// The book's chapters: audible-cli's chapter file when it has any, else the marks inside the
/// audio file.
///
/// # Errors
/// [`ConvertError::BadInput`] when neither can be read.
pub async fn book_chapters(
    tools: &Ffmpeg,
    input: &ConversionInput,
    decrypt: &Decryption,
) -> Result<Vec<Chapter>, ConvertError> {
    if let Some(path) = &input.chapters
        && let Ok(raw) = tokio::fs::read(path).await
        && let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&raw)
        && let Ok(list) = chapters_from_audible(&doc)
        && !list.is_empty()
    {
        return Ok(list);
    }
    embedded_chapters(tools, &input.audio, decrypt).await
}

/// The source's length: from its MPEG-4 header, read in process (AAX and AAXC are MPEG-4 and
/// their headers are not encrypted), else from ffprobe.
///
/// # Errors
/// [`ConvertError::Verification`] when neither can read it.
pub async fn source_duration_ms(
    tools: &Ffmpeg,
    input: &ConversionInput,
    decrypt: &Decryption,
) -> Result<u64, ConvertError> {
    match crate::mp4_check::check_mp4(&input.audio).await {
        Ok(facts) => Ok(facts.duration_ms),
        Err(_) => duration_ms(tools, &input.audio, decrypt).await,
    }
}
