//! Rows of `webhooks` and `webhook_deliveries`, and their domain values.

use diesel::prelude::*;
use earmark_core::domain::webhook::{Delivery, DeliveryStatus, Webhook, WebhookEvent};

use crate::error::StoreError;
use crate::schema::{webhook_deliveries, webhooks};
use crate::sql_types::{DbId, DbTime};

/// A `webhooks` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhooks)]
pub(crate) struct WebhookRow {
    pub id: DbId,
    pub url: String,
    pub secret: Option<String>,
    pub events: String,
    pub created_at: DbTime,
}

impl WebhookRow {
    /// The webhook, without its secret.
    pub(crate) fn into_webhook(self) -> Result<Webhook, StoreError> {
        Ok(Webhook {
            id: self.id.0,
            url: self.url,
            has_secret: self.secret.is_some(),
            events: events_of(&self.events)?,
            created_at: self.created_at.get(),
        })
    }
}

/// The events column: wire names joined by commas.
pub(crate) fn events_column(events: &[WebhookEvent]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn events_of(column: &str) -> Result<Vec<WebhookEvent>, StoreError> {
    column
        .split(',')
        .map(|e| e.parse().map_err(StoreError::corrupt))
        .collect()
}

/// Whether the events column names `event`.
pub(crate) fn asks_for(column: &str, event: WebhookEvent) -> bool {
    column.split(',').any(|e| e == event.as_str())
}

/// A `webhook_deliveries` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub(crate) struct DeliveryRow {
    pub id: DbId,
    pub webhook_id: DbId,
    pub event: String,
    pub notification_id: DbId,
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub created_at: DbTime,
    pub last_attempt_at: Option<DbTime>,
    pub next_attempt_at: Option<DbTime>,
    pub response_status: Option<i32>,
    pub error: Option<String>,
}

/// A new `webhook_deliveries` row (`seq` is the database's).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub(crate) struct NewDeliveryRow {
    pub id: DbId,
    pub webhook_id: DbId,
    pub event: String,
    pub notification_id: DbId,
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub created_at: DbTime,
    pub next_attempt_at: Option<DbTime>,
}

impl DeliveryRow {
    /// The delivery.
    pub(crate) fn into_delivery(self) -> Result<Delivery, StoreError> {
        Ok(Delivery {
            id: self.id.0,
            webhook_id: self.webhook_id.0,
            event: self.event.parse().map_err(StoreError::corrupt)?,
            notification_id: self.notification_id.0,
            body: self.body,
            status: self
                .status
                .parse::<DeliveryStatus>()
                .map_err(StoreError::corrupt)?,
            attempts: self.attempts,
            created_at: self.created_at.get(),
            last_attempt_at: self.last_attempt_at.map(DbTime::get),
            next_attempt_at: self.next_attempt_at.map(DbTime::get),
            response_status: self.response_status.and_then(|s| u16::try_from(s).ok()),
            error: self.error,
        })
    }
}
