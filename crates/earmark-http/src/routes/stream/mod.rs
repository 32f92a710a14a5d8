//! `GET`/`HEAD /stream/{file_id}`: a stored audio file for browsers and players, with ranges.
//!
//! actix-files decides the answer (ETag, Last-Modified, If-None-Match, If-Range, 206, 416);
//! earmark decides which file a request may see (only ids from the database, only paths that
//! resolve inside the data directory), narrows the Range header to what actix-files answers
//! correctly (`range.rs`), and sends the bytes with `sendfile` on earmark's own HTTP/1
//! connections (`earmark_sendfile`), elsewhere with its own `pread` body (`body.rs`). No file
//! is ever read into memory.

mod body;
mod lookup;
mod open_files;
mod plain;
mod range;

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use actix_files::NamedFile;
use actix_web::body::SizedStream;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
    HeaderValue,
};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, route, web};
use earmark_core::{OutputFormat, StoredFile};

pub use lookup::StreamLookupCache;
pub use open_files::OpenFiles;
use open_files::Opened;
pub use plain::PlainViews;

use crate::error::ApiError;
use crate::state::AppState;
use earmark_sendfile::{self as zero_copy, SendfileBody};

/// Serves a stored file by its id, or the main converted file of a book by its ASIN.
///
/// Supports `Range` (one byte range; others are ignored and the whole file is sent),
/// `If-Range`, `If-None-Match`, `If-Modified-Since`; answers `HEAD` too.
#[utoipa::path(
    tag = "stream",
    params(
        ("file_id" = String, Path, description = "A file id from `files`, or an ASIN: the book's converted file, else its download"),
        ("original" = Option<bool>, Query, description = "For an AAX/AAXC: `true` sends the stored (encrypted) bytes instead of the plain M4A"),
    ),
    responses(
        (status = 200, description = "The whole file", content_type = "audio/mp4"),
        (status = 206, description = "The requested byte range"),
        (status = 304, description = "Not modified"),
        (status = 404, description = "No such file, or it is gone from disk", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A download that cannot be decrypted (its voucher or the account's activation bytes are missing or wrong), or a book downloaded as separate parts that no conversion has joined yet", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range starts beyond the end of the file"),
    )
)]
#[route(
    "/stream/{file_id}",
    method = "GET",
    method = "HEAD",
    wrap = "actix_web::middleware::from_fn(range::only_one_valid_range)"
)]
pub async fn stream(
    req: HttpRequest,
    file_id: web::Path<String>,
    query: web::Query<StreamQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let file = lookup::resolve(&state, &file_id).await?;
    let original = query.original.unwrap_or(false);
    serve(req, &state, &file_id, Servable::stored(file), original).await
}

