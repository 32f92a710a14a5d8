//! `POST /library/import`: adopt a folder of books converted elsewhere, without downloading
//! them again.

use std::path::{Path, PathBuf};

use actix_web::{HttpResponse, post, web};
use earmark_core::{ImportMode, ImportParams, JobSpec};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::routes::jobs::{Accepted, accept_one};
use crate::state::AppState;

/// `POST /library/import`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The folder to import, an absolute path on the server inside one of its
    /// `EARMARK__LIBRARY__IMPORT_ROOTS`.
    #[schema(min_length = 1, max_length = 4096, pattern = "^/")]
    pub path: String,
    /// `link` (a hard link: the files stay where they are too; the default), `copy` or
    /// `move`.
    #[schema(value_type = Option<crate::routes::wire::ImportModeName>)]
    pub mode: Option<ImportMode>,
}

/// `path` resolved, when it is a folder inside one of `roots`.
fn inside_a_root(path: &str, roots: &[PathBuf]) -> Result<PathBuf, ApiError> {
    if roots.is_empty() {
        return Err(ApiError::TurnedOff(
            "nothing can be imported on this server: set EARMARK__LIBRARY__IMPORT_ROOTS to the \
             folders (comma-separated) that may be imported from, then restart it"
                .into(),
        ));
    }
    let allowed = || {
        roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !Path::new(path).is_absolute() {
        return Err(ApiError::Validation(format!(
            "`{path}` is not an absolute path: give the folder's whole path on the server"
        )));
    }
    let resolved = std::fs::canonicalize(path)
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| {
            ApiError::FolderNotFound(format!(
                "`{path}` is not a folder on the server: give the absolute path of a folder \
                 inside {}",
                allowed()
            ))
        })?;
    if !roots.iter().any(|root| resolved.starts_with(root)) {
        return Err(ApiError::OutsideImportRoots(format!(
            "`{path}` is outside the folders that may be imported from ({}); \
             EARMARK__LIBRARY__IMPORT_ROOTS lists them",
            allowed()
        )));
    }
    Ok(resolved)
}

/// Imports a folder as an IMPORT job (202 with the job at once; an import already queued or
/// running is returned instead). Every audio file under it (m4b, m4a, mp3, flac, opus, ogg,
/// and AAX/AAXC) is matched to a book of the library by an ASIN tag, an ASIN in its file or
/// folder name, or its title, author and length (within 2 %); a folder of one album's
/// chapter files counts as one book. A match becomes the book's converted file (an AAX/AAXC
/// its download) under `<data>`; anything else a local item. Nothing is overwritten; importing
/// the same folder again changes nothing. The job's log says what became of each file.
#[utoipa::path(tag = "library", request_body = ImportRequest, responses((status = 202, body = Accepted), (status = 403, description = "The folder is outside the import roots", body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, description = "No such folder on the server", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "No import root is configured", body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/library/import")]
pub async fn import_folder(
    state: web::Data<AppState>,
    request: web::Json<ImportRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = request.into_inner();
    let roots = state.import_roots.clone();
    let path = request.path.clone();
    let resolved = web::block(move || inside_a_root(&path, &roots))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let spec = JobSpec::Import(ImportParams {
        path: resolved.display().to_string(),
        mode: request.mode.unwrap_or(ImportMode::Link),
    });
    accept_one(
        &state,
        spec,
        format!("import of {} queued", resolved.display()),
        "an import is already queued or running: returning that job; ask again when it has \
         finished",
    )
    .await
}
