//! Where the person's library comes from: their Audible account, through audible-cli.

use async_trait::async_trait;

use super::job_handler::JobContext;
use crate::domain::book::BookRecord;

/// Why the library could not be fetched. Each message says what the user can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LibrarySourceError {
    /// No Audible profile exists (or the named one does not).
    #[error(
        "no Audible account is set up{}: log in through POST /auth/audible/login or import an \
         audible-cli auth file, then sync again",
        .0.as_deref().map(|p| format!(" under profile `{p}`")).unwrap_or_default()
    )]
    NoProfile(Option<String>),
    /// Audible rejected the profile's credentials: expired, or the device was deregistered.
    #[error(
        "Audible rejected the saved login ({0}); the device may have been deregistered or the \
         login expired: log in again through POST /auth/audible/login, then sync again"
    )]
    AuthRejected(String),
    /// Audible asks us to slow down.
    #[error("Audible is limiting requests ({0}); the sync will be retried later")]
    Throttled(String),
    /// Audible could not be reached or answered with a server error.
    #[error("could not reach Audible ({0}); check the network, the sync will be retried")]
    Network(String),
    /// The tool did not finish in time.
    #[error(
        "fetching the library took longer than {0} s; check the network, the sync will be retried"
    )]
    TimedOut(u64),
    /// The job was cancelled while fetching.
    #[error("the sync was cancelled")]
    Cancelled,
    /// audible-cli is missing or failed in a way not listed above.
    #[error("audible-cli failed: {0}")]
    Tool(String),
    /// audible-cli answered, but not with a library we understand.
    #[error("audible-cli returned a library earmark cannot read: {0}")]
    Malformed(String),
}

/// Fetches the whole library of an Audible account.
#[async_trait]
pub trait LibrarySource: Send + Sync {
    /// Every book of `profile`'s library (the primary profile when `None`), however many
    /// pages that takes, each with its raw record in `metadata_json`. Progress and tool
    /// output go to `ctx`; `ctx.cancelled()` stops the fetch.
    ///
    /// # Errors
    /// A [`LibrarySourceError`] naming what went wrong and what to do.
    async fn fetch_library(
        &self,
        profile: Option<&str>,
        ctx: &dyn JobContext,
    ) -> Result<Vec<BookRecord>, LibrarySourceError>;

    /// The episodes or parts of each of `parents` (items [`crate::ItemKind`] calls parents),
    /// however many pages each takes, every one with its [`crate::ParentLink`] set. Parents
    /// are read a few at a time; `ctx.cancelled()` stops the fetch.
    ///
    /// # Errors
    /// A [`LibrarySourceError`]; no partial list is returned.
    async fn fetch_children(
        &self,
        profile: Option<&str>,
        parents: &[BookRecord],
        ctx: &dyn JobContext,
    ) -> Result<Vec<BookRecord>, LibrarySourceError>;
}