/// Serves a local item (a file of no book, see `GET /library/local`) by its id, exactly as
/// `/stream/{file_id}` serves a book's file.
#[utoipa::path(
    tag = "stream",
    params(("id" = String, Path, description = "A local item's id")),
    responses(
        (status = 200, description = "The whole file", content_type = "audio/mp4"),
        (status = 206, description = "The requested byte range"),
        (status = 304, description = "Not modified"),
        (status = 404, description = "No such local item, or its file is gone from disk", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "This server keeps no local items", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range starts beyond the end of the file"),
        (status = 422, description = "Not a local item id", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[route(
    "/stream/local/{id}",
    method = "GET",
    method = "HEAD",
    wrap = "actix_web::middleware::from_fn(range::only_one_valid_range)"
)]
pub async fn stream_local(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = crate::routes::library::local_item_id(&id)?;
    let items = state
        .local_items
        .as_ref()
        .ok_or_else(|| ApiError::TurnedOff("this server keeps no local items".into()))?;
    let item = items.get_local_item(id).await.map_err(|e| match e {
        earmark_core::ports::LocalItemStoreError::NotFound(_) => ApiError::FileGone(id.to_string()),
        other => other.into(),
    })?;
    let servable = Servable {
        id: item.id,
        path: item.path,
        mime: item.mime,
        stored: None,
    };
    serve(req, &state, &format!("local:{id}"), servable, true).await
}

/// A file `/stream` may send: its id, where it is, its registered type, and for a book's
/// file the row (an AAX/AAXC of a book can be served decrypted).
struct Servable {
    id: uuid::Uuid,
    path: String,
    mime: String,
    stored: Option<StoredFile>,
}

impl Servable {
    fn stored(file: StoredFile) -> Self {
        Self {
            id: file.id,
            path: file.path.clone(),
            mime: file.mime.clone(),
            stored: Some(file),
        }
    }
}

/// Answers a request for `file`, known to the caches as `key`; `original` sends an
/// AAX/AAXC's stored bytes instead of its plain view.
async fn serve(
    req: HttpRequest,
    state: &AppState,
    key: &str,
    file: Servable,
    original: bool,
) -> Result<HttpResponse, ApiError> {
    let file_id = key;
    let gone = |why: String| {
        tracing::warn!(file_id = %file.id, %why, "stored file cannot be served");
        state.stream_cache.forget(file_id);
        state.open_files.close(file_id);
        ApiError::FileGone(file.id.to_string())
    };
    let opened = match state.open_files.get(file_id) {
        Some(opened) => opened,
        None => {
            let root = state.data_root.as_path().to_owned();
            let registered = file.path.clone();
            // Opening may wait for a disk that is spinning up: keep it off the event loop.
            let opened = web::block(move || open_confined(&root, Path::new(&registered)))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .map_err(gone)?;
            state.open_files.keep(file_id, opened.clone());
            let (later, id) = (state.clone(), file_id.to_string());
            actix_web::rt::spawn(async move {
                actix_web::rt::time::sleep(open_files::KEEP_OPEN).await;
                later.open_files.expire(&id);
            });
            opened
        }
    };
    let named = named_file(&opened).map_err(gone)?;
    let view = match &file.stored {
        Some(stored) if plain::is_encrypted(stored) && !original => {
            Some(plain::view_of(state, stored, &opened, named.metadata()).await?)
        }
        _ => None,
    };
    let size = named.metadata().len();
    if size == 0 && req.method() == Method::GET && req.headers().contains_key(header::RANGE) {
        // Every range of an empty file is unsatisfiable (actix-files would miscount it).
        return Ok(HttpResponse::build(StatusCode::RANGE_NOT_SATISFIABLE)
            .insert_header((header::CONTENT_RANGE, "bytes */0"))
            .finish());
    }
    let (mime, name) = match &view {
        Some(_) => (
            actix_web::mime::Mime::from_str("audio/mp4")
                .unwrap_or(actix_web::mime::APPLICATION_OCTET_STREAM),
            Path::new(&named_file_name(&file))
                .with_extension("m4a")
                .display()
                .to_string(),
        ),
        None => (content_type(&file), named_file_name(&file)),
    };
    let mut response = named
        .set_content_type(mime)
        .set_content_disposition(inline_disposition(name))
        .into_response(&req);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    let window = match response.status() {
        StatusCode::OK => Some((0, size)),
        StatusCode::PARTIAL_CONTENT => response
            .headers()
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(content_range_window),
        _ => None,
    };
    let Some((offset, len)) = window else {
        return Ok(response);
    };
    if let Some(view) = view {
        return Ok(response
            .set_body(SizedStream::new(
                len,
                body::plain_window(view, opened.file, offset, len),
            ))
            .map_into_boxed_body());
    }
    let zero_copy = zero_copy::handoff_for(&req).filter(|_| req.method() == Method::GET);
    Ok(match zero_copy {
        Some(handoff) => {
            // The connection sends the bytes; the head must say how many (see earmark_sendfile).
            response.head_mut().no_chunking(true);
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            response
                .set_body(SendfileBody::new(handoff, opened.file, offset, len))
                .map_into_boxed_body()
        }
        None => response
            .set_body(SizedStream::new(
                len,
                body::file_window(opened.file, offset, len),
            ))
            .map_into_boxed_body(),
    })
}

/// `/stream`'s query: `original=true` for an AAX/AAXC's stored bytes (the `token` is the
/// key check's).
#[derive(Debug, serde::Deserialize)]
pub struct StreamQuery {
    /// Send the stored bytes of a download, not its plain view.
    pub original: Option<bool>,
}

/// `(offset, length)` of a `bytes first-last/size` Content-Range.
fn content_range_window(value: &str) -> Option<(u64, u64)> {
    let (first, rest) = value.strip_prefix("bytes ")?.split_once('-')?;
    let (last, _) = rest.split_once('/')?;
    let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
    Some((first, last.checked_sub(first)? + 1))
}

/// Opens `path` only if it resolves, symlinks followed, to a regular file inside `root`.
pub(crate) fn open_confined(root: &Path, path: &Path) -> Result<Opened, String> {
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
    Ok(Opened::new(file, real))
}

/// The opened file for actix-files, which reads its size and times afresh (a file truncated
/// since it was opened is answered as it is now).
pub(crate) fn named_file(opened: &Opened) -> Result<NamedFile, String> {
    let file = opened.file.try_clone().map_err(|e| e.to_string())?;
    NamedFile::from_file(file, &opened.real).map_err(|e| e.to_string())
}

fn named_file_name(file: &Servable) -> String {
    Path::new(&file.path)
        .file_name()
        .map_or_else(|| file.id.to_string(), |n| n.to_string_lossy().into_owned())
}

/// Every media type a stream answers with (the API document lists them): the output
/// formats', a chapter playlist's, a download's audio and side files', and the fallback.
pub const MEDIA_TYPES: &[&str] = &[
    "audio/mp4",
    "audio/mpeg",
    "audio/flac",
    "audio/ogg",
    "audio/x-mpegurl",
    "audio/vnd.audible.aax",
    "application/json",
    "image/jpeg",
    "application/pdf",
    "application/octet-stream",
];

/// The type players expect, by the file's extension; the registered MIME type otherwise,
/// when it is one of [`MEDIA_TYPES`]; `application/octet-stream` else.
fn content_type(file: &Servable) -> actix_web::mime::Mime {
    let by_extension = Path::new(&file.path)
        .extension()
        .and_then(|e| e.to_str())
        .and_then(|e| e.to_ascii_lowercase().parse::<OutputFormat>().ok())
        .map(OutputFormat::mime);
    Some(by_extension.unwrap_or(&file.mime))
        .filter(|mime| MEDIA_TYPES.contains(mime))
        .and_then(|mime| mime.parse().ok())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_gives_the_window() {
        assert_eq!(content_range_window("bytes 0-99/1000"), Some((0, 100)));
        assert_eq!(content_range_window("bytes 999-999/1000"), Some((999, 1)));
        assert_eq!(content_range_window("bytes */1000"), None);
        assert_eq!(content_range_window("bytes 5-1/1000"), None);
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
