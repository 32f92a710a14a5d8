//! SIGTERM ends the real binary within 10 s whatever is running (issue 19, defect 3): a tool
//! stopped by a pause, a conversion at work, a WebSocket subscriber that never leaves, and
//! requests in flight. Tools are stopped with it; their jobs are left for the next start.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use earmark_fixtures::SyntheticBook;
use earmark_testkit::ws_client::WsClient;
use earmark_testkit::{running_processes, seed, start_ok};
use serde_json::json;

const KEY: (&str, &str) = ("X-Api-Key", "shutdown-key");
const WAIT: Duration = Duration::from_secs(120);

#[test]
fn sigterm_ends_the_server_under_load_and_leaves_the_jobs_for_the_next_start() {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    let db_url = data.join("library/earmark.db").display().to_string();
    for n in 1..=2 {
        seed::downloaded_into(
            &db_url,
            &data,
            earmark_contract::record(n),
            &SyntheticBook::short(120),
            true,
        );
    }
    let env = [
        ("EARMARK__SERVER__BIND", "127.0.0.1:0"),
        ("EARMARK__AUTH__API_KEY", KEY.1),
        ("EARMARK__DATABASE__URL", db_url.as_str()),
        ("EARMARK__JOBS__CONVERT_CONCURRENCY", "2"),
    ];
    let server = start_ok(cwd.path(), &env);
    let convert = |asin: &str| {
        let body = json!({"asin": asin, "format": "mp3"});
        let reply = server.post_json("/jobs/convert", &body, &[KEY]);
        assert_eq!(reply.status, 202, "{}", reply.text());
        reply.json()["job_id"].as_str().unwrap().to_owned()
    };
    let paused = convert("B000000001");
    let working = convert("B000000002");
    for id in [&paused, &working] {
        server.wait_for_job(id, &[KEY], WAIT, |job| job["status"] == "RUNNING");
    }
    let reply = server.post_json(&format!("/jobs/{paused}/pause"), &json!({}), &[KEY]);
    assert_eq!(reply.json()["status"], "PAUSED", "{}", reply.text());

    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut subscriber = WsClient::connect(&addr, "/jobs/ws", Some(KEY.1)).unwrap();
    assert!(
        subscriber.next(Duration::from_secs(5)).is_some(),
        "subscribed"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let base = server.base.clone();
    let load = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(2)))
                .build()
                .into();
            while !stop.load(Ordering::Relaxed) {
                let _ = agent
                    .get(format!("{base}/jobs?limit=50"))
                    .header(KEY.0, KEY.1)
                    .call();
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));

    let asked = Instant::now();
    let status = server.terminate(Duration::from_secs(10));
    let took = asked.elapsed();
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    drop(subscriber);
    assert!(took < Duration::from_secs(10), "{took:?}");
    eprintln!("stopped {took:?} after SIGTERM with {status}");
    let here = cwd.path().display().to_string();
    let left = running_processes(|c| c.contains("ffmpeg") && c.contains(&here));
    assert!(left.is_empty(), "tools outlived the server: {left:?}");

    let server = start_ok(cwd.path(), &env);
    let job = server.get(&format!("/jobs/{paused}"), &[KEY]).json();
    assert_eq!(job["status"], "PAUSED", "the pause is kept: {job}");
    let resumed = server.post_json(&format!("/jobs/{paused}/resume"), &json!({}), &[KEY]);
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    for id in [&paused, &working] {
        let job = server.wait_for_job(id, &[KEY], WAIT, |job| {
            matches!(job["status"].as_str(), Some("COMPLETED" | "FAILED"))
        });
        assert_eq!(job["status"], "COMPLETED", "recovered and finished: {job}");
    }
    server.terminate(Duration::from_secs(10));
}
