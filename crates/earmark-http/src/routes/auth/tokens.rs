//! `POST /auth/tokens`: a short-lived signed token for `?token=` on `/stream` and the
//! WebSocket paths, where browsers cannot send the API key.

use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use crate::auth::tokens::{DEFAULT_TTL_S, MAX_TTL_S, TokenScope};
use crate::error::ApiError;
use crate::routes::wire::rfc3339;
use crate::state::AppState;

/// What the token is for.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `stream` (for `/stream/{id}`) or `ws` (for the job WebSockets).
    pub scope: TokenScope,
    /// Limit it to one file id or ASIN (`stream`) or one job id (`ws`); any when absent.
    #[schema(pattern = "^[0-9A-Za-z-]+$")]
    pub file_id: Option<String>,
    /// Lifetime in seconds, 10 to 86400 (default 3600).
    #[schema(minimum = 10, maximum = 86400)]
    #[serde(default, deserialize_with = "whole_seconds")]
    pub ttl_s: Option<i64>,
}

/// A whole number of seconds, written as JSON writes numbers: `75` or `75.0` (JSON Schema's
/// `integer` takes both); a fraction is refused.
fn whole_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(n) = Option::<f64>::deserialize(d)? else {
        return Ok(None);
    };
    if n.fract() != 0.0 || !n.is_finite() || n.abs() > 1e15 {
        return Err(serde::de::Error::custom(format!(
            "ttl_s {n}: a whole number of seconds"
        )));
    }
    Ok(Some(n as i64))
}

/// A token and when it stops working.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenGrant {
    /// Send it as `?token=`.
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// Mints a token (needs the API key itself; a token cannot mint tokens).
#[utoipa::path(tag = "auth", request_body = TokenRequest, responses((status = 200, body = TokenGrant), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/auth/tokens")]
pub async fn issue(
    state: web::Data<AppState>,
    body: web::Json<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let ttl = body.ttl_s.unwrap_or(DEFAULT_TTL_S);
    if !(10..=MAX_TTL_S).contains(&ttl) {
        return Err(ApiError::Validation(format!(
            "ttl_s {ttl}: use 10 to {MAX_TTL_S} seconds"
        )));
    }
    if let Some(id) = &body.file_id
        && (id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(ApiError::Validation(format!(
            "file_id `{id}`: send a file id, an ASIN or a job id"
        )));
    }
    let expires_at = OffsetDateTime::now_utc() + Duration::seconds(ttl);
    let token = state
        .tokens
        .issue(body.scope, body.file_id.as_deref(), expires_at);
    Ok(HttpResponse::Ok().json(TokenGrant {
        token,
        expires_at: rfc3339(expires_at),
    }))
}
