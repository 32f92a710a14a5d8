//! Keeping up unasked (issue 21): the automatic sync on its schedule, books that appear in it
//! downloaded and converted by themselves, the schedule across restarts. The real audible-cli
//! 0.6.0 against the fake Audible, whose library grows between syncs.
#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test crate fail by panicking"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use earmark_fixtures::SyntheticBook;
use earmark_testkit::Server;
use earmark_testkit::fake_audible::{FakeAudible, library_item, write_profile};
use earmark_testkit::files::{files_under, on_postgres};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const KEY: (&str, &str) = ("X-Api-Key", "unattended-key");
const WAIT: Duration = Duration::from_secs(120);

/// A fake Audible with books 1 and 2 in the library and 1–5 downloadable, and a home with
/// its profile.
fn fake_and_home() -> (FakeAudible, tempfile::TempDir) {
    let fake = FakeAudible::start();
    fake.set_library((1..=2).map(library_item).collect());
    fake.offer_downloads(
        &SyntheticBook::short(2),
        &[
            "B000000001",
            "B000000002",
            "B000000003",
            "B000000004",
            "B000000005",
        ],
        &[],
    );
    let home = tempfile::tempdir().unwrap();
    write_profile(&home.path().join("data/audible"), "web");
    (fake, home)
}

/// earmark on `home` with a one-second floor under the sync interval (the default is five
/// minutes), on the database `db` names (`None`: SQLite in `home`), and `extra` settings.
fn start(fake: &FakeAudible, home: &Path, db: Option<&str>, extra: &[(&str, &str)]) -> Server {
    let mut env = vec![
        ("EARMARK__SCHEDULE__MIN_INTERVAL_S", "1"),
        ("EARMARK__JOBS__THROTTLED_BACKOFF_S", "3600"),
    ];
    if let Some(url) = db {
        env.push(("EARMARK__DATABASE__URL", url));
    }
    env.extend_from_slice(extra);
    fake.start_earmark(home, KEY.1, &env)
}

fn set(server: &Server, settings: Value) {
    let reply = server.request_json("PATCH", "/settings", &settings, &[KEY]);
    assert_eq!(reply.status, 200, "{}", reply.text());
}

