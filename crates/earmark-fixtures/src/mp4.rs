//! Just enough ISO-BMFF walking to find a track's samples and grow the boxes around an insert.

/// One box: where it starts, how big it is (header included), and its type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mp4Box {
    pub start: usize,
    pub size: usize,
    pub header: usize,
    pub kind: [u8; 4],
}

impl Mp4Box {
    pub fn end(&self) -> usize {
        self.start + self.size
    }
    pub fn body(&self) -> usize {
        self.start + self.header
    }
}

fn be32(buf: &[u8], at: usize) -> usize {
    u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize
}

fn be64(buf: &[u8], at: usize) -> usize {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_be_bytes(b) as usize
}

/// The boxes laid end to end in `buf[from..to]`.
pub(crate) fn boxes(buf: &[u8], from: usize, to: usize) -> Vec<Mp4Box> {
    let mut out = Vec::new();
    let mut at = from;
    while at + 8 <= to {
        let mut kind = [0u8; 4];
        kind.copy_from_slice(&buf[at + 4..at + 8]);
        let (size, header) = match be32(buf, at) {
            0 => (to - at, 8),
            1 => (be64(buf, at + 8), 16),
            n => (n, 8),
        };
        if size < header || at + size > to {
            break;
        }
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

/// The first child of `parent` of type `kind`; `skip` bytes of the body come before children.
pub(crate) fn child(buf: &[u8], parent: &Mp4Box, kind: &[u8; 4], skip: usize) -> Option<Mp4Box> {
    boxes(buf, parent.body() + skip, parent.end())
        .into_iter()
        .find(|b| &b.kind == kind)
}

/// A track's sample table, as file offsets and sizes.
pub(crate) struct Samples {
    /// `(offset, size)` of every sample, in order.
    pub spans: Vec<(usize, usize)>,
}

/// Where each sample of the track whose `stbl` is given lies in the file.
pub(crate) fn samples(buf: &[u8], stbl: &Mp4Box) -> Samples {
    let stsz = child(buf, stbl, b"stsz", 0).unwrap_or_else(|| panic!("no stsz"));
    let uniform = be32(buf, stsz.body() + 4);
    let count = be32(buf, stsz.body() + 8);
    let sizes: Vec<usize> = (0..count)
        .map(|i| {
            if uniform != 0 {
                uniform
            } else {
                be32(buf, stsz.body() + 12 + 4 * i)
            }
        })
        .collect();
    let chunks = chunk_offsets(buf, stbl);
    let stsc = child(buf, stbl, b"stsc", 0).unwrap_or_else(|| panic!("no stsc"));
    let runs: Vec<(usize, usize)> = (0..be32(buf, stsc.body() + 4))
        .map(|i| {
            let at = stsc.body() + 8 + 12 * i;
            (be32(buf, at), be32(buf, at + 4))
        })
        .collect();
    let mut spans = Vec::with_capacity(count);
    let mut next = 0;
    for (index, &chunk_start) in chunks.iter().enumerate() {
        let number = index + 1;
        let per_chunk = runs
            .iter()
            .rev()
            .find(|(first, _)| *first <= number)
            .map_or(0, |(_, n)| *n);
        let mut at = chunk_start;
        for _ in 0..per_chunk {
            if next == count {
                break;
            }
            spans.push((at, sizes[next]));
            at += sizes[next];
            next += 1;
        }
    }
    Samples { spans }
}

/// The chunk offsets of a track (`stco` or `co64`).
fn chunk_offsets(buf: &[u8], stbl: &Mp4Box) -> Vec<usize> {
    if let Some(stco) = child(buf, stbl, b"stco", 0) {
        (0..be32(buf, stco.body() + 4))
            .map(|i| be32(buf, stco.body() + 8 + 4 * i))
            .collect()
    } else {
        let co64 = child(buf, stbl, b"co64", 0).unwrap_or_else(|| panic!("no stco or co64"));
        (0..be32(buf, co64.body() + 4))
            .map(|i| be64(buf, co64.body() + 8 + 8 * i))
            .collect()
    }
}

/// Adds `delta` to every chunk offset of the track whose `stbl` is given.
pub(crate) fn shift_chunk_offsets(buf: &mut [u8], stbl: &Mp4Box, delta: usize) {
    if let Some(stco) = child(buf, stbl, b"stco", 0) {
        for i in 0..be32(buf, stco.body() + 4) {
            let at = stco.body() + 8 + 4 * i;
            let moved = u32::try_from(be32(buf, at) + delta).unwrap_or_else(|_| panic!("stco"));
            buf[at..at + 4].copy_from_slice(&moved.to_be_bytes());
        }
    } else if let Some(co64) = child(buf, stbl, b"co64", 0) {
        for i in 0..be32(buf, co64.body() + 4) {
            let at = co64.body() + 8 + 8 * i;
            let moved = (be64(buf, at) + delta) as u64;
            buf[at..at + 8].copy_from_slice(&moved.to_be_bytes());
        }
    }
}

/// Adds `delta` to the size field of each box (all with 32-bit sizes in files this small).
pub(crate) fn grow(buf: &mut [u8], path: &[Mp4Box], delta: usize) {
    for b in path {
        assert_eq!(b.header, 8, "64-bit box sizes are not expected here");
        let grown = u32::try_from(b.size + delta).unwrap_or_else(|_| panic!("box too big"));
        buf[b.start..b.start + 4].copy_from_slice(&grown.to_be_bytes());
    }
}
