//! Import: adopt a folder of audio converted elsewhere (Libation, OpenAudible, AAXtoMP3)
//! without downloading anything again.
//!
//! The IMPORT job walks the folder (never leaving it), reads each audio file's tags, takes a
//! folder of chapter files of one album as one item, and matches each item to a book of the
//! library ([`matching`]). A match becomes the book's converted file (an AAX/AAXC its
//! download), put into the data directory by the mode asked for; anything else becomes a local
//! item. Nothing is overwritten: a file already in place with the same bytes counts as
//! imported, so importing a folder again changes nothing.

mod grouping;
pub mod matching;
mod placing;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::book::{Book, BookStatus, BookUpdate};
use crate::domain::file::{FileKind, NewStoredFile};
use crate::domain::format::OutputFormat;
use crate::domain::job::TaskType;
use crate::domain::job_spec::{ImportMode, JobSpec};
use crate::domain::local_item::NewLocalItem;
use crate::domain::naming::{NamingScheme, safe_file_name, safe_relative_path};
use crate::ports::{
    BookTags, DiskFile, JobContext, JobEffects, JobFailure, JobHandler, LibraryDisk, LibraryRepo,
    LocalItemStore, OutputStore, SettingsStore, TagReader,
};
use crate::repair::{CONVERTED_AUDIO, DOWNLOADED_AUDIO, audio_mime, extension_of};
use grouping::{Found, Item, items_of};
use matching::{Evidence, match_book};

/// The data directory's folders an import puts files into.
#[derive(Debug, Clone)]
pub struct ImportTargets {
    /// `<data>/converted`.
    pub converted: String,
    /// `<data>/downloads`.
    pub downloads: String,
}

/// Runs IMPORT jobs.
pub struct ImportLibrary {
    library: Arc<dyn LibraryRepo>,
    local_items: Arc<dyn LocalItemStore>,
    disk: Arc<dyn LibraryDisk>,
    tags: Arc<dyn TagReader>,
    space: Arc<dyn OutputStore>,
    settings: Arc<dyn SettingsStore>,
    targets: ImportTargets,
}

/// The person's naming schemes, which place adopted books as conversions place them.
#[derive(Debug, Clone, Default)]
struct Schemes {
    dir: Option<NamingScheme>,
    file: Option<NamingScheme>,
}

/// What an import did, for its status message.
#[derive(Debug, Default)]
struct Tally {
    books: usize,
    local_items: usize,
    already: usize,
    skipped: usize,
}

impl ImportLibrary {
    /// An import into `targets`, recording in `library` and `local_items`, moving files with
    /// `disk`, reading tags with `tags`, checking free space in `space` before copying, and
    /// naming adopted books by the naming schemes of `settings`.
    pub fn new(
        library: Arc<dyn LibraryRepo>,
        local_items: Arc<dyn LocalItemStore>,
        disk: Arc<dyn LibraryDisk>,
        tags: Arc<dyn TagReader>,
        space: Arc<dyn OutputStore>,
        settings: Arc<dyn SettingsStore>,
        targets: ImportTargets,
    ) -> Self {
        Self {
            library,
            local_items,
            disk,
            tags,
            space,
            settings,
            targets,
        }
    }

    /// The audio files under `root`, with their tags; what cannot be read is logged and left.
    async fn survey(
        &self,
        root: &str,
        ctx: &dyn JobContext,
        tally: &mut Tally,
    ) -> Result<Vec<Found>, JobFailure> {
        let files =
            self.disk.walk(root).await.map_err(|e| {
                JobFailure::permanent(format!("cannot read the folder to import: {e}"))
            })?;
        let mut found = Vec::new();
        for file in files {
            let Some(ext) = extension_of(&file.path) else {
                continue;
            };
            if !CONVERTED_AUDIO.contains(&ext.as_str()) && !DOWNLOADED_AUDIO.contains(&ext.as_str())
            {
                continue;
            }
            let relative = file
                .path
                .strip_prefix(root)
                .unwrap_or(&file.path)
                .trim_start_matches('/')
                .to_owned();
            match self.tags.read_tags(&file.path).await {
                Ok(tags) => found.push(Found {
                    file,
                    relative,
                    tags,
                }),
                Err(e) => {
                    ctx.log(&format!(
                        "skipped: {relative} cannot be read as audio ({e})"
                    ));
                    tally.skipped += 1;
                }
            }
        }
        Ok(found)
    }

