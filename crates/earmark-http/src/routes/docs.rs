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
        (name = "webhooks", description = "Being told what happened: signed posts in order, retried, never lost"),
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

/// Adds what every operation can answer besides its own responses, once the routes' paths
/// are collected: 401 (with `WWW-Authenticate`) and 429 (with `Retry-After`) on every route
/// the key protects, 400 on every one that reads a body; and declares that the public route
/// needs no credentials.
pub fn complete(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::Operation;
    use utoipa::openapi::security::SecurityRequirement;

    for (path, item) in &mut api.paths.paths {
        // GET and HEAD share a handler, so the derived id twice; ids must be unique.
        if let (Some(get), Some(head)) = (&item.get, &mut item.head)
            && head.operation_id == get.operation_id
        {
            head.operation_id = get.operation_id.as_ref().map(|id| format!("{id}_head"));
        }
        let public = crate::auth::is_public(path);
        let operations: [&mut Option<Operation>; 7] = [
            &mut item.get,
            &mut item.head,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
            &mut item.options,
        ];
        for operation in operations.into_iter().flatten() {
            constrain_path_parameters(operation);
            let responses = &mut operation.responses.responses;
            if public {
                operation.security = Some(vec![SecurityRequirement::default()]);
                continue;
            }
            responses.entry("401".into()).or_insert_with(|| {
                problem(
                    "No key, a wrong one, or a bad token",
                    Some(("WWW-Authenticate", "The schemes that are accepted")),
                )
                .into()
            });
            responses.entry("429".into()).or_insert_with(|| {
                problem(
                    "Too many failed authentications from this address",
                    Some(("Retry-After", "Seconds to wait")),
                )
                .into()
            });
            if operation.request_body.is_some() {
                responses
                    .entry("400".into())
                    .or_insert_with(|| problem("The body is not readable JSON", None).into());
            }
            if path.starts_with("/ws/") {
                document_websocket_handshake(operation);
            }
            if path.starts_with("/stream/") {
                document_stream_media_types(operation);
            }
            let responses = &mut operation.responses.responses;
            let takes_input = operation.request_body.is_some()
                || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            if takes_input {
                responses.entry("422".into()).or_insert_with(|| {
                    problem(
                        "A parameter or the body is not valid; `detail` says which",
                        None,
                    )
                    .into()
                });
            }
            if path.contains('{') {
                responses.entry("404".into()).or_insert_with(|| {
                    problem("The path names something that does not exist", None).into()
                });
            }
        }
    }
}

/// A stream's whole file (200) and range (206) come in any of the stream's media types.
fn document_stream_media_types(operation: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::{ContentBuilder, RefOr};
    for status in ["200", "206"] {
        if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(status) {
            response.content = crate::routes::stream::MEDIA_TYPES
                .iter()
                .map(|media| ((*media).to_owned(), ContentBuilder::new().build().into()))
                .collect();
        }
    }
}

/// A WebSocket path takes only a handshake: its headers are documented as required
/// parameters, and the 400 a plain request gets.
fn document_websocket_handshake(operation: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::Type;
    use utoipa::openapi::{ObjectBuilder, Required};

    let header = |name: &str, schema: ObjectBuilder, about: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(about))
            .schema(Some(schema.schema_type(Type::String)))
            .build()
            .into()
    };
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    parameters.extend([
        header(
            "Upgrade",
            ObjectBuilder::new().enum_values(Some(["websocket"])),
            "The handshake asks for a WebSocket",
        ),
        header(
            "Connection",
            ObjectBuilder::new().enum_values(Some(["Upgrade"])),
            "The handshake asks to upgrade the connection",
        ),
        header(
            "Sec-WebSocket-Version",
            ObjectBuilder::new().enum_values(Some(["13"])),
            "The WebSocket protocol version (RFC 6455)",
        ),
        header(
            "Sec-WebSocket-Key",
            ObjectBuilder::new().pattern(Some("^[A-Za-z0-9+/]{21}[AQgw]==$")),
            "16 random bytes in base64 (RFC 6455)",
        ),
    ]);
    operation
        .responses
        .responses
        .entry("400".into())
        .or_insert_with(|| problem("Not a WebSocket handshake", None).into());
}

/// Gives every path parameter the schema its name stands for everywhere (an ASIN, a job id,
/// a profile name...), so that no route can document one more loosely than the server reads
/// it.
fn constrain_path_parameters(operation: &mut utoipa::openapi::path::Operation) {
    use utoipa::PartialSchema;
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{KnownFormat, SchemaFormat, Type};
    use utoipa::openapi::{ObjectBuilder, RefOr, Required, Schema};

    const UUID: &str =
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
    let uuid = || -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            .into()
    };
    for parameter in operation.parameters.iter_mut().flatten() {
        let RefOr::T(parameter) = parameter else {
            continue;
        };
        if parameter.parameter_in != ParameterIn::Path {
            continue;
        }
        parameter.required = Required::True;
        let schema = match parameter.name.as_str() {
            "asin" => crate::routes::wire::AsinText::schema(),
            "id" | "login_id" => uuid(),
            "file_id" => ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(format!("^([0-9A-Z]{{10}}|{UUID})$")))
                .into(),
            "name" => crate::routes::wire::ProfileName::schema(),
            _ => continue,
        };
        parameter.schema = Some(schema);
    }
}

/// A problem+json response described by `description`, with one documented header.
fn problem(description: &str, header: Option<(&str, &str)>) -> utoipa::openapi::Response {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::schema::{Ref, Type};
    use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder};

    let mut response = ResponseBuilder::new().description(description).content(
        crate::error::PROBLEM_JSON,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    );
    if let Some((name, about)) = header {
        response = response.header(
            name,
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .description(Some(about))
                .build(),
        );
    }
    response.build()
}
