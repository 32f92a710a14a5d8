//! `DELETE /library/{asin}` and `POST /library/delete`: books removed at the person's request,
//! their files too when asked, never from under a running job.

use std::path::{Path, PathBuf};

use actix_web::{HttpResponse, delete, post, web};
use earmark_core::library_removal::remove_books;
use earmark_core::ports::RemovedBook;
use earmark_core::{Asin, StoredFile};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::state::AppState;

/// Whether the books' files go too.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct RemovalParams {
    /// Delete the book's downloaded and converted files from disk as well (default false:
    /// they stay where they are, unregistered from nothing).
    #[serde(default)]
    pub delete_files: bool,
}

/// The books to remove.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RemovalRequest {
    /// Their ASINs (1 to 1000); unknown ones are passed over.
    #[schema(min_items = 1, max_items = 1000, value_type = Vec<crate::routes::wire::AsinText>)]
    pub asins: Vec<String>,
}

/// What was removed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Removed {
    /// How many books were removed.
    pub deleted: u64,
    /// How many of their files were deleted from disk.
    pub files_deleted: u64,
    /// What happened, for a person.
    pub message: String,
}

/// Removes one book: a tombstone in the change feed (a later sync brings it back while it is in
/// the Audible library); with `delete_files=true` its files go from disk too. 409 while a job
/// for it is waiting or running.
#[utoipa::path(tag = "library", params(("asin" = String, Path, description = "The book's ASIN"), RemovalParams), responses((status = 200, body = Removed), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
#[delete("/library/{asin}")]
pub async fn remove_one(
    state: web::Data<AppState>,
    raw: web::Path<String>,
    params: web::Query<RemovalParams>,
) -> Result<HttpResponse, ApiError> {
    let asin = super::asin(&raw)?;
    remove(&state, &[asin], params.delete_files, true).await
}

/// Removes several books at once, all or none: 409, and nothing removed, when any of them has
/// a job waiting or running.
#[utoipa::path(tag = "library", params(RemovalParams), request_body = RemovalRequest, responses((status = 200, body = Removed), (status = 413, description = "More than 1000 books", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/library/delete")]
pub async fn remove_many(
    state: web::Data<AppState>,
    params: web::Query<RemovalParams>,
    body: web::Json<RemovalRequest>,
) -> Result<HttpResponse, ApiError> {
    if body.asins.len() > crate::routes::jobs::MAX_BATCH {
        return Err(ApiError::BatchTooLarge {
            max: crate::routes::jobs::MAX_BATCH,
            got: body.asins.len(),
        });
    }
    let asins = body
        .asins
        .iter()
        .map(|raw| super::asin(raw))
        .collect::<Result<Vec<_>, _>>()?;
    if asins.is_empty() {
        return Err(ApiError::Validation(
            "`asins` is empty: name at least one book to remove".into(),
        ));
    }
    remove(&state, &asins, params.delete_files, false).await
}

async fn remove(
    state: &AppState,
    asins: &[Asin],
    delete_files: bool,
    strict: bool,
) -> Result<HttpResponse, ApiError> {
    let removed = remove_books(
        state.library.as_ref(),
        state.engine.queue().as_ref(),
        asins,
        delete_files,
        strict,
    )
    .await?;
    let forgotten: Vec<StoredFile> = removed
        .iter()
        .flat_map(|r: &RemovedBook| r.forgotten.iter().cloned())
        .collect();
    let root = state.data_root.clone();
    let files_deleted = web::block(move || delete_from_disk(&root, &forgotten))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let deleted = removed.len() as u64;
    Ok(HttpResponse::Ok().json(Removed {
        deleted,
        files_deleted,
        message: format!("{deleted} book(s) removed, {files_deleted} file(s) deleted"),
    }))
}

/// Deletes the files (only those inside the data directory) and then the directories they
/// leave empty, up to the data directory's own top-level folders. Returns how many files went.
fn delete_from_disk(root: &Path, files: &[StoredFile]) -> u64 {
    let mut deleted = 0;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for file in files {
        let path = Path::new(&file.path);
        if !path.starts_with(root) || path.components().any(|c| c.as_os_str() == "..") {
            tracing::warn!(path = %file.path, "not deleted: outside the data directory");
            continue;
        }
        match std::fs::remove_file(path) {
            Ok(()) => deleted += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %file.path, error = %e, "file not deleted"),
        }
        if let Some(parent) = path.parent() {
            dirs.push(parent.to_owned());
        }
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    dirs.dedup();
    for dir in dirs {
        let mut at = dir.as_path();
        // Stop below the top-level folders (`downloads`, `library`, ...): they stay.
        while at
            .parent()
            .is_some_and(|p| p != root && p.starts_with(root))
        {
            if std::fs::remove_dir(at).is_err() {
                break;
            }
            match at.parent() {
                Some(parent) => at = parent,
                None => break,
            }
        }
    }
    deleted
}
