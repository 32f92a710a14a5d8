//! `/settings`: the person's settings in the web client's `Settings` shape, and the variables
//! naming schemes may use.

use actix_web::{HttpResponse, get, patch, web};
use earmark_core::{NamingVariables, Settings};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::state::AppState;

pub mod shape;

/// The settings (the defaults until something was saved).
#[utoipa::path(tag = "settings", responses((status = 200, description = "The web client's Settings", body = shape::SettingsShape)))]
#[get("/settings")]
pub async fn read(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.settings.load().await?))
}

/// Changes the settings named in the body (the rest stay), checked as requests' options are;
/// answers all settings as saved. They are the defaults of conversions and downloads from now
/// on, `auto_retry`/`max_retries` the engine's retries, and `auto_sync_interval_s` (0 or at
/// least the server's minimum), `auto_download_new` and `auto_convert` what the server does
/// unasked.
#[utoipa::path(tag = "settings", request_body(content = shape::SettingsPatch, description = "Some of the web client's Settings"), responses((status = 200, description = "The settings as saved", body = shape::SettingsShape), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[patch("/settings")]
pub async fn change(
    state: web::Data<AppState>,
    body: web::Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    let _one_at_a_time = state.settings_writes.lock().await;
    let current = state.settings.load().await?;
    let next: Settings = current
        .patched(&body)
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    if body.contains_key("auto_sync_interval_s") {
        next.check_auto_sync(state.min_sync_interval_s)
            .map_err(|e| ApiError::Validation(e.to_string()))?;
    }
    state.settings.save(&next).await?;
    state.engine.set_max_attempts(next.max_attempts());
    Ok(HttpResponse::Ok().json(next))
}

/// The variables each naming scheme may use.
#[utoipa::path(tag = "settings", responses((status = 200, description = "`{directory, file, chapter}`: lists of `$variable`", body = Object)))]
#[get("/settings/naming-variables")]
pub async fn naming_variables() -> HttpResponse {
    HttpResponse::Ok().json(NamingVariables::allowed())
}
