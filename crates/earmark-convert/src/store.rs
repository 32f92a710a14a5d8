//! `<data>/converted`: where verified outputs are renamed into place.

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use earmark_core::ports::{OutputStore, PlaceError, PlacedFile};

/// Converted files on the local filesystem. Jobs write under `<data>/tmp`, on the same
/// filesystem, so every move is a rename: a file appears whole under its final name or not
/// at all.
#[derive(Debug, Clone)]
pub struct FsOutputStore {
    root: PathBuf,
}

impl FsOutputStore {
    /// The store at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

fn confined(relative: &Path) -> Result<(), PlaceError> {
    let plain = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if plain && relative.components().next().is_some() {
        Ok(())
    } else {
        Err(PlaceError::Escapes(relative.display().to_string()))
    }
}

fn io(e: &std::io::Error, what: &Path) -> PlaceError {
    PlaceError::Io(format!("{}: {e}", what.display()))
}

#[async_trait]
impl OutputStore for FsOutputStore {
    async fn free_bytes(&self) -> Result<u64, PlaceError> {
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(|e| io(&e, &self.root))?;
        let root = self.root.clone();
        let stat = tokio::task::spawn_blocking(move || rustix::fs::statvfs(&root))
            .await
            .map_err(|e| PlaceError::Io(e.to_string()))?
            .map_err(|e| io(&e.into(), &self.root))?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    async fn place(
        &self,
        from: &Path,
        files: &[PathBuf],
        force: bool,
    ) -> Result<Vec<PlacedFile>, PlaceError> {
        for relative in files {
            confined(relative)?;
            let target = self.root.join(relative);
            if !force && tokio::fs::symlink_metadata(&target).await.is_ok() {
                return Err(PlaceError::Exists(relative.display().to_string()));
            }
        }
        let mut placed = Vec::with_capacity(files.len());
        for relative in files {
            let source = from.join(relative);
            let target = self.root.join(relative);
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| io(&e, parent))?;
            }
            let size = tokio::fs::metadata(&source)
                .await
                .map_err(|e| io(&e, &source))?
                .len();
            tokio::fs::rename(&source, &target)
                .await
                .map_err(|e| io(&e, &target))?;
            placed.push(PlacedFile {
                path: target.display().to_string(),
                size: i64::try_from(size).unwrap_or(i64::MAX),
            });
        }
        Ok(placed)
    }
}
