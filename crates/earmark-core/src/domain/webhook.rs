//! Webhooks: where the person wants to be told what happened, and each telling.

use std::fmt;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::wire_enum;

wire_enum! {
    /// What a webhook can be told.
    WebhookEvent, "webhook event" {
        /// A sync found a book that was not in the library before.
        BookAdded => "book.added",
        /// A sync found a book gone from the Audible library (it became a tombstone).
        BookRemoved => "book.removed",
        /// A job completed.
        JobCompleted => "job.completed",
        /// A job failed for good (no retry follows).
        JobFailed => "job.failed",
    }
}

/// The pattern of [`WebhookUrl`], as the API document states it.
pub const URL_PATTERN: &str =
    r"^[hH][tT][tT][pP][sS]?://[^\s\x00-\x1f\x7f-\x9f/?#@:][^\s\x00-\x1f\x7f-\x9f]*$";
/// The longest URL a webhook may have.
pub const MAX_URL_LEN: usize = 2048;
/// The longest secret.
pub const MAX_SECRET_LEN: usize = 512;

/// Why a webhook cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not one a webhook can be sent to.
    #[error("url: {0}")]
    Url(String),
    /// The secret is empty or too long.
    #[error("secret: 1 to {MAX_SECRET_LEN} characters, or leave it out to send unsigned")]
    Secret,
    /// No event was named.
    #[error(
        "events: name at least one of book.added, book.removed, job.completed, job.failed, or leave it out for all"
    )]
    NoEvents,
}

/// A webhook's URL: `http://` or `https://`, then a host, no whitespace or control
/// characters anywhere. Whether the host answers is for the deliveries to find out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Checks `raw`.
    ///
    /// # Errors
    /// [`WebhookError::Url`] saying what is wrong.
    pub fn parse(raw: &str) -> Result<Self, WebhookError> {
        let refuse = |why: &str| Err(WebhookError::Url(why.to_owned()));
        if raw.chars().count() > MAX_URL_LEN {
            return refuse("at most 2048 characters");
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return refuse("no spaces or control characters");
        }
        let lower = raw.to_ascii_lowercase();
        let Some(rest) = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"))
        else {
            return refuse("must start with http:// or https://");
        };
        // The same rule as the API document's pattern: something that can be a host first.
        if rest.is_empty() || rest.starts_with(['/', '?', '#', '@', ':']) {
            return refuse("must name a host, e.g. http://192.168.1.10:8123/hook");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The key a webhook's bodies are signed with. Never shown: its `Debug` is redacted and it
/// has no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Checks `raw`: 1 to [`MAX_SECRET_LEN`] characters.
    ///
    /// # Errors
    /// [`WebhookError::Secret`].
    pub fn new(raw: String) -> Result<Self, WebhookError> {
        if raw.is_empty() || raw.chars().count() > MAX_SECRET_LEN {
            return Err(WebhookError::Secret);
        }
        Ok(Self(raw))
    }

    /// The secret's bytes, for signing.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// A webhook to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// Where deliveries are posted.
    pub url: WebhookUrl,
    /// Signs the bodies when set.
    pub secret: Option<WebhookSecret>,
    /// What it is told, at least one, no repeats.
    pub events: Vec<WebhookEvent>,
}

impl NewWebhook {
    /// A webhook for `events` (`None`: all of them).
    ///
    /// # Errors
    /// [`WebhookError::NoEvents`] for an empty list.
    pub fn new(
        url: WebhookUrl,
        secret: Option<WebhookSecret>,
        events: Option<Vec<WebhookEvent>>,
    ) -> Result<Self, WebhookError> {
        let mut events = events.unwrap_or_else(|| WebhookEvent::ALL.to_vec());
        if events.is_empty() {
            return Err(WebhookError::NoEvents);
        }
        let mut seen = Vec::new();
        events.retain(|e| {
            let first = !seen.contains(e);
            seen.push(*e);
            first
        });
        Ok(Self {
            url,
            secret,
            events,
        })
    }
}

/// A webhook as kept, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries are posted.
    pub url: String,
    /// Whether bodies are signed.
    pub has_secret: bool,
    /// What it is told.
    pub events: Vec<WebhookEvent>,
    /// When it was made.
    pub created_at: OffsetDateTime,
}

