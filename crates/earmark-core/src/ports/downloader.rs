//! Getting a book's encrypted audio and side files from Audible.

use std::path::PathBuf;

use async_trait::async_trait;

use crate::domain::asin::Asin;
pub use crate::domain::format::DownloadFormat;
use crate::ports::{JobContext, ProducedFile};

/// One download to make.
#[derive(Debug, Clone)]
pub struct DownloadRequest {
    /// The book.
    pub asin: Asin,
    /// The audible-cli profile (`None`: the primary one).
    pub profile: Option<String>,
    /// The audio format.
    pub format: DownloadFormat,
    /// Also fetch the companion PDF, when the book has one.
    pub pdf: bool,
    /// The cover size to ask for, in pixels (audible-cli's `--cover-size`).
    pub cover_size: u16,
    /// An empty directory the files are written into.
    pub out_dir: PathBuf,
    /// About how big the audio will be, for progress (from the book's runtime).
    pub expected_bytes: Option<u64>,
    /// The item is a podcast's episode: Audible lists it under its podcast, not in the
    /// library's top level.
    pub in_podcast: bool,
    /// A book sold in parts: its parts in order. Audible delivers most such books whole;
    /// when it hands out the parts instead, each part's files (named by the part's ASIN) are
    /// part of the output, and every part must be there.
    pub parts: Vec<Asin>,
}

/// What a finished download produced, checked: names relative to the request's `out_dir`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownloadOutput {
    /// The audio first, then voucher, chapters, cover, PDF. A book delivered in parts has
    /// each part's audio and voucher (named `<part ASIN>-…`) in the parts' order instead of
    /// its own audio.
    pub files: Vec<ProducedFile>,
    /// What the user should know that did not fail the job (no cover offered).
    pub warnings: Vec<String>,
    /// The `acr` of the licence the download received (AAXC), kept for position writes.
    pub licence_acr: Option<String>,
}

/// Why a download failed, by what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The ASIN is not in the account's library.
    #[error(
        "{0} is not in this Audible account's library: sync the library (POST /library/sync), or download it with the profile that owns it"
    )]
    NotInLibrary(String),
    /// Audible refused the licence (it does after too many licence requests).
    #[error("Audible refused the licence: {0}")]
    LicenseDenied(String),
    /// Audible answered 429 or asked to slow down.
    #[error("Audible is throttling requests: {0}")]
    Throttled(String),
    /// The book is not offered in the asked format (or not offered for download at all).
    #[error("{0}")]
    NotDownloadable(String),
    /// The profile is missing or its login was rejected.
    #[error("{0}: log in to Audible again (POST /auth/audible/login)")]
    AuthExpired(String),
    /// Network trouble or a server error.
    #[error("network trouble talking to Audible: {0}")]
    Network(String),
    /// audible-cli ran past its time limit.
    #[error("audible-cli did not finish within {0} s")]
    TimedOut(u64),
    /// The job was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// audible-cli failed otherwise, or said it succeeded without writing the files.
    #[error("{0}")]
    Tool(String),
}

/// Fetches a book's files (audible-cli).
#[async_trait]
pub trait Downloader: Send + Sync {
    /// Downloads `request.asin` into `request.out_dir`, reporting progress to `ctx`. Returns
    /// only when the files are there: the audio (`.aax`, or `.aaxc` with its `.voucher`) and
    /// the chapter file; a missing cover is a warning.
    ///
    /// # Errors
    /// [`DownloadError`].
    async fn download(
        &self,
        request: &DownloadRequest,
        ctx: &dyn JobContext,
    ) -> Result<DownloadOutput, DownloadError>;
}
