//! The download half of the fake Audible API: licence requests (with a voucher encrypted the
//! way audible decrypts it), the audio itself, chapter metadata and covers.
//!
//! Served on the same loopback server as [`crate::fake_audible`]; every host audible-cli
//! calls (api.audible.com, cds.audible.com, cde-ta-g7g.amazon.com, m.media-amazon.com) ends
//! up here, told apart by path.

use std::path::Path;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use earmark_fixtures::hex;
use serde_json::{Value, json};

use crate::fake_audible::{Request, Shared};

/// The device and customer of [`crate::fake_audible::write_profile`]'s auth file: a voucher
/// is encrypted for them.
pub const DEVICE_TYPE: &str = "A2CZJZGLK2JJVM";
/// See [`DEVICE_TYPE`].
pub const DEVICE_SERIAL: &str = "0123456789ABCDEF";
/// See [`DEVICE_TYPE`].
pub const CUSTOMER_ID: &str = "amzn1.account.FAKE";

/// What the fake holds for one title.
#[derive(Debug, Clone, Default)]
pub struct Content {
    /// The AAXC audio (served after a licence request), if the title has one.
    pub aaxc: Option<Vec<u8>>,
    /// The AAXC's key and iv, put in the voucher.
    pub key_iv: ([u8; 16], [u8; 16]),
    /// The AAX audio (served through the CDE redirect), if the title has one.
    pub aax: Option<Vec<u8>>,
    /// `content/{asin}/metadata`'s answer (chapters).
    pub metadata: Value,
    /// The cover, as JPEG.
    pub cover: Vec<u8>,
    /// Refuse the licence with this message.
    pub denied: Option<String>,
    /// Answer the licence request with 403 and this message.
    pub forbidden: Option<String>,
    /// Serve the audio with this `Content-Type` instead of `audio/aax`.
    pub content_type: Option<String>,
    /// A book sold in parts that Audible hands out only as its parts: its audio address
    /// answers 200 `text/html` saying "please download individual parts" (audible-cli #150;
    /// audible-cli `downloader.py` `_status_for_message` looks for that text), and audible-cli
    /// then downloads each part through the part's own licence.
    pub in_parts: bool,
}

/// How fast the audio is served: `(bytes per chunk, pause between chunks)`.
pub type Trickle = Option<(usize, Duration)>;

/// The voucher audible decrypts with SHA-256(device type ‖ serial ‖ customer id ‖ ASIN):
/// the first half is the AES-128 key, the second the iv; CBC, the JSON padded with NULs.
pub fn encrypted_voucher(asin: &str, key: &[u8; 16], iv: &[u8; 16]) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{DEVICE_TYPE}{DEVICE_SERIAL}{CUSTOMER_ID}{asin}"));
    let mut plain = json!({
        "key": hex(key), "iv": hex(iv),
        "refreshDate": "2099-01-01T00:00:00Z", "removalDate": "2099-01-01T00:00:00Z",
        "rules": [{"name": "DefaultExpiresRule", "parameters": [{"expireDate": "2099-01-01T00:00:00Z", "type": "EXPIRES"}]}]
    })
    .to_string()
    .into_bytes();
    plain.resize(plain.len().div_ceil(16) * 16, 0);
    let len = plain.len();
    cbc::Encryptor::<aes::Aes128>::new(digest[..16].into(), digest[16..].into())
        .encrypt_padded_mut::<NoPadding>(&mut plain, len)
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(plain)
}

fn content_of(state: &Shared, asin: &str) -> Option<Content> {
    state.lock().unwrap().content.get(asin).cloned()
}

/// `POST /1.0/content/{asin}/licenserequest`.
pub(crate) async fn licence_request(
    req: HttpRequest,
    asin: web::Path<String>,
    state: web::Data<Shared>,
) -> HttpResponse {
    state.lock().unwrap().requests.push(Request::of(&req));
    if let Some(reply) = crate::fake_audible::misbehaving(&state).await {
        return reply;
    }
    let acr = crate::fake_positions::acr_of(&asin);
    let Some(content) = content_of(&state, &asin) else {
        if state.lock().unwrap().owns(&asin) {
            // A book of the library whose audio the test did not make: licensed all the same
            // (what position writes need), with nothing to download.
            return HttpResponse::Ok().json(json!({"content_license": {
                "status_code": "Granted", "asin": *asin, "acr": acr, "drm_type": "Adrm",
                "content_metadata": {}
            }}));
        }
        return HttpResponse::NotFound().json(json!({"message": "Requested content not found"}));
    };
    if let Some(message) = content.forbidden {
        return HttpResponse::Forbidden().json(json!({ "message": message }));
    }
    if let Some(message) = content.denied {
        return HttpResponse::Ok().json(json!({"content_license": {
            "status_code": "Denied", "message": message, "asin": *asin,
            "license_denial_reasons": [{"message": message, "rejectionReason": "LicenseLimitExceeded", "validationType": "Download"}]
        }}));
    }
    let Some(audio) = content.aaxc else {
        return HttpResponse::Ok().json(json!({"content_license": {
            "status_code": "Granted", "asin": *asin, "acr": acr, "drm_type": "Adrm",
            "content_metadata": {}
        }}));
    };
    let (key, iv) = content.key_iv;
    HttpResponse::Ok().json(json!({
        "content_license": {
            "status_code": "Granted", "asin": *asin, "acr": acr, "drm_type": "Adrm",
            "content_metadata": {
                "content_url": {"offline_url": format!("https://dfu.cds.audible.com/content/{}.aaxc?Expires=4102444800", *asin)},
                "content_reference": {"asin": *asin, "content_format": "AAX_44_64", "content_size_in_bytes": audio.len(), "codec": "mp4a.40.2"}
            },
            "license_response": encrypted_voucher(&asin, &key, &iv),
            "message": "Eligibility check successful"
        },
        "response_groups": ["last_position_heard", "pdf_url", "content_reference"]
    }))
}

