//! `/library`: browse the library, follow its changes, look at one book, refresh it from
//! Audible.

use std::path::Path;

use actix_web::{HttpRequest, HttpResponse, get, http::header, web};
use earmark_core::{Asin, JobFilter};

mod details;
mod importing;
mod incomplete;
mod local;
mod progress;
mod query;
mod refresh;
mod removal;
mod repair;
mod shapes;

pub use details::{BookDetails, DetailsChapter, Technical, book_details};
pub use importing::{ImportRequest, import_folder};
pub use incomplete::{IncompleteDownload, IncompleteDownloads, incomplete_downloads};
pub(crate) use local::local_item_id;
pub use local::{LocalItemList, LocalItemParams, LocalItemView, local_item, local_items};
pub use progress::{
    ListeningParams, ProgressView, book_progress, continue_listening, report_progress,
    sync_positions,
};
pub use query::{LibraryParams, LibraryRequest};
pub use refresh::{SyncStatus, sync, sync_status};
pub use removal::{RemovalParams, RemovalRequest, Removed, remove_many, remove_one};
pub use repair::{RepairPreviewView, repair_apply, repair_preview};
pub use shapes::*;

use crate::error::ApiError;
use crate::routes::chapters::FileView;
use crate::routes::jobs::JobView;
use crate::routes::wire::rfc3339;
use crate::state::AppState;

/// How many of a book's jobs its detail lists.
const RECENT_JOBS: u32 = 10;

fn asin(raw: &str) -> Result<Asin, ApiError> {
    Asin::parse(raw).map_err(|e| ApiError::Validation(format!("`{raw}` is not an ASIN: {e}")))
}

/// Books, a filtered and ordered page at a time; or, with `since`, every book created,
/// changed or removed since then (tombstones carry `removed_at`) and the `next_since`
/// watermark to send next time. A client that always sends the last `next_since` never
/// misses a change. For a first full mirror send `since=1970-01-01T00:00:00Z`.
#[utoipa::path(tag = "library", operation_id = "list_books", params(LibraryParams), responses((status = 200, body = BookList), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/library")]
pub async fn list(
    state: web::Data<AppState>,
    params: web::Query<LibraryParams>,
) -> Result<HttpResponse, ApiError> {
    let body = match params.parse()? {
        LibraryRequest::Browse { query, page_size } => {
            let offset = query.offset;
            let page = state.library.list_books(query).await?;
            BookList {
                items: shapes::views_of(state.library.as_ref(), &page.books).await?,
                total: page.total,
                page: offset / u64::from(page_size) + 1,
                page_size,
                total_pages: page.total.div_ceil(u64::from(page_size)),
                next_since: None,
                next_cursor: None,
            }
        }
        LibraryRequest::Changes {
            since,
            cursor,
            limit,
        } => {
            let page = state
                .library
                .changes_since(Some(since), cursor, limit)
                .await?;
            BookList {
                total: page.books.len() as u64,
                items: shapes::views_of(state.library.as_ref(), &page.books).await?,
                page: 1,
                page_size: limit,
                total_pages: 1,
                next_since: Some(rfc3339(page.next_since)),
                next_cursor: page.next_cursor.as_ref().map(query::format_cursor),
            }
        }
    };
    Ok(HttpResponse::Ok().json(body))
}

/// The library grouped by series, for a series filter.
#[utoipa::path(tag = "library", responses((status = 200, body = SeriesList)))]
#[get("/library/series")]
pub async fn series(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let summary = state.library.series_summary().await?;
    Ok(HttpResponse::Ok().json(SeriesList::from(summary)))
}

/// One book (removed ones too) with its stored files and its recent jobs.
#[utoipa::path(tag = "library", responses((status = 200, body = BookDetail), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/library/{asin}")]
pub async fn detail(
    state: web::Data<AppState>,
    raw: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let asin = asin(&raw)?;
    let book = state.library.get_book(&asin).await?;
    let files = state.library.files_of(&asin).await?;
    let jobs = state
        .engine
        .queue()
        .list(JobFilter {
            asin: Some(asin),
            limit: RECENT_JOBS,
            ..JobFilter::default()
        })
        .await?;
    let mut view = shapes::views_of(state.library.as_ref(), std::slice::from_ref(&book)).await?;
    Ok(HttpResponse::Ok().json(BookDetail {
        book: view.remove(0),
        files: files.iter().map(FileView::from).collect(),
        jobs: jobs.items.into_iter().map(JobView::from).collect(),
    }))
}

/// The book's cover: the downloaded one when there is one, else a redirect to Audible's.
#[utoipa::path(tag = "library", responses((status = 200, description = "The image", content_type = "image/jpeg"), (status = 307, description = "Redirect to Audible's cover"), (status = 404, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/library/{asin}/cover")]
pub async fn cover(
    req: HttpRequest,
    state: web::Data<AppState>,
    raw: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let asin = asin(&raw)?;
    let book = state.library.get_book(&asin).await?;
    if let Some(local) = book.local_path_cover.clone() {
        let root = state.data_root.as_path().to_owned();
        let opened =
            web::block(move || crate::routes::stream::open_confined(&root, Path::new(&local)))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
        match opened.and_then(|o| crate::routes::stream::named_file(&o)) {
            Ok(named) => {
                return Ok(named
                    .disable_content_disposition()
                    .use_etag(true)
                    .into_response(&req));
            }
            Err(why) => tracing::warn!(%asin, %why, "downloaded cover cannot be served"),
        }
    }
    match book.record.cover_url.filter(|u| u.starts_with("https://")) {
        Some(url) => Ok(HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, url))
            .finish()),
        None => Err(ApiError::NoCover(asin)),
    }
}
