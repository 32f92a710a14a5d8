//! Audible's AAX and AAXC files, seen as the plain M4A they hold.
//!
//! An AAX/AAXC is an MPEG-4 file whose AAC samples are each encrypted with AES-128-CBC (the
//! whole 16-byte blocks of a sample, from the same iv every time; the tail in clear), its
//! sound track's sample entry typed `aavd` and, in an AAX, holding an `adrm` box with the
//! file key sealed by the account's activation bytes. [`PlainView`] serves any window of such
//! a file decrypted, without a process, a temporary file or reading more than the window and
//! the samples at its edges: what `/stream` sends a player that wants to listen before a
//! conversion. FFmpeg's `libavformat/mov.c` (`mov_read_adrm`, `cenc_filter`'s Audible case)
//! is the reference for the scheme; the test fixtures encrypt that way and FFmpeg decrypts
//! them.

mod key;
mod view;

pub use key::{KeyError, SampleKey, Secret};
pub use view::{CHECKPOINT_EVERY, MAX_SAMPLE, PlainView, Span, ViewError};

#[cfg(test)]
mod tests;
