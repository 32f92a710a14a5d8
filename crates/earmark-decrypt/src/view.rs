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
            let Ok(size32) = u32::try_from(size) else {
                break;
            };
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

    /// Fills `buf` with the view's bytes from `offset`, as far as the file has them; returns
    /// how many (fewer than asked only at the end of the file).
    ///
    /// # Errors
    /// Any I/O error of reading the file.
    pub fn read_at(&self, file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = read_full(file, offset, buf)?;
        self.decrypt_window(file, offset, &mut buf[..n])?;
        Ok(n)
    }

    /// Turns `filled`, the file's own bytes from `offset`, into the view's: renamed boxes,
    /// decrypted samples. Reads only the samples that straddle the window's edges.
    ///
    /// # Errors
    /// Any I/O error of reading those samples.
    pub fn decrypt_window(&self, file: &File, offset: u64, filled: &mut [u8]) -> io::Result<()> {
        let end = offset + filled.len() as u64;
        for (at, bytes) in &self.patches {
            for (i, byte) in bytes.iter().enumerate() {
                let at = at + i as u64;
                if (offset..end).contains(&at) {
                    filled[(at - offset) as usize] = *byte;
                }
            }
        }
        let mut sample_buf = Vec::new();
        let mut inside = Vec::new();
        for (start, size) in self.samples_from(offset) {
            if start >= end {
                break;
            }
            let sample_end = start + u64::from(size);
            if sample_end <= offset {
                continue;
            }
            if start >= offset && sample_end <= end {
                let at = (start - offset) as usize;
                inside.push(at..at + size as usize);
                continue;
            }
            // A sample that straddles the window's edge: decrypted whole, then cut.
            sample_buf.resize(size as usize, 0);
            let got = read_full(file, start, &mut sample_buf)?;
            self.key.decrypt_sample(&mut sample_buf[..got]);
            let (from, to) = (start.max(offset), sample_end.min(end));
            let got_end = start + got as u64;
            let to = to.min(got_end.max(from));
            filled[(from - offset) as usize..(to - offset) as usize]
                .copy_from_slice(&sample_buf[(from - start) as usize..(to - start) as usize]);
        }
        self.key.decrypt_samples(filled, &inside);
        Ok(())
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
