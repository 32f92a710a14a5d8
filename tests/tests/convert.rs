//! `POST /jobs/convert` end to end: the real binary, real ffmpeg, encrypted AAX (activation
//! bytes fetched by the real audible-cli from the fake Audible API) and AAXC (voucher), both
//! engines, hostile metadata and schemes, no-clobber, and cancel.
#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test crate fail by panicking"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use earmark_fixtures::{SyntheticBook, aaxtomp3_stand_in, decoded_pcm};
use earmark_testkit::fake_audible::{FakeAudible, write_profile};
use earmark_testkit::files::files_under;
use earmark_testkit::{Server, seed, start_ok};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(120);

struct Setup {
    cwd: tempfile::TempDir,
    server: Server,
    key: String,
    _fake: FakeAudible,
}

impl Setup {
    fn start(extra: &[(&str, &str)]) -> Self {
        let fake = FakeAudible::start();
        let cwd = tempfile::tempdir().unwrap();
        write_profile(&cwd.path().join("data/audible"), "web");
        let owned = fake.env();
        let mut env: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        env.push(("EARMARK__SERVER__BIND", "127.0.0.1:0"));
        env.extend_from_slice(extra);
        let server = start_ok(cwd.path(), &env);
        let key = server.printed_key.clone().unwrap();
        Self {
            cwd,
            server,
            key,
            _fake: fake,
        }
    }

    fn data(&self) -> PathBuf {
        self.cwd.path().join("data").canonicalize().unwrap()
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.key)
    }

    fn convert(&self, body: serde_json::Value) -> (u16, serde_json::Value) {
        let auth = self.auth();
        let reply = self
            .server
            .post_json("/jobs/convert", &body, &[("Authorization", &auth)]);
        (reply.status, reply.json())
    }

    fn finished(&self, job_id: &str) -> serde_json::Value {
        let auth = self.auth();
        self.server
            .wait_for_job(job_id, &[("Authorization", &auth)], WAIT, |j| {
                matches!(
                    j["status"].as_str(),
                    Some("COMPLETED" | "FAILED" | "CANCELLED")
                )
            })
    }

    fn get(&self, path: &str) -> serde_json::Value {
        let auth = self.auth();
        self.server.get(path, &[("Authorization", &auth)]).json()
    }

    fn log(&self, job_id: &str) -> String {
        let auth = self.auth();
        self.server
            .get(&format!("/jobs/{job_id}/log"), &[("Authorization", &auth)])
            .text()
    }
}

fn hostile_record(n: u32) -> earmark_core::BookRecord {
    let mut record = earmark_contract::record(n);
    record.title = "$(touch pwned) `touch pwned2` *\"q\"* '../../escape'\nsecond line".into();
    record.author = Some("Ann $(touch pwned3) Author".into());
    record
}

fn assert_nothing_ran(root: &Path) {
    for file in files_under(root) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.starts_with("pwned"),
            "metadata ran a command: {}",
            file.display()
        );
    }
}

#[test]
fn native_engine_converts_an_aax_with_hostile_metadata_safely_and_does_not_clobber() {
    let s = Setup::start(&[]);
    let record = hostile_record(1);
    let asin = record.asin.to_string();
    let book = seed::downloaded(&s.data(), record, &SyntheticBook::short(2), false);

    let (status, bad) =
        s.convert(json!({"asin": asin, "format": "m4b", "naming_scheme": "$title$(id)"}));
    assert_eq!(status, 422, "{bad}");
    assert!(bad["detail"].as_str().unwrap().contains("$("), "{bad}");

    let (status, bad) = s.convert(json!({"asin": asin, "format": "m4b", "level": 5}));
    assert_eq!(status, 422, "{bad}");
    assert!(
        bad["detail"].as_str().unwrap().contains("no level"),
        "{bad}"
    );

    let (status, accepted) = s.convert(json!({"asin": asin, "format": "m4b"}));
    assert_eq!(status, 202, "{accepted}");
    let job_id = accepted["job_id"].as_str().unwrap().to_owned();
    let job = s.finished(&job_id);
    assert_eq!(job["status"], "COMPLETED", "{job}\n{}", s.log(&job_id));

    let converted = files_under(&s.data().join("converted"));
    assert_eq!(converted.len(), 1, "{converted:?}");
    let m4b = &converted[0];
    let relative = m4b
        .strip_prefix(s.data().join("converted"))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        !relative.contains(['$', '`', '*', '"', '\'', '\n']),
        "{relative}"
    );
    assert!(m4b.extension().unwrap() == "m4b");
    assert!(
        decoded_pcm(m4b, &[]).unwrap() == decoded_pcm(&book.plain, &[]).unwrap(),
        "decoded audio differs from the source"
    );
    assert_nothing_ran(s.cwd.path());
    let log = s.log(&job_id);
    assert!(!log.contains(earmark_fixtures::ACTIVATION_BYTES), "{log}");

    let detail = s.get(&format!("/library/{asin}"));
    assert_eq!(detail["status"], "COMPLETED", "{detail}");
    assert_eq!(detail["conversion_format"], "m4b");
    assert_eq!(detail["local_path_converted"], m4b.display().to_string());
    let kinds: Vec<&str> = detail["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"converted"), "{kinds:?}");

    // The book streams by its ASIN: the whole converted file, moov first.
    let auth = s.auth();
    let streamed = s
        .server
        .get(&format!("/stream/{asin}"), &[("Authorization", &auth)]);
    assert_eq!(streamed.status, 200);
    assert!(earmark_fixtures::moov_before_mdat(&streamed.body));
    assert_eq!(
        streamed.body.len() as u64,
        std::fs::metadata(m4b).unwrap().len()
    );

    // Converting again is a no-op unless forced; forcing replaces the file.
    let before = std::fs::metadata(m4b).unwrap().modified().unwrap();
    let (_, again) = s.convert(json!({"asin": asin, "format": "m4b"}));
    let again = s.finished(again["job_id"].as_str().unwrap());
    assert_eq!(again["status"], "COMPLETED");
    assert!(
        again["status_message"]
            .as_str()
            .unwrap()
            .contains("already converted"),
        "{again}"
    );
    assert_eq!(std::fs::metadata(m4b).unwrap().modified().unwrap(), before);
    let (_, forced) = s.convert(json!({"asin": asin, "format": "m4b", "force": true}));
    let forced = s.finished(forced["job_id"].as_str().unwrap());
    assert_eq!(forced["status"], "COMPLETED", "{forced}");
    assert_ne!(std::fs::metadata(m4b).unwrap().modified().unwrap(), before);
    assert!(
        files_under(&s.data().join("tmp")).is_empty(),
        "scratch files left behind"
    );
}

