//! What a repair would do, worked out from a survey without touching anything.

use std::collections::{HashMap, HashSet};

use super::survey::Survey;
use super::{CONVERTED_AUDIO, DOWNLOADED_AUDIO, audio_mime, extension_of};
use crate::domain::asin::Asin;
use crate::domain::book::{Book, BookStatus, BookUpdate};
use crate::domain::file::{FileKind, StoredFile};
use crate::domain::format::OutputFormat;
use crate::domain::local_item::{LocalItem, NewLocalItem};
use crate::ports::{DiskArea, DiskFile};

/// A registered file found under another name in its area: same file name or, failing that,
/// the only file of its size and extension that nothing claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// The row as registered.
    pub file: StoredFile,
    /// Where the file is now.
    pub to: DiskFile,
}

/// A file on disk that no row names, whose path carries the ASIN of a book in the library:
/// it becomes that book's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    /// The book.
    pub asin: Asin,
    /// What it becomes.
    pub kind: FileKind,
    /// Its `Content-Type`.
    pub mime: String,
    /// The file.
    pub file: DiskFile,
}

/// A converted file that repeats another: an unregistered copy of the same size and format
/// as a registered one, or a second registered output of a book in the format of its main one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The copy.
    pub path: String,
    /// Its row, when it is registered.
    pub registered: Option<StoredFile>,
    /// The file that is kept.
    pub of: String,
}

/// Everything a repair would change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepairPlan {
    /// Rows whose file moved: they follow it.
    pub moved: Vec<Moved>,
    /// Rows whose file is nowhere: they are removed.
    pub missing: Vec<StoredFile>,
    /// Unregistered files that belong to a book: registered for it.
    pub adopted: Vec<Adopted>,
    /// Unregistered converted audio of no book in the library: listed as local items.
    pub new_local_items: Vec<NewLocalItem>,
    /// Unregistered AAX/AAXC files of no book in the library: reported, left in place.
    pub unknown_downloads: Vec<DiskFile>,
    /// Local items whose file is gone: forgotten.
    pub gone_local_items: Vec<LocalItem>,
    /// Copies of converted files: reported, deleted only when the settings say so.
    pub duplicates: Vec<Duplicate>,
    /// Books whose paths or status no longer say what is on disk, and what they become.
    pub books: Vec<(Asin, BookUpdate)>,
}