    /// Puts `from` at `to` (or a free name beside it), unless the same bytes are there
    /// already; returns the final path and whether it was already there.
    async fn put(
        &self,
        from: &DiskFile,
        to: &Path,
        mode: ImportMode,
        ctx: &dyn JobContext,
    ) -> Result<(String, bool), String> {
        placing::put(self.disk.as_ref(), from, to, mode, ctx).await
    }

    async fn adopt(
        &self,
        item: &Item,
        book: &Book,
        mode: ImportMode,
        schemes: &Schemes,
        ctx: &dyn JobContext,
    ) -> Result<Adopted, String> {
        let asin = &book.record.asin;
        if matches!(
            book.status,
            BookStatus::Downloading | BookStatus::Converting
        ) {
            return Ok(Adopted::Skipped(format!(
                "{asin} is being downloaded or converted"
            )));
        }
        let download = item.is_download();
        let existing = if download {
            &book.local_path_aax
        } else {
            &book.local_path_converted
        };
        if let Some(existing) = existing {
            let first = &item.files[0].file;
            let same = self
                .disk
                .same_content(&first.path, existing)
                .await
                .unwrap_or(false);
            return Ok(if same {
                Adopted::Already
            } else {
                Adopted::Skipped(format!("{asin} already has {existing}"))
            });
        }
        let chapters = item.files.len() > 1;
        let (folder, stem) = if download {
            (Path::new(&self.targets.downloads).join(asin.as_str()), None)
        } else {
            let (dir, stem) =
                BookTags::of(book).book_paths(schemes.dir.as_ref(), schemes.file.as_ref());
            // Chapter files keep their own names: their order is in them.
            (
                Path::new(&self.targets.converted).join(dir),
                (!chapters).then_some(stem),
            )
        };
        let mut placed = Vec::new();
        for found in &item.files {
            let name = match (&stem, extension_of(&found.file.path)) {
                (Some(stem), Some(ext)) => format!("{stem}.{ext}"),
                _ => Path::new(&found.file.path)
                    .file_name()
                    .map_or_else(|| "_".into(), |n| safe_file_name(&n.to_string_lossy())),
            };
            let (path, _) = self.put(&found.file, &folder.join(name), mode, ctx).await?;
            let ext = extension_of(&path).unwrap_or_default();
            let kind = match (download, ext.as_str(), chapters) {
                (true, "aaxc", _) => FileKind::Aaxc,
                (true, _, _) => FileKind::Aax,
                (false, _, true) => FileKind::ConvertedChapter,
                (false, _, false) => FileKind::Converted,
            };
            let mime = if download {
                "audio/vnd.audible.aax".to_owned()
            } else {
                audio_mime(&ext).to_owned()
            };
            self.library
                .add_file(NewStoredFile {
                    asin: asin.clone(),
                    kind,
                    path: path.clone(),
                    size: i64::try_from(found.file.size).unwrap_or(i64::MAX),
                    mime,
                })
                .await
                .map_err(|e| e.to_string())?;
            placed.push(path);
        }
        let first = placed.first().cloned();
        let update = if download {
            BookUpdate {
                local_path_aax: Some(first),
                status: (book.local_path_converted.is_none()).then_some(BookStatus::Downloaded),
                error_message: Some(None),
                ..BookUpdate::default()
            }
        } else {
            BookUpdate {
                conversion_format: Some(
                    first
                        .as_deref()
                        .and_then(extension_of)
                        .and_then(|e| e.parse::<OutputFormat>().ok()),
                ),
                local_path_converted: Some(first),
                status: Some(BookStatus::Completed),
                error_message: Some(None),
                ..BookUpdate::default()
            }
        };
        self.library
            .update_book(asin, update)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Adopted::Placed(placed))
    }

    async fn keep_as_local_items(
        &self,
        item: &Item,
        mode: ImportMode,
        ctx: &dyn JobContext,
    ) -> Result<usize, String> {
        let mut added = 0;
        for found in &item.files {
            let to = Path::new(&self.targets.converted)
                .join("Imported")
                .join(safe_relative_path(&found.relative));
            let (path, already) = self.put(&found.file, &to, mode, ctx).await?;
            let tags = &found.tags.tags;
            // An audiobook's album is the book; its title is often a chapter's.
            let title = tags
                .get("album")
                .or_else(|| tags.get("title"))
                .cloned()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| {
                    Path::new(&path)
                        .file_stem()
                        .map_or_else(|| path.clone(), |s| s.to_string_lossy().into_owned())
                });
            let ext = extension_of(&path).unwrap_or_default();
            self.local_items
                .add_local_item(NewLocalItem {
                    asin: matching::asin_in_tags(Some(tags)),
                    title,
                    authors: tags
                        .get("artist")
                        .or_else(|| tags.get("album_artist"))
                        .cloned(),
                    path: path.clone(),
                    format: Some(ext.clone()),
                    size: i64::try_from(found.file.size).unwrap_or(i64::MAX),
                    mime: audio_mime(&ext).to_owned(),
                })
                .await
                .map_err(|e| e.to_string())?;
            if !already {
                ctx.log(&format!(
                    "local item: {} (no book of the library matches it) at {path}",
                    found.relative
                ));
                added += 1;
            }
        }
        Ok(added)
    }
}

