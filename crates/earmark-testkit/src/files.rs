//! Helpers the black-box tests share: the files under a folder, and running a test on a fresh
//! PostgreSQL database.

use std::path::{Path, PathBuf};

/// Every regular file under `dir`, at any depth, sorted; symbolic links are neither followed
/// nor listed.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match path.symlink_metadata() {
                Ok(meta) if meta.is_dir() => stack.push(path),
                Ok(meta) if meta.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Runs `test` with the URL of a fresh PostgreSQL database; skipped, saying so, where none
/// runs and this is not CI (in CI a missing PostgreSQL fails).
pub fn on_postgres(test: fn(Option<&str>)) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    if let Some(db) = runtime.block_on(earmark_db::testing::TestDb::postgres()) {
        test(Some(&db.url));
    }
}
