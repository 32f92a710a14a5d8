//! The response side: a body that hands its file window to the connection.

use std::fs::File;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::Bytes;

use super::Handoff;

/// A response body of `len` bytes of a file from `offset`, sent by the connection with
/// `sendfile` (see the module documentation).
///
/// Its size is [`BodySize::Stream`] so that the dispatcher frames nothing: the response must
/// carry `Content-Length` itself and have chunking turned off (`no_chunking`).
#[derive(Debug)]
pub struct SendfileBody {
    handoff: Rc<Handoff>,
    /// The window, until it is handed over.
    window: Option<(Arc<File>, u64, u64)>,
    handed_over: bool,
}

impl SendfileBody {
    /// `len` bytes of `file` from `offset`, for the connection of `handoff`.
    pub fn new(handoff: Rc<Handoff>, file: Arc<File>, offset: u64, len: u64) -> Self {
        Self {
            handoff,
            window: (len > 0).then_some((file, offset, len)),
            handed_over: false,
        }
    }
}

impl MessageBody for SendfileBody {
    type Error = io::Error;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if let Some((file, offset, len)) = this.window.take() {
            this.handoff.arm(file, offset, len, cx.waker())?;
            this.handed_over = true;
            return Poll::Pending;
        }
        if !this.handed_over {
            return Poll::Ready(None);
        }
        match this.handoff.poll_finished(cx.waker()) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(outcome) => {
                this.handed_over = false;
                Poll::Ready(outcome.err().map(Err))
            }
        }
    }
}

impl Drop for SendfileBody {
    fn drop(&mut self) {
        if self.handed_over {
            self.handoff.disarm();
        }
    }
}
