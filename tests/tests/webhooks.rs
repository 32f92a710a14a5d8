//! Webhooks (issue 21): a receiver of the test is told `book.added` and `job.completed`, with
//! valid signatures, in order, also when it refuses at first; secrets never shown or logged.
#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test crate fail by panicking"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use earmark_db::testing::TestDb;
use earmark_fixtures::SyntheticBook;
use earmark_testkit::Server;
use earmark_testkit::fake_audible::{FakeAudible, library_item, write_profile};
use earmark_testkit::webhook_receiver::{Received, WebhookReceiver};
use serde_json::{Value, json};

const KEY: (&str, &str) = ("X-Api-Key", "webhook-key");
const SECRET: &str = "s3cret-webhook-key-of-the-test";
const WAIT: Duration = Duration::from_secs(120);

fn start(fake: &FakeAudible, home: &Path, db: Option<&str>) -> Server {
    let mut env = vec![("EARMARK__WEBHOOKS__RETRY_MS", "300")];
    if let Some(url) = db {
        env.push(("EARMARK__DATABASE__URL", url));
    }
    fake.start_earmark(home, KEY.1, &env)
}

fn sync(server: &Server) {
    let reply = server.post_json("/library/sync", &json!({}), &[KEY]);
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id = reply.json()["job_id"].as_str().unwrap().to_owned();
    let job = server.wait_for_job(&id, &[KEY], WAIT, |j| {
        j["status"] == "COMPLETED" || j["status"] == "FAILED"
    });
    assert_eq!(job["status"], "COMPLETED", "{job}");
}

/// The HMAC-SHA256 of `body` keyed with `key`, hex, as Python's standard library computes it
/// (not earmark's code).
fn python_hmac(key: &str, body: &[u8]) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())",
            key,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(body)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn accepted(receiver: &WebhookReceiver) -> Vec<Received> {
    receiver
        .received()
        .into_iter()
        .filter(|r| r.answered == 204)
        .collect()
}

