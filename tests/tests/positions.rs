//! Listening positions follow the person between earmark and Audible's own apps: the real
//! binary, the real audible-cli, the fake Audible's position endpoints; on both databases.

#![expect(clippy::unwrap_used, reason = "test helpers fail by panicking")]

use std::path::Path;
use std::time::{Duration, Instant};

use earmark_db::testing::TestDb;
use earmark_testkit::Server;
use earmark_testkit::fake_audible::{FakeAudible, Request, library_item, write_profile};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

const KEY: (&str, &str) = ("X-Api-Key", "positions-key");
const JOB_TIME: Duration = Duration::from_secs(120);
/// The bound on a change reaching Audible, plus audible-cli's own start-up.
const PUSH_BOUND: Duration = Duration::from_secs(40);

fn asin(n: u32) -> String {
    format!("B{n:09}")
}

/// 30 books: 1 to 27 started in Audible's apps (more than one read of 25), 28 finished there.
fn library() -> Vec<Value> {
    (1..=30)
        .map(|n| {
            let mut item = library_item(n);
            item["runtime_length_min"] = json!(100);
            if n <= 27 {
                item["percent_complete"] = json!(50.0);
            }
            item["is_finished"] = json!(n == 28);
            item
        })
        .collect()
}

fn serve(cwd: &Path, fake: &FakeAudible, extra: &[(&str, &str)]) -> Server {
    let mut settings = vec![
        ("EARMARK__AUDIBLE__POSITION_PUSH_DELAY_MS", "300"),
        ("EARMARK__AUDIBLE__POSITION_RETRY_MS", "400"),
    ];
    settings.extend_from_slice(extra);
    fake.start_earmark(cwd, KEY.1, &settings)
}

fn finished_job(server: &Server, path: &str) -> Value {
    let accepted = server.post_json(path, &json!({}), &[KEY]);
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let id = accepted.json()["job_id"].as_str().unwrap().to_owned();
    server.wait_for_job(&id, &[KEY], JOB_TIME, |job| {
        matches!(job["status"].as_str(), Some("COMPLETED" | "FAILED"))
    })
}

