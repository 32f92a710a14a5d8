//! The OpenAPI document and the Swagger UI, served from files built into the binary.

use actix_web::{HttpResponse, http::header};
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The document's fixed parts; paths are collected from the routes themselves.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "earmark",
        description = "Self-hosted backend for an Audible library: sync, download, convert, stream.",
        license(name = "MIT OR Apache-2.0"),
    ),
    modifiers(&Security),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "stream", description = "Audio files for players, with HTTP ranges"),
        (name = "jobs", description = "Downloads, conversions and syncs, and their progress"),
        (name = "settings", description = "The person's settings: defaults of conversions, downloads and retries"),
    ),
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// `/docs` → `/docs/`, where the UI's relative asset paths resolve.
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}
