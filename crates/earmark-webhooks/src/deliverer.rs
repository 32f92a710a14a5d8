//! Keeping notifications and delivering them: one task, woken when something is kept and
//! when the next retry falls due.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use earmark_core::JobEvent;
use earmark_core::domain::webhook::{
    AttemptOutcome, DueDelivery, Notification, RetryPolicy, job_notification,
};
use earmark_core::ports::{Notifier, WebhookStore};
use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast, mpsc};

use crate::sender::{Sender, Sent};

/// The longest the deliverer sleeps without looking (a safety net: it is woken anyway).
const IDLE_LOOK: Duration = Duration::from_secs(60);
/// The wait after the store could not be read.
const STORE_RETRY: Duration = Duration::from_secs(5);

/// The job engine's events, as `Engine::subscribe` hands them out.
pub type JobEventsReceiver = broadcast::Receiver<JobEvent>;

/// The webhooks' side of earmark: keeps notifications (it is the core's [`Notifier`]) and
/// delivers them from its own task. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    store: Arc<dyn WebhookStore>,
    wake: Arc<Notify>,
}

impl Webhooks {
    /// Starts delivering what `store` holds (deliveries left pending by the last run first)
    /// through `sender`, retrying as `policy` says; needs a runtime.
    pub fn start(
        store: Arc<dyn WebhookStore>,
        sender: Arc<dyn Sender>,
        policy: RetryPolicy,
    ) -> Self {
        let wake = Arc::new(Notify::new());
        tokio::spawn(deliver(store.clone(), sender, policy, wake.clone()));
        Self { store, wake }
    }
}

#[async_trait]
impl Notifier for Webhooks {
    async fn notify(&self, notifications: Vec<Notification>) {
        match self.store.record(&notifications).await {
            Ok(0) => {}
            Ok(_) => self.wake.notify_one(),
            Err(why) => {
                let events: Vec<&str> = notifications.iter().map(|n| n.event.as_str()).collect();
                tracing::error!(%why, ?events, "webhook notifications could not be kept");
            }
        }
    }
}

/// Tells `webhooks` of every job that completes or fails for good, from the engine's
/// events; needs a runtime. The events are read at once and kept from a second task, so a
/// slow database never makes this subscriber fall behind the engine's log lines.
pub fn forward_job_events(mut events: JobEventsReceiver, webhooks: Webhooks) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Notification>();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(JobEvent::Status(job)) => {
                    if let Some(notification) = job_notification(&job) {
                        let _ = tx.send(notification);
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "job events were missed; some webhooks may not be told of a job's end"
                    );
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            webhooks.notify(batch).await;
        }
    });
}

async fn deliver(
    store: Arc<dyn WebhookStore>,
    sender: Arc<dyn Sender>,
    policy: RetryPolicy,
    wake: Arc<Notify>,
) {
    loop {
        let now = OffsetDateTime::now_utc();
        let wait = match store.due(now).await {
            Ok(due) if !due.ready.is_empty() => {
                let mut attempts = tokio::task::JoinSet::new();
                for ready in due.ready {
                    attempts.spawn(attempt(store.clone(), sender.clone(), policy, ready));
                }
                while attempts.join_next().await.is_some() {}
                // The next in each webhook's line may be due already.
                continue;
            }
            Ok(due) => due.next_at.map_or(IDLE_LOOK, |at| {
                Duration::try_from(at - OffsetDateTime::now_utc())
                    .unwrap_or(Duration::ZERO)
                    .min(IDLE_LOOK)
            }),
            Err(why) => {
                tracing::warn!(%why, "webhook deliveries could not be read; trying again");
                STORE_RETRY
            }
        };
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Posts one delivery and records what came of it.
async fn attempt(
    store: Arc<dyn WebhookStore>,
    sender: Arc<dyn Sender>,
    policy: RetryPolicy,
    due: DueDelivery,
) {
    let sent = sender.send(&due).await;
    let at = OffsetDateTime::now_utc();
    let delivery = &due.delivery;
    let retry_or_give_up = |status: Option<u16>, error: String| match policy.next_attempt(
        delivery.created_at,
        delivery.attempts + 1,
        at,
    ) {
        Some(next_at) => AttemptOutcome::Retry {
            status,
            error,
            next_at,
        },
        None => AttemptOutcome::GaveUp { status, error },
    };
    let outcome = match sent {
        Sent::Answered(status) if (200..300).contains(&status) => {
            AttemptOutcome::Delivered { status }
        }
        Sent::Answered(status) => {
            retry_or_give_up(Some(status), format!("the receiver answered HTTP {status}"))
        }
        Sent::NoAnswer(why) => retry_or_give_up(None, why),
    };
    match &outcome {
        AttemptOutcome::Delivered { status } => tracing::info!(
            webhook = %delivery.webhook_id, delivery = %delivery.id, event = %delivery.event, status,
            "webhook delivered"
        ),
        AttemptOutcome::Retry { error, next_at, .. } => tracing::warn!(
            webhook = %delivery.webhook_id, delivery = %delivery.id, event = %delivery.event, %error, %next_at,
            "webhook delivery failed; trying again"
        ),
        AttemptOutcome::GaveUp { error, .. } => tracing::warn!(
            webhook = %delivery.webhook_id, delivery = %delivery.id, event = %delivery.event, %error,
            "webhook delivery given up"
        ),
    }
    if let Err(why) = store.record_attempt(delivery.id, at, outcome).await {
        // The delivery stays pending and is sent again: a receiver may see it twice (the
        // same X-Earmark-Delivery), never miss it.
        tracing::warn!(%why, delivery = %delivery.id, "a webhook attempt could not be recorded");
    }
}

#[cfg(test)]
mod tests;
