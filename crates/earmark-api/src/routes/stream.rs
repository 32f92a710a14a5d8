//! `GET`/`HEAD /stream/{file_id}`: a stored audio file for browsers and players, with ranges.
//!
//! actix-files does the serving (no file is ever read into memory; ETag, Last-Modified,
//! If-None-Match, If-Range, 206 and 416). Around it earmark decides which file a request may
//! see (only ids from the database, only paths that resolve inside the data directory) and
//! narrows the Range header to what actix-files answers correctly: one syntactically valid
//! byte range. Anything else is ignored, as RFC 9110 allows, and the whole file is sent.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use actix_files::NamedFile;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    self, CacheControl, CacheDirective, Charset, ContentDisposition, DispositionParam,
    DispositionType, ExtendedValue,
};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, route, web};
use earmark_core::ports::LibraryRepoError;
use earmark_core::{Asin, FileKind, OutputFormat, StoredFile};

use crate::error::ApiError;
use crate::state::AppState;

/// Serves a stored file by its id, or the main converted file of a book by its ASIN.
///
/// Supports `Range` (one byte range; others are ignored and the whole file is sent),
/// `If-Range`, `If-None-Match`, `If-Modified-Since`; answers `HEAD` too.
#[utoipa::path(
    tag = "stream",
    params(("file_id" = String, Path, description = "A file id from `files`, or an ASIN for that book's converted file")),
    responses(
        (status = 200, description = "The whole file", content_type = "audio/mp4"),
        (status = 206, description = "The requested byte range"),
        (status = 304, description = "Not modified"),
        (status = 404, description = "No such file, or it is gone from disk", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range starts beyond the end of the file"),
    )
)]
#[route(
    "/stream/{file_id}",
    method = "GET",
    method = "HEAD",
    wrap = "actix_web::middleware::from_fn(only_one_valid_range)"
)]
pub async fn stream(
    req: HttpRequest,
    file_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let file = resolve(&state, &file_id).await?;
    let root = state.data_dir.root().to_owned();
    let registered = file.path.clone();
    let opened = web::block(move || open_confined(&root, Path::new(&registered)))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let named = opened.map_err(|why| {
        tracing::warn!(file_id = %file.id, %why, "stored file cannot be served");
        ApiError::FileGone(file.id.to_string())
    })?;

    if named.metadata().len() == 0
        && req.method() == Method::GET
        && req.headers().contains_key(header::RANGE)
    {
        // Every range of an empty file is unsatisfiable (actix-files would miscount it).
        return Ok(HttpResponse::build(StatusCode::RANGE_NOT_SATISFIABLE)
            .insert_header((header::CONTENT_RANGE, "bytes */0"))
            .finish());
    }
    let mut response = named
        .set_content_type(content_type(&file))
        .set_content_disposition(inline_disposition(named_file_name(&file)))
        .into_response(&req);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        CacheControl(vec![CacheDirective::Private, CacheDirective::NoCache])
            .to_string()
            .parse()
            .map_err(|_| ApiError::Internal("cache header".into()))?,
    );
    Ok(response)
}

/// The file `id` names: a files row by UUID, or for an ASIN its book's converted output.
async fn resolve(state: &AppState, id: &str) -> Result<StoredFile, ApiError> {
    if let Ok(uuid) = uuid::Uuid::parse_str(id) {
        return state.db.library.get_file(uuid).await.map_err(|e| match e {
            LibraryRepoError::FileNotFound(_) => ApiError::FileGone(id.to_owned()),
            other => other.into(),
        });
    }
    let Ok(asin) = Asin::parse(id) else {
        return Err(ApiError::FileGone(id.to_owned()));
    };
    let book = state.db.library.get_book(&asin).await?;
    let files = state.db.library.files_of(&asin).await?;
    let converted =
        |f: &&StoredFile| matches!(f.kind, FileKind::Converted | FileKind::ConvertedChapter);
    files
        .iter()
        .filter(converted)
        .find(|f| Some(&f.path) == book.local_path_converted.as_ref())
        .or_else(|| files.iter().find(|f| f.kind == FileKind::Converted))
        .or_else(|| files.iter().find(|f| f.kind == FileKind::ConvertedChapter))
        .cloned()
        .ok_or(ApiError::NoConvertedFile(asin))
}

