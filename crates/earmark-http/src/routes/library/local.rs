//! `GET /library/local` and `GET /library/local/{id}`: audio files in the data directory that
//! belong to no book of the library.

use actix_web::{HttpResponse, get, web};
use earmark_core::domain::local_item::{LocalItem, LocalItemQuery};
use earmark_core::ports::LocalItemStore;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

use super::query::number;
use crate::error::ApiError;
use crate::routes::wire::rfc3339;
use crate::state::AppState;

/// The most local items one page holds.
const MAX_PAGE_SIZE: u64 = 500;
/// Items per page when none is asked for (the web client's own default).
const DEFAULT_PAGE_SIZE: u64 = 50;

/// A local item as the web client reads it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LocalItemView {
    /// Its id (`/stream/local/{id}` plays it).
    pub id: String,
    /// An ASIN its tags or name carry, when one does.
    pub asin: Option<String>,
    /// Its title: its tags', else its file name.
    pub title: String,
    /// Its authors, when its tags say.
    pub authors: Option<String>,
    /// Where it is on the server.
    pub output_path: String,
    /// Its cover on the server, when one is known.
    pub cover_path: Option<String>,
    /// Its format by extension (`m4b`, `mp3`, ...).
    pub format: Option<String>,
    /// When it was recorded (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

impl From<LocalItem> for LocalItemView {
    fn from(item: LocalItem) -> Self {
        Self {
            id: item.id.to_string(),
            asin: item.asin.map(|a| a.to_string()),
            title: item.title,
            authors: item.authors,
            output_path: item.path,
            cover_path: None,
            format: item.format,
            created_at: rfc3339(item.created_at),
            updated_at: rfc3339(item.updated_at),
        }
    }
}

/// A page of local items, in the web client's paginated shape.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LocalItemList {
    /// The items of the page, by title.
    pub items: Vec<LocalItemView>,
    /// Items matching in all.
    pub total: u64,
    /// This page (1-based).
    pub page: u64,
    /// Items per page.
    pub page_size: u64,
    /// Pages in all.
    pub total_pages: u64,
}

/// Paging and search of `GET /library/local`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LocalItemParams {
    /// 1-based page (default 1).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 4_294_967_295_i64)]
    pub page: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub page_size: Option<String>,
    /// Words each of which the title or the authors contain (case-insensitively).
    pub search: Option<String>,
}

fn store(state: &AppState) -> Result<&Arc<dyn LocalItemStore>, ApiError> {
    state
        .local_items
        .as_ref()
        .ok_or_else(|| ApiError::TurnedOff("this server keeps no local items".into()))
}

/// Parses a local item's id.
pub(crate) fn local_item_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map_err(|_| ApiError::Validation(format!("`{raw}` is not a local item id")))
}

/// Local items, a page at a time: audio under the data directory's `converted` folder that
/// belongs to no book of the library (a repair lists them).
#[utoipa::path(tag = "library", params(LocalItemParams), responses((status = 200, body = LocalItemList), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/library/local")]
pub async fn local_items(
    state: web::Data<AppState>,
    params: web::Query<LocalItemParams>,
) -> Result<HttpResponse, ApiError> {
    let page = number("page", params.page.as_deref(), 1, u64::from(u32::MAX))?.unwrap_or(1);
    let page_size = number("page_size", params.page_size.as_deref(), 1, MAX_PAGE_SIZE)?
        .unwrap_or(DEFAULT_PAGE_SIZE);
    let found = store(&state)?
        .list_local_items(LocalItemQuery {
            page: u32::try_from(page).unwrap_or(u32::MAX),
            page_size: u32::try_from(page_size).unwrap_or(u32::MAX),
            search: params
                .search
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        })
        .await?;
    Ok(HttpResponse::Ok().json(LocalItemList {
        items: found.items.into_iter().map(LocalItemView::from).collect(),
        total: found.total,
        page,
        page_size,
        total_pages: found.total.div_ceil(page_size),
    }))
}

/// One local item.
#[utoipa::path(tag = "library", params(("id" = String, Path, description = "A local item's id")), responses((status = 200, body = LocalItemView), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/library/local/{id}")]
pub async fn local_item(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = local_item_id(&id)?;
    let item = store(&state)?.get_local_item(id).await?;
    Ok(HttpResponse::Ok().json(LocalItemView::from(item)))
}
