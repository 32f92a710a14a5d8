//! `GET /library/{asin}/details`: what a player's details view shows, in the web client's
//! `BookDetailsResponse` shape: the book's metadata, its real chapters, and technical facts of
//! the file it would play.

use std::path::PathBuf;

use actix_web::{HttpResponse, get, web};
use earmark_core::{Book, Chapter, FileKind, StoredFile};
use earmark_mp4::{AudioFacts, ChapterMark};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::shapes::{Author, BookView, Narrator};
use crate::error::ApiError;
use crate::routes::chapters::read_chapters;
use crate::state::AppState;

/// One chapter, with where it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DetailsChapter {
    /// 0-based position.
    pub index: usize,
    /// Title.
    pub title: String,
    /// Start, from the start of the book.
    pub start_offset_ms: u64,
    /// Length.
    pub length_ms: u64,
    /// `start_offset_ms + length_ms`.
    pub end_offset_ms: u64,
}

/// Facts of the file a player would play (the converted file, else the download).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Technical {
    /// `m4b`, `mp3`, ... for a converted file; `aax` or `aaxc` for a download.
    pub format: Option<String>,
    /// Average bits per second over the whole file.
    pub bitrate: Option<u64>,
    /// Samples per second (MPEG-4 files).
    pub sample_rate: Option<u32>,
    /// Channels (MPEG-4 files).
    pub channels: Option<u16>,
    /// Playing time.
    pub duration_ms: Option<u64>,
    /// Bytes on disk (all chapter files together in chapter mode).
    pub file_size: Option<u64>,
}

/// The web client's `BookDetailsResponse`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BookDetails {
    /// Audible's id.
    pub asin: String,
    /// Title.
    pub title: String,
    /// Subtitle.
    pub subtitle: Option<String>,
    /// Audible's summary (HTML as Audible gives it).
    pub description: Option<String>,
    /// Authors.
    pub authors: Vec<Author>,
    /// Narrators.
    pub narrators: Vec<Narrator>,
    /// Genres, broadest first, from Audible's category ladders.
    pub genres: Vec<String>,
    /// Publisher.
    pub publisher: Option<String>,
    /// Release date (`YYYY-MM-DD`).
    pub release_date: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Chapters in playing order.
    pub chapters: Vec<DetailsChapter>,
    /// True when no chapter list exists yet (nothing downloaded or converted) and `chapters`
    /// is one span over the whole running time, or empty when even that is unknown.
    pub chapters_synthetic: bool,
    /// The playable file's facts; `null` before anything is downloaded.
    pub technical: Option<Technical>,
    /// The cover earmark serves (`/library/{asin}/cover`).
    pub cover_url: Option<String>,
    /// The whole playing time.
    pub duration_total_ms: Option<u64>,
}

/// A book's metadata, real chapters (audible-cli's chapter file, else the chapter list of the
/// converted file) and the facts of its playable file.
#[utoipa::path(tag = "library", params(("asin" = String, Path, description = "The book's ASIN")), responses((status = 200, body = BookDetails), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/library/{asin}/details")]
pub async fn book_details(
    state: web::Data<AppState>,
    raw: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let asin = super::asin(&raw)?;
    let book = state.library.get_book(&asin).await?;
    let files = state.library.files_of(&asin).await?;
    let playable = playable(&files);
    let probe_path = playable.first().map(|f| PathBuf::from(&f.path));
    let probed = match probe_path {
        Some(path) => web::block(move || probe(&path))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?,
        None => Probe::default(),
    };
    let mut chapters = match files.iter().find(|f| f.kind == FileKind::Chapters) {
        Some(file) => read_chapters(file).await?,
        None => Vec::new(),
    };
    let technical = technical(&book, &playable, &probed);
    let duration = technical
        .as_ref()
        .and_then(|t| t.duration_ms)
        .or_else(|| chapters.last().map(|c| c.start_offset_ms + c.length_ms))
        .or_else(|| Some(u64::try_from(book.record.runtime_min?).ok()? * 60_000));
    if chapters.is_empty() {
        chapters = from_marks(&probed.marks, duration);
    }
    let synthetic = chapters.is_empty();
    if synthetic && let Some(total) = duration.filter(|d| *d > 0) {
        chapters.push(Chapter {
            title: book.record.title.clone(),
            start_offset_ms: 0,
            length_ms: total,
        });
    }
    let view = BookView::from(&book);
    let meta = &book.record.metadata_json;
    Ok(HttpResponse::Ok().json(BookDetails {
        description: text(meta, "publisher_summary")
            .or_else(|| text(meta, "merchandising_summary")),
        genres: genres(meta),
        chapters: chapters
            .into_iter()
            .enumerate()
            .map(|(index, c)| DetailsChapter {
                index,
                title: c.title,
                start_offset_ms: c.start_offset_ms,
                length_ms: c.length_ms,
                end_offset_ms: c.start_offset_ms + c.length_ms,
            })
            .collect(),
        chapters_synthetic: synthetic,
        technical,
        cover_url: (book.local_path_cover.is_some() || book.record.cover_url.is_some())
            .then(|| format!("/library/{asin}/cover")),
        duration_total_ms: duration,
        asin: view.asin,
        title: view.title,
        subtitle: view.subtitle,
        authors: view.authors,
        narrators: view.narrators,
        publisher: view.publisher,
        release_date: view.release_date,
        language: view.language,
    }))
}

