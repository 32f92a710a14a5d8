//! Changing an MPEG-4 file in memory around an insert: chunk offsets moved, boxes grown.
//! (Reading its structure is `earmark-mp4`'s.)

use earmark_mp4::{Mp4Box, child, uint};

/// The big-endian integer of `len` bytes at `at`; the fixture's own files always hold it.
fn field(buf: &[u8], at: usize, len: usize) -> u64 {
    uint(buf, at, len).unwrap_or_else(|| panic!("no {len}-byte field at {at}"))
}

/// Adds `delta` to every chunk offset of the track whose `stbl` is given.
pub(crate) fn shift_chunk_offsets(buf: &mut [u8], stbl: &Mp4Box, delta: usize) {
    let (table, width) = match child(buf, stbl, b"stco") {
        Some(stco) => (stco, 4),
        None => match child(buf, stbl, b"co64") {
            Some(co64) => (co64, 8),
            None => return,
        },
    };
    for i in 0..field(buf, table.body() + 4, 4) as usize {
        let at = table.body() + 8 + width * i;
        let moved = field(buf, at, width) + delta as u64;
        if width == 4 {
            let moved = u32::try_from(moved).unwrap_or_else(|_| panic!("stco overflows"));
            buf[at..at + 4].copy_from_slice(&moved.to_be_bytes());
        } else {
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
