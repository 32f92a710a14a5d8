//! The bytes of a file window as a response body, read with `pread`.
//!
//! actix-files reads every 64 KiB chunk on the blocking thread pool. Here a chunk that is in
//! the page cache (the common case for a book being played) is read on the spot with
//! `preadv2(RWF_NOWAIT)`, which never waits for the disk; only a chunk that would wait goes to
//! the blocking pool. Chunks are bounded, so memory per connection stays small.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use actix_web::web::Bytes;
use futures_util::Stream;
use rustix::io::{Errno, ReadWriteFlags};

/// Bytes read per chunk.
const CHUNK: usize = 256 * 1024;

struct Window {
    file: Arc<File>,
    offset: u64,
    remaining: u64,
    nowait_works: bool,
}

/// A stream of `len` bytes of `file` starting at `offset`.
pub fn file_window(
    file: Arc<File>,
    offset: u64,
    len: u64,
) -> impl Stream<Item = Result<Bytes, io::Error>> {
    let window = Window {
        file,
        offset,
        remaining: len,
        nowait_works: true,
    };
    futures_util::stream::try_unfold(window, |mut w| async move {
        if w.remaining == 0 {
            return Ok(None);
        }
        let want = usize::try_from(w.remaining)
            .unwrap_or(usize::MAX)
            .min(CHUNK);
        let mut buf = vec![0u8; want];
        let mut read = None;
        if w.nowait_works {
            match rustix::io::preadv2(
                &*w.file,
                &mut [io::IoSliceMut::new(&mut buf)],
                w.offset,
                ReadWriteFlags::NOWAIT,
            ) {
                Ok(n) if n > 0 => read = Some(n),
                Ok(_) | Err(Errno::AGAIN) => {}
                Err(Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => w.nowait_works = false,
                Err(e) => return Err(io::Error::from(e)),
            }
        }
        let n = match read {
            Some(n) => n,
            None => {
                let file = w.file.clone();
                let offset = w.offset;
                let (returned, n) =
                    actix_web::web::block(move || file.read_at(&mut buf, offset).map(|n| (buf, n)))
                        .await
                        .map_err(io::Error::other)??;
                buf = returned;
                n
            }
        };
        if n == 0 {
            // The file shrank under us: end the body early rather than send made-up bytes.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file truncated while being served",
            ));
        }
        buf.truncate(n);
        w.offset += n as u64;
        w.remaining -= n as u64;
        Ok(Some((Bytes::from(buf), w)))
    })
}

/// A stream of `len` bytes of `view` (the plain view of `file`) from `offset`, memory bounded
/// by one chunk. Each chunk is read in one go with the samples cut by its edges (a sample
/// decrypts only whole) and sent without them.
pub fn plain_window(
    view: Arc<earmark_decrypt::PlainView>,
    file: Arc<File>,
    offset: u64,
    len: u64,
) -> impl Stream<Item = Result<Bytes, io::Error>> {
    futures_util::stream::try_unfold((offset, len), move |(offset, remaining)| {
        let (view, file) = (view.clone(), file.clone());
        async move {
            if remaining == 0 {
                return Ok(None);
            }
            let want = remaining.min(CHUNK as u64);
            let span = view.span(offset, want);
            let mut buf = vec![0u8; span.len()];
            // In the page cache (the common case while a book plays): read and decrypt here,
            // which costs less than the trip to the blocking pool; else there.
            let cached = rustix::io::preadv2(
                &*file,
                &mut [io::IoSliceMut::new(&mut buf)],
                span.start(),
                ReadWriteFlags::NOWAIT,
            );
            let (buf, n) = match cached {
                Ok(n) if n == span.len() => {
                    view.decrypt_span(&span, &mut buf);
                    (buf, n)
                }
                _ => actix_web::web::block(move || {
                    view.read_span(&file, &span, &mut buf).map(|n| (buf, n))
                })
                .await
                .map_err(io::Error::other)??,
            };
            let got = n.saturating_sub(span.skip()).min(want as usize);
            if got == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file truncated while being served",
                ));
            }
            let window = Bytes::from(buf).slice(span.skip()..span.skip() + got);
            Ok(Some((
                window,
                (offset + got as u64, remaining - got as u64),
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use futures_util::TryStreamExt;

    use super::*;

    #[tokio::test]
    async fn yields_exactly_the_window_in_bounded_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let content: Vec<u8> = (0..(CHUNK * 2 + 123)).map(|i| (i % 241) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let chunks: Vec<Bytes> = file_window(
            Arc::new(File::open(&path).unwrap()),
            7,
            (CHUNK + 1000) as u64,
        )
        .try_collect()
        .await
        .unwrap();
        assert!(chunks.iter().all(|c| c.len() <= CHUNK));
        assert_eq!(chunks.concat(), content[7..7 + CHUNK + 1000]);
    }

    #[tokio::test]
    async fn a_truncated_file_ends_in_an_error_not_in_padding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [1u8; 10]).unwrap();
        let result: Result<Vec<Bytes>, _> =
            file_window(Arc::new(File::open(&path).unwrap()), 0, 20)
                .try_collect()
                .await;
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