fn jobs(server: &Server, task_type: &str) -> Vec<Value> {
    server
        .get(&format!("/jobs?task_type={task_type}&limit=100"), &[KEY])
        .json()["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn completed_syncs(server: &Server) -> usize {
    jobs(server, "SYNC")
        .iter()
        .filter(|j| j["status"] == "COMPLETED")
        .count()
}

/// Polls `what` until it holds, failing with `describe`'s text after [`WAIT`].
fn eventually(what: impl Fn() -> bool, describe: impl Fn() -> String) {
    let deadline = Instant::now() + WAIT;
    while !what() {
        assert!(Instant::now() < deadline, "never happened: {}", describe());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn next_auto_sync_at(server: &Server) -> Option<OffsetDateTime> {
    server.get("/library/sync/status", &[KEY]).json()["next_auto_sync_at"]
        .as_str()
        .map(|at| OffsetDateTime::parse(at, &Rfc3339).unwrap())
}

fn log(server: &Server, id: &Value) -> String {
    server
        .get(&format!("/jobs/{}/log", id.as_str().unwrap()), &[KEY])
        .text()
}

#[test]
fn a_new_purchase_is_synced_downloaded_and_converted_with_no_request_on_sqlite() {
    a_new_purchase_is_synced_downloaded_and_converted_with_no_request(None);
}

#[test]
fn a_new_purchase_is_synced_downloaded_and_converted_with_no_request_on_postgres() {
    on_postgres(a_new_purchase_is_synced_downloaded_and_converted_with_no_request);
}

fn a_new_purchase_is_synced_downloaded_and_converted_with_no_request(db: Option<&str>) {
    let (fake, home) = fake_and_home();
    let server = start(&fake, home.path(), db, &[]);
    assert_eq!(next_auto_sync_at(&server), None, "off until switched on");
    assert!(jobs(&server, "SYNC").is_empty());

    set(
        &server,
        json!({"auto_sync_interval_s": 2, "auto_download_new": true, "auto_convert": true, "output_format": "m4a"}),
    );
    // The first automatic sync takes the library as it stands: nothing is downloaded.
    eventually(
        || completed_syncs(&server) >= 1,
        || format!("{:?}", jobs(&server, "SYNC")),
    );
    let first = jobs(&server, "SYNC").pop().unwrap();
    assert!(
        log(&server, &first["id"]).contains("first sync"),
        "{}",
        log(&server, &first["id"])
    );
    assert!(next_auto_sync_at(&server).is_some());

    // A purchase on the phone: the next syncs find it, download it and convert it.
    fake.edit_library(|items| items.push(library_item(3)));
    eventually(
        || server.get("/library/B000000003", &[KEY]).json()["status"] == "COMPLETED",
        || {
            format!(
                "{}\n{:?}\n{:?}",
                server.get("/library/B000000003", &[KEY]).json(),
                jobs(&server, "DOWNLOAD"),
                jobs(&server, "CONVERT")
            )
        },
    );
    let book = server.get("/library/B000000003", &[KEY]).json();
    let converted: Vec<&Value> = book["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "converted")
        .collect();
    assert_eq!(converted.len(), 1, "{book}");
    assert_eq!(converted[0]["mime"], "audio/mp4", "{book}");
    let m4a = files_under(&home.path().join("data/converted"));
    assert!(
        m4a.len() == 1 && m4a[0].extension().unwrap() == "m4a",
        "the saved format: {m4a:?}"
    );
    // Only the new book was downloaded; the books of the first sync were left alone.
    let downloads = jobs(&server, "DOWNLOAD");
    assert_eq!(downloads.len(), 1, "{downloads:?}");
    assert_eq!(downloads[0]["book_asin"], "B000000003", "{downloads:?}");
    assert_eq!(
        server.get("/library/B000000001", &[KEY]).json()["status"],
        "NEW"
    );

    // Switched off: no time is due any more and no sync is asked for.
    set(&server, json!({"auto_sync_interval_s": 0}));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(next_auto_sync_at(&server), None);
    let syncs = jobs(&server, "SYNC").len();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(jobs(&server, "SYNC").len(), syncs, "a sync ran while off");
}

#[test]
fn a_restart_neither_loses_nor_doubles_the_schedule_on_sqlite() {
    a_restart_neither_loses_nor_doubles_the_schedule(None);
}

#[test]
fn a_restart_neither_loses_nor_doubles_the_schedule_on_postgres() {
    on_postgres(a_restart_neither_loses_nor_doubles_the_schedule);
}

fn a_restart_neither_loses_nor_doubles_the_schedule(db: Option<&str>) {
    let (fake, home) = fake_and_home();
    let server = start(&fake, home.path(), db, &[]);
    set(&server, json!({"auto_sync_interval_s": 60}));
    eventually(
        || completed_syncs(&server) == 1,
        || format!("{:?}", jobs(&server, "SYNC")),
    );
    let kept = next_auto_sync_at(&server).unwrap();
    assert!(server.terminate(Duration::from_secs(10)).success());

    // Back within the interval: the same time is due, nothing runs early.
    let server = start(&fake, home.path(), db, &[]);
    assert_eq!(next_auto_sync_at(&server), Some(kept));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(jobs(&server, "SYNC").len(), 1);

    // Down for several intervals: one sync at start-up, not one per missed interval.
    set(&server, json!({"auto_sync_interval_s": 2}));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(server.terminate(Duration::from_secs(10)).success());
    std::thread::sleep(Duration::from_secs(7));
    let started = OffsetDateTime::now_utc();
    let server = start(&fake, home.path(), db, &[]);
    eventually(
        || completed_syncs(&server) >= 2,
        || format!("{:?}", jobs(&server, "SYNC")),
    );
    let next = next_auto_sync_at(&server).unwrap();
    assert!(
        next > started && next <= OffsetDateTime::now_utc() + Duration::from_secs(2),
        "the next run counts from the catch-up: {next} (started {started})"
    );
    // The two-second interval goes on after the catch-up (a loaded machine may already
    // have reached its next run): what must not be there is a burst of syncs for the
    // missed intervals, i.e. two syncs since the restart less than an interval apart.
    let mut since_restart: Vec<OffsetDateTime> = jobs(&server, "SYNC")
        .iter()
        .map(|j| OffsetDateTime::parse(j["created_at"].as_str().unwrap(), &Rfc3339).unwrap())
        .filter(|created| *created >= started)
        .collect();
    since_restart.sort();
    assert!(!since_restart.is_empty(), "no catch-up sync");
    for pair in since_restart.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(1900),
            "syncs {} and {} came together: {:?}",
            pair[0],
            pair[1],
            jobs(&server, "SYNC")
        );
    }
}

#[test]
fn an_interval_below_the_servers_floor_is_refused_saying_where_it_is_set() {
    let (fake, home) = fake_and_home();
    let server = fake.start_earmark(home.path(), KEY.1, &[]);
    let reply = server.request_json(
        "PATCH",
        "/settings",
        &json!({"auto_sync_interval_s": 60}),
        &[KEY],
    );
    assert_eq!(reply.status, 422, "{}", reply.text());
    let detail = reply.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("auto_sync_interval_s")
            && detail.contains("300")
            && detail.contains("EARMARK__SCHEDULE__MIN_INTERVAL_S"),
        "{detail}"
    );
    set(&server, json!({"auto_sync_interval_s": 300}));
    set(&server, json!({"auto_sync_interval_s": 0}));
    let settings = server.get("/settings", &[KEY]).json();
    assert_eq!(settings["auto_sync_interval_s"], 0);
    assert_eq!(settings["auto_download_new"], false);
}

fn licence_requests(fake: &FakeAudible, asin: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.uri.contains(&format!("/content/{asin}/licenserequest")))
        .count()
}

