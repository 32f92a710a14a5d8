//! Crash-exact job endings. The real binary is killed (SIGKILL) the moment a job's output
//! appears under its final name, before anything after the move is written; restarted, the
//! job finishes on its next attempt, recognising or replacing its own output, and the book,
//! its files and the disk agree. On both databases.
//!
//! A kill lands within microseconds of the rename (an inotify wake-up) while the server still
//! has two database writes to make, so a round nearly always hits the window; a round that
//! is late must still end right, and each test insists that one of its rounds hit.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "helpers of a test crate fail by panicking"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use earmark_db::testing::TestDb;
use earmark_fixtures::SyntheticBook;
use earmark_testkit::arrivals::Arrivals;
use earmark_testkit::fake_audible::{FakeAudible, library_item, write_profile};
use earmark_testkit::{Server, seed, start_ok};
use serde_json::{Value, json};

const KEY: (&str, &str) = ("X-Api-Key", "crash-key");
const WAIT: Duration = Duration::from_secs(120);
const ROUNDS: usize = 3;

/// Where a round's database lives.
enum Backend {
    /// The embedded default, `<data>/library/earmark.db`.
    Sqlite,
    /// A fresh PostgreSQL database for the round.
    Postgres,
}

/// A round's world: its directory, its database, the environment the server runs with.
struct World {
    cwd: tempfile::TempDir,
    db_url: String,
    env: Vec<(String, String)>,
    _pg: Option<TestDb>,
}

impl World {
    /// `None` when PostgreSQL is wanted and none runs (never under `CI=true`).
    fn new(backend: &Backend) -> Option<Self> {
        let cwd = tempfile::tempdir().unwrap();
        let (db_url, pg) = match backend {
            Backend::Sqlite => {
                let path = cwd.path().join("data/library/earmark.db");
                (path.display().to_string(), None)
            }
            Backend::Postgres => {
                let runtime = tokio::runtime::Runtime::new().unwrap();
                let db = runtime.block_on(TestDb::postgres())?;
                (db.url.clone(), Some(db))
            }
        };
        let env = vec![
            ("EARMARK__SERVER__BIND".into(), "127.0.0.1:0".into()),
            ("EARMARK__AUTH__API_KEY".into(), KEY.1.into()),
            ("EARMARK__DATABASE__URL".into(), db_url.clone()),
        ];
        Some(Self {
            cwd,
            db_url,
            env,
            _pg: pg,
        })
    }

    fn data(&self) -> PathBuf {
        self.cwd.path().join("data")
    }

    fn start(&self) -> Server {
        self.start_with(&[])
    }

    /// Starts the server with `extra` in its environment too.
    fn start_with(&self, extra: &[(String, String)]) -> Server {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        start_ok(self.cwd.path(), &env)
    }
}

fn accepted(server: &Server, path: &str, body: &Value) -> String {
    let reply = server.post_json(path, body, &[KEY]);
    assert_eq!(reply.status, 202, "{}", reply.text());
    reply.json()["job_id"].as_str().unwrap().to_owned()
}

fn finished(server: &Server, id: &str) -> Value {
    server.wait_for_job(id, &[KEY], WAIT, |job| {
        matches!(
            job["status"].as_str(),
            Some("COMPLETED" | "FAILED" | "CANCELLED")
        )
    })
}

/// The sizes of the files under `dir`, sorted: what the book's registered files must match
/// one for one.
fn sizes_under(dir: &Path) -> Vec<i64> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(i64::try_from(path.metadata().unwrap().len()).unwrap());
            }
        }
    }
    out.sort_unstable();
    out
}

