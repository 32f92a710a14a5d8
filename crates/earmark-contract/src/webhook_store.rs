//! The `WebhookStore` contract: webhooks kept without showing their secrets, deliveries
//! written per asking webhook, sent in order per webhook, attempts recorded.

use std::sync::Arc;

use earmark_core::domain::webhook::{
    AttemptOutcome, DeliveryStatus, NewWebhook, Notification, WebhookEvent, WebhookSecret,
    WebhookUrl,
};
use earmark_core::ports::{WebhookStore, WebhookStoreError};
use serde_json::json;
use time::OffsetDateTime;

/// Runs the webhook contract against `$setup`'s fixtures.
#[macro_export]
macro_rules! webhook_store_contract {
    ($setup:path) => {
        $crate::__contract_tests!(
            $setup, webhook_store, webhooks:
            webhooks_are_kept_listed_and_removed_with_their_deliveries,
            each_notification_reaches_the_webhooks_that_asked_for_it,
            a_webhooks_deliveries_go_one_at_a_time_in_order,
        );
    };
}

fn hook(url: &str, secret: Option<&str>, events: Option<Vec<WebhookEvent>>) -> NewWebhook {
    NewWebhook::new(
        WebhookUrl::parse(url).unwrap(),
        secret.map(|s| WebhookSecret::new(s.into()).unwrap()),
        events,
    )
    .unwrap()
}

fn added(n: u32) -> Notification {
    Notification::now(WebhookEvent::BookAdded, json!({"asin": format!("B{n:09}")}))
}

/// Created webhooks are listed oldest first with `has_secret` (never the secret); deleting
/// one removes it and its deliveries, and an unknown id is `NotFound`.
pub async fn webhooks_are_kept_listed_and_removed_with_their_deliveries(
    store: Arc<dyn WebhookStore>,
) {
    assert!(store.list().await.unwrap().is_empty());
    let first = store
        .create(hook("http://127.0.0.1:9/a", Some("s3cret"), None))
        .await
        .unwrap();
    let second = store
        .create(hook(
            "https://example.org/b",
            None,
            Some(vec![WebhookEvent::JobFailed]),
        ))
        .await
        .unwrap();
    assert!(first.has_secret && !second.has_secret);
    assert_eq!(first.events, WebhookEvent::ALL);
    let listed = store.list().await.unwrap();
    assert_eq!(listed, vec![first.clone(), second.clone()]);
    assert!(!format!("{listed:?}").contains("s3cret"));

    store.record(&[added(1)]).await.unwrap();
    assert_eq!(store.deliveries(first.id, 10).await.unwrap().len(), 1);
    store.delete(first.id).await.unwrap();
    assert_eq!(store.list().await.unwrap(), vec![second]);
    assert!(matches!(
        store.deliveries(first.id, 10).await,
        Err(WebhookStoreError::NotFound(id)) if id == first.id
    ));
    assert!(matches!(
        store.delete(first.id).await,
        Err(WebhookStoreError::NotFound(_))
    ));
    assert!(
        store
            .due(OffsetDateTime::now_utc())
            .await
            .unwrap()
            .ready
            .is_empty()
    );
}

/// A notification becomes one pending delivery per webhook asking for its event, with the
/// exact body, due at once, carrying the webhook's URL and secret.
pub async fn each_notification_reaches_the_webhooks_that_asked_for_it(
    store: Arc<dyn WebhookStore>,
) {
    let all = store
        .create(hook("http://h/all", Some("key"), None))
        .await
        .unwrap();
    let failures = store
        .create(hook(
            "http://h/failures",
            None,
            Some(vec![WebhookEvent::JobFailed]),
        ))
        .await
        .unwrap();
    let book = added(1);
    assert_eq!(store.record(std::slice::from_ref(&book)).await.unwrap(), 1);
    assert_eq!(store.record(&[]).await.unwrap(), 0);
    let [delivery] = store
        .deliveries(all.id, 10)
        .await
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(delivery.body, book.body());
    assert_eq!(delivery.notification_id, book.id);
    assert_eq!(delivery.event, WebhookEvent::BookAdded);
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(delivery.attempts, 0);
    assert!(store.deliveries(failures.id, 10).await.unwrap().is_empty());

    let due = store.due(OffsetDateTime::now_utc()).await.unwrap();
    let [ready] = due.ready.try_into().unwrap();
    assert_eq!(ready.delivery.id, delivery.id);
    assert_eq!(ready.url, "http://h/all");
    assert_eq!(ready.secret.unwrap().expose(), b"key");
}

/// Only a webhook's oldest pending delivery is due; a retry keeps the later ones waiting and
/// says when it is next due; once delivered or given up, the next one comes; every attempt is
/// counted with its status and error.
pub async fn a_webhooks_deliveries_go_one_at_a_time_in_order(store: Arc<dyn WebhookStore>) {
    let hook = store.create(hook("http://h/", None, None)).await.unwrap();
    let (one, two, three) = (added(1), added(2), added(3));
    store.record(&[one.clone(), two.clone()]).await.unwrap();
    store.record(std::slice::from_ref(&three)).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let head = |due: earmark_core::ports::DueDeliveries| {
        let [ready] = due.ready.try_into().unwrap();
        ready.delivery
    };

    let first = head(store.due(now).await.unwrap());
    assert_eq!(first.notification_id, one.id);
    let later = now + time::Duration::minutes(5);
    store
        .record_attempt(
            first.id,
            now,
            AttemptOutcome::Retry {
                status: Some(503),
                error: "HTTP 503".into(),
                next_at: later,
            },
        )
        .await
        .unwrap();
    let waiting = store.due(now).await.unwrap();
    assert!(waiting.ready.is_empty(), "the second waits for the first");
    let next_at = waiting.next_at.unwrap();
    assert!((next_at - later).abs() < time::Duration::milliseconds(1));

    let retried = head(store.due(later).await.unwrap());
    assert_eq!((retried.id, retried.attempts), (first.id, 1));
    assert_eq!(retried.response_status, Some(503));
    store
        .record_attempt(first.id, later, AttemptOutcome::Delivered { status: 204 })
        .await
        .unwrap();
    let second = head(store.due(later).await.unwrap());
    assert_eq!(second.notification_id, two.id);
    store
        .record_attempt(
            second.id,
            later,
            AttemptOutcome::GaveUp {
                status: None,
                error: "connection refused".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        head(store.due(later).await.unwrap()).notification_id,
        three.id
    );

    let recent = store.deliveries(hook.id, 2).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].notification_id, three.id, "newest first");
    assert_eq!(recent[1].status, DeliveryStatus::Failed);
    assert_eq!(recent[1].error.as_deref(), Some("connection refused"));
    assert_eq!(recent[1].attempts, 1);
    let all = store.deliveries(hook.id, 10).await.unwrap();
    assert_eq!(all[2].status, DeliveryStatus::Delivered);
    assert_eq!(all[2].attempts, 2);
    assert_eq!(all[2].error, None);
}
