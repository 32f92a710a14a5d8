//! What a player's "details" view shows about an MPEG-4 audio file, read from its `moov` box:
//! the sound track's channels, sample rate and duration, and the chapter list.

use std::io::{self, Read, Seek, SeekFrom};

use crate::{Mp4Box, boxes, child, sound_track, uint};

/// The largest `moov` read into memory. A 40-hour book's sample tables take about 25 MB; a
/// bigger `moov` is not an audiobook's, and is not read.
pub const MAX_MOOV_BYTES: u64 = 64 * 1024 * 1024;

/// A top-level box of a file: where it starts in the file, how big it is and its header, and
/// its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileBox {
    /// Offset of its first byte in the file.
    pub start: u64,
    /// Its size, header included.
    pub size: u64,
    /// Its header's size: 8, or 16 with a 64-bit size.
    pub header: u64,
    /// Its type, e.g. `*b"moov"`.
    pub kind: [u8; 4],
}

/// The top-level boxes of `file`, found by walking their headers; the walk ends at the first
/// box that does not fit in the file (a truncated download ends in one).
///
/// # Errors
/// Any I/O error of reading or seeking.
pub fn top_level_boxes<F: Read + Seek>(file: &mut F) -> io::Result<Vec<FileBox>> {
    let length = file.seek(SeekFrom::End(0))?;
    let mut found = Vec::new();
    let mut at = 0u64;
    while at + 8 <= length {
        file.seek(SeekFrom::Start(at))?;
        let mut header = [0u8; 16];
        let available = usize::try_from((length - at).min(16)).unwrap_or(16);
        file.read_exact(&mut header[..available])?;
        let (size, header_len) = match uint(&header, 0, 4) {
            Some(0) => (length - at, 8),
            Some(1) if available == 16 => (uint(&header, 8, 8).unwrap_or(0), 16),
            Some(n) => (n, 8),
            None => break,
        };
        if size < header_len || at + size > length {
            break;
        }
        let mut kind = [0u8; 4];
        kind.copy_from_slice(&header[4..8]);
        found.push(FileBox {
            start: at,
            size,
            header: header_len,
            kind,
        });
        at += size;
    }
    Ok(found)
}

/// The `moov` box of the file `file`, found by walking the top-level box headers (it may sit
/// after gigabytes of `mdat`), as a buffer that holds just that box (so `moov.start == 0`).
/// `None` when the file has no `moov` or it is larger than [`MAX_MOOV_BYTES`].
///
/// # Errors
/// Any I/O error of reading or seeking.
pub fn read_moov<F: Read + Seek>(file: &mut F) -> io::Result<Option<(Vec<u8>, Mp4Box)>> {
    Ok(read_moov_located(file)?.map(|(_, buf, moov)| (buf, moov)))
}

/// [`read_moov`], with where the box starts in the file.
///
/// # Errors
/// Any I/O error of reading or seeking.
pub fn read_moov_located<F: Read + Seek>(
    file: &mut F,
) -> io::Result<Option<(u64, Vec<u8>, Mp4Box)>> {
    let top = top_level_boxes(file)?;
    let Some(found) = top.iter().find(|b| &b.kind == b"moov") else {
        return Ok(None);
    };
    if found.size > MAX_MOOV_BYTES {
        return Ok(None);
    }
    let mut buf = vec![0u8; usize::try_from(found.size).unwrap_or(0)];
    file.seek(SeekFrom::Start(found.start))?;
    file.read_exact(&mut buf)?;
    let moov = Mp4Box {
        start: 0,
        size: buf.len(),
        header: usize::try_from(found.header).unwrap_or(8),
        kind: *b"moov",
    };
    Ok(Some((found.start, buf, moov)))
}

/// The sound track's format, as its sample entry and media header give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFacts {
    /// Channels (1 mono, 2 stereo).
    pub channels: u16,
    /// Samples per second.
    pub sample_rate: u32,
    /// The track's duration.
    pub duration_ms: u64,
}

/// Channels, sample rate and duration of the first sound track of `moov`.
pub fn audio_facts(buf: &[u8], moov: &Mp4Box) -> Option<AudioFacts> {
    let track = sound_track(buf, moov)?;
    let mdhd = child(buf, &track.mdia, b"mdhd")?;
    let body = mdhd.body();
    // mdhd version 1 has 64-bit times and duration, version 0 32-bit ones.
    let (timescale, duration) = match uint(buf, body, 1)? {
        1 => (uint(buf, body + 20, 4)?, uint(buf, body + 24, 8)?),
        _ => (uint(buf, body + 12, 4)?, uint(buf, body + 16, 4)?),
    };
    let stsd = child(buf, &track.stbl, b"stsd")?;
    // stsd: version and flags, entry count, then the first sample entry.
    let entry = boxes(buf, stsd.body() + 8, stsd.end()).into_iter().next()?;
    // An audio sample entry: 6 reserved bytes, data reference index, 8 reserved bytes, then
    // channel count, sample size, 4 reserved bytes, and the rate as 16.16 fixed point.
    let channels = u16::try_from(uint(buf, entry.body() + 16, 2)?).ok()?;
    let sample_rate = u32::try_from(uint(buf, entry.body() + 24, 4)? >> 16).ok()?;
    let duration_ms = duration.checked_mul(1000)?.checked_div(timescale)?;
    Some(AudioFacts {
        channels,
        sample_rate,
        duration_ms,
    })
}

