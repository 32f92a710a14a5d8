//! Which stored file a `/stream` id means, with a short-lived cache in front of the database.
//!
//! A player seeking through a book sends a request per seek; looking the id up in the
//! database each time costs more than serving the bytes. The mapping from file id to path
//! never changes (a re-registered path keeps its id), and the file is opened and checked again
//! at least every second (`open_files.rs`) and measured on every request, so a cached entry
//! can only be stale for what it does not hold. ASIN lookups follow the book's converted file, which a re-conversion may change: they
//! are kept for a few seconds only.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use earmark_core::ports::LibraryRepoError;
use earmark_core::{Asin, FileKind, StoredFile};

use crate::error::ApiError;
use crate::state::AppState;

/// How long a file-id entry is reused.
const BY_ID_TTL: Duration = Duration::from_secs(60);
/// How long an ASIN entry is reused.
const BY_ASIN_TTL: Duration = Duration::from_secs(5);
/// Entries kept at most; the cache is emptied when it fills (rare: one entry per file played).
const CAPACITY: usize = 10_000;

/// Recently resolved stream ids.
#[derive(Debug, Default)]
pub struct StreamLookupCache {
    entries: Mutex<HashMap<String, (Instant, StoredFile)>>,
}

impl StreamLookupCache {
    fn get(&self, id: &str, ttl: Duration) -> Option<StoredFile> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(id)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, file)| file.clone())
    }

    fn put(&self, id: &str, file: &StoredFile) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(id.to_owned(), (Instant::now(), file.clone()));
        }
    }

    /// Forgets `id`, e.g. when its file turned out to be gone.
    pub fn forget(&self, id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(id);
        }
    }
}

/// The file `id` names: a files row by UUID, or for an ASIN its book's converted output, else
/// its download.
pub async fn resolve(state: &AppState, id: &str) -> Result<StoredFile, ApiError> {
    let ttl = if uuid::Uuid::parse_str(id).is_ok() {
        BY_ID_TTL
    } else {
        BY_ASIN_TTL
    };
    if let Some(file) = state.stream_cache.get(id, ttl) {
        return Ok(file);
    }
    let file = resolve_uncached(state, id).await?;
    state.stream_cache.put(id, &file);
    Ok(file)
}

async fn resolve_uncached(state: &AppState, id: &str) -> Result<StoredFile, ApiError> {
    if let Ok(uuid) = uuid::Uuid::parse_str(id) {
        return state.library.get_file(uuid).await.map_err(|e| match e {
            LibraryRepoError::FileNotFound(_) => ApiError::FileGone(id.to_owned()),
            other => other.into(),
        });
    }
    let Ok(asin) = Asin::parse(id) else {
        return Err(ApiError::FileGone(id.to_owned()));
    };
    let book = state.library.get_book(&asin).await?;
    let files = state.library.files_of(&asin).await?;
    let converted =
        |f: &&StoredFile| matches!(f.kind, FileKind::Converted | FileKind::ConvertedChapter);
    files
        .iter()
        .filter(converted)
        .find(|f| Some(&f.path) == book.local_path_converted.as_ref())
        .or_else(|| files.iter().find(|f| f.kind == FileKind::Converted))
        .or_else(|| files.iter().find(|f| f.kind == FileKind::ConvertedChapter))
        // Not converted yet: its download, served decrypted.
        .or_else(|| files.iter().find(|f| f.kind == FileKind::Aaxc))
        .or_else(|| files.iter().find(|f| f.kind == FileKind::Aax))
        .cloned()
        .ok_or_else(|| {
            let kind = earmark_core::ItemKind::of_item(&book.record.metadata_json);
            if kind == earmark_core::ItemKind::MultiPartBook && book.local_path_aax.is_some() {
                ApiError::PartsNotJoined(asin)
            } else {
                ApiError::NoConvertedFile(asin)
            }
        })
}
