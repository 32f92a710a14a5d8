//! `<data>/converted` and `<data>/downloads`: where verified outputs are renamed into place.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use earmark_core::Fingerprint;
use earmark_core::ports::{Move, OutputStore, PlaceError, PlannedMove};
use rustix::fs::{CWD, RenameFlags};

/// Outputs on the local filesystem. Jobs write under `<data>/tmp`, on the same filesystem,
/// so every move is a rename: a file appears whole under its final name or not at all.
#[derive(Debug, Clone)]
pub struct FsOutputStore {
    root: PathBuf,
}

impl FsOutputStore {
    /// The store at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `relative` under the root, refusing anything that would leave it.
    fn target(&self, relative: &Path) -> Result<PathBuf, PlaceError> {
        let plain = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if plain && relative.components().next().is_some() {
            Ok(self.root.join(relative))
        } else {
            Err(PlaceError::Escapes(relative.display().to_string()))
        }
    }
}

fn io(e: &io::Error, what: &Path) -> PlaceError {
    PlaceError::Io(format!("{}: {e}", what.display()))
}

fn blocking_failed(e: tokio::task::JoinError) -> PlaceError {
    PlaceError::Io(e.to_string())
}

/// The fingerprint of the file at `path`; `None` when nothing is there.
fn fingerprint_of(path: &Path) -> Result<Option<Fingerprint>, PlaceError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(Fingerprint {
            size: meta.len(),
            modified_ns: meta
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.mtime_nsec()),
            inode: meta.ino(),
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&e, path)),
    }
}

/// Renames `source` to `target`; unless `replace`, refuses (`AlreadyExists`) when something
/// is at `target`, atomically where the filesystem can (`RENAME_NOREPLACE`).
fn rename(source: &Path, target: &Path, replace: bool) -> io::Result<()> {
    if replace {
        return std::fs::rename(source, target);
    }
    match rustix::fs::renameat_with(CWD, source, CWD, target, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        // Filesystems without the flag: the check and the rename are two steps there.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            if std::fs::symlink_metadata(target).is_ok() {
                return Err(io::ErrorKind::AlreadyExists.into());
            }
            std::fs::rename(source, target)
        }
        Err(e) => Err(e.into()),
    }
}

