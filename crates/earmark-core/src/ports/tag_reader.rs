//! Reading an audio file's tags and length, for an import to tell which book it is.

use std::collections::BTreeMap;

use async_trait::async_trait;

/// What an audio file says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudioTags {
    /// Its tags, keys lower-cased, as the file holds them (`title`, `album`, `artist`,
    /// `track`, `asin`, ...).
    pub tags: BTreeMap<String, String>,
    /// Its length in milliseconds, when known.
    pub duration_ms: Option<u64>,
}

/// Why a file's tags could not be read: it is not audio the reader knows, or unreadable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TagError(pub String);

/// Reads audio files' tags.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait TagReader: Send + Sync {
    /// The tags and length of the audio file at `path`.
    ///
    /// # Errors
    /// When it cannot be read or is not audio.
    async fn read_tags(&self, path: &str) -> Result<AudioTags, TagError>;
}