/// The sizes of the book's registered files of these kinds, sorted (the API names no paths).
fn registered(book: &Value, kinds: &[&str]) -> Vec<i64> {
    let mut sizes: Vec<i64> = book["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| kinds.contains(&f["kind"].as_str().unwrap()))
        .map(|f| f["size"].as_i64().unwrap())
        .collect();
    sizes.sort_unstable();
    sizes
}

/// Runs `round` on fresh worlds until one hits the window (its job needed a second
/// attempt), at most [`ROUNDS`] times; every round must end right on its own.
fn until_the_window_is_hit(backend: Backend, round: impl Fn(&World) -> bool) {
    for _ in 0..ROUNDS {
        let Some(world) = World::new(&backend) else {
            return;
        };
        if round(&world) {
            return;
        }
    }
    panic!("in {ROUNDS} rounds the kill never landed between the move and its record");
}

/// A conversion killed as its (first) output appears: after the restart the job completes on
/// attempt 2 and the book, its registered files and `converted/` agree, with no file twice.
fn conversion_round(world: &World, mode: &str) -> bool {
    seed::downloaded_into(
        &world.db_url,
        &world.data(),
        earmark_contract::record(1),
        &SyntheticBook::short(2),
        true,
    );
    let server = world.start();
    let shelf = world.data().join("converted/crashed");
    let arrivals = Arrivals::watch(&shelf);
    let body = json!({"asin": "B000000001", "format": "m4b", "mode": mode, "dir_naming_scheme": "crashed"});
    let id = accepted(&server, "/jobs/convert", &body);
    let first = arrivals.next(WAIT);
    server.kill_hard();
    assert!(first.exists(), "the output was moved before the kill");

    let server = world.start();
    let job = finished(&server, &id);
    let log = server.get(&format!("/jobs/{id}/log"), &[KEY]).text();
    assert_eq!(job["status"], "COMPLETED", "{job}\n{log}");
    let book = server.get("/library/B000000001", &[KEY]).json();
    assert_eq!(book["status"], "COMPLETED", "{book}");
    let on_disk = sizes_under(&world.data().join("converted"));
    let kinds = ["converted", "converted_chapter", "playlist"];
    assert_eq!(
        registered(&book, &kinds),
        on_disk,
        "registered once each, no orphan"
    );
    let expected = if mode == "single" { 1 } else { 4 };
    assert_eq!(
        on_disk.len(),
        expected,
        "three chapters and a playlist, or one file"
    );
    let main = book["local_path_converted"].as_str().unwrap();
    assert!(Path::new(main).is_file(), "{book}");
    let hit = job["attempt"] == 2;
    if hit && mode == "single" {
        assert!(
            log.contains("by an earlier attempt"),
            "the restart recognised its own output instead of converting again: {log}"
        );
    }
    server.terminate(Duration::from_secs(10));
    hit
}

#[test]
fn a_conversion_killed_as_its_output_appears_completes_after_a_restart_on_sqlite() {
    until_the_window_is_hit(Backend::Sqlite, |w| conversion_round(w, "single"));
}

#[test]
fn a_conversion_killed_as_its_output_appears_completes_after_a_restart_on_postgres() {
    until_the_window_is_hit(Backend::Postgres, |w| conversion_round(w, "single"));
}

#[test]
fn a_chapter_conversion_killed_after_its_first_file_replaces_its_own_files_on_sqlite() {
    until_the_window_is_hit(Backend::Sqlite, |w| conversion_round(w, "chapters"));
}

#[test]
fn a_chapter_conversion_killed_after_its_first_file_replaces_its_own_files_on_postgres() {
    until_the_window_is_hit(Backend::Postgres, |w| conversion_round(w, "chapters"));
}

/// A download that asked for a conversion, killed as its audio appears: after the restart the
/// download completes on attempt 2, its files are registered once each, and the conversion it
/// promised is queued and done.
fn download_round(world: &World) -> bool {
    let fake = FakeAudible::start();
    fake.set_library(vec![library_item(1)]);
    fake.offer_downloads(&SyntheticBook::short(2), &["B000000001"], &[]);
    write_profile(&world.data().join("audible"), "web");
    let audible = fake.env();
    let server = world.start_with(&audible);
    let sync = accepted(&server, "/library/sync", &json!({}));
    assert_eq!(finished(&server, &sync)["status"], "COMPLETED");
    let arrivals = Arrivals::watch(&world.data().join("downloads/B000000001"));
    let body = json!({"asin": "B000000001", "convert": {"format": "m4b"}});
    let id = accepted(&server, "/jobs/download", &body);
    arrivals.next(WAIT);
    server.kill_hard();

    let server = world.start_with(&audible);
    let job = finished(&server, &id);
    assert_eq!(job["status"], "COMPLETED", "{job}");
    let book = server.get("/library/B000000001", &[KEY]).json();
    let downloaded = sizes_under(&world.data().join("downloads"));
    assert_eq!(
        registered(&book, &["aax", "aaxc", "voucher", "chapters", "cover"]),
        downloaded,
        "registered once each, no orphan"
    );
    let convert = book["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["task_type"] == "CONVERT")
        .unwrap_or_else(|| panic!("the promised conversion was lost: {book}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(finished(&server, &convert)["status"], "COMPLETED");
    let book = server.get("/library/B000000001", &[KEY]).json();
    assert_eq!(book["status"], "COMPLETED", "{book}");
    let hit = job["attempt"] == 2;
    server.terminate(Duration::from_secs(10));
    hit
}

#[test]
fn a_download_killed_as_its_audio_appears_completes_and_converts_after_a_restart_on_sqlite() {
    until_the_window_is_hit(Backend::Sqlite, download_round);
}

#[test]
fn a_download_killed_as_its_audio_appears_completes_and_converts_after_a_restart_on_postgres() {
    until_the_window_is_hit(Backend::Postgres, download_round);
}

/// What a crash between a job's end and its book's update left behind before the two were
/// written together: the restart sets such books right from their jobs and files.
fn leftovers_are_set_right(backend: Backend) {
    let Some(world) = World::new(&backend) else {
        return;
    };
    use earmark_core::ports::{JobQueue, LibraryRepo};
    use earmark_core::{BookStatus, BookUpdate, JobSpec, JobStatus, JobUpdate, TaskType};

    std::fs::create_dir_all(world.data().join("library")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let db = earmark_db::connect(&world.db_url, &Default::default())
            .await
            .unwrap();
        let (library, jobs): (&dyn LibraryRepo, &dyn JobQueue) = (&*db.library, &*db.jobs);
        let records = (1..=3).map(earmark_contract::record).collect();
        library.upsert_books(records).await.unwrap();
        let stuck = [
            (
                1,
                TaskType::Convert,
                JobStatus::Completed,
                BookStatus::Converting,
            ),
            (
                2,
                TaskType::Download,
                JobStatus::Failed,
                BookStatus::Downloading,
            ),
            (
                3,
                TaskType::Download,
                JobStatus::Cancelled,
                BookStatus::Downloading,
            ),
        ];
        for (n, task_type, ended, status) in stuck {
            let asin = earmark_contract::asin(n);
            let spec = match task_type {
                TaskType::Convert => JobSpec::Convert(
                    asin.clone(),
                    serde_json::from_value(json!({"format": "m4b"})).unwrap(),
                ),
                _ => JobSpec::Download(asin.clone(), Default::default()),
            };
            let job = jobs.enqueue(spec.into()).await.unwrap().job;
            jobs.claim_next(task_type).await.unwrap().unwrap();
            let end = JobUpdate {
                status: Some(ended),
                error: Some("Audible refused the licence".into()),
                ..JobUpdate::default()
            };
            jobs.update(job.id, end).await.unwrap();
            let left = BookUpdate {
                status: Some(status),
                local_path_aax: Some(Some(format!("/data/downloads/{asin}/{asin}.aaxc"))),
                local_path_converted: Some((n == 1).then(|| "/data/converted/b.m4b".into())),
                ..BookUpdate::default()
            };
            library.update_book(&asin, left).await.unwrap();
        }
    });
    let server = world.start();
    let status = |n: u32| -> Value { server.get(&format!("/library/B{n:09}"), &[KEY]).json() };
    assert_eq!(status(1)["status"], "COMPLETED", "its conversion completed");
    let failed = status(2);
    assert_eq!(failed["status"], "FAILED", "its download failed");
    assert_eq!(failed["error_message"], "Audible refused the licence");
    assert_eq!(status(3)["status"], "DOWNLOADED", "as its files say");
    server.terminate(Duration::from_secs(10));
}

#[test]
fn books_left_mid_job_by_an_older_crash_are_set_right_at_start_on_sqlite() {
    leftovers_are_set_right(Backend::Sqlite);
}

#[test]
fn books_left_mid_job_by_an_older_crash_are_set_right_at_start_on_postgres() {
    leftovers_are_set_right(Backend::Postgres);
}

/// A job paused and then the server killed: after the restart it is still PAUSED and nothing
/// runs it (the stopped process tree of the first run is gone); resumed, it completes.
fn paused_round(world: &World) {
    seed::downloaded_into(
        &world.db_url,
        &world.data(),
        earmark_contract::record(1),
        &SyntheticBook::short(60),
        true,
    );
    let server = world.start();
    let body = json!({"asin": "B000000001", "format": "mp3", "dir_naming_scheme": "paused"});
    let id = accepted(&server, "/jobs/convert", &body);
    let paused = server.post_json(&format!("/jobs/{id}/pause"), &json!({}), &[KEY]);
    assert_eq!(paused.status, 200, "{}", paused.text());
    assert_eq!(paused.json()["status"], "PAUSED");
    server.kill_hard();

    let server = world.start();
    let cwd = world.cwd.path().display().to_string();
    std::thread::sleep(Duration::from_secs(1));
    let job = server.get(&format!("/jobs/{id}"), &[KEY]).json();
    assert_eq!(
        job["status"], "PAUSED",
        "the pause outlasts the restart: {job}"
    );
    let listed = server
        .get("/jobs?status=RUNNING,PENDING,QUEUED,PAUSED", &[KEY])
        .json();
    assert_eq!(listed["total"], 1, "{listed}");
    assert!(
        sizes_under(&world.data().join("converted")).is_empty(),
        "nothing ran it"
    );
    let left = earmark_testkit::running_processes(|c| c.contains("ffmpeg") && c.contains(&cwd));
    assert!(
        left.is_empty(),
        "the first run's stopped tree is gone: {left:?}"
    );

    let resumed = server.post_json(&format!("/jobs/{id}/resume"), &json!({}), &[KEY]);
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    let job = finished(&server, &id);
    let log = server.get(&format!("/jobs/{id}/log"), &[KEY]).text();
    assert_eq!(job["status"], "COMPLETED", "{job}\n{log}");
    assert_eq!(sizes_under(&world.data().join("converted")).len(), 1);
    server.terminate(Duration::from_secs(10));
}

#[test]
fn a_paused_job_stays_paused_through_a_kill_and_completes_when_resumed_on_sqlite() {
    if let Some(world) = World::new(&Backend::Sqlite) {
        paused_round(&world);
    }
}

#[test]
fn a_paused_job_stays_paused_through_a_kill_and_completes_when_resumed_on_postgres() {
    if let Some(world) = World::new(&Backend::Postgres) {
        paused_round(&world);
    }
}
