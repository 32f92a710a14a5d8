//! Repair (issue 22) end to end: the real binary over a library whose files were deleted,
//! moved, copied and added behind its back; the preview counts the drift, the REPAIR job
//! mends it (nothing lost, copies deleted only when the settings say so, after a byte
//! comparison), and audio of no book becomes a local item that lists and streams with Range.
//! SQLite and PostgreSQL.
#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test crate fail by panicking"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use earmark_fixtures::SyntheticBook;
use earmark_testkit::files::on_postgres;
use earmark_testkit::{Server, seed, start_ok};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(120);

struct Library {
    cwd: tempfile::TempDir,
    data: PathBuf,
    server: Server,
    auth: String,
}

impl Library {
    fn get(&self, path: &str) -> Value {
        let reply = self.server.get(path, &[("Authorization", &self.auth)]);
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        reply.json()
    }

    fn repair(&self) -> (Value, String) {
        let reply = self.server.post_json(
            "/library/repair/apply",
            &Value::Null,
            &[("Authorization", &self.auth)],
        );
        assert_eq!(reply.status, 202, "{}", reply.text());
        let id = reply.json()["job_id"].as_str().unwrap().to_owned();
        let job = self
            .server
            .wait_for_job(&id, &[("Authorization", &self.auth)], WAIT, |j| {
                matches!(j["status"].as_str(), Some("COMPLETED" | "FAILED"))
            });
        let log = self
            .server
            .get(&format!("/jobs/{id}/log"), &[("Authorization", &self.auth)])
            .text();
        assert_eq!(job["status"], "COMPLETED", "{job}\n{log}");
        assert_eq!(job["task_type"], "REPAIR", "{job}");
        (job, log)
    }
}

/// Four books: 1 downloaded and converted, 2 converted, 3 downloaded, 4 only in the library;
/// seeded into the database `db` names (`None`: SQLite under the data directory), then the
/// server started on it.
fn library(db: Option<&str>) -> Library {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    std::fs::create_dir_all(data.join("library")).unwrap();
    let data = data.canonicalize().unwrap();
    let sqlite = data.join("library/earmark.db").display().to_string();
    let db_url = db.unwrap_or(&sqlite);
    let record = |n: u32, title: &str| seed::record(&format!("B00000000{n}"), title);
    seed::downloaded_into(
        db_url,
        &data,
        record(1, "One"),
        &SyntheticBook::short(2),
        true,
    );
    seed::converted_into(db_url, &data, record(1, "One"), &SyntheticBook::short(2));
    seed::converted_into(db_url, &data, record(2, "Two"), &SyntheticBook::short(3));
    seed::downloaded_into(
        db_url,
        &data,
        record(3, "Three"),
        &SyntheticBook::short(2),
        false,
    );
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = earmark_db::connect(db_url, &earmark_db::PoolSettings::default())
            .await
            .unwrap();
        db.library
            .upsert_books(vec![record(4, "Four")])
            .await
            .unwrap();
    });
    let mut env = vec![("EARMARK__SERVER__BIND", "127.0.0.1:0")];
    if let Some(url) = db {
        env.push(("EARMARK__DATABASE__URL", url));
    }
    let server = start_ok(cwd.path(), &env);
    let auth = format!("Bearer {}", server.printed_key.clone().unwrap());
    Library {
        cwd,
        data,
        server,
        auth,
    }
}

/// `book` rendered by ffmpeg as an m4a at `to`.
fn render_to(book: &SyntheticBook, scratch: &Path, to: &Path) {
    std::fs::create_dir_all(scratch).unwrap();
    let rendered = book.render(Path::new("ffmpeg"), scratch).unwrap();
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::rename(rendered, to).unwrap();
}

#[test]
fn drift_on_disk_is_previewed_and_mended_on_sqlite() {
    drift_on_disk_is_previewed_and_mended(None);
}

#[test]
fn drift_on_disk_is_previewed_and_mended_on_postgres() {
    on_postgres(drift_on_disk_is_previewed_and_mended);
}

