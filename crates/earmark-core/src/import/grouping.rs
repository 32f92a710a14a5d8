//! What an import matches as one: a single file, or a folder of one album's chapter files.

use std::collections::BTreeMap;
use std::path::Path;

use crate::ports::{AudioTags, DiskFile};
use crate::repair::{CONVERTED_AUDIO, DOWNLOADED_AUDIO, extension_of};

/// One file of the folder, with what it says.
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub(super) file: DiskFile,
    pub(super) relative: String,
    pub(super) tags: AudioTags,
}

/// What is matched as one: a single file, or a folder of one album's chapter files.
#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) files: Vec<Found>,
}

impl Item {
    /// Whether it is an AAX/AAXC: a download, not a conversion.
    pub(super) fn is_download(&self) -> bool {
        self.files.iter().any(|f| {
            extension_of(&f.file.path).is_some_and(|e| DOWNLOADED_AUDIO.contains(&e.as_str()))
        })
    }

    /// Its whole length, when every file's is known.
    pub(super) fn duration_ms(&self) -> Option<u64> {
        self.files.iter().map(|f| f.tags.duration_ms).sum()
    }
}

/// The items of `found`: the files of a folder that hold one album's chapters (two or more
/// converted files, every one tagged with the same album) are one item; every other file is
/// an item of its own.
pub(super) fn items_of(found: Vec<Found>) -> Vec<Item> {
    let mut by_folder: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    for f in found {
        let folder = Path::new(&f.relative)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        by_folder.entry(folder).or_default().push(f);
    }
    let mut items = Vec::new();
    for (_, mut files) in by_folder {
        let album = files[0]
            .tags
            .tags
            .get("album")
            .cloned()
            .filter(|a| !a.trim().is_empty());
        let one_album = files.len() > 1
            && album.is_some()
            && files.iter().all(|f| {
                f.tags.tags.get("album") == album.as_ref()
                    && extension_of(&f.file.path)
                        .is_some_and(|e| CONVERTED_AUDIO.contains(&e.as_str()))
            });
        if one_album {
            files.sort_by_key(|f| (track_of(f), f.relative.clone()));
            items.push(Item { files });
        } else {
            items.extend(files.into_iter().map(|f| Item { files: vec![f] }));
        }
    }
    items
}

/// A file's track number (`3` of `3/12`), when tagged.
fn track_of(found: &Found) -> u32 {
    found
        .tags
        .tags
        .get("track")
        .and_then(|t| t.split('/').next())
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(u32::MAX)
}
