//! `/webhooks`: where the person wants to be told what happened, and what was told.

use std::sync::Arc;

use actix_web::{HttpResponse, delete, get, post, web};
use earmark_core::domain::webhook::{
    Delivery, NewWebhook, Webhook, WebhookEvent, WebhookSecret, WebhookUrl,
};
use earmark_core::ports::WebhookStore;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;
use crate::routes::wire::rfc3339;
use crate::state::AppState;

/// `POST /webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// Where deliveries are posted: `http://` or `https://`, then a host.
    #[schema(
        max_length = 2048,
        pattern = r"^[hH][tT][tT][pP][sS]?://[^\s\x00-\x1f\x7f-\x9f/?#@:][^\s\x00-\x1f\x7f-\x9f]*$"
    )]
    pub url: String,
    /// Signs each body (`X-Earmark-Signature: sha256=<hex HMAC-SHA256>`); never shown again.
    #[schema(min_length = 1, max_length = 512)]
    pub secret: Option<String>,
    /// What to be told; all four when left out.
    #[schema(min_items = 1, value_type = Option<Vec<crate::routes::wire::WebhookEventName>>)]
    pub events: Option<Vec<WebhookEvent>>,
}

/// A webhook, without its secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    /// Its id.
    pub id: String,
    /// Where deliveries are posted.
    pub url: String,
    /// What it is told.
    #[schema(value_type = Vec<crate::routes::wire::WebhookEventName>)]
    pub events: Vec<String>,
    /// Whether bodies are signed.
    pub has_secret: bool,
    /// When it was made (RFC 3339).
    pub created_at: String,
}

impl From<Webhook> for WebhookView {
    fn from(hook: Webhook) -> Self {
        Self {
            id: hook.id.to_string(),
            url: hook.url,
            events: hook.events.iter().map(|e| e.as_str().to_owned()).collect(),
            has_secret: hook.has_secret,
            created_at: rfc3339(hook.created_at),
        }
    }
}

/// `GET /webhooks`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Every webhook, oldest first.
    pub items: Vec<WebhookView>,
}

/// One attempt (or the pending state) of telling a webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The delivery (`X-Earmark-Delivery`).
    pub id: String,
    /// What it tells.
    #[schema(value_type = crate::routes::wire::WebhookEventName)]
    pub event: String,
    /// The notification (the body's `id`).
    pub notification_id: String,
    /// Where it stands.
    #[schema(value_type = crate::routes::wire::DeliveryStatusName)]
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// When it was written.
    pub created_at: String,
    /// When it was last tried.
    pub last_attempt_at: Option<String>,
    /// When it is tried next, while pending.
    pub next_attempt_at: Option<String>,
    /// The receiver's last HTTP status.
    pub response_status: Option<u16>,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            event: d.event.as_str().to_owned(),
            notification_id: d.notification_id.to_string(),
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            created_at: rfc3339(d.created_at),
            last_attempt_at: d.last_attempt_at.map(rfc3339),
            next_attempt_at: d.next_attempt_at.map(rfc3339),
            response_status: d.response_status,
            error: d.error,
        }
    }
}

/// `GET /webhooks/{id}/deliveries`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// The most recent deliveries, newest first.
    pub items: Vec<DeliveryView>,
}

/// `GET /webhooks/{id}/deliveries`' query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// How many, newest first (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

fn store(state: &AppState) -> Result<&Arc<dyn WebhookStore>, ApiError> {
    state
        .webhooks
        .as_ref()
        .ok_or_else(|| ApiError::TurnedOff("this server delivers no webhooks".into()))
}

fn webhook_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::Validation(format!("`{raw}` is not a webhook id")))
}

/// Makes a webhook: every `book.added`, `book.removed`, `job.completed` and `job.failed` it
/// asks for is posted to its URL as `{event, id, occurred_at, data}`, in order, retried for a
/// day when the receiver fails.
#[utoipa::path(tag = "webhooks", operation_id = "create_webhook", request_body = WebhookRequest, responses((status = 201, body = WebhookView), (status = 422, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "No webhooks on this server", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/webhooks")]
pub async fn create(
    state: web::Data<AppState>,
    body: web::Json<WebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let body = body.into_inner();
    let invalid =
        |e: earmark_core::domain::webhook::WebhookError| ApiError::Validation(e.to_string());
    let new = NewWebhook::new(
        WebhookUrl::parse(&body.url).map_err(invalid)?,
        body.secret
            .map(WebhookSecret::new)
            .transpose()
            .map_err(invalid)?,
        body.events,
    )
    .map_err(invalid)?;
    let made = store.create(new).await?;
    Ok(HttpResponse::Created().json(WebhookView::from(made)))
}

/// Every webhook, without secrets.
#[utoipa::path(tag = "webhooks", operation_id = "list_webhooks", responses((status = 200, body = WebhookList), (status = 409, description = "No webhooks on this server", body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/webhooks")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = store(&state)?
        .list()
        .await?
        .into_iter()
        .map(WebhookView::from)
        .collect();
    Ok(HttpResponse::Ok().json(WebhookList { items }))
}

/// Removes a webhook and what it was still to be told.
#[utoipa::path(tag = "webhooks", operation_id = "remove_webhook", responses((status = 204, description = "Removed"), (status = 404, body = crate::error::Problem, content_type = "application/problem+json")))]
#[delete("/webhooks/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    store(&state)?.delete(webhook_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A webhook's recent deliveries: event, status, attempts, times, the receiver's status and
/// the last error.
#[utoipa::path(tag = "webhooks", operation_id = "webhook_deliveries", params(DeliveriesQuery), responses((status = 200, body = DeliveryList), (status = 404, body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/webhooks/{id}/deliveries")]
pub async fn deliveries(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Validation("limit: 1 to 500".into()));
    }
    let items = store(&state)?
        .deliveries(webhook_id(&id)?, limit)
        .await?
        .into_iter()
        .map(DeliveryView::from)
        .collect();
    Ok(HttpResponse::Ok().json(DeliveryList { items }))
}