fn progress(server: &Server, n: u32) -> Value {
    let reply = server.get(&format!("/library/{}/progress", asin(n)), &[KEY]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

fn report(server: &Server, n: u32, position_ms: u64) {
    let reply = server.request_json(
        "PATCH",
        &format!("/library/{}/progress", asin(n)),
        &json!({ "position_ms": position_ms }),
        &[KEY],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.json()["sync_error"].is_null(), "never in the answer");
}

/// Waits until `done` holds, or panics saying `what`.
fn eventually(within: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

fn position_calls(requests: &[Request]) -> Vec<&Request> {
    requests
        .iter()
        .filter(|r| r.uri.contains("lastpositions"))
        .collect()
}

fn positions_follow_the_person(database_url: Option<&str>) {
    let cwd = tempfile::tempdir().unwrap();
    write_profile(&cwd.path().join("data/audible"), "earmark");
    let fake = FakeAudible::start();
    fake.set_library(library());
    let heard_on_the_phone = datetime!(2026-08-18 21:04:11 UTC);
    fake.set_position(&asin(1), 372_000, heard_on_the_phone);
    fake.set_position(&asin(3), 9_000, datetime!(2026-01-01 00:00:00 UTC));
    let db_env: Vec<(&str, &str)> = database_url
        .map(|u| ("EARMARK__DATABASE__URL", u))
        .into_iter()
        .collect();
    let server = serve(cwd.path(), &fake, &db_env);

    // Read on sync: Audible's positions taken, the rest seeded from the library.
    let job = finished_job(&server, "/library/sync");
    assert_eq!(job["status"], "COMPLETED", "{job}");
    let message = job["status_message"].as_str().unwrap();
    assert!(
        message.contains("28 asked of Audible, 2 taken from it"),
        "{message}"
    );
    let reads = fake.requests();
    let reads = position_calls(&reads);
    assert_eq!(reads.len(), 2, "28 books in reads of at most 25");
    assert!(reads.iter().all(|r| r.method == "GET"));
    let first = progress(&server, 1);
    assert_eq!(first["position_ms"], 372_000);
    assert_eq!(first["last_played_at"], "2026-08-18T21:04:11Z");
    assert_eq!(
        progress(&server, 2)["position_ms"],
        50 * 60_000,
        "seeded at 50%"
    );
    let finished = progress(&server, 28);
    assert_eq!(finished["is_finished"], true);
    assert_eq!(progress(&server, 29), Value::Null, "never started anywhere");

    // A newer local position beats Audible's older one, and reaches it within the bound.
    fake.clear_requests();
    report(&server, 3, 5_000);
    let took = eventually(PUSH_BOUND, "the PATCH reaches Audible", || {
        fake.position(&asin(3)).map(|p| p.0) == Some(5_000)
    });
    assert!(took < PUSH_BOUND, "{took:?}");
    let calls = fake.requests();
    assert!(
        calls.iter().any(|r| r.uri.contains("/licenserequest")),
        "the acr comes from a licence when no download kept one"
    );
    assert!(progress(&server, 3)["sync_error"].is_null());

    // A newer position set on the phone beats earmark's older one, on a positions sync.
    fake.set_position(&asin(3), 7_777, OffsetDateTime::now_utc());
    let job = finished_job(&server, "/library/positions/sync");
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["task_type"], "SYNC");
    assert_eq!(progress(&server, 3)["position_ms"], 7_777);

    // The phone moves on after earmark's last read: the push re-reads and takes the phone's
    // newer position instead of overwriting it (the fake refuses stale writes).
    let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
    fake.set_position(&asin(4), 2_000, later);
    report(&server, 4, 1_000);
    eventually(PUSH_BOUND, "the phone's newer position is taken", || {
        progress(&server, 4)["position_ms"] == 2_000
    });
    assert_eq!(fake.position(&asin(4)).map(|p| p.0), Some(2_000));

    // A failing push is retried, shown on the book, and cleared once Audible answers.
    fake.clear_requests();
    fake.fail_positions(Some((500, "Internal Server Error")));
    report(&server, 5, 12_345);
    eventually(PUSH_BOUND, "the failure shows on the book", || {
        !progress(&server, 5)["sync_error"].is_null()
    });
    eventually(PUSH_BOUND, "the push is retried", || {
        position_calls(&fake.requests()).len() >= 2
    });
    let shown = progress(&server, 5);
    assert!(
        shown["sync_error"].as_str().unwrap().contains("500"),
        "{shown}"
    );
    let book = server.get(&format!("/library/{}", asin(5)), &[KEY]).json();
    assert_eq!(
        book["progress"]["sync_error"], shown["sync_error"],
        "{book}"
    );
    fake.fail_positions(None);
    eventually(PUSH_BOUND, "a later retry succeeds", || {
        fake.position(&asin(5)).map(|p| p.0) == Some(12_345)
    });
    eventually(PUSH_BOUND, "the error is cleared", || {
        progress(&server, 5)["sync_error"].is_null()
    });
    server.terminate(Duration::from_secs(10));
}

#[test]
fn positions_follow_the_person_on_sqlite() {
    positions_follow_the_person(None);
}

#[test]
fn positions_follow_the_person_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Some(db) = runtime.block_on(TestDb::postgres()) {
        positions_follow_the_person(Some(&db.url));
    }
}

/// `EARMARK__AUDIBLE__SYNC_POSITIONS=false`: neither direction talks to Audible's positions.
#[test]
fn positions_can_be_kept_apart_from_audible() {
    let cwd = tempfile::tempdir().unwrap();
    write_profile(&cwd.path().join("data/audible"), "earmark");
    let fake = FakeAudible::start();
    fake.set_library(library());
    fake.set_position(&asin(1), 372_000, datetime!(2026-08-18 21:04:11 UTC));
    let server = serve(
        cwd.path(),
        &fake,
        &[("EARMARK__AUDIBLE__SYNC_POSITIONS", "false")],
    );
    let job = finished_job(&server, "/library/sync");
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(progress(&server, 1), Value::Null);
    let refused = server.post_json("/library/positions/sync", &json!({}), &[KEY]);
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert!(refused.text().contains("EARMARK__AUDIBLE__SYNC_POSITIONS"));
    report(&server, 2, 1_000);
    std::thread::sleep(Duration::from_secs(2));
    assert!(position_calls(&fake.requests()).is_empty());
    assert_eq!(fake.position(&asin(2)), None);
    server.terminate(Duration::from_secs(10));
}
