//! Where webhooks and their deliveries are kept: every delivery is written before it is sent,
//! so none is lost to a crash, and is sent in order per webhook.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::BoxError;
use crate::domain::webhook::{
    AttemptOutcome, Delivery, DueDelivery, NewWebhook, Notification, Webhook,
};

/// Why the webhooks could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WebhookStoreError {
    /// No webhook has this id.
    #[error("no webhook has the id {0}")]
    NotFound(Uuid),
    /// The store cannot be reached right now; retry later.
    #[error("the webhook database is unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Anything else the store reported.
    #[error("the webhook database failed: {0}")]
    Storage(#[source] BoxError),
}

/// The deliveries that may be attempted now, and when the next one falls due.
#[derive(Debug, Clone, Default)]
pub struct DueDeliveries {
    /// At most one per webhook: its oldest undelivered one, when its time has come.
    pub ready: Vec<DueDelivery>,
    /// The earliest time another webhook's oldest undelivered delivery falls due.
    pub next_at: Option<OffsetDateTime>,
}

/// Webhooks and their deliveries.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Keeps a new webhook (with its secret, which is never read back but by [`Self::due`]).
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn create(&self, webhook: NewWebhook) -> Result<Webhook, WebhookStoreError>;

    /// Every webhook, oldest first.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn list(&self) -> Result<Vec<Webhook>, WebhookStoreError>;

    /// Removes a webhook and its deliveries.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown id.
    async fn delete(&self, id: Uuid) -> Result<(), WebhookStoreError>;

    /// A webhook's most recent `limit` deliveries, newest first.
    ///
    /// # Errors
    /// MUST return `NotFound` for an unknown webhook.
    async fn deliveries(&self, id: Uuid, limit: u32) -> Result<Vec<Delivery>, WebhookStoreError>;

    /// Writes one pending delivery of each notification to every webhook that asked for its
    /// event, due at once, in one transaction; returns how many. Deliveries to one webhook
    /// are sent in the order they were written.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`; then nothing was written.
    async fn record(&self, notifications: &[Notification]) -> Result<u64, WebhookStoreError>;

    /// Each webhook's oldest pending delivery whose attempt is due at `now` (later ones wait
    /// for it: order per webhook), and when the next falls due.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn due(&self, now: OffsetDateTime) -> Result<DueDeliveries, WebhookStoreError>;

    /// Records an attempt made `at`: counts it, keeps the status and error, and leaves the
    /// delivery pending until `next_at`, delivered, or failed for good.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn record_attempt(
        &self,
        delivery: Uuid,
        at: OffsetDateTime,
        outcome: AttemptOutcome,
    ) -> Result<(), WebhookStoreError>;
}

/// Where things to tell are handed over: the library sync and the job engine's listener call
/// it, and never wait for a delivery.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Keeps `notifications` for delivery. Never fails the caller: a notification that
    /// cannot be kept is logged by the implementation.
    async fn notify(&self, notifications: Vec<Notification>);
}