/// Moves every file of `moves` from `from` to `root`; on a refusal moves back what it moved.
fn place_all(root: &Path, from: &Path, moves: &[Move]) -> Result<(), PlaceError> {
    let mut done: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(moves.len());
    for one in moves {
        let source = from.join(&one.relative);
        let target = root.join(&one.relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(&e, parent))?;
        }
        match rename(&source, &target, one.replace) {
            Ok(()) => done.push((source, target)),
            Err(e) => {
                for (source, target) in done.iter().rev() {
                    if let Err(back) = std::fs::rename(target, source) {
                        tracing::warn!(path = %target.display(), error = %back, "cannot move a placed file back");
                    }
                }
                return Err(if e.kind() == io::ErrorKind::AlreadyExists {
                    PlaceError::Exists(one.relative.display().to_string())
                } else {
                    io(&e, &target)
                });
            }
        }
    }
    Ok(())
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
            .map_err(blocking_failed)?
            .map_err(|e| io(&e.into(), &self.root))?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    async fn plan(&self, from: &Path, files: &[PathBuf]) -> Result<Vec<PlannedMove>, PlaceError> {
        let targets = files
            .iter()
            .map(|relative| Ok((relative.clone(), self.target(relative)?)))
            .collect::<Result<Vec<_>, PlaceError>>()?;
        let from = from.to_owned();
        tokio::task::spawn_blocking(move || {
            targets
                .into_iter()
                .map(|(relative, target)| {
                    let source = from.join(&relative);
                    let staged = fingerprint_of(&source)?
                        .ok_or_else(|| io(&io::ErrorKind::NotFound.into(), &source))?;
                    Ok(PlannedMove {
                        existing: fingerprint_of(&target)?,
                        target: target.display().to_string(),
                        relative,
                        staged,
                    })
                })
                .collect()
        })
        .await
        .map_err(blocking_failed)?
    }

    async fn place(&self, from: &Path, moves: &[Move]) -> Result<(), PlaceError> {
        for one in moves {
            self.target(&one.relative)?;
        }
        let (root, from, moves) = (self.root.clone(), from.to_owned(), moves.to_vec());
        tokio::task::spawn_blocking(move || place_all(&root, &from, &moves))
            .await
            .map_err(blocking_failed)?
    }

    async fn fingerprint(&self, path: &str) -> Result<Option<Fingerprint>, PlaceError> {
        let relative = Path::new(path)
            .strip_prefix(&self.root)
            .map_err(|_| PlaceError::Escapes(path.to_owned()))?;
        let target = self.target(relative)?;
        tokio::task::spawn_blocking(move || fingerprint_of(&target))
            .await
            .map_err(blocking_failed)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(dir: &Path, relative: &str, body: &[u8]) -> PathBuf {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body).unwrap();
        PathBuf::from(relative)
    }

    #[tokio::test]
    async fn a_move_keeps_the_fingerprint_it_was_planned_with() {
        let dir = tempfile::tempdir().unwrap();
        let (from, root) = (dir.path().join("tmp"), dir.path().join("converted"));
        let store = FsOutputStore::new(&root);
        let file = staged(&from, "A/B/book.m4b", b"audio");
        let plan = store
            .plan(&from, std::slice::from_ref(&file))
            .await
            .unwrap();
        assert_eq!(plan[0].existing, None);
        assert_eq!(
            plan[0].target,
            root.join("A/B/book.m4b").display().to_string()
        );
        let moves = [Move {
            relative: file.clone(),
            replace: false,
        }];
        store.place(&from, &moves).await.unwrap();
        let now = store.fingerprint(&plan[0].target).await.unwrap();
        assert_eq!(
            now,
            Some(plan[0].staged),
            "a rename keeps size, time and inode"
        );
        assert!(!from.join(&file).exists());
    }

    #[tokio::test]
    async fn a_file_in_the_way_is_kept_unless_replacing_and_a_refusal_moves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (from, root) = (dir.path().join("tmp"), dir.path().join("converted"));
        let store = FsOutputStore::new(&root);
        staged(&root, "b.mp3", b"theirs");
        let files = [
            staged(&from, "a.mp3", b"a"),
            staged(&from, "b.mp3", b"ours"),
        ];
        let moves: Vec<Move> = files
            .iter()
            .map(|relative| Move {
                relative: relative.clone(),
                replace: false,
            })
            .collect();
        let err = store.place(&from, &moves).await.unwrap_err();
        assert!(
            matches!(err, PlaceError::Exists(ref name) if name == "b.mp3"),
            "{err}"
        );
        assert_eq!(std::fs::read(root.join("b.mp3")).unwrap(), b"theirs");
        assert!(
            !root.join("a.mp3").exists(),
            "the first move was taken back"
        );
        assert!(from.join("a.mp3").exists());

        let replacing: Vec<Move> = moves
            .into_iter()
            .map(|m| Move { replace: true, ..m })
            .collect();
        store.place(&from, &replacing).await.unwrap();
        assert_eq!(std::fs::read(root.join("b.mp3")).unwrap(), b"ours");
    }

    #[tokio::test]
    async fn nothing_outside_the_store_is_touched_or_looked_at() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsOutputStore::new(dir.path().join("converted"));
        let escape = [PathBuf::from("../escape.mp3")];
        assert!(matches!(
            store.plan(dir.path(), &escape).await,
            Err(PlaceError::Escapes(_))
        ));
        assert!(matches!(
            store.fingerprint("/etc/passwd").await,
            Err(PlaceError::Escapes(_))
        ));
    }
}
