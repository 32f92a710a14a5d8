#![doc = include_str!("../README.md")]

//! Zero-copy response bodies: a window of a file goes from the page cache to the socket with
//! `sendfile`, never through earmark's memory.
//!
//! actix-http copies every body chunk into its connection's write buffer before writing it,
//! so a file body costs three copies (read into a buffer, into the write buffer, into the
//! socket). For players seeking through a book with many small range requests those copies
//! are most of the work; nginx makes none. Here the connection hands the window to the kernel
//! instead:
//!
//! 1. Every HTTP/1 connection is a [`ZeroCopyConnection`]: the TCP stream plus a [`Handoff`]
//!    that the request handlers reach through the request's connection data.
//! 2. A handler answers with a [`SendfileBody`]: its size is left open (the handler sets
//!    `Content-Length` itself and turns chunking off), so the dispatcher frames nothing. When
//!    first polled, the body arms the handoff with the window and waits.
//! 3. While the body waits, the dispatcher writes what it has (the response head) and then
//!    flushes the connection. Flushing is the moment everything before the body is in the
//!    socket: the connection now `sendfile`s the window, then wakes the body, which ends.
//!
//! A window whose pages are not in the page cache is read into it on the blocking thread
//! pool first (`sendfile` would otherwise wait for the disk on the event loop).

mod body;
mod connection;
mod handoff;
mod page_cache;

pub use body::SendfileBody;
pub use connection::ZeroCopyConnection;
pub use handoff::Handoff;

use std::rc::Rc;

use actix_web::HttpRequest;
use actix_web::http::Version;

/// The handoff of the connection `req` came on, when its bytes may be sent with `sendfile`:
/// an HTTP/1 connection accepted by earmark's own server (not a test harness), whose
/// response body goes on the wire as is.
pub fn handoff_for(req: &HttpRequest) -> Option<Rc<Handoff>> {
    if req.version() > Version::HTTP_11 {
        return None;
    }
    req.conn_data::<Rc<Handoff>>().cloned()
}
