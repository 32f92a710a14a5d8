//! Real audible-cli 0.6.0 → fake Audible API → earmark: a library of more than 1000 books
//! synced, followed through the change feed, with tombstones, no-op re-syncs, and every kind
//! of failure ending in a message that says what to do.

#![expect(clippy::unwrap_used, reason = "test helpers fail by panicking")]

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use earmark_testkit::Server;
use earmark_testkit::fake_audible::{FakeAudible, Misbehaviour, library_item, write_profile};
use serde_json::{Value, json};

const KEY: (&str, &str) = ("X-Api-Key", "sync-key");
const SYNC_TIME: Duration = Duration::from_secs(120);

fn serve(cwd: &Path, fake: &FakeAudible, extra: &[(&str, &str)]) -> Server {
    fake.start_earmark(cwd, KEY.1, extra)
}

/// Starts a sync and waits for it to leave QUEUED/RUNNING; returns the job.
fn sync(server: &Server) -> Value {
    let accepted = server.post_json("/library/sync", &json!({}), &[KEY]);
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let id = accepted.json()["job_id"].as_str().unwrap().to_owned();
    server.wait_for_job(&id, &[KEY], SYNC_TIME, |job| {
        !matches!(job["status"].as_str(), Some("QUEUED" | "RUNNING"))
            && (job["status"] != "PENDING" || !job["error_message"].is_null())
    })
}

/// Every change since `since`, paged by cursor; returns them and the next watermark.
fn changes(server: &Server, since: &str) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut uri = format!("/library?since={since}&limit=500");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let page = server.get(&uri, &[KEY]);
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (items, page["next_since"].as_str().unwrap().to_owned()),
        }
    }
}

fn asins(items: &[Value]) -> HashSet<String> {
    items
        .iter()
        .map(|b| b["asin"].as_str().unwrap().to_owned())
        .collect()
}

fn sync_a_big_library(database_url: Option<&str>) {
    let cwd = tempfile::tempdir().unwrap();
    write_profile(&cwd.path().join("data/audible"), "earmark");
    let fake = FakeAudible::start();
    fake.set_library((1..=1203).map(library_item).collect());
    let db_env: Vec<(&str, &str)> = database_url
        .map(|u| ("DATABASE_URL", u))
        .into_iter()
        .collect();
    let server = serve(cwd.path(), &fake, &db_env);

    let job = sync(&server);
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert!(
        job["status_message"]
            .as_str()
            .unwrap()
            .contains("1203 books"),
        "{job}"
    );
    let requests = fake.requests();
    let pages: Vec<&str> = requests.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(requests.len(), 2, "1000 + 203: {pages:?}");
    assert!(
        pages[0].contains("page=1") && pages[1].contains("page=2"),
        "{pages:?}"
    );
    assert!(pages[0].contains("num_results=1000"), "{pages:?}");
    assert!(
        requests.iter().all(|r| r.signed),
        "audible signs with the auth file's key"
    );
    assert_eq!(
        requests[0].original_host.as_deref(),
        Some("api.audible.com"),
        "the profile's marketplace"
    );

    let list = server.get("/library?page_size=1", &[KEY]).json();
    assert_eq!(list["total"], 1203);
    let book = server.get("/library/B000000005", &[KEY]).json();
    assert_eq!(book["title"], "Generated Book 5");
    assert_eq!(book["series"][0]["title"], "Series 5");
    assert_eq!(book["authors"][0]["asin"], "B0AUTH0005");
    assert_eq!(
        book["product_images"]["1215"],
        "https://m.media-amazon.com/images/I/5._SL1215_.jpg"
    );
    assert_eq!(
        book["jobs"].as_array().unwrap().len(),
        0,
        "syncs belong to no book"
    );

    // A client mirrors everything, then follows the feed.
    let (all, since) = changes(&server, "1970-01-01T00:00:00Z");
    assert_eq!(asins(&all).len(), 1203);

    // A re-sync of the same library changes nothing: an empty delta.
    assert_eq!(sync(&server)["status"], "COMPLETED");
    let (none, since) = changes(&server, &since);
    assert!(none.is_empty(), "no-op sync moved {:?}", asins(&none));

    // Three books change, two leave, one arrives.
    fake.edit_library(|library| {
        for n in [10, 500, 1100] {
            library[n - 1]["title"] = json!(format!("Retitled {n}"));
        }
        library.retain(|b| !matches!(b["asin"].as_str(), Some("B000000007" | "B000001200")));
        library.push(library_item(5000));
    });
    assert_eq!(sync(&server)["status"], "COMPLETED");
    let (delta, since) = changes(&server, &since);
    let by_asin = |asin: &str| delta.iter().find(|b| b["asin"] == asin).cloned();
    assert_eq!(
        asins(&delta),
        [
            "B000000010",
            "B000000500",
            "B000001100",
            "B000000007",
            "B000001200",
            "B000005000"
        ]
        .map(str::to_owned)
        .into(),
    );
    assert_eq!(by_asin("B000000500").unwrap()["title"], "Retitled 500");
    assert!(
        by_asin("B000000007").unwrap()["removed_at"].is_string(),
        "a tombstone"
    );
    assert!(by_asin("B000005000").unwrap()["removed_at"].is_null());
    assert_eq!(
        server.get("/library?page_size=1", &[KEY]).json()["total"],
        1202
    );

    // A removed book that comes back loses its tombstone.
    fake.edit_library(|library| library.push(library_item(7)));
    assert_eq!(sync(&server)["status"], "COMPLETED");
    let (back, _) = changes(&server, &since);
    assert_eq!(asins(&back), HashSet::from(["B000000007".to_owned()]));
    assert!(back[0]["removed_at"].is_null());
}

