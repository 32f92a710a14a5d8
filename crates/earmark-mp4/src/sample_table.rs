//! Where a track's samples lie, from its sample table: sizes (`stsz`), chunk offsets (`stco`
//! or `co64`) and samples per chunk (`stsc`).

use crate::{Mp4Box, child, uint};

/// A track's sample table, read lazily from the bytes it is in (a long book has millions of
/// samples: their sizes are not copied out).
#[derive(Debug, Clone)]
pub struct SampleTable<'a> {
    /// The size of every sample, when they all have the same (0 otherwise).
    uniform: u64,
    count: u64,
    /// The per-sample sizes (when not uniform): the rest of `stsz`.
    sizes: &'a [u8],
    chunk_offsets: Vec<u64>,
    /// `(first chunk number, samples per chunk)` runs, chunk numbers counted from 1.
    runs: Vec<(u64, u64)>,
}

impl<'a> SampleTable<'a> {
    /// The table of the track whose `stbl` is given, if its boxes are there and whole.
    pub fn read(buf: &'a [u8], stbl: &Mp4Box) -> Option<Self> {
        let stsz = child(buf, stbl, b"stsz")?;
        // stsz: version and flags, the uniform size, the count, then the sizes.
        let uniform = uint(buf, stsz.body() + 4, 4)?;
        let count = uint(buf, stsz.body() + 8, 4)?;
        let chunk_offsets = match child(buf, stbl, b"stco") {
            Some(stco) => entries(buf, &stco, 4, |at| uint(buf, at, 4))?,
            None => entries(buf, &child(buf, stbl, b"co64")?, 8, |at| uint(buf, at, 8))?,
        };
        let stsc = child(buf, stbl, b"stsc")?;
        let runs = entries(buf, &stsc, 12, |at| {
            Some((uint(buf, at, 4)?, uint(buf, at + 4, 4)?))
        })?;
        Some(Self {
            uniform,
            count,
            sizes: buf.get(stsz.body() + 12..stsz.end())?,
            chunk_offsets,
            runs,
        })
    }

    /// How many samples the table says the track has.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// `(offset, size)` of each sample in order, as far as the table places them (fewer than
    /// [`SampleTable::count`] when its chunks run out); `None` for a sample whose size is
    /// missing.
    pub fn spans(&self) -> impl Iterator<Item = Option<(u64, u64)>> + '_ {
        let mut next = 0u64;
        self.chunk_offsets
            .iter()
            .enumerate()
            .flat_map(move |(index, &start)| {
                let in_chunk = self.samples_in_chunk(index as u64 + 1);
                let first = next;
                let last = (first + in_chunk).min(self.count);
                next = last;
                let mut at = start;
                (first..last).map(move |sample| {
                    let size = self.size_of(sample)?;
                    let span = (at, size);
                    at = at.checked_add(size)?;
                    Some(span)
                })
            })
    }

    fn samples_in_chunk(&self, number: u64) -> u64 {
        self.runs
            .iter()
            .rev()
            .find(|(first, _)| *first <= number)
            .map_or(0, |(_, n)| *n)
    }

    fn size_of(&self, sample: u64) -> Option<u64> {
        if self.uniform != 0 {
            return Some(self.uniform);
        }
        uint(self.sizes, usize::try_from(sample).ok()?.checked_mul(4)?, 4)
    }
}

/// The entries of a full box that holds a count and then `count` entries of `width` bytes.
fn entries<T>(
    buf: &[u8],
    table: &Mp4Box,
    width: usize,
    entry: impl Fn(usize) -> Option<T>,
) -> Option<Vec<T>> {
    // Version and flags, then the count.
    let count = uint(buf, table.body() + 4, 4)?;
    (0..count)
        .map(|i| entry(table.body() + 8 + width * usize::try_from(i).ok()?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boxes;

    fn full_box(kind: &[u8; 4], fields: &[u32]) -> Vec<u8> {
        let mut out = ((fields.len() * 4 + 12) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(&[0; 4]);
        for f in fields {
            out.extend_from_slice(&f.to_be_bytes());
        }
        out
    }

    fn stbl(children: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = children.concat();
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(b"stbl");
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn samples_are_placed_chunk_by_chunk() {
        // Sizes 10, 20, 30, 40, 50; chunks at 1000 (2 samples) and 2000 (3 samples).
        let buf = stbl(&[
            full_box(b"stsz", &[0, 5, 10, 20, 30, 40, 50]),
            full_box(b"stco", &[2, 1000, 2000]),
            full_box(b"stsc", &[2, 1, 2, 1, 2, 3, 1]),
        ]);
        let table_box = boxes(&buf, 0, buf.len())[0];
        let table = SampleTable::read(&buf, &table_box).unwrap();
        let spans: Vec<_> = table.spans().map(Option::unwrap).collect();
        assert_eq!(
            spans,
            [(1000, 10), (1010, 20), (2000, 30), (2030, 40), (2070, 50)]
        );
        assert_eq!(table.count(), 5);
    }

    #[test]
    fn a_table_short_of_chunks_or_sizes_says_so() {
        let buf = stbl(&[
            full_box(b"stsz", &[0, 4, 10, 20]),
            full_box(b"stco", &[1, 1000]),
            full_box(b"stsc", &[1, 1, 3, 1]),
        ]);
        let table_box = boxes(&buf, 0, buf.len())[0];
        let table = SampleTable::read(&buf, &table_box).unwrap();
        let spans: Vec<_> = table.spans().collect();
        assert_eq!(spans, [Some((1000, 10)), Some((1010, 20)), None]);
        assert!((spans.len() as u64) < table.count());

        let no_chunks = stbl(&[full_box(b"stsz", &[7, 3])]);
        let table_box = boxes(&no_chunks, 0, no_chunks.len())[0];
        assert!(SampleTable::read(&no_chunks, &table_box).is_none());
    }
}
