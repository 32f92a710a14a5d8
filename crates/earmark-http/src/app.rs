//! The actix-web application: routes, documentation, key check, error shapes, request logs.

use std::sync::Arc;
use std::time::Instant;

use actix_cors::Cors;

use actix_web::body::{BodySize, BodyStream, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::{Condition, Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, ResponseError, web};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::{AccessPolicy, ApiKeyHash, require_api_key};
use crate::error::ApiError;
use crate::known_routes::KnownRoutes;
use crate::metrics::HttpLabels;
use crate::routes;
use crate::state::AppState;

/// The whole application for `state`, unlocked by the key whose hash is `key`.
pub fn build(
    state: AppState,
    key: ApiKeyHash,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors = cors(&state.access);
    let (app, api) =
        App::new()
            .into_utoipa_app()
            .openapi(routes::docs::ApiDoc::openapi())
            .app_data(web::Data::new(state))
            .app_data(web::Data::new(key))
            .app_data(web::JsonConfig::default().error_handler(|err, _| json_error(err).into()))
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                ApiError::Validation(format!("invalid query: {err}")).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|err, _| {
                ApiError::Validation(format!("invalid path: {err}")).into()
            }))
            .service(routes::health::healthz)
            .service(routes::health::health)
            .service(routes::health::live)
            .service(routes::stream::stream_local)
            .service(routes::stream::stream)
            .service(routes::chapters::book_chapters)
            .service(routes::metrics::metrics)
            .service(routes::ws::all_jobs)
            .service(routes::ws::one_job)
            .route("/jobs/ws", web::get().to(routes::ws::all_jobs_alias))
            .route("/jobs/ws/{id}", web::get().to(routes::ws::one_job_alias))
            .service(routes::auth::tokens::issue)
            .service(routes::auth::audible::start_login)
            .service(routes::auth::audible::finish_login)
            .service(routes::auth::audible::profiles)
            .service(routes::auth::audible::import)
            .service(routes::auth::audible::set_primary)
            .service(routes::auth::audible::activation_bytes)
            .service(routes::auth::audible::remove)
            .service(routes::library::list)
            .service(routes::library::series)
            .service(routes::library::sync)
            // Literal paths before `/library/{asin}`, which would take them for ASINs.
            .service(routes::library::sync_status)
            .service(routes::library::incomplete_downloads)
            .service(routes::library::remove_many)
            // The web client asks for details of its local items as `local:<id>`.
            .route("/library/local:{tail:.*}", web::route().to(route_not_found))
            .service(routes::library::local_items)
            .service(routes::library::local_item)
            .service(routes::library::continue_listening)
            .service(routes::library::sync_positions)
            .service(routes::library::repair_preview)
            .service(routes::library::repair_apply)
            .service(routes::library::import_folder)
            .service(routes::library::detail)
            .service(routes::library::book_details)
            .service(routes::library::book_progress)
            .service(routes::library::report_progress)
            .service(routes::library::remove_one)
            .service(routes::library::cover)
            .service(routes::jobs::download)
            .service(routes::jobs::convert)
            .service(routes::jobs::list)
            .service(routes::jobs::clear_history)
            .service(routes::jobs::get_one)
            .service(routes::jobs::log)
            .service(routes::jobs::cancel)
            .service(routes::jobs::retry)
            .service(routes::jobs::pause)
            .service(routes::settings::read)
            .service(routes::settings::change)
            .service(routes::settings::naming_variables)
            .service(routes::jobs::resume)
            .service(routes::webhooks::create)
            .service(routes::webhooks::list)
            .service(routes::webhooks::remove)
            .service(routes::webhooks::deliveries)
            .split_for_parts();
    let mut api = api;
    routes::docs::complete(&mut api);
    let known = web::Data::new(KnownRoutes::of(&api));
    app.app_data(known)
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", api))
        .route("/docs", web::get().to(routes::docs::docs_redirect))
        .default_service(web::to(route_not_found))
        .wrap(from_fn(literal_paths_answer_only_their_methods))
        .wrap(from_fn(require_api_key))
        .wrap(cors)
        .wrap(from_fn(preflights_answer_no_content))
        .wrap(from_fn(head_answers_carry_no_body))
        .wrap(from_fn(log_request))
}

