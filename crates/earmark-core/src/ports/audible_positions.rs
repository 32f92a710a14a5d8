//! Audible's own record of where the person stopped in each book (what its apps resume from).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::library_source::LibrarySourceError;
use crate::domain::asin::Asin;

/// The most ASINs Audible answers in one position read.
pub const MAX_ASINS_PER_READ: usize = 25;

/// A position Audible holds for a book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePosition {
    /// The book.
    pub asin: Asin,
    /// Where the person stopped.
    pub position_ms: u64,
    /// When Audible last took a position for it (UTC).
    pub last_updated: OffsetDateTime,
}

/// Where the tool output of a call goes (the job's log, or the server's).
pub type CallLog<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// Reads and writes Audible's listening positions.
#[async_trait]
pub trait AudiblePositions: Send + Sync {
    /// The positions Audible holds for `asins` (at most [`MAX_ASINS_PER_READ`]); books it
    /// holds none for are left out.
    ///
    /// # Errors
    /// A [`LibrarySourceError`] naming what went wrong and what to do.
    async fn read(
        &self,
        profile: Option<&str>,
        asins: &[Asin],
        log: CallLog<'_>,
    ) -> Result<Vec<RemotePosition>, LibrarySourceError>;

    /// Sets Audible's position of `asin` to `position_ms`; `acr` is the book's licence's.
    ///
    /// # Errors
    /// A [`LibrarySourceError`]; Audible refusing the write is `Tool`.
    async fn write(
        &self,
        profile: Option<&str>,
        asin: &Asin,
        acr: &str,
        position_ms: u64,
        log: CallLog<'_>,
    ) -> Result<(), LibrarySourceError>;

    /// The `acr` of a licence for `asin`: read from the download's voucher file when one is
    /// given and readable, else asked of Audible (a licence request).
    ///
    /// # Errors
    /// A [`LibrarySourceError`]; a licence without an `acr` is `Malformed`.
    async fn licence_acr(
        &self,
        profile: Option<&str>,
        asin: &Asin,
        voucher: Option<&std::path::Path>,
        log: CallLog<'_>,
    ) -> Result<String, LibrarySourceError>;
}
