//! The connection side: a TCP stream that sends an armed file window when it is flushed.

use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use actix_web::rt::net::TcpStream;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use super::handoff::{Handoff, Window};
use super::page_cache::{in_page_cache, read_through};

/// Bytes handed to `sendfile` at most per call; each call's window is checked to be in the
/// page cache first.
const WINDOW: u64 = 256 * 1024;
/// Bytes sent in one go before other connections on this worker get their turn.
const FAIR_SHARE: u64 = 1024 * 1024;

/// An accepted TCP connection that can send a file window with `sendfile` in the place of
/// response body bytes (see the module documentation).
#[derive(Debug)]
pub struct ZeroCopyConnection {
    tcp: TcpStream,
    handoff: Rc<Handoff>,
}

impl ZeroCopyConnection {
    /// Wraps an accepted connection.
    pub fn new(tcp: TcpStream) -> Self {
        // A response with a window goes out in two writes (head, then `sendfile`): with
        // Nagle's algorithm the window's last short segment would wait for the head's
        // acknowledgement, 40 ms with delayed acknowledgements. (Sending the head with
        // MSG_MORE instead measured a third slower: the corked head costs more than its
        // own segment.)
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        Self {
            tcp,
            handoff: Rc::default(),
        }
    }

    /// The handoff that response bodies on this connection arm.
    pub fn handoff(&self) -> Rc<Handoff> {
        self.handoff.clone()
    }

    /// Sends the armed window, if any; ready when there is nothing (more) to send. An error
    /// ends the connection (the dispatcher closes it on a failed flush).
    fn poll_send_window(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let tcp = &self.tcp;
        self.handoff
            .poll_send(|window| send_window(tcp, window, cx))
    }
}

/// Sends `window` into `tcp`; pending while the socket is full, a read into the page cache
/// runs, or after a fair share (then woken at once).
fn send_window(tcp: &TcpStream, window: &mut Window, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    let mut sent = 0;
    while window.remaining > 0 {
        if sent >= FAIR_SHARE {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let count = window.remaining.min(WINDOW);
        let end = window.offset + count;
        if let Some(warming) = &mut window.warming {
            let read = ready!(Pin::new(warming).poll(cx));
            window.warming = None;
            read.map_err(io::Error::other)??;
            window.cached_until = end;
        } else if window.cached_until < end {
            let from = window.cached_until.max(window.offset);
            if !in_page_cache(&window.file, from, end - from)? {
                let file = window.file.clone();
                window.warming = Some(actix_web::rt::task::spawn_blocking(move || {
                    read_through(&file, from, end - from)
                }));
                continue;
            }
            window.cached_until = end;
        }
        ready!(tcp.poll_write_ready(cx))?;
        let at = &mut window.offset;
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        match tcp.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(tcp, &*window.file, Some(at), count).map_err(io::Error::from)
        }) {
            Ok(0) => {
                // The file shrank under us: end the response early rather than pad it.
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file truncated while being served",
                )));
            }
            Ok(n) => {
                window.remaining = window.remaining.saturating_sub(n as u64);
                sent += n as u64;
            }
            // The socket filled up; `try_io` has cleared its readiness, so the next
            // `poll_write_ready` waits for room.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
    Poll::Ready(Ok(()))
}

