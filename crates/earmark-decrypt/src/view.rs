//! An AAX or AAXC file seen as the plain M4A it holds, read window by window.
//!
//! The file's own bytes, with three kinds of change: the major brand says `M4A `, the sound
//! track's sample entry says `mp4a` instead of `aavd`, the DRM boxes inside it (`adrm`,
//! `aabd`) are `free` boxes of the same size; and every audio sample is decrypted. Nothing
//! moves, so the view has the file's length, offsets and chapters, and any window of it is
//! the same window of the file, decrypted. Only the sample table is kept in memory (four bytes
//! a sample, and a checkpoint every [`CHECKPOINT_EVERY`] samples to find a window's first
//! one quickly).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use earmark_mp4::{SampleTable, read_moov_located, sound_track, top_level_boxes};

use crate::key::{KeyError, SampleKey, Secret, entry_children, sample_entry};

/// Samples between two checkpoints at most: the most a window's lookup walks.
pub const CHECKPOINT_EVERY: u32 = 64;

/// The largest sample a view accepts. An AAC frame is a few kilobytes at most; a window is
/// read widened to the whole samples at its edges, so this bounds what a window reads beyond
/// itself.
pub const MAX_SAMPLE: u32 = 1 << 20;

/// Why a file cannot be seen as plain M4A.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// Reading the file failed.
    #[error("reading the file: {0}")]
    Io(#[from] io::Error),
    /// No `moov` (or no sound track with a sample table in it): not an MPEG-4 file, or a
    /// download cut short before its index.
    #[error(
        "the file has no readable index (moov box with a sound track): not an AAX/AAXC, or a download cut short; download the book again"
    )]
    NoIndex,
    /// The key cannot be had.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The sample table names a sample larger than any audio frame.
    #[error(
        "the file's index names a sample of {0} bytes, larger than any audio frame: the index is damaged; download the book again"
    )]
    OversizedSample(u64),
}

/// A window of the view and what to read of the file for it: the window widened to the
/// whole samples at its edges, since a sample decrypts only whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    start: u64,
    len: usize,
    skip: usize,
}

impl Span {
    /// The file offset to read from.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// How many bytes to read.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is nothing to read.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where the window begins in what was read.
    pub fn skip(&self) -> usize {
        self.skip
    }
}

/// Where a run of back-to-back samples starts.
#[derive(Debug, Clone, Copy)]
struct Checkpoint {
    offset: u64,
    sample: u32,
}

/// The plain view of one AAX/AAXC file.
#[derive(Debug)]
pub struct PlainView {
    key: SampleKey,
    /// Four bytes to put at a file offset: the renamed box types.
    patches: Vec<(u64, [u8; 4])>,
    checkpoints: Vec<Checkpoint>,
    sizes: Vec<u32>,
}

impl PlainView {
    /// Reads `file`'s index and derives its key from `secret`.
    ///
    /// # Errors
    /// [`ViewError`] when the file has no usable index or the secret does not open it.
    pub fn open(file: &File, secret: &Secret) -> Result<Self, ViewError> {
        let mut reader = file;
        let (moov_at, moov, moov_box) =
            read_moov_located(&mut reader)?.ok_or(ViewError::NoIndex)?;
        let key = SampleKey::of(secret, &moov, &moov_box)?;
        let track = sound_track(&moov, &moov_box).ok_or(ViewError::NoIndex)?;
        let table = SampleTable::read(&moov, &track.stbl).ok_or(ViewError::NoIndex)?;

        let mut patches = Vec::new();
        if let Some(ftyp) = top_level_boxes(&mut reader)?
            .into_iter()
            .find(|b| &b.kind == b"ftyp")
        {
            patches.push((ftyp.start + ftyp.header, *b"M4A "));
        }
        if let Some(entry) = sample_entry(&moov, &moov_box) {
            if &entry.kind == b"aavd" {
                patches.push((moov_at + entry.start as u64 + 4, *b"mp4a"));
            }
            for drm in entry_children(&moov, &entry)
                .into_iter()
                .filter(|b| matches!(&b.kind, b"adrm" | b"aabd"))
            {
                patches.push((moov_at + drm.start as u64 + 4, *b"free"));
            }
        }

        let (mut checkpoints, mut sizes) = (Vec::new(), Vec::new());
        let mut next_offset = None;
        for (index, span) in table.spans().enumerate() {
            let (Some((offset, size)), Ok(index)) = (span, u32::try_from(index)) else {
                break;
            };
            let size32 = u32::try_from(size)
                .ok()
                .filter(|size| *size <= MAX_SAMPLE)
                .ok_or(ViewError::OversizedSample(size))?;
            if next_offset != Some(offset) || index % CHECKPOINT_EVERY == 0 {
                checkpoints.push(Checkpoint {
                    offset,
                    sample: index,
                });
            }
            sizes.push(size32);
            next_offset = offset.checked_add(size);
        }
        checkpoints.sort_by_key(|c| c.offset);
        Ok(Self {
            key,
            patches,
            checkpoints,
            sizes,
        })
    }