fn download_of(server: &Server, asin: &str) -> Option<Value> {
    jobs(server, "DOWNLOAD")
        .into_iter()
        .find(|j| j["book_asin"] == asin)
}

/// The automatic download of `asin` once it is finished or waiting out a back-off.
fn settled_download(server: &Server, asin: &str) -> Value {
    let settled = |job: &Value| {
        job["status"] == "COMPLETED"
            || job["status"] == "FAILED"
            || (job["status"] == "PENDING" && !job["error_message"].is_null())
    };
    eventually(
        || download_of(server, asin).is_some_and(|j| settled(&j)),
        || format!("{:?}", jobs(server, "DOWNLOAD")),
    );
    download_of(server, asin).unwrap()
}

#[test]
fn automatic_downloads_wait_out_throttling_and_the_daily_limit() {
    let (fake, home) = fake_and_home();
    let server = start(
        &fake,
        home.path(),
        None,
        &[("EARMARK__AUDIBLE__DAILY_DOWNLOAD_LIMIT", "1")],
    );
    set(
        &server,
        json!({"auto_sync_interval_s": 1, "auto_download_new": true}),
    );
    eventually(
        || completed_syncs(&server) >= 1,
        || format!("{:?}", jobs(&server, "SYNC")),
    );

    // Audible refuses the licence of a new book: its download waits out the back-off (an
    // hour here) instead of asking again at every sync.
    fake.edit_content("B000000003", |c| {
        c.denied = Some("License not granted to customer".into())
    });
    fake.edit_library(|items| items.push(library_item(3)));
    let denied = settled_download(&server, "B000000003");
    assert_eq!(denied["status"], "PENDING", "{denied}");
    assert!(
        denied["error_message"]
            .as_str()
            .unwrap()
            .contains("refused the licence"),
        "{denied}"
    );
    let syncs = completed_syncs(&server);
    eventually(
        || completed_syncs(&server) >= syncs + 3,
        || "syncs stopped".into(),
    );
    assert_eq!(licence_requests(&fake, "B000000003"), 1, "asked again");
    assert_eq!(jobs(&server, "DOWNLOAD").len(), 1);

    // One download completes; the daily limit (1) holds the next back before Audible is
    // asked for its licence.
    fake.edit_library(|items| items.push(library_item(4)));
    assert_eq!(
        settled_download(&server, "B000000004")["status"],
        "COMPLETED"
    );
    fake.edit_library(|items| items.push(library_item(5)));
    let held = settled_download(&server, "B000000005");
    assert_eq!(held["status"], "PENDING", "{held}");
    assert!(
        held["error_message"]
            .as_str()
            .unwrap()
            .contains("daily download limit"),
        "{held}"
    );
    assert_eq!(licence_requests(&fake, "B000000005"), 0);
}