impl AsyncRead for ZeroCopyConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for ZeroCopyConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    /// Flushing is when everything the dispatcher wrote before an armed window is in the
    /// socket: the window follows it here.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_send_window(cx))?;
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::Read;
    use std::sync::Arc;
    use std::task::Waker;

    use tokio::io::AsyncWriteExt;

    use super::*;

    fn content(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    /// A connection accepted from a real loopback socket, and the client's end.
    async fn connected() -> (ZeroCopyConnection, std::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (ZeroCopyConnection::new(server), client)
    }

    /// A file on a real disk (not tmpfs, where nothing ever leaves the page cache).
    fn file_on_disk(bytes: &[u8]) -> (tempfile::TempDir, Arc<File>) {
        let dir = tempfile::Builder::new()
            .prefix(".page-cache-test")
            .tempdir_in(env!("CARGO_MANIFEST_DIR"))
            .unwrap();
        let path = dir.path().join("book.m4b");
        std::fs::write(&path, bytes).unwrap();
        let file = File::open(&path).unwrap();
        file.sync_all().unwrap();
        (dir, Arc::new(file))
    }

    /// Reads `n` bytes from the client on a thread of its own, so that the server side is never
    /// stuck on a full socket buffer.
    fn read_exactly(client: &std::net::TcpStream, n: usize) -> std::thread::JoinHandle<Vec<u8>> {
        let mut client = client.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut got = vec![0u8; n];
            client.read_exact(&mut got).unwrap();
            got
        })
    }

    #[tokio::test]
    async fn an_armed_window_follows_what_was_written_before_it_and_nothing_else_does() {
        let bytes = content(3 * WINDOW as usize + 5);
        let (_dir, file) = file_on_disk(&bytes);
        let (mut conn, client) = connected().await;
        let reader = read_exactly(&client, 6 + 2 * WINDOW as usize + 3 + 4);
        let handoff = conn.handoff();
        handoff.arm(file, 7, 2 * WINDOW + 3, Waker::noop()).unwrap();
        conn.write_all(b"head\r\n").await.unwrap();
        conn.flush().await.unwrap();
        assert!(matches!(
            handoff.poll_finished(Waker::noop()),
            Poll::Ready(Ok(()))
        ));
        conn.write_all(b"next").await.unwrap();
        conn.flush().await.unwrap();

        let got = reader.join().unwrap();
        assert_eq!(&got[..6], b"head\r\n");
        assert_eq!(
            &got[6..got.len() - 4],
            &bytes[7..7 + 2 * WINDOW as usize + 3]
        );
        assert_eq!(&got[got.len() - 4..], b"next");
    }

    #[tokio::test]
    async fn a_window_not_in_the_page_cache_is_read_in_off_the_event_loop_first() {
        let bytes = content(WINDOW as usize);
        let (_dir, file) = file_on_disk(&bytes);
        rustix::fs::fadvise(&*file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        assert!(
            !in_page_cache(&file, 0, WINDOW).unwrap(),
            "the file should have left the page cache"
        );

        let (mut conn, client) = connected().await;
        let reader = read_exactly(&client, WINDOW as usize);
        conn.handoff()
            .arm(file.clone(), 0, WINDOW, Waker::noop())
            .unwrap();
        let first =
            std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut conn).poll_flush(cx))).await;
        assert!(
            first.is_pending(),
            "the event loop must not wait for the disk: the read goes to the blocking pool"
        );
        conn.flush().await.unwrap();
        assert_eq!(reader.join().unwrap(), bytes);
        assert!(in_page_cache(&file, 0, WINDOW).unwrap());
    }

    #[test]
    fn a_gap_in_the_middle_of_a_window_is_seen() {
        // Four windows; the second leaves the page cache (folios may be as large as a
        // window, so the gap is one, aligned).
        let bytes = content(4 * WINDOW as usize);
        let (_dir, file) = file_on_disk(&bytes);
        // Read back window by window, so that the page cache holds it in separate pieces.
        rustix::fs::fadvise(&*file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        for w in 0..4 {
            read_through(&file, w * WINDOW, WINDOW).unwrap();
        }
        assert!(in_page_cache(&file, 0, 4 * WINDOW).unwrap());
        rustix::fs::fadvise(
            &*file,
            WINDOW,
            std::num::NonZeroU64::new(WINDOW),
            rustix::fs::Advice::DontNeed,
        )
        .unwrap();
        assert!(
            in_page_cache(&file, 0, WINDOW).unwrap()
                && in_page_cache(&file, 2 * WINDOW, 2 * WINDOW).unwrap(),
            "the rest is still cached"
        );
        assert!(
            !in_page_cache(&file, WINDOW - 10, WINDOW + 20).unwrap(),
            "a range whose ends are cached but whose middle is not"
        );
    }

    #[tokio::test]
    async fn a_file_that_shrank_ends_the_window_in_an_error_not_in_padding() {
        let (_dir, file) = file_on_disk(&content(10));
        let (mut conn, mut client) = connected().await;
        let handoff = conn.handoff();
        handoff.arm(file, 0, 20, Waker::noop()).unwrap();
        let err = conn.flush().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        match handoff.poll_finished(Waker::noop()) {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
            other => panic!("the body must learn of the failure: {other:?}"),
        }
        drop(conn);
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        assert_eq!(got, content(10));
    }

    #[tokio::test]
    async fn a_disarmed_window_is_not_sent_and_a_second_window_is_refused() {
        let (_dir, file) = file_on_disk(&content(100));
        let (mut conn, mut client) = connected().await;
        let handoff = conn.handoff();
        handoff.arm(file.clone(), 0, 100, Waker::noop()).unwrap();
        assert!(handoff.arm(file, 0, 100, Waker::noop()).is_err());
        handoff.disarm();
        conn.write_all(b"only this").await.unwrap();
        conn.flush().await.unwrap();
        drop(conn);
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"only this");
    }
}