    /// What to read of the file for `len` bytes of the view from `offset`.
    pub fn span(&self, offset: u64, len: u64) -> Span {
        let end = offset.saturating_add(len);
        let (mut start, mut until) = (offset, end);
        for (sample, size) in self.samples_from(offset) {
            if sample >= end {
                break;
            }
            let sample_end = sample + u64::from(size);
            if sample < offset && sample_end > offset {
                start = sample;
            }
            if sample < end && sample_end > end {
                until = sample_end;
            }
        }
        let whole = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Span {
            start,
            len: whole(until - start),
            skip: whole(offset - start),
        }
    }

    /// Fills `buf` with the view's bytes from `offset`, as far as the file has them; returns
    /// how many (fewer than asked only at the end of the file).
    ///
    /// # Errors
    /// Any I/O error of reading the file.
    pub fn read_at(&self, file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let span = self.span(offset, buf.len() as u64);
        let mut read = vec![0; span.len];
        let n = self.read_span(file, &span, &mut read)?;
        let got = n.saturating_sub(span.skip).min(buf.len());
        buf[..got].copy_from_slice(&read[span.skip..span.skip + got]);
        Ok(got)
    }

    /// Reads `span` of `file` into `buf` (at least [`Span::len`] bytes) and turns it into the
    /// view's bytes; returns how many were read (fewer only at the end of the file).
    ///
    /// # Errors
    /// Any I/O error of reading the file.
    pub fn read_span(&self, file: &File, span: &Span, buf: &mut [u8]) -> io::Result<usize> {
        let want = span.len.min(buf.len());
        let n = read_full(file, span.start, &mut buf[..want])?;
        self.decrypt_span(span, &mut buf[..n]);
        Ok(n)
    }

    /// Turns `read`, the file's bytes of `span` (fewer than it names only at the end of the
    /// file), into the view's: renamed boxes, decrypted samples (of a sample the file ends
    /// in, the whole blocks it has).
    pub fn decrypt_span(&self, span: &Span, read: &mut [u8]) {
        let offset = span.start;
        let end = offset + read.len() as u64;
        for (at, bytes) in &self.patches {
            for (i, byte) in bytes.iter().enumerate() {
                let at = at + i as u64;
                if (offset..end).contains(&at) {
                    read[(at - offset) as usize] = *byte;
                }
            }
        }
        let mut inside = Vec::new();
        for (start, size) in self.samples_from(offset) {
            if start >= end {
                break;
            }
            // A span starts at a sample's start or outside every sample.
            if start < offset {
                continue;
            }
            let from = (start - offset) as usize;
            inside.push(from..(from + size as usize).min(read.len()));
        }
        self.key.decrypt_samples(read, &inside);
    }

    /// `(offset, size)` of every sample from the last checkpoint at or before `offset`, in
    /// file order within each run of back-to-back samples.
    fn samples_from(&self, offset: u64) -> impl Iterator<Item = (u64, u32)> + '_ {
        let first = self
            .checkpoints
            .partition_point(|c| c.offset <= offset)
            .saturating_sub(1);
        self.checkpoints[first.min(self.checkpoints.len())..]
            .iter()
            .enumerate()
            .flat_map(move |(i, checkpoint)| {
                let until = self
                    .checkpoints
                    .get(first + i + 1)
                    .map_or(self.sizes.len(), |next| next.sample as usize);
                let from = checkpoint.sample as usize;
                let mut at = checkpoint.offset;
                self.sizes[from..until.max(from)].iter().map(move |size| {
                    let here = at;
                    at += u64::from(*size);
                    (here, *size)
                })
            })
    }
}

/// Reads until `buf` is full or the file ends; returns how many bytes were read.
fn read_full(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
