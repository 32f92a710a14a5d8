#![doc = include_str!("../README.md")]

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use earmark_core::ImportMode;
use earmark_core::ports::{DiskArea, DiskError, DiskFile, LibraryDisk, Placed};
use rustix::fs::{CWD, RenameFlags};

/// The data directory's `downloads` and `converted` folders.
#[derive(Debug, Clone)]
pub struct FsLibraryDisk {
    downloads: PathBuf,
    converted: PathBuf,
}

impl FsLibraryDisk {
    /// The disk under the data directory `root` (absolute).
    pub fn new(root: &Path) -> Self {
        Self {
            downloads: root.join("downloads"),
            converted: root.join("converted"),
        }
    }
}

fn disk_error(what: String) -> impl FnOnce(io::Error) -> DiskError {
    move |e| DiskError {
        what,
        source: Box::new(e),
    }
}

/// Runs `work` on the blocking pool.
async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T, DiskError> + Send + 'static,
) -> Result<T, DiskError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DiskError {
            what: what.to_owned(),
            source: Box::new(e),
        })?
}

/// The regular files under `root`, depth first, sorted by path; a missing root has none.
fn walk(root: &Path) -> Result<Vec<DiskFile>, DiskError> {
    let mut found = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    let mut first = true;
    while let Some(folder) = folders.pop() {
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if first && e.kind() == io::ErrorKind::NotFound => return Ok(found),
            Err(e) if first => {
                return Err(disk_error(format!("reading {}", folder.display()))(e));
            }
            Err(e) => {
                tracing::warn!(folder = %folder.display(), error = %e, "folder skipped: cannot read it");
                continue;
            }
        };
        first = false;
        for entry in entries.flatten() {
            // symlink_metadata: a link is neither followed nor listed.
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                folders.push(entry.path());
            } else if meta.is_file() {
                if let Some(path) = entry.path().to_str() {
                    found.push(DiskFile {
                        path: path.to_owned(),
                        size: meta.len(),
                        inode: meta.ino(),
                    });
                } else {
                    tracing::warn!(path = ?entry.path(), "file skipped: its name is not UTF-8");
                }
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// Whether two readers yield the same bytes.
fn same_bytes(mut a: impl Read, mut b: impl Read) -> io::Result<bool> {
    let (mut left, mut right) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = read_full(&mut a, &mut left)?;
        let m = read_full(&mut b, &mut right)?;
        if n != m || left[..n] != right[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Fills `buf` as far as the reader goes; fewer bytes only at its end.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Renames `from` to `to` unless something is at `to` (atomically where the file system can).
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    match rustix::fs::renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        // File systems without the flag: the check and the rename are two steps there.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            if to.symlink_metadata().is_ok() {
                return Err(io::ErrorKind::AlreadyExists.into());
            }
            fs::rename(from, to)
        }
        Err(e) => Err(e.into()),
    }
}

/// Copies `from` to a hidden name in `to`'s folder, syncs it, then renames it to `to`:
/// no partial file is ever visible under `to`.
fn copy_into_place(from: &Path, to: &Path) -> io::Result<()> {
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = to.with_file_name(format!(".{name}.earmark-import"));
    let copied = fs::copy(from, &temp).and_then(|_| File::open(&temp)?.sync_all());
    let placed = copied.and_then(|()| rename_noreplace(&temp, to));
    if placed.is_err() {
        let _ = fs::remove_file(&temp);
    }
    placed
}

/// [`LibraryDisk::place`] on the file system.
fn place(from: &Path, to: &Path, mode: ImportMode) -> io::Result<Placed> {
    if let Some(folder) = to.parent() {
        fs::create_dir_all(folder)?;
    }
    if to.symlink_metadata().is_ok() {
        return Err(io::ErrorKind::AlreadyExists.into());
    }
    let cross_device =
        |e: &io::Error| e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error());
    match mode {
        ImportMode::Link => match fs::hard_link(from, to) {
            Ok(()) => Ok(Placed::Linked),
            Err(e) if cross_device(&e) => {
                copy_into_place(from, to).map(|()| Placed::CopiedInsteadOfLink)
            }
            Err(e) => Err(e),
        },
        ImportMode::Copy => copy_into_place(from, to).map(|()| Placed::Copied),
        ImportMode::Move => match rename_noreplace(from, to) {
            Ok(()) => Ok(Placed::Moved),
            Err(e) if cross_device(&e) => {
                copy_into_place(from, to)?;
                fs::remove_file(from)?;
                Ok(Placed::Moved)
            }
            Err(e) => Err(e),
        },
    }
}

