//! Accepted work survives a hard crash of the real binary.

use earmark_testkit::start_ok;
use serde_json::json;

/// Accepted downloads survive `kill -9`: after the restart both jobs are there and active,
/// and a new request for the same work joins the surviving job. Audible answers slowly, so
/// the jobs are still at work whenever they are looked at.
#[test]
fn accepted_jobs_survive_kill_9_and_a_restart() {
    use earmark_testkit::fake_audible::{FakeAudible, Misbehaviour, library_item, write_profile};
    use std::time::Duration;

    let cwd = tempfile::tempdir().unwrap();
    write_profile(&cwd.path().join("data/audible"), "earmark");
    let fake = FakeAudible::start();
    fake.set_library((1..=2).map(library_item).collect());
    fake.misbehave(Some(Misbehaviour::Slow(Duration::from_secs(60))));
    let fake_env = fake.env();
    let mut env: Vec<(&str, &str)> = vec![
        ("EARMARK__SERVER__BIND", "127.0.0.1:0"),
        ("EARMARK__AUTH__API_KEY", "crash-key"),
    ];
    env.extend(fake_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let auth = ("X-Api-Key", "crash-key");
    let server = start_ok(cwd.path(), &env);
    let db_path = cwd
        .path()
        .join("data/library/earmark.db")
        .display()
        .to_string();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = earmark_db::connect(&db_path, &earmark_db::PoolSettings::default())
            .await
            .unwrap();
        let records = (1..=2).map(earmark_contract::record).collect();
        db.library.upsert_books(records).await.unwrap();
    });
    let accepted = server.post_json(
        "/jobs/download",
        &json!({"asins": ["B000000001", "B000000002"]}),
        &[auth],
    );
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let ids: Vec<String> = accepted.json()["job_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    server.kill_hard();

    let restarted = start_ok(cwd.path(), &env);
    for id in &ids {
        let job = restarted.get(&format!("/jobs/{id}"), &[auth]);
        assert_eq!(job.status, 200, "job {id} lost: {}", job.text());
        let status = job.json()["status"].as_str().unwrap().to_owned();
        assert!(
            matches!(status.as_str(), "QUEUED" | "RUNNING"),
            "{}",
            job.text()
        );
    }
    let again = restarted.post_json("/jobs/download", &json!({"asin": "B000000001"}), &[auth]);
    assert_eq!(
        again.json()["job_id"].as_str(),
        Some(ids[0].as_str()),
        "the surviving job is still the one for this work"
    );
}

/// A job killed mid-run with the server (`kill -9`) is taken up again after a restart and
/// finishes: here a library sync, with the real audible-cli stalled on a slow Audible. The
/// audible-cli the crash orphaned is ended by the restart, not left to its own timeout.
#[test]
fn a_job_running_when_the_server_is_killed_completes_after_a_restart() {
    use earmark_testkit::fake_audible::{FakeAudible, Misbehaviour, library_item, write_profile};
    use std::time::Duration;

    let cwd = tempfile::tempdir().unwrap();
    write_profile(&cwd.path().join("data/audible"), "earmark");
    let fake = FakeAudible::start();
    fake.set_library((1..=30).map(library_item).collect());
    fake.misbehave(Some(Misbehaviour::Slow(Duration::from_secs(30))));
    let fake_env = fake.env();
    let mut env: Vec<(&str, &str)> = vec![
        ("EARMARK__SERVER__BIND", "127.0.0.1:0"),
        ("EARMARK__AUTH__API_KEY", "crash-key"),
    ];
    env.extend(fake_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let auth = ("X-Api-Key", "crash-key");

    let server = start_ok(cwd.path(), &env);
    let accepted = server.post_json("/library/sync", &json!({}), &[auth]);
    let id = accepted.json()["job_id"].as_str().unwrap().to_owned();
    server.wait_for_job(&id, &[auth], Duration::from_secs(30), |job| {
        job["status"] == "RUNNING"
    });
    // audible-cli has asked for the library and is waiting for the answer.
    for _ in 0..100 {
        if !fake.requests().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!fake.requests().is_empty(), "audible-cli never called");
    server.kill_hard();
    // The crash orphaned audible-cli, still waiting for Audible's answer.
    let data = cwd.path().join("data").display().to_string();
    let ours = |cmdline: &str| cmdline.contains("library") && cmdline.contains(&data);
    let orphans = earmark_testkit::running_processes(ours);
    assert!(!orphans.is_empty(), "no orphan to look after");

    fake.misbehave(None);
    let restarted = start_ok(cwd.path(), &env);
    // The restart ended them before anything else ran (they would have lived 30 s more).
    let left: Vec<_> = earmark_testkit::running_processes(ours)
        .into_iter()
        .filter(|p| orphans.contains(p))
        .collect();
    assert!(
        left.is_empty(),
        "orphans still running after the restart: {left:?}"
    );
    let job = restarted.wait_for_job(&id, &[auth], Duration::from_secs(60), |job| {
        matches!(job["status"].as_str(), Some("COMPLETED" | "FAILED"))
    });
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["attempt"], 2, "the interrupted attempt counts: {job}");
    assert_eq!(restarted.get("/library", &[auth]).json()["total"], 30);
    let leftovers: Vec<_> = std::fs::read_dir(cwd.path().join("data/tmp"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "scratch dirs left: {leftovers:?}");
}
