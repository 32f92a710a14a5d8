//! The fake Audible's listening positions: `GET /1.0/annotations/lastpositions` and
//! `PUT /1.0/lastpositions/{asin}`, in the shapes verified for the positions issue (the
//! endpoints audible's own apps use; see also mkb79/Audible's external API notes).
//!
//! Beyond the real API, the fake refuses a write of a position that another device changed
//! after earmark last read it (409): a real server would silently take it, and the test could
//! not see that earmark overwrote a newer position.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::fake_audible::{Request, Shared};

/// Audible reads at most this many ASINs a call.
const MAX_ASINS: usize = 25;

/// What the fake holds for one book.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub(crate) position_ms: u64,
    pub(crate) last_updated: OffsetDateTime,
    /// Bumped by every change another device makes.
    pub(crate) version: u64,
}

/// Positions, what earmark last saw of each, and a forced failure.
#[derive(Debug, Default)]
pub(crate) struct Positions {
    pub(crate) held: HashMap<String, Held>,
    /// The version of each position as earmark last read it.
    pub(crate) seen: HashMap<String, u64>,
    /// Answer position calls with this status and message.
    pub(crate) failing: Option<(u16, String)>,
}

/// The `acr` of the fake's licence for `asin`: one per book, so a wrong one is caught.
pub fn acr_of(asin: &str) -> String {
    format!("CR!{asin}0FAKE")
}

/// Audible's `last_updated`: UTC, no zone, milliseconds.
fn audible_time(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]"
    ))
    .unwrap()
}

fn failing(state: &Shared) -> Option<HttpResponse> {
    let (code, message) = state.lock().unwrap().positions.failing.clone()?;
    let status = actix_web::http::StatusCode::from_u16(code).unwrap();
    Some(HttpResponse::build(status).json(json!({ "message": message })))
}

/// `GET /1.0/annotations/lastpositions?asins=A,B,...`.
pub(crate) async fn last_positions(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    state: web::Data<Shared>,
) -> HttpResponse {
    state.lock().unwrap().requests.push(Request::of(&req));
    if let Some(reply) = failing(&state) {
        return reply;
    }
    let asins: Vec<&str> = query
        .get("asins")
        .map(|a| a.split(',').filter(|a| !a.is_empty()).collect())
        .unwrap_or_default();
    if asins.is_empty() || asins.len() > MAX_ASINS {
        return HttpResponse::BadRequest().json(json!({
            "message": format!("asins: between 1 and {MAX_ASINS} values are required")
        }));
    }
    let mut s = state.lock().unwrap();
    let mut annots = Vec::new();
    for asin in asins {
        let heard = match s.positions.held.get(asin).cloned() {
            Some(held) => {
                s.positions.seen.insert(asin.to_owned(), held.version);
                json!({"position_ms": held.position_ms, "last_updated": audible_time(held.last_updated), "status": "Exists"})
            }
            None => json!({"status": "DoesNotExist"}),
        };
        annots.push(json!({"asin": asin, "last_position_heard": heard}));
    }
    HttpResponse::Ok().json(json!({ "asin_last_position_heard_annots": annots }))
}

/// `PUT /1.0/lastpositions/{asin}` with `{acr, asin, position_ms}`: empty 204.
pub(crate) async fn put_last_position(
    req: HttpRequest,
    asin: web::Path<String>,
    body: web::Json<Value>,
    state: web::Data<Shared>,
) -> HttpResponse {
    state.lock().unwrap().requests.push(Request::of(&req));
    if let Some(reply) = failing(&state) {
        return reply;
    }
    let asin = asin.into_inner();
    if body["asin"].as_str() != Some(asin.as_str()) {
        return HttpResponse::BadRequest().json(json!({"message": "asin does not match"}));
    }
    if body["acr"].as_str() != Some(acr_of(&asin).as_str()) {
        return HttpResponse::BadRequest().json(json!({"message": "Invalid acr"}));
    }
    let Some(position_ms) = body["position_ms"].as_u64() else {
        return HttpResponse::BadRequest().json(json!({"message": "position_ms is required"}));
    };
    let mut s = state.lock().unwrap();
    let version = s.positions.held.get(&asin).map_or(0, |h| h.version);
    if s.positions.seen.get(&asin).copied().unwrap_or(0) != version {
        return HttpResponse::Conflict().json(json!({
            "message": "stale write: this position changed since it was last read"
        }));
    }
    s.positions.held.insert(
        asin,
        Held {
            position_ms,
            last_updated: OffsetDateTime::now_utc(),
            version,
        },
    );
    HttpResponse::NoContent().finish()
}