impl RepairPlan {
    /// Whether the repair has nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The plan for `survey`.
    pub fn of(survey: &Survey) -> Self {
        let mut plan = Self::default();
        let on_disk: HashMap<&str, &DiskFile> = survey
            .downloads
            .iter()
            .chain(&survey.converted)
            .chain(&survey.elsewhere)
            .map(|f| (f.path.as_str(), f))
            .collect();
        let claimed: HashSet<&str> = survey
            .files
            .iter()
            .map(|f| f.path.as_str())
            .chain(survey.local_items.iter().map(|i| i.path.as_str()))
            .chain(survey.in_flight.iter().map(String::as_str))
            .collect();
        let mut unclaimed: Vec<(DiskArea, &DiskFile)> = survey
            .downloads
            .iter()
            .map(|f| (DiskArea::Downloads, f))
            .chain(survey.converted.iter().map(|f| (DiskArea::Converted, f)))
            .filter(|(_, f)| !claimed.contains(f.path.as_str()))
            .collect();

        // Registered files: present, moved, or missing.
        let mut present: Vec<StoredFile> = Vec::new();
        for file in &survey.files {
            if on_disk.contains_key(file.path.as_str()) {
                present.push(file.clone());
            } else if let Some(at) = moved_to(file, &unclaimed) {
                let (_, to) = unclaimed.remove(at);
                plan.moved.push(Moved {
                    file: file.clone(),
                    to: to.clone(),
                });
                present.push(StoredFile {
                    path: to.path.clone(),
                    ..file.clone()
                });
            } else {
                plan.missing.push(file.clone());
            }
        }
        plan.gone_local_items = survey
            .local_items
            .iter()
            .filter(|i| !on_disk.contains_key(i.path.as_str()))
            .cloned()
            .collect();

        let books: HashMap<&Asin, &Book> =
            survey.books.iter().map(|b| (&b.record.asin, b)).collect();
        plan.duplicates = registered_duplicates(&books, &present);
        // Registered single-file outputs by size and format: what an unregistered copy repeats
        // (looked up once per file, not searched for).
        let mut outputs_by_size: HashMap<(u64, String), &StoredFile> = HashMap::new();
        for output in present.iter().filter(|r| r.kind == FileKind::Converted) {
            if let (Ok(size), Some(ext)) = (u64::try_from(output.size), extension_of(&output.path))
            {
                outputs_by_size.entry((size, ext)).or_insert(output);
            }
        }
        let mut adopted_files: Vec<StoredFile> = Vec::new();
        for (area, file) in unclaimed {
            let Some(ext) = extension_of(&file.path) else {
                continue;
            };
            let audio = match area {
                DiskArea::Downloads => DOWNLOADED_AUDIO.contains(&ext.as_str()),
                DiskArea::Converted => CONVERTED_AUDIO.contains(&ext.as_str()),
            };
            if !audio {
                continue;
            }
            let copy_of = (area == DiskArea::Converted)
                .then(|| outputs_by_size.get(&(file.size, ext.clone())))
                .flatten();
            if let Some(original) = copy_of {
                plan.duplicates.push(Duplicate {
                    path: file.path.clone(),
                    registered: None,
                    of: original.path.clone(),
                });
                continue;
            }
            match (asin_in_path(&file.path, &books), area) {
                (Some(asin), _) => {
                    let (kind, mime) = kind_and_mime(&ext, area);
                    adopted_files.push(StoredFile {
                        id: uuid::Uuid::nil(),
                        asin: asin.clone(),
                        kind,
                        path: file.path.clone(),
                        size: i64::try_from(file.size).unwrap_or(i64::MAX),
                        mime: mime.clone(),
                        created_at: time::OffsetDateTime::UNIX_EPOCH,
                    });
                    plan.adopted.push(Adopted {
                        asin,
                        kind,
                        mime,
                        file: file.clone(),
                    });
                }
                (None, DiskArea::Converted) => plan.new_local_items.push(local_item_of(file, &ext)),
                (None, DiskArea::Downloads) => plan.unknown_downloads.push(file.clone()),
            }
        }

        let deleted: HashSet<&str> = plan
            .duplicates
            .iter()
            .filter_map(|d| d.registered.as_ref().map(|r| r.path.as_str()))
            .collect();
        let mut after: HashMap<&Asin, Vec<&StoredFile>> = HashMap::new();
        for file in present.iter().chain(&adopted_files) {
            if !deleted.contains(file.path.as_str()) {
                after.entry(&file.asin).or_default().push(file);
            }
        }
        for book in &survey.books {
            let files = after.get(&book.record.asin).map_or(&[][..], Vec::as_slice);
            if let Some(update) = settled(book, files) {
                plan.books.push((book.record.asin.clone(), update));
            }
        }
        plan
    }
}

/// Where in `unclaimed` the file of `row` went: a file of the same name and size in its
/// area, else the only one of its size and extension there.
fn moved_to(row: &StoredFile, unclaimed: &[(DiskArea, &DiskFile)]) -> Option<usize> {
    let area = area_of(row.kind);
    let size = u64::try_from(row.size).ok()?;
    let name = std::path::Path::new(&row.path).file_name();
    let candidates: Vec<usize> = unclaimed
        .iter()
        .enumerate()
        .filter(|(_, (a, f))| *a == area && f.size == size)
        .map(|(i, _)| i)
        .collect();
    candidates
        .iter()
        .copied()
        .find(|&i| std::path::Path::new(&unclaimed[i].1.path).file_name() == name)
        .or_else(|| {
            let ext = extension_of(&row.path);
            let same_ext: Vec<usize> = candidates
                .into_iter()
                .filter(|&i| extension_of(&unclaimed[i].1.path) == ext)
                .collect();
            (same_ext.len() == 1).then(|| same_ext[0])
        })
}

/// The area a file of `kind` is kept in.
fn area_of(kind: FileKind) -> DiskArea {
    match kind {
        FileKind::Converted | FileKind::ConvertedChapter | FileKind::Playlist => {
            DiskArea::Converted
        }
        FileKind::Aax
        | FileKind::Aaxc
        | FileKind::Voucher
        | FileKind::Chapters
        | FileKind::Cover
        | FileKind::Pdf => DiskArea::Downloads,
    }
}

/// The first ASIN-shaped word of `path` that names a book of `books`.
fn asin_in_path(path: &str, books: &HashMap<&Asin, &Book>) -> Option<Asin> {
    path.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| word.len() == 10)
        .filter_map(|word| Asin::parse(&word.to_ascii_uppercase()).ok())
        .find(|asin| books.contains_key(asin))
}

