//! Listening before converting: a downloaded AAX/AAXC streamed as the plain M4A it holds
//! (`earmark-decrypt`), its key taken from the voucher beside it (AAXC) or the account's
//! activation bytes (AAX).
//!
//! A view reads the file's index (the `moov`, megabytes for a long book) and derives its key
//! once; a player seeking sends a request a second, so views are kept by file id while the
//! file's length and modification time stay the same.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use actix_web::web;
use earmark_core::{FileKind, StoredFile};
use earmark_decrypt::{PlainView, Secret, ViewError};

use super::open_files::Opened;
use crate::error::ApiError;
use crate::state::AppState;

/// Views kept at most (one per book being listened to).
const CAPACITY: usize = 32;

/// What a view was made from: a file that changes gets a new one.
type Fingerprint = (u64, Option<SystemTime>);

/// Plain views of the downloads being listened to, by file id.
#[derive(Debug, Default)]
pub struct PlainViews {
    entries: Mutex<HashMap<String, (Fingerprint, Arc<PlainView>)>>,
}

impl PlainViews {
    fn get(&self, id: &str, fingerprint: Fingerprint) -> Option<Arc<PlainView>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(id)
            .filter(|(made_from, _)| *made_from == fingerprint)
            .map(|(_, view)| view.clone())
    }

    fn put(&self, id: &str, fingerprint: Fingerprint, view: Arc<PlainView>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY && !entries.contains_key(id) {
                entries.clear();
            }
            entries.insert(id.to_owned(), (fingerprint, view));
        }
    }
}

/// Whether `file` is a download that `/stream` serves decrypted.
pub fn is_encrypted(file: &StoredFile) -> bool {
    matches!(file.kind, FileKind::Aax | FileKind::Aaxc)
}

/// The plain view of the download `file`, opened as `opened`, whose metadata as read for
/// this request is `meta`.
///
/// # Errors
/// [`ApiError::CannotDecrypt`] naming what is missing or wrong (the voucher, the activation
/// bytes, the file's index).
pub async fn view_of(
    state: &AppState,
    file: &StoredFile,
    opened: &Opened,
    meta: &std::fs::Metadata,
) -> Result<Arc<PlainView>, ApiError> {
    let id = file.id.to_string();
    let fingerprint = (meta.len(), meta.modified().ok());
    if let Some(view) = state.plain_views.get(&id, fingerprint) {
        return Ok(view);
    }
    let secret = secret_of(state, file).await?;
    let handle = opened.file.clone();
    let opened_view = web::block(move || PlainView::open(&handle, &secret))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let view = Arc::new(opened_view.map_err(|e| match e {
        ViewError::Io(e) => ApiError::Internal(format!("reading {}: {e}", file.path)),
        other => cannot_decrypt(file, &other.to_string()),
    })?);
    state.plain_views.put(&id, fingerprint, view.clone());
    Ok(view)
}

fn cannot_decrypt(file: &StoredFile, why: &str) -> ApiError {
    ApiError::CannotDecrypt(format!(
        "the download of {} cannot be played before it is converted: {why}",
        file.asin
    ))
}

/// What opens `file`: its book's voucher (AAXC), or the primary profile's activation bytes
/// (AAX).
async fn secret_of(state: &AppState, file: &StoredFile) -> Result<Secret, ApiError> {
    if file.kind == FileKind::Aax {
        let bytes = state.accounts.activation_bytes(None).await.map_err(|e| {
            cannot_decrypt(
                file,
                &format!(
                    "an AAX needs the account's activation bytes, which could not be had ({e}); \
                     fetch them with POST /auth/audible/profiles/{{name}}/activation-bytes"
                ),
            )
        })?;
        return Ok(Secret::ActivationBytes(bytes.expose().to_owned()));
    }
    let files = state.library.files_of(&file.asin).await?;
    let voucher = files
        .iter()
        .find(|f| f.kind == FileKind::Voucher)
        .ok_or_else(|| {
            cannot_decrypt(
                file,
                "its voucher (the licence with the key) is missing; download the book again",
            )
        })?;
    let root = state.data_root.clone();
    let path = voucher.path.clone();
    let text = web::block(move || {
        let opened = super::open_confined(&root, std::path::Path::new(&path))?;
        let mut text = String::new();
        (&*opened.file)
            .read_to_string(&mut text)
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(text)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|why| cannot_decrypt(file, &format!("its voucher cannot be read ({why})")))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|_| cannot_decrypt(file, "its voucher is not JSON; download the book again"))?;
    if let Some(other) = doc
        .pointer("/content_license/asin")
        .and_then(serde_json::Value::as_str)
        .filter(|asin| *asin != file.asin.as_str())
    {
        return Err(cannot_decrypt(
            file,
            &format!("its voucher is another book's ({other}); download the book again"),
        ));
    }
    let field = |name: &str| {
        doc.pointer(&format!("/content_license/license_response/{name}"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                cannot_decrypt(
                    file,
                    &format!("its voucher holds no `{name}`; download the book again"),
                )
            })
    };
    Ok(Secret::Voucher {
        key: field("key")?,
        iv: field("iv")?,
    })
}
