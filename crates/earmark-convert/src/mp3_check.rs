//! Checking an MP3 output without starting a process: a valid first frame and the frame count
//! its Xing/Info header (written by LAME) records, which gives the length and, with the byte
//! count, shows the file is whole.

use std::path::Path;

use earmark_core::ports::ConvertError;

/// What the check learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp3Facts {
    /// Length in milliseconds, from the frame count.
    pub duration_ms: u64,
    /// Frames the header records.
    pub frames: u64,
}

fn bad(path: &Path, why: &str) -> ConvertError {
    ConvertError::Verification(format!("{} is not a whole MP3 file: {why}", path.display()))
}

fn be32(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u32::from_be_bytes(
        b.get(at..at + 4)?.try_into().ok()?,
    )))
}

/// Reads the start of `path` and checks it (see the module doc); `None` when the file has no
/// Xing/Info header to judge by (then decode it instead).
///
/// # Errors
/// [`ConvertError::Verification`] when the first frame is invalid or the file is shorter than
/// its header says.
pub async fn check_mp3(path: &Path) -> Result<Option<Mp3Facts>, ConvertError> {
    use tokio::io::AsyncReadExt;
    let io = |e: std::io::Error| bad(path, &e.to_string());
    let mut file = tokio::fs::File::open(path).await.map_err(io)?;
    let len = file.metadata().await.map_err(io)?.len();
    let mut head = vec![0u8; 64 * 1024];
    let n = file.read(&mut head).await.map_err(io)?;
    head.truncate(n);
    // An ID3v2 tag (covers go there) comes first: its size is four 7-bit bytes.
    let mut start = 0usize;
    if head.starts_with(b"ID3") && head.len() >= 10 {
        let size = head[6..10]
            .iter()
            .fold(0usize, |n, b| (n << 7) | usize::from(b & 0x7f));
        start = 10 + size + if head[5] & 0x10 != 0 { 10 } else { 0 };
        if start + 4 > head.len() {
            let mut more = vec![0u8; start + 4096];
            use tokio::io::AsyncSeekExt;
            file.seek(std::io::SeekFrom::Start(0)).await.map_err(io)?;
            let n = file.read(&mut more).await.map_err(io)?;
            more.truncate(n);
            head = more;
        }
    }
    let header = be32(&head, start).ok_or_else(|| bad(path, "no first frame"))?;
    if header >> 21 != 0x7ff || (header >> 17) & 0b11 != 0b01 {
        return Err(bad(path, "the first frame is not an MPEG layer III frame"));
    }
    let version = (header >> 19) & 0b11; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
    let rates: [u64; 3] = match version {
        3 => [44_100, 48_000, 32_000],
        2 => [22_050, 24_000, 16_000],
        0 => [11_025, 12_000, 8_000],
        _ => return Err(bad(path, "a reserved MPEG version")),
    };
    let rate = *rates
        .get(usize::try_from((header >> 10) & 0b11).unwrap_or(3))
        .ok_or_else(|| bad(path, "a reserved sample rate"))?;
    let mono = (header >> 6) & 0b11 == 0b11;
    let side_info = match (version == 3, mono) {
        (true, false) => 32,
        (true, true) | (false, false) => 17,
        (false, true) => 9,
    };
    let tag = start + 4 + side_info;
    let Some(name) = head.get(tag..tag + 4) else {
        return Ok(None);
    };
    if name != b"Xing" && name != b"Info" {
        return Ok(None);
    }
    let flags = be32(&head, tag + 4).ok_or_else(|| bad(path, "a cut Xing header"))?;
    if flags & 1 == 0 {
        return Ok(None);
    }
    let frames = be32(&head, tag + 8).ok_or_else(|| bad(path, "a cut Xing header"))?;
    if flags & 2 != 0 {
        let bytes = be32(&head, tag + 12).ok_or_else(|| bad(path, "a cut Xing header"))?;
        if len < start as u64 + bytes {
            return Err(bad(path, "it is shorter than its header says"));
        }
    }
    let per_frame = if version == 3 { 1152 } else { 576 };
    Ok(Some(Mp3Facts {
        duration_ms: frames * per_frame * 1000 / rate,
        frames,
    }))
}