/// What an adopted file of extension `ext` in `area` is registered as.
fn kind_and_mime(ext: &str, area: DiskArea) -> (FileKind, String) {
    match (area, ext) {
        (DiskArea::Downloads, "aaxc") => (FileKind::Aaxc, "audio/vnd.audible.aax".into()),
        (DiskArea::Downloads, _) => (FileKind::Aax, "audio/vnd.audible.aax".into()),
        (DiskArea::Converted, _) => (FileKind::Converted, audio_mime(ext).into()),
    }
}

/// A local item for an unclaimed converted file: named after the file until its tags are read.
fn local_item_of(file: &DiskFile, ext: &str) -> NewLocalItem {
    let title = std::path::Path::new(&file.path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| file.path.clone());
    NewLocalItem {
        asin: None,
        title,
        authors: None,
        path: file.path.clone(),
        format: Some(ext.to_owned()),
        size: i64::try_from(file.size).unwrap_or(i64::MAX),
        mime: audio_mime(ext).to_owned(),
    }
}

/// Registered outputs of a book that repeat its main one's format under another name.
fn registered_duplicates(books: &HashMap<&Asin, &Book>, present: &[StoredFile]) -> Vec<Duplicate> {
    let present_paths: HashSet<&str> = present.iter().map(|f| f.path.as_str()).collect();
    let mut duplicates = Vec::new();
    for file in present.iter().filter(|f| f.kind == FileKind::Converted) {
        let Some(main) = books
            .get(&file.asin)
            .and_then(|b| b.local_path_converted.as_deref())
        else {
            continue;
        };
        let main_present = present_paths.contains(main);
        if main_present && file.path != main && extension_of(&file.path) == extension_of(main) {
            duplicates.push(Duplicate {
                path: file.path.clone(),
                registered: Some(file.clone()),
                of: main.to_owned(),
            });
        }
    }
    duplicates
}

/// What `book` becomes when `files` are all it has on disk; `None` when it already says so.
/// A book being downloaded or converted is left to its job.
fn settled(book: &Book, files: &[&StoredFile]) -> Option<BookUpdate> {
    if matches!(
        book.status,
        BookStatus::Downloading | BookStatus::Converting
    ) {
        return None;
    }
    let has = |path: &Option<String>| {
        path.as_ref()
            .is_some_and(|p| files.iter().any(|f| &f.path == p))
    };
    let first = |kinds: &[FileKind]| {
        kinds
            .iter()
            .find_map(|k| files.iter().find(|f| f.kind == *k))
            .map(|f| f.path.clone())
    };
    let keep_or = |current: &Option<String>, kinds: &[FileKind]| {
        if has(current) {
            current.clone()
        } else {
            first(kinds)
        }
    };
    let aax = keep_or(&book.local_path_aax, &[FileKind::Aaxc, FileKind::Aax]);
    let voucher = keep_or(&book.local_path_voucher, &[FileKind::Voucher]);
    let cover = keep_or(&book.local_path_cover, &[FileKind::Cover]);
    let converted = keep_or(
        &book.local_path_converted,
        &[FileKind::Converted, FileKind::ConvertedChapter],
    );
    let mut update = BookUpdate::default();
    let mut changed = false;
    for (now, then, field) in [
        (&aax, &book.local_path_aax, &mut update.local_path_aax),
        (
            &voucher,
            &book.local_path_voucher,
            &mut update.local_path_voucher,
        ),
        (&cover, &book.local_path_cover, &mut update.local_path_cover),
        (
            &converted,
            &book.local_path_converted,
            &mut update.local_path_converted,
        ),
    ] {
        if now != then {
            *field = Some(now.clone());
            changed = true;
        }
    }
    if converted != book.local_path_converted {
        update.conversion_format = Some(
            converted
                .as_deref()
                .and_then(extension_of)
                .and_then(|e| e.parse::<OutputFormat>().ok()),
        );
    }
    let by_files = if converted.is_some() {
        BookStatus::Completed
    } else if aax.is_some() {
        BookStatus::Downloaded
    } else {
        BookStatus::New
    };
    // A failure stays on show until its files change: the person should see why.
    let keeps_status = book.status == by_files || (book.status == BookStatus::Failed && !changed);
    if !keeps_status {
        update.status = Some(by_files);
        if book.status == BookStatus::Failed {
            update.error_message = Some(None);
        }
        changed = true;
    }
    changed.then_some(update)
}
