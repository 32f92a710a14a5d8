//! Putting an imported file into the data directory without ever replacing one.

use std::path::{Path, PathBuf};

use crate::domain::job_spec::ImportMode;
use crate::ports::{DiskFile, JobContext, LibraryDisk, Placed};

/// Free names tried beside a taken one (`name (2).ext` ...).
const OTHER_NAMES: u32 = 50;

/// `to`, or `name (n).ext` beside it.
fn candidate(to: &Path, n: u32) -> PathBuf {
    if n == 1 {
        return to.to_owned();
    }
    let stem = to
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match to.extension() {
        Some(ext) => format!("{stem} ({n}).{}", ext.to_string_lossy()),
        None => format!("{stem} ({n})"),
    };
    to.with_file_name(name)
}

/// Puts `from` at `to` by `mode` (or at a free name beside it when another file is there);
/// when a file with the same bytes is already at one of those names, nothing is done. Returns
/// the path the file is at and whether it was there already.
pub(super) async fn put(
    disk: &dyn LibraryDisk,
    from: &DiskFile,
    to: &Path,
    mode: ImportMode,
    ctx: &dyn JobContext,
) -> Result<(String, bool), String> {
    for n in 1..=OTHER_NAMES {
        let target = candidate(to, n);
        let target = target.to_string_lossy().into_owned();
        match disk.stat(&target).await.map_err(|e| e.to_string())? {
            Some(there) => {
                let same = there.inode == from.inode
                    || (there.size == from.size
                        && disk
                            .same_content(&from.path, &target)
                            .await
                            .map_err(|e| e.to_string())?);
                if same {
                    return Ok((target, true));
                }
            }
            None => {
                let placed = disk
                    .place(&from.path, &target, mode)
                    .await
                    .map_err(|e| e.to_string())?;
                if placed == Placed::CopiedInsteadOfLink {
                    ctx.log(&format!(
                        "copied {} instead of linking it: a hard link cannot cross file systems",
                        from.path
                    ));
                }
                return Ok((target, false));
            }
        }
    }
    Err(format!(
        "{} and {OTHER_NAMES} names beside it are taken",
        to.display()
    ))
}