#[test]
fn aaxtomp3_converts_an_aaxc_into_chapters_with_the_scheme_asked_for() {
    let script = aaxtomp3_stand_in().display().to_string();
    let s = Setup::start(&[("EARMARK__CONVERTER__AAXTOMP3", &script)]);
    let record = earmark_contract::record(2);
    let asin = record.asin.to_string();
    seed::downloaded(&s.data(), record, &SyntheticBook::short(2), true);

    let (status, accepted) = s.convert(json!({
        "asin": asin, "format": "mp3", "mode": "chapters",
        "dir_naming_scheme": "$artist/$title", "chapter_naming_scheme": "$chapternum - $chapter",
    }));
    assert_eq!(status, 202, "{accepted}");
    let job_id = accepted["job_id"].as_str().unwrap().to_owned();
    let job = s.finished(&job_id);
    let log = s.log(&job_id);
    assert_eq!(job["status"], "COMPLETED", "{job}\n{log}");
    assert!(
        job["status_message"].as_str().unwrap().contains("AAXtoMP3"),
        "{job}"
    );
    assert!(
        log.contains("exited with exit status: 1, but every output is present"),
        "{log}"
    );
    assert!(
        !log.contains(&earmark_fixtures::hex(&earmark_fixtures::AAXC_KEY)),
        "{log}"
    );

    let names: Vec<String> = files_under(&s.data().join("converted"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        names.contains(&"1 - Opening Credits.mp3".to_owned()),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.ends_with(".m3u")), "{names:?}");
    let detail = s.get(&format!("/library/{asin}"));
    let chapters = detail["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "converted_chapter")
        .count();
    assert_eq!(chapters, 3, "{detail}");
    assert_eq!(detail["status"], "COMPLETED");
}

#[test]
fn a_book_that_is_not_downloaded_fails_with_what_to_do() {
    let s = Setup::start(&[]);
    let db_path = s.data().join("library/earmark.db").display().to_string();
    let record = earmark_contract::record(3);
    let asin = record.asin.to_string();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = earmark_db::connect(&db_path, &earmark_db::PoolSettings::default())
            .await
            .unwrap();
        db.library.upsert_books(vec![record]).await.unwrap();
    });
    let (_, accepted) = s.convert(json!({"asin": asin, "format": "mp3"}));
    let job = s.finished(accepted["job_id"].as_str().unwrap());
    assert_eq!(job["status"], "FAILED");
    assert!(
        job["error_message"]
            .as_str()
            .unwrap()
            .contains("POST /jobs/download"),
        "{job}"
    );
}

#[test]
fn cancel_stops_ffmpeg_and_leaves_nothing_converted() {
    let s = Setup::start(&[]);
    let record = earmark_contract::record(4);
    let asin = record.asin.to_string();
    let long = SyntheticBook::short(200);
    let book = seed::downloaded(&s.data(), record, &long, false);

    // Ten minutes of audio to mp3: a few seconds of ffmpeg on this kind of machine.
    let (_, accepted) = s.convert(json!({"asin": asin, "format": "mp3"}));
    let job_id = accepted["job_id"].as_str().unwrap().to_owned();
    let auth = s.auth();
    s.server
        .wait_for_job(&job_id, &[("Authorization", &auth)], WAIT, |j| {
            j["status"] == "RUNNING" && j["progress_percent"].as_f64().unwrap_or(0.0) > 0.0
        });
    let cancelled = s.server.request(
        "DELETE",
        &format!("/jobs/{job_id}"),
        &[("Authorization", &auth)],
    );
    assert_eq!(cancelled.status, 200, "{}", cancelled.text());
    let job = s.finished(&job_id);
    assert_eq!(job["status"], "CANCELLED", "{job}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(files_under(&s.data().join("converted")).is_empty());
    let audio = book.audio.display().to_string();
    let survivors = earmark_testkit::running_processes(|cmdline| cmdline.contains(&audio));
    assert!(survivors.is_empty(), "still running: {survivors:?}");
    assert_eq!(s.get(&format!("/library/{asin}"))["status"], "DOWNLOADED");
}
