//! `/auth/audible`: log a new device in to Audible from a web UI, in two calls, and manage
//! the audible-cli profiles that hold the credentials.
//!
//! The first call returns Amazon's sign-in address; the PKCE verifier and device serial stay
//! here, in memory, for 15 minutes. The person signs in in their own browser and pastes the
//! address it ends on (`.../ap/maplanding?...`) into the second call, which registers the
//! device and writes an auth file audible-cli itself can use.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::{HttpResponse, delete, get, post, web};
use earmark_core::ports::{AudibleProfile, LoginStart};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::routes::wire::check_profile;
use crate::routes::wire::rfc3339;
use crate::state::AppState;

/// How long a started login waits for its second half.
const LOGIN_TTL: Duration = Duration::minutes(15);

/// Marketplaces audible knows.
const COUNTRY_CODES: [&str; 11] = [
    "us", "ca", "uk", "au", "fr", "de", "jp", "it", "in", "es", "br",
];

/// An Audible marketplace as the API documents it: one of [`COUNTRY_CODES`].
pub struct CountryCode;

impl utoipa::PartialSchema for CountryCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(COUNTRY_CODES))
            .into()
    }
}

impl utoipa::ToSchema for CountryCode {}

/// A login between its two calls.
#[derive(Debug)]
struct Pending {
    profile: String,
    country_code: String,
    with_username: bool,
    primary: bool,
    start: LoginStart,
    expires_at: OffsetDateTime,
}

/// Logins started and not yet finished, by id.
#[derive(Debug, Default)]
pub struct PendingLogins(Mutex<HashMap<Uuid, Pending>>);

impl PendingLogins {
    fn put(&self, id: Uuid, pending: Pending) {
        if let Ok(mut map) = self.0.lock() {
            let now = OffsetDateTime::now_utc();
            map.retain(|_, p| p.expires_at > now);
            map.insert(id, pending);
        }
    }

    fn take(&self, id: Uuid) -> Option<Pending> {
        let pending = self.0.lock().ok()?.remove(&id)?;
        (pending.expires_at > OffsetDateTime::now_utc()).then_some(pending)
    }
}

/// Starts a login.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The profile to create (letters, digits, `-`, `_`, `.`).
    #[schema(value_type = crate::routes::wire::ProfileName)]
    pub profile: String,
    /// Marketplace: `us`, `ca`, `uk`, `au`, `fr`, `de`, `jp`, `it`, `in`, `es` or `br`.
    #[schema(value_type = CountryCode)]
    pub country_code: String,
    /// Sign in with an Audible (not Amazon) account; `us`, `uk` and `de` only.
    #[serde(default)]
    pub with_username: bool,
    /// Make it the primary profile (the first profile always is).
    #[serde(default)]
    pub primary: bool,
}

/// Where to sign in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginStarted {
    /// Send it back to finish.
    pub login_id: String,
    /// Open it in a browser and sign in.
    pub login_url: String,
    /// The login must be finished before this.
    pub expires_at: String,
}

/// Finishes a login.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginFinish {
    /// The address the browser ended on after signing in (`.../ap/maplanding?...`), or the
    /// bare `openid.oa2.authorization_code`.
    pub redirect_url: String,
}

/// Imports an existing audible-cli auth file.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ImportRequest {
    /// The profile to create.
    #[schema(value_type = crate::routes::wire::ProfileName)]
    pub profile: String,
    /// Its marketplace.
    #[schema(value_type = CountryCode)]
    pub country_code: String,
    /// The auth file's contents (JSON, or an encrypted file as audible writes it).
    pub auth_file: String,
    /// The password of an encrypted file.
    pub password: Option<String>,
    /// Make it the primary profile.
    #[serde(default)]
    pub primary: bool,
}

/// A profile, without secrets.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProfileView {
    /// Name.
    pub name: String,
    /// Marketplace.
    pub marketplace: Option<String>,
    /// Whether its auth file exists.
    pub auth_file_present: bool,
    /// The registered device's name.
    pub device_name: Option<String>,
    /// Whether activation bytes are cached (never their value).
    pub activation_bytes_cached: bool,
    /// Whether audible-cli uses it by default.
    pub primary: bool,
}

/// Every profile.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProfileList {
    /// By name.
    pub items: Vec<ProfileView>,
}

impl From<AudibleProfile> for ProfileView {
    fn from(p: AudibleProfile) -> Self {
        Self {
            name: p.name,
            marketplace: p.country_code,
            auth_file_present: p.auth_file_present,
            device_name: p.device_name,
            activation_bytes_cached: p.activation_bytes_cached,
            primary: p.primary,
        }
    }
}

fn check_country(code: &str) -> Result<(), ApiError> {
    if COUNTRY_CODES.contains(&code) {
        Ok(())
    } else {
        Err(ApiError::Validation(format!(
            "country_code `{code}`: use one of {}",
            COUNTRY_CODES.join(", ")
        )))
    }
}

