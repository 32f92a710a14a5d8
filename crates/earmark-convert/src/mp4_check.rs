//! Checking an MPEG-4 file without starting a process: its boxes, its sound track's length,
//! and that every sample lies inside `mdat`. Used for the encrypted source (its length needs
//! no key) and for stream copies, whose audio frames are the source's own (ffmpeg decodes a
//! stretch of them in the same run that copies them).

use std::path::Path;

use earmark_core::ports::ConvertError;
use earmark_mp4::{Mp4Box, SampleTable, boxes, child, sound_track, uint};

/// What the check learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp4Facts {
    /// The sound track's length in milliseconds.
    pub duration_ms: u64,
    /// Its number of samples (AAC frames).
    pub samples: u64,
    /// Whether `moov` comes before `mdat`.
    pub moov_first: bool,
}

fn bad(path: &Path, why: &str) -> ConvertError {
    ConvertError::Verification(format!(
        "{} is not a whole MPEG-4 file: {why}",
        path.display()
    ))
}

/// Reads the top-level box headers of `path` and its whole `moov` (a few hundred KiB even for
/// a long book; the audio is never read) and checks them (see the module doc).
///
/// # Errors
/// [`ConvertError::Verification`] saying what is wrong.
pub async fn check_mp4(path: &Path) -> Result<Mp4Facts, ConvertError> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || check_blocking(&owned))
        .await
        .map_err(|e| bad(path, &e.to_string()))?
}

/// The most `moov` may hold before the file is refused (Audible's are well under 4 MiB).
const MAX_MOOV: u64 = 64 * 1024 * 1024;

fn check_blocking(path: &Path) -> Result<Mp4Facts, ConvertError> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |e: std::io::Error| bad(path, &e.to_string());
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    // (kind, start, end) of each top-level box.
    let mut top: Vec<([u8; 4], u64, u64)> = Vec::new();
    let mut at = 0u64;
    while at < len {
        let mut header = [0u8; 16];
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        let n = file.read(&mut header).map_err(io)?;
        if n < 8 {
            return Err(bad(path, "the last box is cut short"));
        }
        let size = match uint(&header, 0, 4).unwrap_or(0) {
            0 => len - at,
            1 if n == 16 => uint(&header, 8, 8).unwrap_or(0),
            other => other,
        };
        if size < 8 || at + size > len {
            return Err(bad(path, "the last box is cut short"));
        }
        let mut kind = [0u8; 4];
        kind.copy_from_slice(&header[4..8]);
        top.push((kind, at, at + size));
        at += size;
    }
    let position = |kind: &[u8; 4]| top.iter().position(|(k, _, _)| k == kind);
    let (Some(moov_at), Some(mdat_at)) = (position(b"moov"), position(b"mdat")) else {
        return Err(bad(path, "no moov or no mdat"));
    };
    let (_, moov_start, moov_end) = top[moov_at];
    let (_, mdat_start, mdat_end) = top[mdat_at];
    if moov_end - moov_start > MAX_MOOV {
        return Err(bad(path, "its moov is implausibly large"));
    }
    let mut moov_bytes =
        vec![0u8; usize::try_from(moov_end - moov_start).map_err(|e| bad(path, &e.to_string()))?];
    file.seek(SeekFrom::Start(moov_start)).map_err(io)?;
    file.read_exact(&mut moov_bytes).map_err(io)?;
    let buf = moov_bytes.as_slice();
    let moov = boxes(buf, 0, buf.len())
        .into_iter()
        .next()
        .ok_or_else(|| bad(path, "an unreadable moov"))?;
    let track = sound_track(buf, &moov).ok_or_else(|| bad(path, "no sound track"))?;
    let mdhd = child(buf, &track.mdia, b"mdhd").ok_or_else(|| bad(path, "no mdhd"))?;
    let (timescale, duration) = if buf.get(mdhd.body()) == Some(&1) {
        (
            uint(buf, mdhd.body() + 20, 4),
            uint(buf, mdhd.body() + 24, 8),
        )
    } else {
        (
            uint(buf, mdhd.body() + 12, 4),
            uint(buf, mdhd.body() + 16, 4),
        )
    };
    let (Some(timescale), Some(duration)) = (timescale.filter(|t| *t > 0), duration) else {
        return Err(bad(path, "no track duration"));
    };
    let samples = sample_spans_fit(buf, &track.stbl, mdat_start + 8, mdat_end)
        .ok_or_else(|| bad(path, "a sample lies outside mdat"))?;
    if samples == 0 {
        return Err(bad(path, "no audio samples"));
    }
    Ok(Mp4Facts {
        duration_ms: duration.saturating_mul(1000) / timescale,
        samples,
        moov_first: moov_at < mdat_at,
    })
}

/// The sample count, if the table places every sample and each lies within `[lo, hi)`.
fn sample_spans_fit(buf: &[u8], stbl: &Mp4Box, lo: u64, hi: u64) -> Option<u64> {
    let table = SampleTable::read(buf, stbl)?;
    let mut placed = 0u64;
    for span in table.spans() {
        let (at, size) = span?;
        if at < lo || at.checked_add(size)? > hi {
            return None;
        }
        placed += 1;
    }
    (placed == table.count()).then_some(placed)
}