/// Something to tell: one per happening, delivered to every webhook that asked for its event.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// What happened.
    pub event: WebhookEvent,
    /// Its id, the same in every webhook's delivery (receivers can tell repeats).
    pub id: Uuid,
    /// When.
    pub occurred_at: OffsetDateTime,
    /// About what: the book or the job.
    pub data: Value,
}

impl Notification {
    /// A notification of `event` about `data`, now.
    pub fn now(event: WebhookEvent, data: Value) -> Self {
        Self {
            event,
            id: Uuid::new_v4(),
            occurred_at: OffsetDateTime::now_utc(),
            data,
        }
    }

    /// The body every delivery of it posts: `{event, id, occurred_at, data}`.
    pub fn body(&self) -> String {
        json!({
            "event": self.event,
            "id": self.id,
            "occurred_at": self.occurred_at.format(&Rfc3339).unwrap_or_default(),
            "data": self.data,
        })
        .to_string()
    }
}

wire_enum! {
    /// Where a delivery stands.
    DeliveryStatus, "delivery status" {
        /// Not yet accepted by the receiver; tried again at `next_attempt_at`.
        Pending => "pending",
        /// The receiver answered 2xx.
        Delivered => "delivered",
        /// Given up after the retries' bounded time.
        Failed => "failed",
    }
}

/// One notification's delivery to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: Uuid,
    /// The webhook.
    pub webhook_id: Uuid,
    /// What it tells.
    pub event: WebhookEvent,
    /// The notification's id.
    pub notification_id: Uuid,
    /// The body posted, exactly (what the signature covers).
    pub body: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i32,
    /// When it was made (persisted before any attempt).
    pub created_at: OffsetDateTime,
    /// When the last attempt was made.
    pub last_attempt_at: Option<OffsetDateTime>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The receiver's last HTTP status.
    pub response_status: Option<u16>,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Accepted (2xx).
    Delivered {
        /// The status.
        status: u16,
    },
    /// Not accepted; try again at `next_at`.
    Retry {
        /// The status, when the receiver answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// The next attempt.
        next_at: OffsetDateTime,
    },
    /// Not accepted, and the retries' time is up.
    GaveUp {
        /// The status, when the receiver answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
}

/// A delivery that is due, with what sending it takes.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// The delivery.
    pub delivery: Delivery,
    /// Where to post it.
    pub url: String,
    /// What to sign it with.
    pub secret: Option<WebhookSecret>,
}

/// How failed deliveries are retried: after `first`, doubling up to `longest`, until
/// `give_up_after` has passed since the delivery was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt.
    pub first: std::time::Duration,
    /// The longest wait between attempts.
    pub longest: std::time::Duration,
    /// How long after it was written a delivery is still tried.
    pub give_up_after: std::time::Duration,
}