fn drift_on_disk_is_previewed_and_mended(db: Option<&str>) {
    let lib = library(db);
    let converted = lib.data.join("converted");
    let one = PathBuf::from(
        lib.get("/library/B000000001")["local_path_converted"]
            .as_str()
            .unwrap(),
    );
    let two = PathBuf::from(
        lib.get("/library/B000000002")["local_path_converted"]
            .as_str()
            .unwrap(),
    );
    let before = lib.get("/library/repair/preview");
    for (key, value) in [
        ("remote_total", 4),
        ("downloaded_total", 2),
        ("converted_total", 2),
        ("converted_of_downloaded", 1),
        ("missing_files", 0),
        ("orphan_conversions", 0),
        ("duplicate_conversions", 0),
        ("misplaced_files_count", 0),
        ("downloaded_on_disk_total", 2),
        ("downloaded_db_total", 2),
        ("converted_db_total", 2),
    ] {
        assert_eq!(before[key], value, "{key}: {before}");
    }

    // Behind earmark's back: book 2's output deleted, book 1's moved into another folder
    // and copied, a file named by book 4's ASIN and a stranger's audiobook added.
    std::fs::remove_file(&two).unwrap();
    let one_moved = converted.join("Shelf/One.m4a");
    std::fs::create_dir_all(one_moved.parent().unwrap()).unwrap();
    std::fs::rename(&one, &one_moved).unwrap();
    let copy = converted.join("Copies/One (1).m4a");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&one_moved, &copy).unwrap();
    let scratch = lib.cwd.path().join("scratch");
    let four = converted.join("Libation/Four [B000000004].m4a");
    render_to(&SyntheticBook::short(4), &scratch.join("4"), &four);
    let stranger = converted.join("Stranger/Stranger Tales.m4a");
    render_to(&SyntheticBook::short(5), &scratch.join("5"), &stranger);

    let drift = lib.get("/library/repair/preview");
    for (key, value) in [
        ("missing_files", 1),
        ("misplaced_files_count", 1),
        ("duplicate_conversions", 1),
        ("orphan_conversions", 2),
        ("converted_total", 1),
        ("converted_db_total", 2),
    ] {
        assert_eq!(drift[key], value, "{key}: {drift}");
    }
    assert!(
        drift["generated_at"].as_str().unwrap().ends_with('Z'),
        "{drift}"
    );

    let (job, log) = lib.repair();
    for line in [
        "moved: converted file of B000000001 now at",
        "missing: converted file of B000000002",
        "registered: ",
        "local item: ",
        "repair_delete_duplicates is off",
        "book B000000002: now NEW",
        "book B000000004: now COMPLETED",
    ] {
        assert!(log.contains(line), "`{line}` not in the log:\n{log}");
    }
    assert!(
        job["status_message"].as_str().unwrap().contains("1 moved"),
        "{job}"
    );
    let book = |n: u32| lib.get(&format!("/library/B00000000{n}"));
    assert_eq!(book(1)["status"], "COMPLETED");
    assert_eq!(
        book(1)["local_path_converted"],
        one_moved.display().to_string()
    );
    assert_eq!(book(2)["status"], "NEW");
    assert_eq!(book(2)["local_path_converted"], Value::Null);
    assert_eq!(book(3)["status"], "DOWNLOADED");
    assert_eq!(book(4)["status"], "COMPLETED");
    assert_eq!(book(4)["local_path_converted"], four.display().to_string());
    assert_eq!(book(4)["conversion_format"], "m4a");
    // Nothing was deleted: the copy stays while the setting is off.
    for kept in [&one_moved, &copy, &four, &stranger] {
        assert!(kept.exists(), "{} is gone", kept.display());
    }

    // The stranger is a local item: listed, found by search, streamed with ranges.
    let local = lib.get("/library/local?page=1&page_size=50&search=stranger");
    assert_eq!(local["total"], 1, "{local}");
    let item = &local["items"][0];
    assert_eq!(item["title"], "Stranger Tales", "{item}");
    assert_eq!(item["format"], "m4a");
    let id = item["id"].as_str().unwrap();
    assert_eq!(
        lib.get(&format!("/library/local/{id}"))["output_path"],
        stranger.display().to_string()
    );
    let bytes = std::fs::read(&stranger).unwrap();
    let ranged = lib.server.get(
        &format!("/stream/local/{id}"),
        &[("Authorization", &lib.auth), ("Range", "bytes=100-1123")],
    );
    assert_eq!(ranged.status, 206, "{}", ranged.text());
    assert_eq!(ranged.body, bytes[100..1124]);
    assert!(
        ranged
            .headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "audio/mp4")
    );
    let whole = lib.server.get(
        &format!("/stream/local/{id}"),
        &[("Authorization", &lib.auth)],
    );
    assert_eq!((whole.status, whole.body.len()), (200, bytes.len()));
    assert!(whole.body == bytes);

    // In step now, but for the copy; a second repair changes nothing else.
    let after = lib.get("/library/repair/preview");
    for (key, value) in [
        ("missing_files", 0),
        ("misplaced_files_count", 0),
        ("orphan_conversions", 0),
        ("duplicate_conversions", 1),
        ("converted_total", 2),
        ("converted_db_total", 2),
    ] {
        assert_eq!(after[key], value, "{key}: {after}");
    }
    let (_, log) = lib.repair();
    assert!(
        !log.contains("moved:") && !log.contains("registered:"),
        "{log}"
    );
    assert_eq!(lib.get("/library/local")["total"], 1);

    // With the setting on, the copy (byte for byte the same) goes, the original stays.
    let reply = lib.server.request_json(
        "PATCH",
        "/settings",
        &json!({"repair_delete_duplicates": true}),
        &[("Authorization", &lib.auth)],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let (_, log) = lib.repair();
    assert!(log.contains("duplicate deleted: "), "{log}");
    assert!(!copy.exists());
    assert!(one_moved.exists() && four.exists() && stranger.exists());
    assert_eq!(
        lib.get("/library/repair/preview")["duplicate_conversions"],
        0
    );

    // A local item whose file goes is forgotten; its stream is a 404 meanwhile (once the
    // handle a stream keeps open for a second is closed).
    std::fs::remove_file(&stranger).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let gone = lib.server.get(
        &format!("/stream/local/{id}"),
        &[("Authorization", &lib.auth)],
    );
    assert_eq!(gone.status, 404, "{}", gone.text());
    lib.repair();
    assert_eq!(lib.get("/library/local")["total"], 0);
}

#[test]
fn a_copy_that_differs_in_content_is_kept_even_when_duplicates_are_deleted() {
    let lib = library(None);
    let one = PathBuf::from(
        lib.get("/library/B000000001")["local_path_converted"]
            .as_str()
            .unwrap(),
    );
    let mut bytes = std::fs::read(&one).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let lookalike = lib.data.join("converted/One/One again.m4a");
    std::fs::write(&lookalike, &bytes).unwrap();
    assert_eq!(
        lib.get("/library/repair/preview")["duplicate_conversions"],
        1
    );
    let reply = lib.server.request_json(
        "PATCH",
        "/settings",
        &json!({"repair_delete_duplicates": true}),
        &[("Authorization", &lib.auth)],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let (_, log) = lib.repair();
    assert!(log.contains("not a duplicate"), "{log}");
    assert!(lookalike.exists() && one.exists());
}
