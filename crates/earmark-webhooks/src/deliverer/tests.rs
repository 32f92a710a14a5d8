use std::collections::VecDeque;
use std::sync::Mutex;

use earmark_core::domain::webhook::{
    DeliveryStatus, NewWebhook, WebhookEvent, WebhookSecret, WebhookUrl,
};
use earmark_db::testing::TestDb;
use serde_json::json;

use super::*;

/// Answers from a script (then 204), remembering what it was asked to post.
#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<Sent>>,
    posted: Mutex<Vec<(String, Option<String>)>>,
}

#[async_trait]
impl Sender for Scripted {
    async fn send(&self, due: &DueDelivery) -> Sent {
        let signed = due
            .secret
            .as_ref()
            .map(|s| crate::signature(s, due.delivery.body.as_bytes()));
        self.posted
            .lock()
            .unwrap()
            .push((due.delivery.body.clone(), signed));
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Sent::Answered(204))
    }
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        first: Duration::from_millis(50),
        longest: Duration::from_millis(200),
        give_up_after: Duration::from_secs(60),
    }
}

fn book(n: u32) -> Notification {
    Notification::now(WebhookEvent::BookAdded, json!({"n": n}))
}

/// A webhook to `http://receiver/` kept in `store`.
async fn hook_in(
    store: &Arc<dyn WebhookStore>,
    secret: Option<&str>,
    events: Option<Vec<WebhookEvent>>,
) -> earmark_core::domain::webhook::Webhook {
    store
        .create(
            NewWebhook::new(
                WebhookUrl::parse("http://receiver/").unwrap(),
                secret.map(|s| WebhookSecret::new(s.into()).unwrap()),
                events,
            )
            .unwrap(),
        )
        .await
        .unwrap()
}

async fn until(what: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !what() {
        assert!(std::time::Instant::now() < deadline, "never happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_go_in_order_and_a_failure_holds_the_later_ones_back() {
    let db = TestDb::sqlite().await;
    let store = db.db.webhooks.clone();
    let hook = hook_in(&store, Some("k"), None).await;
    let sender = Arc::new(Scripted::default());
    sender.answers.lock().unwrap().extend([
        Sent::Answered(503),
        Sent::NoAnswer("connection refused".into()),
    ]);
    let webhooks = Webhooks::start(store.clone(), sender.clone(), quick());
    let told = [book(1), book(2), book(3)];
    webhooks.notify(told.to_vec()).await;

    until(|| sender.posted.lock().unwrap().len() == 5).await;
    let bodies: Vec<String> = sender
        .posted
        .lock()
        .unwrap()
        .iter()
        .map(|(body, _)| body.clone())
        .collect();
    let expected: Vec<String> = [0, 0, 0, 1, 2].iter().map(|i| told[*i].body()).collect();
    assert_eq!(
        bodies, expected,
        "the first retried until taken, then the rest in order"
    );
    for (body, signed) in sender.posted.lock().unwrap().iter() {
        assert_eq!(
            signed.as_deref(),
            Some(
                crate::signature(&WebhookSecret::new("k".into()).unwrap(), body.as_bytes())
                    .as_str()
            )
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !store
        .deliveries(hook.id, 10)
        .await
        .unwrap()
        .iter()
        .all(|d| d.status == DeliveryStatus::Delivered)
    {
        assert!(std::time::Instant::now() < deadline, "not all delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recorded = store.deliveries(hook.id, 10).await.unwrap();
    assert_eq!(recorded[2].attempts, 3, "{recorded:?}");
    assert_eq!(recorded[2].response_status, Some(204));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_given_up_when_its_time_is_up_and_the_next_goes() {
    let db = TestDb::sqlite().await;
    let store = db.db.webhooks.clone();
    let hook = hook_in(&store, None, Some(vec![WebhookEvent::BookAdded])).await;
    let sender = Arc::new(Scripted::default());
    sender
        .answers
        .lock()
        .unwrap()
        .extend((0..3).map(|_| Sent::Answered(500)));
    let policy = RetryPolicy {
        give_up_after: Duration::from_millis(120),
        ..quick()
    };
    let webhooks = Webhooks::start(store.clone(), sender.clone(), policy);
    webhooks.notify(vec![book(1), book(2)]).await;
    until(|| {
        sender
            .posted
            .lock()
            .unwrap()
            .iter()
            .any(|(body, _)| body.contains("\"n\":2"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let recorded = store.deliveries(hook.id, 10).await.unwrap();
    assert_eq!(recorded[1].status, DeliveryStatus::Failed, "{recorded:?}");
    assert_eq!(
        recorded[1].error.as_deref(),
        Some("the receiver answered HTTP 500")
    );
    assert_eq!(recorded[0].status, DeliveryStatus::Delivered);
}