/// Opens `path` only if it resolves, symlinks followed, to a file inside `root`.
fn open_confined(root: &Path, path: &Path) -> Result<NamedFile, String> {
    let real: PathBuf = std::fs::canonicalize(path).map_err(|e| format!("cannot resolve: {e}"))?;
    if !real.starts_with(root) {
        return Err(format!(
            "resolves outside the data directory to {}",
            real.display()
        ));
    }
    // O_NOFOLLOW: the resolved path must not have become a symlink since.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&real)
        .map_err(|e| format!("cannot open: {e}"))?;
    if !file.metadata().map_err(|e| e.to_string())?.is_file() {
        return Err("not a regular file".into());
    }
    NamedFile::from_file(file, &real).map_err(|e| e.to_string())
}

fn named_file_name(file: &StoredFile) -> String {
    Path::new(&file.path).file_name().map_or_else(
        || file.asin.to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The type players expect, by the file's extension; the registered MIME type otherwise.
fn content_type(file: &StoredFile) -> actix_web::mime::Mime {
    let by_extension = Path::new(&file.path)
        .extension()
        .and_then(|e| e.to_str())
        .and_then(|e| e.to_ascii_lowercase().parse::<OutputFormat>().ok())
        .map(OutputFormat::mime);
    by_extension
        .unwrap_or(&file.mime)
        .parse()
        .unwrap_or(actix_web::mime::APPLICATION_OCTET_STREAM)
}

/// `inline; filename="<ASCII fallback>"; filename*=UTF-8''<name>` (RFC 6266).
fn inline_disposition(name: String) -> ContentDisposition {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    ContentDisposition {
        disposition: DispositionType::Inline,
        parameters: vec![
            DispositionParam::Filename(fallback),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: name.into_bytes(),
            }),
        ],
    }
}

/// Keeps a `Range` header only when it is one syntactically valid byte range; drops it
/// otherwise (garbage, `5-1`, overflowing numbers, several ranges), so the file is sent whole.
pub async fn only_one_valid_range(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let keep = match req.headers().get(header::RANGE).map(|v| v.to_str()) {
        None => true,
        Some(Ok(value)) => is_one_valid_byte_range(value),
        Some(Err(_)) => false,
    };
    if !keep {
        req.headers_mut().remove(header::RANGE);
    }
    next.call(req).await
}

/// Whether `value` is `bytes=` followed by exactly one valid range spec, or not about bytes
/// at all (actix-files ignores other units itself).
pub fn is_one_valid_byte_range(value: &str) -> bool {
    let Some((unit, specs)) = value.split_once('=') else {
        return false;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return true;
    }
    if specs.split(',').filter(|s| !s.trim().is_empty()).count() != 1 {
        return false;
    }
    // Parsed against the largest size, only syntax can fail; `-0` is valid but unsatisfiable.
    match http_range::HttpRange::parse(&format!("bytes={}", specs.trim()), u64::MAX) {
        Ok(ranges) => ranges.len() == 1,
        Err(http_range::HttpRangeParseError::NoOverlap) => true,
        Err(http_range::HttpRangeParseError::InvalidRange) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_well_formed_byte_ranges_survive() {
        for kept in [
            "bytes=0-99",
            "bytes=100-",
            "bytes=-500",
            "bytes=-0",
            "bytes= 7-9 ",
            "items=1-2",
        ] {
            assert!(is_one_valid_byte_range(kept), "{kept}");
        }
        for dropped in [
            "bytes=5-1",
            "bytes=abc",
            "bytes=",
            "bytes=0-1,5-6",
            "bytes=99999999999999999999999-",
            "bytes",
            "garbage",
            "bytes=--5",
            "bytes=1-2-3",
        ] {
            assert!(!is_one_valid_byte_range(dropped), "{dropped}");
        }
    }

    #[test]
    fn disposition_has_an_ascii_fallback_and_the_utf8_name() {
        let cd = inline_disposition("Der Herr der Ringe – Teil \"1\".m4b".into()).to_string();
        assert!(cd.starts_with("inline"), "{cd}");
        assert!(
            cd.contains("filename=\"Der Herr der Ringe _ Teil _1_.m4b\""),
            "{cd}"
        );
        assert!(
            cd.contains(
                "filename*=UTF-8''Der%20Herr%20der%20Ringe%20%E2%80%93%20Teil%20%221%22.m4b"
            ),
            "{cd}"
        );
    }
}