fn told_in_order(db: Option<&str>) {
    let fake = FakeAudible::start();
    fake.set_library((1..=2).map(library_item).collect());
    fake.offer_downloads(&SyntheticBook::short(2), &["B000000003"], &[]);
    let home = tempfile::tempdir().unwrap();
    write_profile(&home.path().join("data/audible"), "web");
    let server = start(&fake, home.path(), db);
    let receiver = WebhookReceiver::start();
    receiver.refuse_next(2);

    let made = server.post_json(
        "/webhooks",
        &json!({"url": receiver.url, "secret": SECRET}),
        &[KEY],
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let hook = made.json();
    assert_eq!(hook["has_secret"], true);
    assert_eq!(
        hook["events"],
        json!(["book.added", "book.removed", "job.completed", "job.failed"])
    );
    assert!(!made.text().contains(SECRET));
    let listed = server.get("/webhooks", &[KEY]);
    assert_eq!(listed.json()["items"][0]["id"], hook["id"]);
    assert!(!listed.text().contains(SECRET));

    let reply = server.request_json(
        "PATCH",
        "/settings",
        &json!({"auto_download_new": true}),
        &[KEY],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    sync(&server);
    fake.edit_library(|items| items.push(library_item(3)));
    sync(&server);

    // The first sync's end, then the second's new book and end, then the download's end.
    let deadline = Instant::now() + WAIT;
    while accepted(&receiver).len() < 4 {
        assert!(
            Instant::now() < deadline,
            "not all told: {:?}",
            receiver.received()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let all = receiver.received();
    let told = accepted(&receiver);
    let bodies: Vec<Value> = told
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let events: Vec<&str> = bodies
        .iter()
        .map(|b| b["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events[..4],
        [
            "job.completed",
            "book.added",
            "job.completed",
            "job.completed"
        ],
        "{bodies:#?}"
    );
    assert_eq!(bodies[0]["data"]["task_type"], "SYNC");
    assert_eq!(bodies[1]["data"]["asin"], "B000000003");
    assert_eq!(bodies[1]["data"]["title"], "Generated Book 3");
    assert_eq!(bodies[3]["data"]["task_type"], "DOWNLOAD");
    assert_eq!(bodies[3]["data"]["book_asin"], "B000000003");
    for body in &bodies {
        assert!(
            body["id"].is_string() && body["occurred_at"].is_string(),
            "{body}"
        );
    }

    // The refused posts were the first delivery, sent again unchanged until taken.
    assert_eq!(all[0].answered, 503);
    assert_eq!(all[1].answered, 503);
    assert_eq!(all[0].body, told[0].body);
    assert_eq!(all[1].delivery, told[0].delivery);
    for post in &all {
        assert_eq!(post.content_type.as_deref(), Some("application/json"));
        let event: Value = serde_json::from_slice(&post.body).unwrap();
        assert_eq!(post.event.as_deref(), event["event"].as_str());
        assert_eq!(
            post.signature.as_deref(),
            Some(format!("sha256={}", python_hmac(SECRET, &post.body)).as_str()),
            "a signature a receiver can check"
        );
    }

    let id = hook["id"].as_str().unwrap();
    let deliveries = server.get(&format!("/webhooks/{id}/deliveries"), &[KEY]);
    assert!(!deliveries.text().contains(SECRET));
    let items = deliveries.json()["items"].as_array().unwrap().clone();
    let first = items.last().unwrap();
    assert_eq!(first["status"], "delivered", "{first}");
    assert_eq!(first["attempts"], 3);
    assert_eq!(first["response_status"], 204);

    let log = std::fs::read_to_string(earmark_testkit::stderr_log(home.path())).unwrap();
    assert!(!log.contains(SECRET), "the secret is in the server's log");

    assert_eq!(
        server
            .request("DELETE", &format!("/webhooks/{id}"), &[KEY])
            .status,
        204
    );
    assert_eq!(server.get("/webhooks", &[KEY]).json()["items"], json!([]));
    assert_eq!(
        server
            .request("DELETE", &format!("/webhooks/{id}"), &[KEY])
            .status,
        404
    );
}

#[test]
fn a_receiver_is_told_in_order_with_valid_signatures_on_sqlite() {
    told_in_order(None);
}

#[test]
fn a_receiver_is_told_in_order_with_valid_signatures_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Some(db) = runtime.block_on(TestDb::postgres()) {
        told_in_order(Some(&db.url));
    }
}

#[test]
fn a_webhook_must_have_an_http_url_a_real_secret_and_known_events() {
    let fake = FakeAudible::start();
    let home = tempfile::tempdir().unwrap();
    let server = start(&fake, home.path(), None);
    for (body, naming) in [
        (json!({"url": "ftp://example.org/"}), "url"),
        (json!({"url": "http:///nohost"}), "url"),
        (json!({"url": "http://h/", "secret": ""}), "secret"),
        (json!({"url": "http://h/", "events": []}), "events"),
    ] {
        let reply = server.post_json("/webhooks", &body, &[KEY]);
        assert_eq!(reply.status, 422, "{body}: {}", reply.text());
        assert!(reply.text().contains(naming), "{body}: {}", reply.text());
    }
    let reply = server.post_json(
        "/webhooks",
        &json!({"url": "http://h/", "events": ["book.eaten"]}),
        &[KEY],
    );
    assert!(
        reply.status == 400 || reply.status == 422,
        "{}",
        reply.text()
    );
    assert_eq!(server.get("/webhooks", &[KEY]).json()["items"], json!([]));
    let unknown = server.get(
        "/webhooks/00000000-0000-4000-8000-000000000000/deliveries",
        &[KEY],
    );
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.json()["code"],
        "webhook_not_found",
        "{}",
        unknown.text()
    );
}

#[test]
fn deliveries_outlast_a_crash_of_the_server() {
    let fake = FakeAudible::start();
    fake.set_library((1..=2).map(library_item).collect());
    let home = tempfile::tempdir().unwrap();
    write_profile(&home.path().join("data/audible"), "web");
    let server = start(&fake, home.path(), None);
    let receiver = WebhookReceiver::start();
    receiver.refuse_next(usize::MAX);
    let made = server.post_json("/webhooks", &json!({"url": receiver.url}), &[KEY]);
    assert_eq!(made.status, 201, "{}", made.text());
    sync(&server);
    sync(&server);
    let deadline = Instant::now() + WAIT;
    while receiver.received().is_empty() {
        assert!(Instant::now() < deadline, "never tried");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill_hard();

    // Back, with the receiver taking posts: both syncs' ends arrive, in order, once each.
    receiver.refuse_next(0);
    let server = start(&fake, home.path(), None);
    let deadline = Instant::now() + WAIT;
    while accepted(&receiver).len() < 2 {
        assert!(Instant::now() < deadline, "lost: {:?}", receiver.received());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let told = accepted(&receiver);
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told.iter().all(|r| r.signature.is_none()),
        "no secret, no signature"
    );
    let jobs: Vec<String> = told
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["data"]["job_id"].as_str().unwrap().to_owned()
        })
        .collect();
    let syncs = server.get("/jobs?task_type=SYNC", &[KEY]).json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(jobs, syncs, "oldest first");
}