/// `GET /1.0/content/{asin}/metadata`.
pub(crate) async fn metadata(
    req: HttpRequest,
    asin: web::Path<String>,
    state: web::Data<Shared>,
) -> HttpResponse {
    state.lock().unwrap().requests.push(Request::of(&req));
    match content_of(&state, &asin) {
        Some(content) => HttpResponse::Ok().json(content.metadata),
        None => HttpResponse::NotFound().json(json!({"message": "Requested content not found"})),
    }
}

/// `HEAD /FionaCDEServiceEngine/FSDownloadContent?key=<asin>`: the AAX address, in a redirect.
pub(crate) async fn cde_download(
    req: HttpRequest,
    query: web::Query<std::collections::HashMap<String, String>>,
    state: web::Data<Shared>,
) -> HttpResponse {
    state.lock().unwrap().requests.push(Request::of(&req));
    let asin = query.get("key").cloned().unwrap_or_default();
    match content_of(&state, &asin) {
        Some(Content { aax: Some(_), .. }) => HttpResponse::Found()
            .insert_header((
                "Location",
                format!("https://cds.audible.com/download/{asin}.aax"),
            ))
            .finish(),
        _ => HttpResponse::NotFound().finish(),
    }
}

/// `GET /content/{asin}.aaxc` and `GET /download/{asin}.aax`: the audio, trickled if asked.
pub(crate) async fn audio(req: HttpRequest, state: web::Data<Shared>) -> HttpResponse {
    state.lock().unwrap().requests.push(Request::of(&req));
    let file = req.match_info().query("file").to_owned();
    let (asin, ext) = file.rsplit_once('.').unwrap_or((&file, ""));
    let Some(content) = content_of(&state, asin) else {
        return HttpResponse::NotFound().finish();
    };
    if content.in_parts {
        return HttpResponse::Ok().content_type("text/html; charset=utf-8").body(
            "<html><body>This title is too large to download as one file: please download individual parts.</body></html>",
        );
    }
    let bytes = if ext == "aax" {
        content.aax
    } else {
        content.aaxc
    };
    let Some(bytes) = bytes else {
        return HttpResponse::NotFound().finish();
    };
    let content_type = content.content_type.unwrap_or_else(|| "audio/aax".into());
    let trickle = state.lock().unwrap().trickle;
    let mut reply = HttpResponse::Ok();
    reply.content_type(content_type);
    match trickle {
        None => reply.body(bytes),
        Some((chunk, pause)) => {
            let len = bytes.len() as u64;
            let chunks: Vec<web::Bytes> = bytes
                .chunks(chunk)
                .map(web::Bytes::copy_from_slice)
                .collect();
            let stream =
                futures_util::stream::unfold(chunks.into_iter(), move |mut rest| async move {
                    let next = rest.next()?;
                    actix_web::rt::time::sleep(pause).await;
                    Some((Ok::<_, std::io::Error>(next), rest))
                });
            reply.body(actix_web::body::SizedStream::new(len, Box::pin(stream)))
        }
    }
}

/// `GET /images/I/{name}`: the cover of the title whose number the name starts with.
pub(crate) async fn cover(req: HttpRequest, state: web::Data<Shared>) -> HttpResponse {
    state.lock().unwrap().requests.push(Request::of(&req));
    let name = req.match_info().query("name");
    let n: u32 = name
        .split('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    match content_of(&state, &format!("B{n:09}")) {
        Some(content) if !content.cover.is_empty() => HttpResponse::Ok()
            .content_type("image/jpeg")
            .body(content.cover),
        _ => HttpResponse::NotFound().finish(),
    }
}

impl crate::fake_audible::FakeAudible {
    /// Makes each of `asins` downloadable with `book`'s audio encrypted as AAXC (with the
    /// fixtures' key and iv), and those also in `aax` as AAX; chapters and cover to match.
    pub fn offer_downloads(
        &self,
        book: &earmark_fixtures::SyntheticBook,
        asins: &[&str],
        aax: &[&str],
    ) {
        let render = tempfile::tempdir().unwrap();
        let ffmpeg = Path::new("ffmpeg");
        let aaxc_file =
            earmark_fixtures::downloaded_book(ffmpeg, render.path(), asins[0], book, true).unwrap();
        let aax_file = (!aax.is_empty()).then(|| {
            earmark_fixtures::downloaded_book(ffmpeg, render.path(), aax[0], book, false).unwrap()
        });
        for asin in asins {
            self.add_content(
                asin,
                Content {
                    aaxc: Some(std::fs::read(&aaxc_file.audio).unwrap()),
                    key_iv: (earmark_fixtures::AAXC_KEY, earmark_fixtures::AAXC_IV),
                    aax: aax_file
                        .as_ref()
                        .filter(|_| aax.contains(asin))
                        .map(|f| std::fs::read(&f.audio).unwrap()),
                    metadata: book.chapters_json(asin),
                    cover: std::fs::read(&aaxc_file.cover).unwrap(),
                    ..Content::default()
                },
            );
        }
    }
}