/// CORS for the origins `access` lists, outside the key check: a listed page's preflight is
/// answered without credentials, and every answer to it (a 401 too) carries the headers, so
/// the page can read why it was refused. With no origin listed, nothing changes.
fn cors(access: &Arc<AccessPolicy>) -> Condition<Cors> {
    let listed = Arc::clone(access);
    let cors = Cors::default()
        .allowed_origin_fn(move |origin, _| {
            origin.to_str().is_ok_and(|origin| listed.is_listed(origin))
        })
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allow_any_header()
        // What a player needs to read from a ranged answer.
        .expose_headers([
            header::CONTENT_RANGE,
            header::ACCEPT_RANGES,
            header::CONTENT_LENGTH,
            header::ETAG,
            header::LAST_MODIFIED,
            header::RETRY_AFTER,
        ])
        .max_age(600);
    Condition::new(!access.origins().is_empty(), cors)
}

/// A successful preflight says "no content" (actix-cors answers 200 with an empty body).
async fn preflights_answer_no_content(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = next.call(req).await?;
    if preflight && response.status() == StatusCode::OK {
        *response.response_mut().status_mut() = StatusCode::NO_CONTENT;
    }
    Ok(response)
}

/// A `HEAD` answer keeps its `Content-Length` but loses its body.
///
/// actix-http leaves the body out of a `HEAD` answer only while the request it decoded last
/// is that `HEAD`: when a client sends its next request before reading the answer, the body
/// goes out too (and the connection is out of step). Without a body nothing can go out; and a
/// file is no longer read from disk only to be thrown away.
async fn head_answers_carry_no_body(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() != Method::HEAD {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let response = next.call(req).await?.map_into_boxed_body();
    Ok(response
        .map_body(|head, body| {
            // Nothing is framed: no chunk terminator can go out either.
            head.no_chunking(true);
            match body.size() {
                BodySize::None => BoxBody::new(actix_web::body::None::new()),
                size => {
                    if let BodySize::Sized(len) = size {
                        // With the size left open below, this is the length the head says.
                        head.headers
                            .insert(header::CONTENT_LENGTH, header::HeaderValue::from(len));
                    }
                    BoxBody::new(BodyStream::new(futures_util::stream::empty::<
                        Result<web::Bytes, std::convert::Infallible>,
                    >()))
                }
            }
        })
        .map_into_right_body())
}

/// Well-formed JSON with wrong values is 422; anything that is not JSON at all is 400.
fn json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError;
    match err {
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::Validation(format!("invalid request: {e}"))
        }
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::BodyTooLarge { limit },
        other => ApiError::Malformed(format!("invalid JSON body: {other}")),
    }
}

/// A path the API names literally (`/jobs/convert`) is refused with 405 for a method it does
/// not answer, even when a templated route (`DELETE /jobs/{id}`) has its shape and would take
/// it, so that `Allow` and the answer agree.
async fn literal_paths_answer_only_their_methods(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let allow = req
        .app_data::<web::Data<KnownRoutes>>()
        .and_then(|known| known.literal(req.path()));
    if let Some(allow) = allow
        && !allow.contains(req.method())
    {
        let refusal = ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            path: req.path().to_owned(),
            allow: allow.iter().map(ToString::to_string).collect(),
        };
        return Ok(req
            .into_response(refusal.error_response())
            .map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allow = req
        .app_data::<web::Data<KnownRoutes>>()
        .map(|known| known.allowed(req.path()))
        .unwrap_or_default();
    if !allow.is_empty() && !allow.contains(req.method()) {
        return Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            path: req.path().to_owned(),
            allow: allow.iter().map(ToString::to_string).collect(),
        });
    }
    Err(ApiError::RouteNotFound {
        method: req.method().to_string(),
        path: req.path().to_owned(),
    })
}

/// One log line and one metrics observation per request. The query string is left out of
/// both (it may carry a token), and metrics use the route pattern, not the path.
async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let result = next.call(req).await;
    let (status, route) = match &result {
        Ok(response) => (
            response.status().as_u16(),
            response.request().match_pattern(),
        ),
        Err(err) => (err.as_response_error().status_code().as_u16(), None),
    };
    let elapsed = started.elapsed();
    tracing::info!(%method, %path, status, elapsed_ms = elapsed.as_millis() as u64, "request");
    if let Some(metrics) = metrics {
        let labels = HttpLabels {
            method: method.to_string(),
            route: route.unwrap_or_else(|| "unmatched".into()),
            status,
        };
        metrics.observe_request(labels, elapsed.as_secs_f64());
    }
    result
}
