//! Reading the box structure of an MPEG-4 file (ISO/IEC 14496-12) held in memory.
//!
//! Just what earmark needs: the boxes laid end to end in a range of bytes, a box's children,
//! the sound track, and where each of its samples lies. The converter uses it to check a
//! file without a process (`earmark-convert`'s `mp4_check`); the test fixtures use it to find
//! the samples they encrypt. Malformed input never panics: a box that does not fit ends the
//! walk, a field that is not there is `None`.

mod facts;
mod sample_table;

pub use facts::{
    AudioFacts, ChapterMark, FileBox, MAX_MOOV_BYTES, audio_facts, nero_chapters, read_moov,
    read_moov_located, top_level_boxes,
};
pub use sample_table::SampleTable;

/// One box: where it starts, how big it is (header included), how big its header is, and
/// its four-character type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp4Box {
    /// Offset of its first byte.
    pub start: usize,
    /// Its size, header included.
    pub size: usize,
    /// Its header's size: 8, or 16 with a 64-bit size.
    pub header: usize,
    /// Its type, e.g. `*b"moov"`.
    pub kind: [u8; 4],
}

impl Mp4Box {
    /// Offset just past its last byte.
    pub fn end(&self) -> usize {
        self.start + self.size
    }

    /// Offset of its body (after the header).
    pub fn body(&self) -> usize {
        self.start + self.header
    }
}

/// The big-endian unsigned integer of `len` bytes (at most 8) at `at`, if `buf` holds it.
pub fn uint(buf: &[u8], at: usize, len: usize) -> Option<u64> {
    let bytes = buf.get(at..at.checked_add(len)?)?;
    Some(bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)))
}

/// The boxes laid end to end in `buf[from..to]`; the walk stops at the first box that does
/// not fit.
pub fn boxes(buf: &[u8], from: usize, to: usize) -> Vec<Mp4Box> {
    let to = to.min(buf.len());
    let mut out = Vec::new();
    let mut at = from;
    while at.saturating_add(8) <= to {
        let Some(size32) = uint(buf, at, 4) else {
            break;
        };
        let (size, header) = match size32 {
            // Size 0: the box runs to the end of the range.
            0 => ((to - at) as u64, 8),
            1 => (uint(buf, at + 8, 8).unwrap_or(0), 16),
            n => (n, 8),
        };
        let Ok(size) = usize::try_from(size) else {
            break;
        };
        if size < header || at.saturating_add(size) > to {
            break;
        }
        let mut kind = [0u8; 4];
        kind.copy_from_slice(&buf[at + 4..at + 8]);
        out.push(Mp4Box {
            start: at,
            size,
            header,
            kind,
        });
        at += size;
    }
    out
}

/// The first child of `parent` of type `kind`.
pub fn child(buf: &[u8], parent: &Mp4Box, kind: &[u8; 4]) -> Option<Mp4Box> {
    boxes(buf, parent.body(), parent.end())
        .into_iter()
        .find(|b| &b.kind == kind)
}

/// The first top-level box of type `kind` in `buf`.
pub fn top_level(buf: &[u8], kind: &[u8; 4]) -> Option<Mp4Box> {
    boxes(buf, 0, buf.len())
        .into_iter()
        .find(|b| &b.kind == kind)
}

/// The boxes leading to a sound track's samples, outermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoundTrack {
    /// The track.
    pub trak: Mp4Box,
    /// Its media box.
    pub mdia: Mp4Box,
    /// Its media information.
    pub minf: Mp4Box,
    /// Its sample table.
    pub stbl: Mp4Box,
}

/// The first track of `moov` whose handler is `soun`.
pub fn sound_track(buf: &[u8], moov: &Mp4Box) -> Option<SoundTrack> {
    boxes(buf, moov.body(), moov.end())
        .into_iter()
        .filter(|b| &b.kind == b"trak")
        .find_map(|trak| {
            let mdia = child(buf, &trak, b"mdia")?;
            let hdlr = child(buf, &mdia, b"hdlr")?;
            // hdlr: version and flags, pre_defined, then the handler type.
            if buf.get(hdlr.body() + 8..hdlr.body() + 12)? != b"soun" {
                return None;
            }
            let minf = child(buf, &mdia, b"minf")?;
            let stbl = child(buf, &minf, b"stbl")?;
            Some(SoundTrack {
                trak,
                mdia,
                minf,
                stbl,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A box of `kind` around `body`.
    pub(crate) fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn boxes_are_walked_with_32_and_64_bit_sizes_and_to_the_end() {
        let mut buf = boxed(b"ftyp", b"M4A ");
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"free");
        large.extend_from_slice(&20u64.to_be_bytes());
        large.extend_from_slice(&[0; 4]);
        buf.extend_from_slice(&large);
        buf.extend_from_slice(&0u32.to_be_bytes());
        buf.extend_from_slice(b"mdat");
        buf.extend_from_slice(&[7; 5]);
        let found = boxes(&buf, 0, buf.len());
        let kinds: Vec<&[u8; 4]> = found.iter().map(|b| &b.kind).collect();
        assert_eq!(kinds, [b"ftyp", b"free", b"mdat"]);
        assert_eq!((found[1].size, found[1].header), (20, 16));
        assert_eq!(found[2].end(), buf.len());
    }

    #[test]
    fn a_box_that_does_not_fit_ends_the_walk_without_a_panic() {
        let mut buf = boxed(b"ftyp", b"M4A ");
        buf.extend_from_slice(&1000u32.to_be_bytes());
        buf.extend_from_slice(b"moov");
        assert_eq!(boxes(&buf, 0, buf.len()).len(), 1);
        assert!(boxes(&buf, 0, 5).is_empty());
        assert!(
            boxes(&buf, 0, usize::MAX).len() == 1,
            "a range past the end is clamped"
        );
        assert_eq!(uint(&buf, buf.len() - 2, 4), None);
    }

    #[test]
    fn the_sound_track_is_found_by_its_handler() {
        let hdlr = |kind: &[u8; 4]| {
            let mut body = vec![0u8; 8];
            body.extend_from_slice(kind);
            boxed(b"hdlr", &body)
        };
        let track = |handler: &[u8; 4]| {
            let minf = boxed(b"minf", &boxed(b"stbl", &[]));
            let mut mdia = hdlr(handler);
            mdia.extend_from_slice(&minf);
            boxed(b"trak", &boxed(b"mdia", &mdia))
        };
        let mut tracks = track(b"text");
        tracks.extend_from_slice(&track(b"soun"));
        let buf = boxed(b"moov", &tracks);
        let moov = top_level(&buf, b"moov").unwrap();
        let sound = sound_track(&buf, &moov).unwrap();
        assert_eq!(&sound.stbl.kind, b"stbl");
        assert!(
            sound.trak.start > moov.body(),
            "the second track, not the text one"
        );
    }
}
