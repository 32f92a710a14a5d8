//! `GET /library/downloads/incomplete`: books a download left side files for but no audio.

use actix_web::{HttpResponse, get, web};
use earmark_core::FileKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::shapes::BookView;
use crate::error::ApiError;
use crate::routes::wire::rfc3339;
use crate::state::AppState;

/// One incomplete download (the web client's `PartialDownloadItem`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IncompleteDownload {
    /// The book.
    pub asin: String,
    /// Its title.
    pub title: String,
    /// The cover that was downloaded, if any.
    pub cover_path: Option<String>,
    /// When the first of its files was stored.
    pub downloaded_at: Option<String>,
    /// The whole book.
    pub book: Option<BookView>,
}

/// The incomplete downloads (the web client's `PartialDownloadsResponse`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IncompleteDownloads {
    /// Oldest change first.
    pub items: Vec<IncompleteDownload>,
    /// How many.
    pub total: u64,
}

/// Books that have stored files (a cover, a voucher, a chapter list) but neither downloaded
/// audio nor a converted file; download them again with `POST /jobs/download`.
#[utoipa::path(tag = "library", responses((status = 200, body = IncompleteDownloads)))]
#[get("/library/downloads/incomplete")]
pub async fn incomplete_downloads(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let books = state.library.incomplete_downloads().await?;
    let views = super::shapes::views_of(state.library.as_ref(), &books).await?;
    let mut items = Vec::with_capacity(books.len());
    for (book, view) in books.into_iter().zip(views) {
        let files = state.library.files_of(&book.record.asin).await?;
        let cover_path = book.local_path_cover.clone().or_else(|| {
            files
                .iter()
                .find(|f| f.kind == FileKind::Cover)
                .map(|f| f.path.clone())
        });
        items.push(IncompleteDownload {
            asin: book.record.asin.to_string(),
            title: book.record.title.clone(),
            cover_path,
            downloaded_at: files.iter().map(|f| f.created_at).min().map(rfc3339),
            book: Some(view),
        });
    }
    Ok(HttpResponse::Ok().json(IncompleteDownloads {
        total: items.len() as u64,
        items,
    }))
}