impl Default for RetryPolicy {
    /// 10 s, doubling to 10 min, for a day.
    fn default() -> Self {
        Self {
            first: std::time::Duration::from_secs(10),
            longest: std::time::Duration::from_secs(600),
            give_up_after: std::time::Duration::from_secs(24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// When to try a delivery written at `created_at` again, after its `attempts`th attempt
    /// failed at `now`; `None` once the retries' time is up.
    pub fn next_attempt(
        &self,
        created_at: OffsetDateTime,
        attempts: i32,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let wait = self.first.saturating_mul(1 << doublings).min(self.longest);
        let next = now + wait;
        (next <= created_at + self.give_up_after).then_some(next)
    }
}

/// The notification a job's new status calls for: `job.completed` or `job.failed` (for
/// good), with the job's id, kind, book and message.
pub fn job_notification(job: &super::job::Job) -> Option<Notification> {
    use super::job::JobStatus;
    let event = match job.status {
        JobStatus::Completed => WebhookEvent::JobCompleted,
        JobStatus::Failed => WebhookEvent::JobFailed,
        _ => return None,
    };
    Some(Notification::now(
        event,
        json!({
            "job_id": job.id.to_string(),
            "task_type": job.task_type(),
            "book_asin": job.asin().map(ToString::to_string),
            "status": job.status,
            "message": job.status_message,
            "error": job.error,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn urls_must_be_http_with_a_host_and_nothing_blank() {
        for good in [
            "http://192.168.1.10:8123/api/webhook/x",
            "HTTPS://hooks.example.org/earmark?x=1",
            "http://user@host/",
        ] {
            assert!(WebhookUrl::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ftp://host/",
            "http://",
            "http:///path",
            "http://:80/",
            "http://host/a b",
            "http://host/\u{0}",
            "javascript:alert(1)",
            "",
        ] {
            assert!(
                matches!(WebhookUrl::parse(bad), Err(WebhookError::Url(_))),
                "{bad:?}"
            );
        }
        assert!(WebhookUrl::parse(&format!("http://h/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    #[test]
    fn a_secret_never_shows_in_debug() {
        let secret = WebhookSecret::new("hunter2".into()).unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
        let hook =
            NewWebhook::new(WebhookUrl::parse("http://h/").unwrap(), Some(secret), None).unwrap();
        assert!(!format!("{hook:?}").contains("hunter2"));
        assert_eq!(hook.events, WebhookEvent::ALL);
        assert_eq!(
            WebhookSecret::new(String::new()).unwrap_err(),
            WebhookError::Secret
        );
    }

    #[test]
    fn events_are_one_at_least_and_each_once() {
        let url = WebhookUrl::parse("http://h/").unwrap();
        assert_eq!(
            NewWebhook::new(url.clone(), None, Some(vec![])).unwrap_err(),
            WebhookError::NoEvents
        );
        let hook = NewWebhook::new(
            url,
            None,
            Some(vec![
                WebhookEvent::JobFailed,
                WebhookEvent::BookAdded,
                WebhookEvent::JobFailed,
            ]),
        )
        .unwrap();
        assert_eq!(
            hook.events,
            [WebhookEvent::JobFailed, WebhookEvent::BookAdded]
        );
    }

    #[test]
    fn the_body_is_event_id_time_and_data() {
        let n = Notification {
            event: WebhookEvent::BookAdded,
            id: Uuid::nil(),
            occurred_at: datetime!(2026-12-04 12:00 UTC),
            data: json!({"asin": "B000000001"}),
        };
        let body: Value = serde_json::from_str(&n.body()).unwrap();
        assert_eq!(
            body,
            json!({"event": "book.added", "id": Uuid::nil(), "occurred_at": "2026-12-04T12:00:00Z", "data": {"asin": "B000000001"}})
        );
    }

    #[test]
    fn retries_double_up_to_the_longest_wait_and_end_when_the_time_is_up() {
        let policy = RetryPolicy::default();
        let written = datetime!(2026-12-04 12:00 UTC);
        let at = |attempts, now| policy.next_attempt(written, attempts, now);
        assert_eq!(at(1, written), Some(datetime!(2026-12-04 12:00:10 UTC)));
        assert_eq!(at(2, written), Some(datetime!(2026-12-04 12:00:20 UTC)));
        assert_eq!(at(12, written), Some(datetime!(2026-12-04 12:10 UTC)));
        assert_eq!(at(1000, written), Some(datetime!(2026-12-04 12:10 UTC)));
        assert_eq!(at(50, datetime!(2026-12-05 11:55 UTC)), None);
    }
}