/// One entry of a Nero chapter list: a title and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChapterMark {
    /// The chapter's title.
    pub title: String,
    /// Where it starts, from the start of the file.
    pub start_ms: u64,
}

/// The Nero chapter list (`moov/udta/chpl`) that FFmpeg's MP4 muxer writes beside the
/// QuickTime chapter track, in playing order. Empty when the file has none.
pub fn nero_chapters(buf: &[u8], moov: &Mp4Box) -> Vec<ChapterMark> {
    let Some(chpl) = child(buf, moov, b"udta").and_then(|udta| child(buf, &udta, b"chpl")) else {
        return Vec::new();
    };
    // chpl: version and flags, 4 reserved bytes, a one-byte count, then per chapter its start
    // in units of 100 ns, a one-byte title length and the title.
    let Some(count) = uint(buf, chpl.body() + 8, 1) else {
        return Vec::new();
    };
    let mut at = chpl.body() + 9;
    let mut marks = Vec::new();
    for _ in 0..count {
        let (Some(start), Some(len)) = (uint(buf, at, 8), uint(buf, at + 8, 1)) else {
            break;
        };
        let from = at + 9;
        let Some(title) = buf
            .get(from..from + len as usize)
            .filter(|_| from + len as usize <= chpl.end())
        else {
            break;
        };
        marks.push(ChapterMark {
            title: String::from_utf8_lossy(title).into_owned(),
            start_ms: start / 10_000,
        });
        at = from + len as usize;
    }
    marks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::boxed;

    fn chpl(marks: &[(u64, &str)]) -> Vec<u8> {
        let mut body = vec![1, 0, 0, 0, 0, 0, 0, 0, marks.len() as u8];
        for (start_ms, title) in marks {
            body.extend_from_slice(&(start_ms * 10_000).to_be_bytes());
            body.push(title.len() as u8);
            body.extend_from_slice(title.as_bytes());
        }
        boxed(b"chpl", &body)
    }

    fn sound_moov(channels: u16, rate: u32, timescale: u32, duration: u32) -> Vec<u8> {
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"soun");
        let mut mdhd = vec![0u8; 12];
        mdhd.extend_from_slice(&timescale.to_be_bytes());
        mdhd.extend_from_slice(&duration.to_be_bytes());
        let mut entry = vec![0u8; 16];
        entry.extend_from_slice(&channels.to_be_bytes());
        entry.extend_from_slice(&[0, 16, 0, 0, 0, 0]);
        entry.extend_from_slice(&(rate << 16).to_be_bytes());
        let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
        stsd.extend_from_slice(&boxed(b"mp4a", &entry));
        let stbl = boxed(b"stbl", &boxed(b"stsd", &stsd));
        let minf = boxed(b"minf", &stbl);
        let mut mdia = boxed(b"mdhd", &mdhd);
        mdia.extend_from_slice(&boxed(b"hdlr", &hdlr));
        mdia.extend_from_slice(&minf);
        let mut moov = boxed(b"trak", &boxed(b"mdia", &mdia));
        moov.extend_from_slice(&boxed(b"udta", &chpl(&[(0, "One"), (61_500, "Two")])));
        boxed(b"moov", &moov)
    }

    #[test]
    fn the_moov_after_the_media_data_is_found_and_read() {
        let mut file = boxed(b"ftyp", b"M4B ");
        file.extend_from_slice(&boxed(b"mdat", &[9; 4096]));
        file.extend_from_slice(&sound_moov(2, 44_100, 44_100, 44_100 * 90));
        let (buf, moov) = read_moov(&mut std::io::Cursor::new(file)).unwrap().unwrap();
        assert_eq!(&buf[4..8], b"moov");
        assert_eq!(
            audio_facts(&buf, &moov),
            Some(AudioFacts {
                channels: 2,
                sample_rate: 44_100,
                duration_ms: 90_000
            })
        );
        let marks = nero_chapters(&buf, &moov);
        assert_eq!(
            marks,
            vec![
                ChapterMark {
                    title: "One".into(),
                    start_ms: 0
                },
                ChapterMark {
                    title: "Two".into(),
                    start_ms: 61_500
                },
            ]
        );
    }

    #[test]
    fn files_without_a_moov_or_with_a_broken_one_give_nothing() {
        let mut file = boxed(b"ftyp", b"M4B ");
        file.extend_from_slice(&boxed(b"mdat", &[0; 64]));
        assert!(
            read_moov(&mut std::io::Cursor::new(file.clone()))
                .unwrap()
                .is_none()
        );
        file.extend_from_slice(&100u32.to_be_bytes());
        file.extend_from_slice(b"moov");
        assert!(
            read_moov(&mut std::io::Cursor::new(file))
                .unwrap()
                .is_none(),
            "a moov cut short"
        );
        let truncated = boxed(b"moov", &boxed(b"udta", &chpl(&[(0, "One")])[..14]));
        let moov = crate::top_level(&truncated, b"moov").unwrap();
        assert!(nero_chapters(&truncated, &moov).is_empty());
        assert_eq!(audio_facts(&truncated, &moov), None);
    }
}
