//! Turning a downloaded, encrypted book into open audio files, and putting them in place.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::domain::file::{FileKind, Fingerprint};
use crate::domain::format::{ConversionMode, OutputFormat};
use crate::domain::naming::NamingScheme;
use crate::domain::secret::ActivationBytes;
use crate::ports::JobContext;

/// The downloaded files of one book, as audible-cli laid them out side by side.
#[derive(Debug, Clone)]
pub struct ConversionInput {
    /// `<ASIN>-<codec>.aax` or `.aaxc`.
    pub audio: PathBuf,
    /// The `.voucher` beside an AAXC (its key and iv).
    pub voucher: Option<PathBuf>,
    /// `<ASIN>-chapters.json`.
    pub chapters: Option<PathBuf>,
    /// `<ASIN>_(500).jpg`.
    pub cover: Option<PathBuf>,
    /// The account's activation bytes; needed for AAX only.
    pub activation_bytes: Option<ActivationBytes>,
}

impl ConversionInput {
    /// Whether the audio is AAXC (decrypted with the voucher) rather than AAX.
    pub fn is_aaxc(&self) -> bool {
        self.audio
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("aaxc"))
    }
}

/// What the library knows of the book: tags for the outputs and values for naming schemes.
#[derive(Debug, Clone, Default)]
pub struct BookTags {
    /// Title.
    pub title: String,
    /// Authors, comma-separated.
    pub author: String,
    /// Narrators, comma-separated.
    pub narrator: String,
    /// Series title.
    pub series: String,
    /// Position in the series.
    pub series_sequence: String,
    /// Release year.
    pub year: String,
    /// Genre.
    pub genre: String,
}

impl BookTags {
    /// The tags a converted file of `book` gets, from its library record.
    pub fn of(book: &crate::domain::book::Book) -> Self {
        let record = &book.record;
        let genre = record
            .metadata_json
            .pointer("/category_ladders/0/ladder/0/name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("Audiobook");
        Self {
            title: record.title.clone(),
            author: record.author.clone().unwrap_or_default(),
            narrator: record.narrator.clone().unwrap_or_default(),
            series: record.series.clone().unwrap_or_default(),
            series_sequence: record.series_sequence.clone().unwrap_or_default(),
            year: record
                .release_date
                .as_deref()
                .map(|d| d.chars().take(4).collect())
                .unwrap_or_default(),
            genre: genre.to_owned(),
        }
    }

    /// A naming variable's value (and a chapter's `(title, number, count)`, when naming one),
    /// as AAXtoMP3 fills it.
    pub fn value(&self, chapter: Option<(&str, usize, usize)>, name: &str) -> String {
        let title = self.title.replace(" (Unabridged)", "");
        match name {
            "title" | "album" => title,
            "artist" | "album_artist" => self.author.clone(),
            "album_date" => self.year.clone(),
            "genre" => self.genre.clone(),
            "narrator" => self.narrator.clone(),
            "series" => self.series.clone(),
            "series_sequence" => self.series_sequence.clone(),
            "chapter" => chapter.map(|c| c.0.to_owned()).unwrap_or_default(),
            "chapternum" => chapter.map(|c| c.1.to_string()).unwrap_or_default(),
            "chaptercount" => chapter.map(|c| c.2.to_string()).unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// Where a single-file output of the book goes: its folder (relative, by `dir`, default
    /// AAXtoMP3's `$genre/$artist/$title`) and its file stem (by `file`, default `$title`).
    pub fn book_paths(
        &self,
        dir: Option<&NamingScheme>,
        file: Option<&NamingScheme>,
    ) -> (std::path::PathBuf, String) {
        let scheme_or = |default: &str, scheme: Option<&NamingScheme>| {
            scheme.cloned().unwrap_or_else(|| {
                NamingScheme::parse(default, false)
                    .unwrap_or_else(|_| unreachable!("the default schemes are valid"))
            })
        };
        let folder = scheme_or("$genre/$artist/$title", dir).render(|n| self.value(None, n));
        let stem = scheme_or("$title", file).render(|n| self.value(None, n));
        (
            crate::domain::naming::safe_relative_path(&folder),
            crate::domain::naming::safe_file_name(&stem),
        )
    }
}

/// One conversion to make.
#[derive(Debug, Clone)]
pub struct ConversionRequest {
    /// What to convert.
    pub input: ConversionInput,
    /// Tags and naming values.
    pub tags: BookTags,
    /// Output format.
    pub format: OutputFormat,
    /// One file, or one per chapter.
    pub mode: ConversionMode,
    /// Directory scheme (AAXtoMP3's `-D`); `None` for the default `$genre/$artist/$title`.
    pub dir_scheme: Option<NamingScheme>,
    /// File scheme (AAXtoMP3's `-F`); `None` for `$title`.
    pub file_scheme: Option<NamingScheme>,
    /// Chapter file scheme; `None` for `$title-<NN> $chapter`.
    pub chapter_scheme: Option<NamingScheme>,
    /// Compression level for mp3 (0–9), flac (0–12) or opus (0–10); `None`: the encoder's
    /// default.
    pub level: Option<u8>,
    /// An empty directory the outputs are written under, in their relative layout.
    pub out_dir: PathBuf,
    /// A book Audible handed out in parts: every part (its audio and key), in order, to be
    /// joined into one book with continuous chapters; `input` is then the first part with the
    /// book's own cover. Empty for a book in one file.
    pub parts: Vec<ConversionInput>,
}

/// One file a conversion produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducedFile {
    /// Where it is, relative to the request's `out_dir`; every component is a safe name.
    pub relative: PathBuf,
    /// What it is (converted, converted_chapter, playlist).
    pub kind: FileKind,
    /// Its `Content-Type`.
    pub mime: String,
}

/// What a finished conversion produced, verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversionOutput {
    /// The files, main audio first.
    pub files: Vec<ProducedFile>,
    /// Things the user should know that did not fail the job (a cover that could not be
    /// embedded).
    pub warnings: Vec<String>,
}

/// Why a conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The input is missing something it needs (voucher, activation bytes, side files).
    #[error("{0}")]
    BadInput(String),
    /// The tool could not be run, or ran and produced nothing usable.
    #[error("{0}")]
    Tool(String),
    /// Outputs exist but are wrong: missing, undecodable, too short.
    #[error("the outputs failed verification: {0}")]
    Verification(String),
    /// The job was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// The tool ran past its time limit.
    #[error("the converter did not finish within {0} s")]
    TimedOut(u64),
}