/// Starts a login: the sign-in address to open, and the id to finish it with.
#[utoipa::path(tag = "auth", request_body = LoginRequest, responses((status = 200, body = LoginStarted), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/auth/audible/login")]
pub async fn start_login(
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    check_profile(&body.profile)?;
    check_country(&body.country_code)?;
    if body.with_username && !matches!(body.country_code.as_str(), "us" | "uk" | "de") {
        return Err(ApiError::Validation(
            "with_username works for the us, uk and de marketplaces only".into(),
        ));
    }
    let start = state
        .accounts
        .start_login(&body.country_code, body.with_username)
        .await?;
    let id = Uuid::new_v4();
    let expires_at = OffsetDateTime::now_utc() + LOGIN_TTL;
    let login_url = start.login_url.clone();
    state.logins.put(
        id,
        Pending {
            profile: body.profile,
            country_code: body.country_code,
            with_username: body.with_username,
            primary: body.primary,
            start,
            expires_at,
        },
    );
    Ok(HttpResponse::Ok().json(LoginStarted {
        login_id: id.to_string(),
        login_url,
        expires_at: rfc3339(expires_at),
    }))
}

/// Finishes a login: registers the device and stores the profile. Only a success ends the
/// login; after a refusal it can be finished again (with the right address) until it expires.
#[utoipa::path(tag = "auth", request_body = LoginFinish, responses((status = 201, body = ProfileView), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/auth/audible/login/{login_id}")]
pub async fn finish_login(
    state: web::Data<AppState>,
    login_id: web::Path<String>,
    body: web::Json<LoginFinish>,
) -> Result<HttpResponse, ApiError> {
    let id = Uuid::parse_str(&login_id).map_err(|_| ApiError::LoginNotFound)?;
    // Taken, so that two finishes of one login cannot both register a device.
    let pending = state.logins.take(id).ok_or(ApiError::LoginNotFound)?;
    let finished = state
        .accounts
        .finish_login(
            &pending.profile,
            &pending.country_code,
            pending.with_username,
            pending.primary,
            &pending.start,
            &body.redirect_url,
        )
        .await;
    match finished {
        Ok(profile) => Ok(HttpResponse::Created().json(ProfileView::from(profile))),
        Err(e) => {
            // Only a success ends a login (or its expiry): an address without a code, a code
            // Amazon refused (a wrong paste, one of an older attempt) or a helper that failed
            // leave it standing, to be finished with the right address.
            state.logins.put(id, pending);
            Err(e.into())
        }
    }
}

/// Every audible-cli profile earmark can use.
#[utoipa::path(tag = "auth", responses((status = 200, body = ProfileList)))]
#[get("/auth/audible/profiles")]
pub async fn profiles(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state.accounts.profiles().await?;
    Ok(HttpResponse::Ok().json(ProfileList {
        items: items.into_iter().map(ProfileView::from).collect(),
    }))
}

/// Imports an existing audible-cli auth file as a profile.
#[utoipa::path(tag = "auth", request_body = ImportRequest, responses((status = 201, body = ProfileView), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/auth/audible/profiles/import")]
pub async fn import(
    state: web::Data<AppState>,
    body: web::Json<ImportRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    check_profile(&body.profile)?;
    check_country(&body.country_code)?;
    let profile = state
        .accounts
        .import(
            &body.profile,
            &body.country_code,
            body.primary,
            &body.auth_file,
            body.password.as_deref(),
        )
        .await?;
    Ok(HttpResponse::Created().json(ProfileView::from(profile)))
}

/// Makes a profile the primary one.
#[utoipa::path(tag = "auth", responses((status = 200, body = ProfileView), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/auth/audible/profiles/{name}/primary")]
pub async fn set_primary(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_profile(&name)?;
    let profile = state.accounts.set_primary(&name).await?;
    Ok(HttpResponse::Ok().json(ProfileView::from(profile)))
}

/// Fetches the profile's activation bytes from Audible (once; they are cached in its auth
/// file) so that AAX files can be converted. Answers the profile; the bytes are never shown.
#[utoipa::path(tag = "auth", responses((status = 200, body = ProfileView), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/auth/audible/profiles/{name}/activation-bytes")]
pub async fn activation_bytes(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_profile(&name)?;
    state.accounts.activation_bytes(Some(&name)).await?;
    let profile = state
        .accounts
        .profiles()
        .await?
        .into_iter()
        .find(|p| p.name == *name)
        .ok_or_else(|| ApiError::Internal(format!("profile {name} vanished")))?;
    Ok(HttpResponse::Ok().json(ProfileView::from(profile)))
}

/// Removes a profile and its auth file.
#[utoipa::path(tag = "auth", responses((status = 204), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
#[delete("/auth/audible/profiles/{name}")]
pub async fn remove(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_profile(&name)?;
    state.accounts.remove(&name).await?;
    Ok(HttpResponse::NoContent().finish())
}
