//! The handoff between a response body and its connection: which file window is to follow
//! the head, and how sending it went.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::sync::Arc;
use std::task::{Poll, Waker, ready};

use actix_web::rt::task::JoinHandle;

/// The file window a response body has handed to its connection, and how the sending went.
#[derive(Debug, Default)]
pub struct Handoff {
    state: RefCell<State>,
}

#[derive(Debug, Default)]
enum State {
    /// Nothing to send.
    #[default]
    Idle,
    /// Sent when the connection is next flushed; `body` is woken when it has been.
    Armed { window: Window, body: Option<Waker> },
    /// Sent, or failed; the body takes the outcome.
    Finished(io::Result<()>),
}

/// What is left of an armed window.
#[derive(Debug)]
pub(super) struct Window {
    /// The file.
    pub file: Arc<File>,
    /// Where the next byte to send is.
    pub offset: u64,
    /// Bytes still to send.
    pub remaining: u64,
    /// Up to where the file is known to be in the page cache (checked or read in), so that
    /// a window the socket took only part of is not checked again.
    pub cached_until: u64,
    /// A read that brings the next `sendfile` call's pages into the page cache.
    pub warming: Option<JoinHandle<io::Result<()>>>,
}

impl Handoff {
    /// Arms the connection with `len` bytes of `file` from `offset`, to follow what the
    /// dispatcher has written so far; `body` is woken when they are sent.
    pub(super) fn arm(
        &self,
        file: Arc<File>,
        offset: u64,
        len: u64,
        body: &Waker,
    ) -> io::Result<()> {
        let mut state = self.state.borrow_mut();
        if !matches!(*state, State::Idle) {
            // The dispatcher answers one request at a time; two bodies at once would interleave.
            return Err(io::Error::other(
                "a file is already being sent on this connection",
            ));
        }
        *state = State::Armed {
            window: Window {
                file,
                offset,
                remaining: len,
                cached_until: offset,
                warming: None,
            },
            body: Some(body.clone()),
        };
        Ok(())
    }

    /// The outcome once the armed window has been sent; until then `body` is woken later.
    pub(super) fn poll_finished(&self, body: &Waker) -> Poll<io::Result<()>> {
        let mut state = self.state.borrow_mut();
        match std::mem::take(&mut *state) {
            State::Armed { window, .. } => {
                *state = State::Armed {
                    window,
                    body: Some(body.clone()),
                };
                Poll::Pending
            }
            State::Finished(outcome) => Poll::Ready(outcome),
            State::Idle => Poll::Ready(Err(io::Error::other(
                "no file was handed to the connection",
            ))),
        }
    }

    /// Forgets an armed window, e.g. because its response was dropped.
    pub(super) fn disarm(&self) {
        *self.state.borrow_mut() = State::Idle;
    }

    /// Drives the armed window, if any, with `send`; when `send` is done, records the outcome
    /// for the body and wakes it. Ready at once when nothing is armed.
    ///
    /// # Errors
    /// What `send` failed with: the response is then short of its `Content-Length`, and the
    /// connection must end.
    pub(super) fn poll_send(
        &self,
        send: impl FnOnce(&mut Window) -> Poll<io::Result<()>>,
    ) -> Poll<io::Result<()>> {
        let mut state = self.state.borrow_mut();
        let State::Armed { window, .. } = &mut *state else {
            return Poll::Ready(Ok(()));
        };
        let outcome = ready!(send(window));
        drop(state);
        let failed = outcome
            .as_ref()
            .err()
            .map(|e| io::Error::new(e.kind(), e.to_string()));
        self.finish(outcome);
        Poll::Ready(failed.map_or(Ok(()), Err))
    }

    fn finish(&self, outcome: io::Result<()>) {
        let mut state = self.state.borrow_mut();
        if let State::Armed { body, .. } = std::mem::replace(&mut *state, State::Finished(outcome))
            && let Some(body) = body
        {
            body.wake();
        }
    }
}