/// A conversion engine (AAXtoMP3, or ffmpeg directly).
#[async_trait]
pub trait Converter: Send + Sync {
    /// The engine's name, for logs and job messages.
    fn engine(&self) -> &'static str;

    /// Converts `request.input` into `request.out_dir`, reporting progress and log lines to
    /// `ctx`. Returns only after the outputs are verified: every expected file present and
    /// decodable, and their total duration within a second of the source's.
    ///
    /// # Errors
    /// [`ConvertError`].
    async fn convert(
        &self,
        request: &ConversionRequest,
        ctx: &dyn JobContext,
    ) -> Result<ConversionOutput, ConvertError>;
}

/// Where a staged file goes, and what is in its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMove {
    /// Its path relative to the staging directory and to the store, as given.
    pub relative: PathBuf,
    /// Its absolute final path.
    pub target: String,
    /// The staged file.
    pub staged: Fingerprint,
    /// The file now at the final path, if there is one.
    pub existing: Option<Fingerprint>,
}

/// One move for [`OutputStore::place`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The file, relative to the staging directory and to the store.
    pub relative: PathBuf,
    /// Whether a file at the final path may be replaced.
    pub replace: bool,
}

/// Why outputs could not be put in place.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// A file of that name is already there and may not be replaced.
    #[error("`{0}` already exists: convert with `force: true` to replace it")]
    Exists(String),
    /// A relative path tried to leave the output directory.
    #[error("`{0}` is not inside the output directory")]
    Escapes(String),
    /// The filesystem refused.
    #[error("cannot place converted files: {0}")]
    Io(String),
}

/// Where finished outputs live (`<data>/converted`, `<data>/downloads`).
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait OutputStore: Send + Sync {
    /// Bytes free on the filesystem that holds the outputs.
    ///
    /// # Errors
    /// [`PlaceError::Io`].
    async fn free_bytes(&self) -> Result<u64, PlaceError>;

    /// Where each of `files` (relative to the staging directory `from`) would go, with the
    /// staged file's fingerprint and that of whatever is at its final path now. Moves
    /// nothing.
    ///
    /// # Errors
    /// `Escapes` for a path that would leave the store; `Io` when a staged file is missing.
    async fn plan(&self, from: &Path, files: &[PathBuf]) -> Result<Vec<PlannedMove>, PlaceError>;

    /// Moves each file from `from` to the same relative path in the store with an atomic
    /// rename, so that a file appears whole under its final name or not at all. A file in
    /// the way is replaced only where its move says `replace`; otherwise the call fails with
    /// `Exists` and moves back what it had moved (a race with another writer is refused, not
    /// lost).
    ///
    /// # Errors
    /// [`PlaceError`].
    async fn place(&self, from: &Path, moves: &[Move]) -> Result<(), PlaceError>;

    /// The fingerprint of the file at `path` (an absolute final path in the store), `None`
    /// when nothing is there.
    ///
    /// # Errors
    /// `Escapes` for a path outside the store, `Io` when it cannot be read.
    async fn fingerprint(&self, path: &str) -> Result<Option<Fingerprint>, PlaceError>;
}
