//! `POST /jobs/download` end to end: the real audible-cli 0.6.0 against the fake Audible API
//! (library, licence request with an encrypted voucher, content, chapters, cover), encrypted
//! fixtures as the content, and every way a download ends.
#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test crate fail by panicking"
)]

use std::path::PathBuf;
use std::time::Duration;

use earmark_fixtures::{AAXC_IV, AAXC_KEY, SyntheticBook, hex};
use earmark_testkit::fake_audible::{FakeAudible, library_item, write_profile};
use earmark_testkit::ws_client::WsClient;
use earmark_testkit::{Server, start_ok};
use serde_json::{Value, json};

const KEY: (&str, &str) = ("X-Api-Key", "download-key");
const WAIT: Duration = Duration::from_secs(120);

struct Setup {
    cwd: tempfile::TempDir,
    fake: FakeAudible,
    server: Server,
}

/// Fake Audible with books 1..=6 (1–5 downloadable as AAXC, 3 also as AAX), a profile, the
/// library synced into earmark.
fn setup(extra: &[(&str, &str)]) -> Setup {
    let fake = FakeAudible::start();
    fake.set_library((1..=6).map(library_item).collect());
    let asins: Vec<String> = (1..=5u32).map(|n| format!("B{n:09}")).collect();
    let asins: Vec<&str> = asins.iter().map(String::as_str).collect();
    fake.offer_downloads(&SyntheticBook::short(2), &asins, &["B000000003"]);
    let cwd = tempfile::tempdir().unwrap();
    write_profile(&cwd.path().join("data/audible"), "web");
    let fake_env = fake.env();
    let mut env: Vec<(&str, &str)> = vec![
        ("EARMARK__SERVER__BIND", "127.0.0.1:0"),
        ("EARMARK__AUTH__API_KEY", KEY.1),
        ("EARMARK__JOBS__THROTTLED_BACKOFF_S", "3600"),
    ];
    env.extend(fake_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    env.extend_from_slice(extra);
    let server = start_ok(cwd.path(), &env);
    let setup = Setup { cwd, fake, server };
    let sync = setup.request("/library/sync", json!({}));
    assert_eq!(setup.settled(&sync)["status"], "COMPLETED");
    setup
}

impl Setup {
    fn request(&self, path: &str, body: Value) -> String {
        let reply = self.server.post_json(path, &body, &[KEY]);
        assert_eq!(reply.status, 202, "{}", reply.text());
        reply.json()["job_id"].as_str().unwrap().to_owned()
    }

    /// Waits until the job is finished, or waiting out a back-off with its reason.
    fn settled(&self, id: &str) -> Value {
        self.server.wait_for_job(id, &[KEY], WAIT, |job| {
            matches!(
                job["status"].as_str(),
                Some("COMPLETED" | "FAILED" | "CANCELLED")
            ) || (job["status"] == "PENDING" && !job["error_message"].is_null())
        })
    }

    fn downloads(&self, asin: &str) -> PathBuf {
        self.cwd.path().join("data/downloads").join(asin)
    }

    fn names(&self, asin: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.downloads(asin))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn book(&self, asin: &str) -> Value {
        self.server.get(&format!("/library/{asin}"), &[KEY]).json()
    }

    /// Whether no scratch directory of job `id` (`<id>.<attempt>`) is left in `data/tmp`.
    fn scratch_is_gone(&self, id: &str) -> bool {
        let tmp = self.cwd.path().join("data/tmp");
        !tmp.read_dir()
            .unwrap()
            .any(|entry| entry.unwrap().file_name().to_string_lossy().starts_with(id))
    }

    fn log(&self, id: &str) -> String {
        self.server.get(&format!("/jobs/{id}/log"), &[KEY]).text()
    }
}

#[test]
fn an_aaxc_lands_with_every_side_file_then_converts() {
    let s = setup(&[]);
    let id = s.request(
        "/jobs/download",
        json!({"asin": "B000000001", "convert": {"format": "m4b"}}),
    );
    let job = s.settled(&id);
    assert_eq!(job["status"], "COMPLETED", "{job}\n{}", s.log(&id));
    assert_eq!(
        s.names("B000000001"),
        [
            "B000000001-AAX_44_64.aaxc",
            "B000000001-AAX_44_64.voucher",
            "B000000001-chapters.json",
            "B000000001_(500).jpg"
        ]
    );
    // The voucher audible-cli decrypted holds the key and iv the fake encrypted for the device.
    let voucher: Value = serde_json::from_slice(
        &std::fs::read(
            s.downloads("B000000001")
                .join("B000000001-AAX_44_64.voucher"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        voucher["content_license"]["license_response"]["key"],
        hex(&AAXC_KEY)
    );
    assert_eq!(
        voucher["content_license"]["license_response"]["iv"],
        hex(&AAXC_IV)
    );
    assert!(
        s.fake
            .requests()
            .iter()
            .any(|r| r.uri.contains("/licenserequest") && r.signed)
    );
    let log = s.log(&id);
    assert!(
        log.contains("--filename-mode asin_only") && log.contains("--no-progress"),
        "{log}"
    );
    // The chained conversion is woken at once and may be working in a scratch of its own.
    assert!(s.scratch_is_gone(&id), "scratch left");

    // The conversion it asked for was queued, ran, and the book is complete.
    let book = s.server.get("/library/B000000001", &[KEY]).json();
    let convert = book["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["task_type"] == "CONVERT")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        s.settled(&convert)["status"],
        "COMPLETED",
        "{}",
        s.log(&convert)
    );
    let book = s.book("B000000001");
    assert_eq!(book["status"], "COMPLETED", "{book}");
    let kinds: Vec<&str> = book["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    for kind in ["aaxc", "voucher", "chapters", "cover", "converted"] {
        assert!(kinds.contains(&kind), "{kind} missing: {kinds:?}");
    }
    assert!(book["local_path_aax"].as_str().unwrap().ends_with(".aaxc"));

    // Asked again: nothing is fetched, nothing clobbered.
    s.fake.clear_requests();
    let again = s.request("/jobs/download", json!({"asin": "B000000001"}));
    let again = s.settled(&again);
    assert_eq!(again["status"], "COMPLETED");
    assert!(
        again["status_message"]
            .as_str()
            .unwrap()
            .contains("already downloaded")
    );
    assert!(s.fake.requests().is_empty());
}

#[test]
fn an_aax_lands_and_a_refused_aax_falls_back_to_aaxc() {
    let s = setup(&[]);
    let aax = s.request(
        "/jobs/download",
        json!({"asin": "B000000003", "format": "aax"}),
    );
    assert_eq!(s.settled(&aax)["status"], "COMPLETED", "{}", s.log(&aax));
    assert_eq!(
        s.names("B000000003"),
        [
            "B000000003-LC_128_44100_stereo.aax",
            "B000000003-chapters.json",
            "B000000003_(500).jpg"
        ]
    );
    assert_eq!(s.book("B000000003")["status"], "DOWNLOADED");

    // Book 2 is offered as AAXC only: plain --aax fails saying what to ask for...
    s.fake
        .edit_library(|items| items[1]["available_codecs"] = json!([]));
    let refused = s.request(
        "/jobs/download",
        json!({"asin": "B000000002", "format": "aax"}),
    );
    let refused = s.settled(&refused);
    assert_eq!(refused["status"], "FAILED", "{refused}");
    assert!(
        refused["error_message"]
            .as_str()
            .unwrap()
            .contains("aax-fallback"),
        "{refused}"
    );
    // ... and --aax-fallback gets the AAXC, with the cover size the settings ask for.
    let bigger = json!({"cover_size": "1215"});
    let reply = s.server.request_json("PATCH", "/settings", &bigger, &[KEY]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let fallback = s.request(
        "/jobs/download",
        json!({"asin": "B000000002", "format": "aax-fallback"}),
    );
    assert_eq!(
        s.settled(&fallback)["status"],
        "COMPLETED",
        "{}",
        s.log(&fallback)
    );
    let names = s.names("B000000002");
    assert!(
        names.contains(&"B000000002-AAX_44_64.aaxc".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"B000000002_(1215).jpg".to_owned()),
        "the cover in the size of the settings: {names:?}"
    );
}

#[test]
fn failures_say_what_to_do_and_leave_nothing_behind() {
    let s = setup(&[]);
    // No longer in the account's library (audible-cli exits 1).
    s.fake
        .edit_library(|items| items.retain(|i| i["asin"] != "B000000004"));
    let gone = s.settled(&s.request("/jobs/download", json!({"asin": "B000000004"})));
    assert_eq!(gone["status"], "FAILED");
    assert!(
        gone["error_message"]
            .as_str()
            .unwrap()
            .contains("not in this Audible account's library"),
        "{gone}"
    );

    // Licence denied: throttled, so the job waits out the back-off instead of failing.
    s.fake.edit_content("B000000002", |c| {
        c.denied = Some("License not granted to customer".into())
    });
    let denied = s.settled(&s.request("/jobs/download", json!({"asin": "B000000002"})));
    assert_eq!(denied["status"], "PENDING", "{denied}");
    assert!(
        denied["error_message"]
            .as_str()
            .unwrap()
            .contains("refused the licence"),
        "{denied}"
    );
    // The same as a 403 on the licence request.
    s.fake.edit_content("B000000001", |c| {
        c.forbidden = Some("Too many licence requests".into())
    });
    let forbidden = s.settled(&s.request("/jobs/download", json!({"asin": "B000000001"})));
    assert_eq!(forbidden["status"], "PENDING", "{forbidden}");
    let message = forbidden["error_message"].as_str().unwrap();
    assert!(
        message.contains("refused the licence") && message.contains("(403)"),
        "{forbidden}"
    );

    // Wrong content type: audible-cli exits 0 and writes no audio; the job fails.
    s.fake
        .edit_content("B000000003", |c| c.content_type = Some("text/html".into()));
    let wrong = s.request("/jobs/download", json!({"asin": "B000000003"}));
    let wrong_job = s.settled(&wrong);
    assert_eq!(
        wrong_job["status"],
        "FAILED",
        "{wrong_job}\n{}",
        s.log(&wrong)
    );
    assert!(
        wrong_job["error_message"]
            .as_str()
            .unwrap()
            .contains("no audio file"),
        "{wrong_job}"
    );

    // A login Audible no longer accepts (audible-cli exits 3): log in again.
    s.fake
        .misbehave(Some(earmark_testkit::fake_audible::Misbehaviour::Status(
            401,
            "Token expired".into(),
        )));
    let expired = s.settled(&s.request("/jobs/download", json!({"asin": "B000000005"})));
    assert_eq!(expired["status"], "FAILED", "{expired}");
    assert!(
        expired["error_message"]
            .as_str()
            .unwrap()
            .contains("log in to Audible again"),
        "{expired}"
    );
    s.fake.misbehave(None);

    for asin in [
        "B000000001",
        "B000000002",
        "B000000003",
        "B000000004",
        "B000000005",
    ] {
        assert!(s.names(asin).is_empty(), "{asin}: {:?}", s.names(asin));
    }
}

#[test]
fn cancel_stops_audible_cli_and_keeps_no_partial_file() {
    let s = setup(&[]);
    // audible-cli streams to a growing `.tmp` only above 10 MiB: pad the book with a `free`
    // box (players skip it), and serve it slowly.
    s.fake.edit_content("B000000001", |c| {
        let audio = c.aaxc.as_mut().unwrap();
        let pad = 12 * 1024 * 1024u32;
        audio.extend_from_slice(&pad.to_be_bytes());
        audio.extend_from_slice(b"free");
        audio.resize(audio.len() + pad as usize - 8, 0);
    });
    s.fake
        .trickle(Some((256 * 1024, Duration::from_millis(150))));
    let addr = s.server.base.trim_start_matches("http://").to_owned();
    let mut feed = WsClient::connect(&addr, "/jobs/ws", Some(KEY.1)).unwrap();
    let id = s.request("/jobs/download", json!({"asin": "B000000001"}));
    // The web client's feed shows the transfer as it goes, under the names it reads.
    let seen = feed.until(WAIT, |m| {
        m["type"] == "status"
            && m["job_id"] == id.as_str()
            && m["meta"]["download_bytes_current"].is_u64()
    });
    let meta = &seen.last().unwrap()["meta"];
    let (bytes, total) = (
        meta["download_bytes_current"].as_u64().unwrap(),
        meta["download_bytes_total"].as_u64().unwrap(),
    );
    assert!(
        bytes > 0 && bytes < total,
        "part of the licensed size: {meta}"
    );
    assert!(
        meta["download_bytes_per_sec"].as_u64().unwrap() > 0,
        "{meta}"
    );
    let running = s.server.wait_for_job(&id, &[KEY], WAIT, |j| {
        j["status_message"]
            .as_str()
            .is_some_and(|m| m.contains("MiB/s"))
            || !matches!(j["status"].as_str(), Some("QUEUED" | "RUNNING"))
    });
    assert_eq!(
        running["status"], "RUNNING",
        "progress from the growing file: {running}"
    );
    let percent = running["progress_percent"].as_f64().unwrap();
    assert!(
        percent > 0.0 && percent < 95.0,
        "a share of the licensed size: {running}"
    );
    let cancelled = s.server.request("DELETE", &format!("/jobs/{id}"), &[KEY]);
    assert_eq!(cancelled.status, 200);
    assert_eq!(s.settled(&id)["status"], "CANCELLED");
    std::thread::sleep(Duration::from_millis(500));
    assert!(s.names("B000000001").is_empty());
    assert!(s.scratch_is_gone(&id), "partial file kept");
    let out = s.cwd.path().display().to_string();
    let survivors = earmark_testkit::running_processes(|cmdline| {
        cmdline.contains("download") && cmdline.contains(&out)
    });
    assert!(survivors.is_empty(), "still running: {survivors:?}");
    assert_eq!(s.book("B000000001")["status"], "NEW");
}

#[test]
fn the_daily_limit_holds_further_downloads_back() {
    let s = setup(&[("EARMARK__AUDIBLE__DAILY_DOWNLOAD_LIMIT", "1")]);
    let first = s.settled(&s.request("/jobs/download", json!({"asin": "B000000001"})));
    assert_eq!(first["status"], "COMPLETED");
    let second = s.settled(&s.request("/jobs/download", json!({"asin": "B000000002"})));
    assert_eq!(second["status"], "PENDING", "{second}");
    assert!(
        second["error_message"]
            .as_str()
            .unwrap()
            .contains("daily download limit"),
        "{second}"
    );
    assert!(s.names("B000000002").is_empty());
}

#[test]
fn five_downloads_at_once() {
    let s = setup(&[]);
    let asins = [
        "B000000001",
        "B000000002",
        "B000000003",
        "B000000004",
        "B000000005",
    ];
    let ids: Vec<String> = asins
        .iter()
        .map(|a| s.request("/jobs/download", json!({"asin": a})))
        .collect();
    for (asin, id) in asins.iter().zip(&ids) {
        assert_eq!(
            s.settled(id)["status"],
            "COMPLETED",
            "{asin}: {}",
            s.log(id)
        );
        assert!(s.names(asin).iter().any(|n| n.ends_with(".aaxc")), "{asin}");
    }
}