#[test]
fn a_library_of_more_than_1000_books_syncs_and_deltas_follow_it_on_sqlite() {
    sync_a_big_library(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_library_of_more_than_1000_books_syncs_and_deltas_follow_it_on_postgres() {
    let Some(database) = earmark_db::testing::TestDb::postgres().await else {
        return;
    };
    let url = database.url.clone();
    tokio::task::spawn_blocking(move || sync_a_big_library(Some(&url)))
        .await
        .unwrap();
    drop(database);
}

#[test]
fn failed_syncs_say_what_to_do_and_leave_the_library_alone() {
    let cwd = tempfile::tempdir().unwrap();
    let fake = FakeAudible::start();
    fake.set_library((1..=5).map(library_item).collect());
    let server = serve(cwd.path(), &fake, &[("EARMARK__AUDIBLE__TIMEOUT_S", "3")]);
    let error = |job: &Value| job["error_message"].as_str().unwrap_or_default().to_owned();

    // No profile yet.
    let job = sync(&server);
    assert_eq!(job["status"], "FAILED", "{job}");
    assert!(error(&job).contains("POST /auth/audible/login"), "{job}");
    assert!(fake.requests().is_empty());

    write_profile(&cwd.path().join("data/audible"), "earmark");
    assert_eq!(sync(&server)["status"], "COMPLETED");
    assert_eq!(server.get("/library", &[KEY]).json()["total"], 5);
    fake.set_library(Vec::new());

    // Deregistered device: audible-cli says Unauthorized.
    fake.misbehave(Some(Misbehaviour::Status(401, "Token invalid".into())));
    let job = sync(&server);
    assert_eq!(job["status"], "FAILED", "{job}");
    assert!(error(&job).contains("Unauthorized (401)"), "{job}");
    assert!(error(&job).contains("log in again"), "{job}");

    // Throttled, server error, slow: retried later, the job waits PENDING with the reason.
    for (how, says) in [
        (
            Misbehaviour::Status(429, "slow down".into()),
            "limiting requests",
        ),
        (
            Misbehaviour::Status(500, "boom".into()),
            "could not reach Audible",
        ),
        (
            Misbehaviour::Slow(Duration::from_secs(6)),
            "longer than 3 s",
        ),
    ] {
        fake.misbehave(Some(how.clone()));
        let job = sync(&server);
        assert_eq!(job["status"], "PENDING", "{how:?}: {job}");
        assert!(error(&job).contains(says), "{how:?}: {job}");
        let id = job["id"].as_str().unwrap();
        let cancelled = server.request("DELETE", &format!("/jobs/{id}"), &[KEY]);
        assert_eq!(cancelled.status, 200, "{}", cancelled.text());
    }

    // None of it touched the library: the same five books, none removed.
    let list = server.get("/library?include_removed=true", &[KEY]).json();
    assert_eq!(list["total"], 5);
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["removed_at"].is_null())
    );
}