/// The files a player would play: the converted file, else the chapter files, else the
/// download.
fn playable(files: &[StoredFile]) -> Vec<&StoredFile> {
    for kinds in [
        &[FileKind::Converted][..],
        &[FileKind::ConvertedChapter],
        &[FileKind::Aaxc, FileKind::Aax],
    ] {
        let found: Vec<&StoredFile> = files.iter().filter(|f| kinds.contains(&f.kind)).collect();
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

/// What reading the first playable file told.
#[derive(Debug, Default)]
struct Probe {
    size: Option<u64>,
    facts: Option<AudioFacts>,
    marks: Vec<ChapterMark>,
}

/// Size, audio facts and chapter marks of `path`; only sizes for files that are not MPEG-4.
fn probe(path: &std::path::Path) -> Probe {
    let Ok(mut file) = std::fs::File::open(path) else {
        return Probe::default();
    };
    let size = file.metadata().ok().map(|m| m.len());
    match earmark_mp4::read_moov(&mut file) {
        Ok(Some((buf, moov))) => Probe {
            size,
            facts: earmark_mp4::audio_facts(&buf, &moov),
            marks: earmark_mp4::nero_chapters(&buf, &moov),
        },
        Ok(None) => Probe {
            size,
            ..Probe::default()
        },
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "playable file unreadable");
            Probe {
                size,
                ..Probe::default()
            }
        }
    }
}

fn technical(book: &Book, playable: &[&StoredFile], probed: &Probe) -> Option<Technical> {
    let first = playable.first()?;
    let format = match first.kind {
        FileKind::Converted | FileKind::ConvertedChapter => book
            .conversion_format
            .map(|f| f.as_str().to_owned())
            .or_else(|| first.path.rsplit_once('.').map(|(_, ext)| ext.to_owned())),
        other => Some(other.as_str().to_owned()),
    };
    let file_size = if playable.len() == 1 {
        probed.size.or(u64::try_from(first.size).ok())
    } else {
        playable.iter().map(|f| u64::try_from(f.size).ok()).sum()
    };
    let duration_ms = probed
        .facts
        .map(|f| f.duration_ms)
        .filter(|_| playable.len() == 1);
    let bitrate = match (file_size, duration_ms) {
        (Some(bytes), Some(ms)) if ms > 0 => Some(bytes * 8 * 1000 / ms),
        _ => None,
    };
    Some(Technical {
        format,
        bitrate,
        sample_rate: probed.facts.map(|f| f.sample_rate),
        channels: probed.facts.map(|f| f.channels),
        duration_ms,
        file_size,
    })
}

/// Chapters from a file's marks: each runs to the next, the last to the end of the book.
fn from_marks(marks: &[ChapterMark], total_ms: Option<u64>) -> Vec<Chapter> {
    marks
        .iter()
        .enumerate()
        .map(|(i, mark)| {
            let end = marks
                .get(i + 1)
                .map(|next| next.start_ms)
                .or(total_ms)
                .unwrap_or(mark.start_ms);
            Chapter {
                title: mark.title.clone(),
                start_offset_ms: mark.start_ms,
                length_ms: end.saturating_sub(mark.start_ms),
            }
        })
        .collect()
}

fn text(meta: &Value, key: &str) -> Option<String> {
    meta.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Genre names from Audible's `category_ladders` (`[{ladder: [{id, name}, ...], root}]`,
/// response group `category_ladders`), each once, broadest first.
fn genres(meta: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let ladders = meta.get("category_ladders").and_then(Value::as_array);
    for ladder in ladders.into_iter().flatten() {
        let steps = ladder.get("ladder").and_then(Value::as_array);
        for name in steps.into_iter().flatten().filter_map(|s| text(s, "name")) {
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_run_to_the_next_and_the_last_to_the_end() {
        let marks = [
            ChapterMark {
                title: "One".into(),
                start_ms: 0,
            },
            ChapterMark {
                title: "Two".into(),
                start_ms: 1000,
            },
        ];
        let chapters = from_marks(&marks, Some(2500));
        assert_eq!(
            chapters
                .iter()
                .map(|c| (c.start_offset_ms, c.length_ms))
                .collect::<Vec<_>>(),
            vec![(0, 1000), (1000, 1500)]
        );
    }

    #[test]
    fn genres_come_from_the_ladders_once_each() {
        let meta = serde_json::json!({"category_ladders": [
            {"ladder": [{"id": "1", "name": "Science Fiction & Fantasy"}, {"id": "2", "name": "Fantasy"}], "root": "Genres"},
            {"ladder": [{"id": "1", "name": "Science Fiction & Fantasy"}, {"id": "3", "name": "Epic"}], "root": "Genres"}
        ]});
        assert_eq!(
            genres(&meta),
            ["Science Fiction & Fantasy", "Fantasy", "Epic"]
        );
        assert!(genres(&serde_json::json!({})).is_empty());
    }
}
