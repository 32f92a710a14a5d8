//! Whether a file window is in the page cache, and bringing it there.
//!
//! `sendfile` cannot be told not to wait for the disk, and it runs on the event loop: a
//! window is checked first, and one that is not in the page cache is read in on the blocking
//! pool.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use rustix::io::{Errno, ReadWriteFlags};

/// Buffer for reading a window into the page cache.
const WARM_BUFFER: usize = 64 * 1024;

/// Distance between the bytes probed in a window: the page cache fills in runs at least this
/// long (readahead, earlier windows), so a gap that a probe misses is unlikely; each probe is
/// a system call, so they are not made per page.
const PROBE_STRIDE: u64 = 64 * 1024;

/// Whether `len` bytes at `offset` can be read without waiting for the disk, judged by a byte
/// every [`PROBE_STRIDE`] and the last one.
pub(super) fn in_page_cache(file: &File, offset: u64, len: u64) -> io::Result<bool> {
    let last = offset + len.saturating_sub(1);
    let probes = (offset..last)
        .step_by(usize::try_from(PROBE_STRIDE).unwrap_or(usize::MAX))
        .chain([last]);
    for at in probes {
        let mut byte = [0u8; 1];
        match rustix::io::preadv2(
            file,
            &mut [io::IoSliceMut::new(&mut byte)],
            at,
            ReadWriteFlags::NOWAIT,
        ) {
            // A read at the end of a shrunk file: `sendfile` will find that out.
            Ok(_) => {}
            // Not cached, or this filesystem cannot tell: read it on the blocking pool.
            Err(Errno::AGAIN | Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// Reads `len` bytes at `offset` (and drops them) so that they are in the page cache.
pub(super) fn read_through(file: &File, mut offset: u64, len: u64) -> io::Result<()> {
    let end = offset + len;
    let mut buffer = vec![0u8; WARM_BUFFER];
    while offset < end {
        let want = usize::try_from(end - offset)
            .unwrap_or(usize::MAX)
            .min(WARM_BUFFER);
        match file.read_at(&mut buffer[..want], offset)? {
            0 => break,
            n => offset += n as u64,
        }
    }
    Ok(())
}