/// What adopting an item for a book did.
enum Adopted {
    /// Put in place and recorded, at these paths.
    Placed(Vec<String>),
    /// The book already has these very bytes.
    Already,
    /// Left alone, for this reason.
    Skipped(String),
}

#[async_trait]
impl JobHandler for ImportLibrary {
    async fn run(&self, ctx: &dyn JobContext) -> Result<JobEffects, JobFailure> {
        let params = match &ctx.job().spec {
            JobSpec::Import(params) => params.clone(),
            other => return Err(JobFailure::wrong_spec(other, TaskType::Import)),
        };
        ctx.progress(0.0, Some("reading the folder"));
        let mut tally = Tally::default();
        let found = self.survey(&params.path, ctx, &mut tally).await?;
        if params.mode != ImportMode::Link {
            let total: u64 = found.iter().map(|f| f.file.size).sum();
            crate::free_space::ensure_free_space(self.space.as_ref(), total, "the import").await?;
        }
        let schemes = match self.settings.load().await {
            Ok(settings) => Schemes {
                dir: NamingScheme::parse(&settings.dir_naming_scheme, false).ok(),
                file: NamingScheme::parse(&settings.file_naming_scheme, false).ok(),
            },
            Err(e) => {
                ctx.log(&format!(
                    "the settings cannot be read ({e}): AAXtoMP3's default names are used"
                ));
                Schemes::default()
            }
        };
        let books =
            self.library.library_books().await.map_err(|e| {
                JobFailure::new(crate::ports::FailureClass::Transient, e.to_string())
            })?;
        let items = items_of(found);
        ctx.log(&format!(
            "{} items to import from {}",
            items.len(),
            params.path
        ));
        let count = items.len().max(1);
        for (i, item) in items.iter().enumerate() {
            let first = &item.files[0];
            let relative = if item.files.len() > 1 {
                Path::new(&first.relative)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            } else {
                first.relative.clone()
            };
            let evidence = Evidence {
                tags: Some(&first.tags.tags),
                relative_path: &relative,
                duration_ms: item.duration_ms(),
            };
            let outcome = match match_book(&evidence, &books) {
                Some((book, how)) => match self.adopt(item, book, params.mode, &schemes, ctx).await
                {
                    Ok(Adopted::Placed(paths)) => {
                        ctx.log(&format!(
                            "book {}: {relative} matched by {how}; now at {}",
                            book.record.asin,
                            paths.join(", ")
                        ));
                        tally.books += 1;
                        Ok(())
                    }
                    Ok(Adopted::Already) => {
                        ctx.log(&format!(
                            "already imported: {relative} is {}'s",
                            book.record.asin
                        ));
                        tally.already += 1;
                        Ok(())
                    }
                    Ok(Adopted::Skipped(why)) => {
                        ctx.log(&format!("left alone: {relative}: {why}"));
                        tally.skipped += 1;
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
                None => self
                    .keep_as_local_items(item, params.mode, ctx)
                    .await
                    .map(|added| {
                        tally.local_items += added;
                        tally.already += item.files.len() - added;
                    }),
            };
            if let Err(e) = outcome {
                ctx.log(&format!("not imported: {relative}: {e}"));
                tally.skipped += 1;
            }
            ctx.progress(100.0 * (i + 1) as f64 / count as f64, None);
        }
        let message = format!(
            "{} books adopted, {} new local items, {} already imported, {} left alone",
            tally.books, tally.local_items, tally.already, tally.skipped
        );
        ctx.progress(100.0, Some(&message));
        Ok(JobEffects::default())
    }
}
