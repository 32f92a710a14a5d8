//! `GET /library/{asin}/chapters`: what a player needs to show and seek chapters.

use actix_web::{HttpResponse, get, web};
use earmark_core::{Asin, Chapter, FileKind, StoredFile, chapters_from_audible};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

/// A book's chapters and its playable files.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BookChapters {
    /// The book.
    pub asin: String,
    /// Every chapter in playing order, with offsets into the single-file output; in chapter
    /// mode each also names its own file.
    pub chapters: Vec<ChapterView>,
    /// The converted files, playable through `/stream/{id}`.
    pub files: Vec<FileView>,
}

/// One chapter.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChapterView {
    /// 0-based position.
    pub index: usize,
    /// Title.
    pub title: String,
    /// Start, from the start of the book.
    pub start_offset_ms: u64,
    /// Length.
    pub length_ms: u64,
    /// The chapter's own file, when the book was converted one file per chapter.
    pub file_id: Option<String>,
}

/// A stored file of a book (playable ones through `stream_url`).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileView {
    /// Id for `/stream/{id}`.
    pub id: String,
    /// What it is: `converted`, `converted_chapter`, `aaxc`, `voucher`, `cover`, ...
    pub kind: String,
    /// Bytes when registered.
    pub size: i64,
    /// Its type.
    pub mime: String,
    /// Where to play it.
    pub stream_url: String,
}

impl From<&StoredFile> for FileView {
    fn from(file: &StoredFile) -> Self {
        Self {
            id: file.id.to_string(),
            kind: file.kind.as_str().to_owned(),
            size: file.size,
            mime: file.mime.clone(),
            stream_url: format!("/stream/{}", file.id),
        }
    }
}

/// The chapters of a book (from audible-cli's chapter file, once downloaded) and its converted
/// files. A book with no chapter file yet has an empty list.
#[utoipa::path(
    tag = "stream",
    params(("asin" = String, Path, description = "The book's ASIN")),
    responses(
        (status = 200, body = BookChapters),
        (status = 404, description = "Unknown book", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed ASIN", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/library/{asin}/chapters")]
pub async fn book_chapters(
    asin: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let asin = Asin::parse(&asin).map_err(|e| ApiError::Validation(e.to_string()))?;
    state.library.get_book(&asin).await?;
    let mut files = state.library.files_of(&asin).await?;
    let chapters = match files.iter().find(|f| f.kind == FileKind::Chapters) {
        Some(file) => read_chapters(file).await?,
        None => Vec::new(),
    };
    files.retain(|f| matches!(f.kind, FileKind::Converted | FileKind::ConvertedChapter));
    let per_chapter: Vec<&StoredFile> = files
        .iter()
        .filter(|f| f.kind == FileKind::ConvertedChapter)
        .collect();
    let paired = per_chapter.len() == chapters.len();
    let chapters = chapters
        .into_iter()
        .enumerate()
        .map(|(index, c)| ChapterView {
            index,
            title: c.title,
            start_offset_ms: c.start_offset_ms,
            length_ms: c.length_ms,
            file_id: paired.then(|| per_chapter[index].id.to_string()),
        })
        .collect();
    Ok(HttpResponse::Ok().json(BookChapters {
        asin: asin.to_string(),
        chapters,
        files: files.iter().map(FileView::from).collect(),
    }))
}

pub(crate) async fn read_chapters(file: &StoredFile) -> Result<Vec<Chapter>, ApiError> {
    let text = tokio::fs::read(&file.path).await.map_err(|e| {
        tracing::warn!(file_id = %file.id, error = %e, "chapter file unreadable");
        ApiError::FileGone(file.id.to_string())
    })?;
    let document: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| ApiError::Internal(format!("chapter file {}: {e}", file.id)))?;
    chapters_from_audible(&document)
        .map_err(|e| ApiError::Internal(format!("chapter file {}: {e}", file.id)))
}
