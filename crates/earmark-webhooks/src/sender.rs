//! Posting one delivery.

use std::time::Duration;

use async_trait::async_trait;
use earmark_core::domain::webhook::DueDelivery;

use crate::signature::signature;

/// What a post came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The receiver answered with this status.
    Answered(u16),
    /// No answer: why (connection refused, timeout, TLS, ...).
    NoAnswer(String),
}

/// Posts deliveries. The HTTP one in production; tests may count or refuse.
#[async_trait]
pub trait Sender: Send + Sync {
    /// Posts `due`'s body to its URL with the event, delivery id and (when the webhook has
    /// a secret) signature headers.
    async fn send(&self, due: &DueDelivery) -> Sent;
}

/// Posts over HTTP(S) with `ureq`, each post bounded by `timeout`, redirects not followed (a
/// receiver that moved must be set up again, not guessed at).
pub struct HttpSender {
    agent: ureq::Agent,
}

impl HttpSender {
    /// A sender whose posts take at most `timeout` each.
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("earmark/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent }
    }
}

#[async_trait]
impl Sender for HttpSender {
    async fn send(&self, due: &DueDelivery) -> Sent {
        let agent = self.agent.clone();
        let (url, body) = (due.url.clone(), due.delivery.body.clone());
        let event = due.delivery.event.as_str();
        let id = due.delivery.id.to_string();
        let signed = due.secret.as_ref().map(|s| signature(s, body.as_bytes()));
        // ureq blocks; the post runs on the blocking pool, never on a worker of the runtime.
        let posted = tokio::task::spawn_blocking(move || {
            let mut request = agent
                .post(&url)
                .header("Content-Type", "application/json")
                .header("X-Earmark-Event", event)
                .header("X-Earmark-Delivery", &id);
            if let Some(signed) = &signed {
                request = request.header("X-Earmark-Signature", signed);
            }
            request.send(body.as_bytes())
        })
        .await;
        match posted {
            Ok(Ok(response)) => Sent::Answered(response.status().as_u16()),
            Ok(Err(e)) => Sent::NoAnswer(e.to_string()),
            Err(e) => Sent::NoAnswer(format!("the post could not run: {e}")),
        }
    }
}