#[async_trait]
impl LibraryDisk for FsLibraryDisk {
    async fn walk(&self, root: &str) -> Result<Vec<DiskFile>, DiskError> {
        let root = PathBuf::from(root);
        blocking("reading a folder", move || {
            if !root.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                return Err(DiskError {
                    what: format!("{} is not a folder", root.display()),
                    source: Box::new(io::Error::from(io::ErrorKind::NotFound)),
                });
            }
            walk(&root)
        })
        .await
    }

    async fn place(&self, from: &str, to: &str, mode: ImportMode) -> Result<Placed, DiskError> {
        let (from, to) = (PathBuf::from(from), PathBuf::from(to));
        blocking("placing a file", move || {
            place(&from, &to, mode).map_err(disk_error(format!(
                "putting {} at {}",
                from.display(),
                to.display()
            )))
        })
        .await
    }

    async fn scan(&self, area: DiskArea) -> Result<Vec<DiskFile>, DiskError> {
        let root = match area {
            DiskArea::Downloads => self.downloads.clone(),
            DiskArea::Converted => self.converted.clone(),
        };
        blocking("scanning the data directory", move || walk(&root)).await
    }

    async fn stat(&self, path: &str) -> Result<Option<DiskFile>, DiskError> {
        let path = path.to_owned();
        blocking("measuring a file", move || {
            match Path::new(&path).symlink_metadata() {
                Ok(meta) if meta.is_file() => Ok(Some(DiskFile {
                    size: meta.len(),
                    inode: meta.ino(),
                    path,
                })),
                Ok(_) => Ok(None),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(disk_error(format!("measuring {path}"))(e)),
            }
        })
        .await
    }

    async fn same_content(&self, a: &str, b: &str) -> Result<bool, DiskError> {
        let (a, b) = (a.to_owned(), b.to_owned());
        blocking("comparing two files", move || {
            let left = File::open(&a).map_err(disk_error(format!("reading {a}")))?;
            let right = File::open(&b).map_err(disk_error(format!("reading {b}")))?;
            same_bytes(io::BufReader::new(left), io::BufReader::new(right))
                .map_err(disk_error(format!("comparing {a} with {b}")))
        })
        .await
    }

    async fn remove(&self, path: &str) -> Result<(), DiskError> {
        let path = path.to_owned();
        blocking("deleting a file", move || match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(disk_error(format!("deleting {path}"))(e)),
        })
        .await
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[tokio::test]
    async fn files_are_listed_links_are_not_and_copies_are_recognised() {
        let root = tempfile::tempdir().unwrap();
        let converted = root.path().join("converted");
        fs::create_dir_all(converted.join("Author/Book")).unwrap();
        fs::write(converted.join("Author/Book/Book.m4b"), b"audio").unwrap();
        fs::write(converted.join("copy.m4b"), b"audio").unwrap();
        fs::write(converted.join("other.m4b"), b"audiO").unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.mp3"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), converted.join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.mp3"), converted.join("l.mp3"))
            .unwrap();

        let disk = FsLibraryDisk::new(root.path());
        let found = disk.scan(DiskArea::Converted).await.unwrap();
        let names: Vec<&str> = found
            .iter()
            .map(|f| f.path.strip_prefix(converted.to_str().unwrap()).unwrap())
            .collect();
        assert_eq!(names, ["/Author/Book/Book.m4b", "/copy.m4b", "/other.m4b"]);
        assert!(found.iter().all(|f| f.size == 5));
        assert!(
            disk.scan(DiskArea::Downloads).await.unwrap().is_empty(),
            "no folder yet"
        );

        let book = found[0].path.clone();
        assert!(disk.same_content(&book, &found[1].path).await.unwrap());
        assert!(!disk.same_content(&book, &found[2].path).await.unwrap());
        let link = converted.join("l.mp3");
        assert_eq!(disk.stat(link.to_str().unwrap()).await.unwrap(), None);
        assert_eq!(disk.stat(&book).await.unwrap().map(|f| f.size), Some(5));

        disk.remove(&found[1].path).await.unwrap();
        disk.remove(&found[1].path).await.unwrap();
        assert_eq!(disk.stat(&found[1].path).await.unwrap(), None);
        assert!(outside.path().join("secret.mp3").exists());
    }

    #[tokio::test]
    async fn placing_links_copies_and_moves_but_never_replaces() {
        let root = tempfile::tempdir().unwrap();
        let source = root.path().join("in/book.m4b");
        fs::create_dir_all(source.parent().unwrap()).unwrap();
        fs::write(&source, b"audio").unwrap();
        let disk = FsLibraryDisk::new(root.path());
        let at = |name: &str| root.path().join("converted/A/B").join(name);
        let (src, linked) = (source.to_str().unwrap(), at("linked.m4b"));
        assert_eq!(
            disk.place(src, linked.to_str().unwrap(), ImportMode::Link)
                .await
                .unwrap(),
            Placed::Linked
        );
        assert_eq!(
            linked.metadata().unwrap().ino(),
            source.metadata().unwrap().ino()
        );
        assert!(
            disk.place(src, linked.to_str().unwrap(), ImportMode::Copy)
                .await
                .is_err()
        );
        let copied = at("copied.m4b");
        disk.place(src, copied.to_str().unwrap(), ImportMode::Copy)
            .await
            .unwrap();
        assert_ne!(
            copied.metadata().unwrap().ino(),
            source.metadata().unwrap().ino()
        );
        assert_eq!(fs::read(&copied).unwrap(), b"audio");
        let moved = at("moved.m4b");
        disk.place(src, moved.to_str().unwrap(), ImportMode::Move)
            .await
            .unwrap();
        assert!(!source.exists() && moved.exists());
        let names: Vec<_> = fs::read_dir(at(""))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "no temporary file left: {names:?}");
        assert!(
            disk.walk(root.path().join("nowhere").to_str().unwrap())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_link_across_file_systems_becomes_a_copy_and_says_so() {
        // /dev/shm is a tmpfs on Linux machines: another file system than the temp dir's.
        let shm = Path::new("/dev/shm");
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir_in(shm).unwrap();
        if elsewhere.path().metadata().unwrap().dev() == root.path().metadata().unwrap().dev() {
            eprintln!("/dev/shm is on the temp dir's file system here: nothing to cross");
            return;
        }
        let source = elsewhere.path().join("book.m4b");
        fs::write(&source, b"audio").unwrap();
        let to = root.path().join("converted/book.m4b");
        let disk = FsLibraryDisk::new(root.path());
        let how = disk
            .place(
                source.to_str().unwrap(),
                to.to_str().unwrap(),
                ImportMode::Link,
            )
            .await
            .unwrap();
        assert_eq!(how, Placed::CopiedInsteadOfLink);
        assert_eq!(fs::read(&to).unwrap(), b"audio");
        assert!(source.exists(), "the original stays");
        let moved = root.path().join("converted/moved.m4b");
        let how = disk
            .place(
                source.to_str().unwrap(),
                moved.to_str().unwrap(),
                ImportMode::Move,
            )
            .await
            .unwrap();
        assert_eq!(how, Placed::Moved);
        assert!(!source.exists() && fs::read(&moved).unwrap() == b"audio");
    }

    #[test]
    fn lengths_and_tails_tell_files_apart() {
        assert!(same_bytes(&b""[..], &b""[..]).unwrap());
        assert!(!same_bytes(&b"abc"[..], &b"abcd"[..]).unwrap());
        let long = vec![7u8; 200_000];
        let mut other = long.clone();
        other[199_999] = 8;
        assert!(same_bytes(&long[..], &long[..]).unwrap());
        assert!(!same_bytes(&long[..], &other[..]).unwrap());
    }
}
