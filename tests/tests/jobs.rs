//! Accepted work survives a hard crash of the real binary.

use earmark_blackbox::start_ok;
use serde_json::json;

#[test]
fn accepted_jobs_survive_kill_9_and_a_restart() {
    let cwd = tempfile::tempdir().unwrap();
    let env = [
        ("EARMARK__SERVER__BIND", "127.0.0.1:0"),
        ("EARMARK__AUTH__API_KEY", "crash-key"),
    ];
    let auth = ("X-Api-Key", "crash-key");
    let server = start_ok(cwd.path(), &env);
    let accepted = server.post_json(
        "/jobs/convert",
        &json!({"asins": ["B000000001", "B000000002"], "format": "m4b"}),
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
        assert_eq!(job.json()["status"], "QUEUED");
    }
    let again = restarted.post_json(
        "/jobs/convert",
        &json!({"asin": "B000000001", "format": "m4b"}),
        &[auth],
    );
    assert_eq!(
        again.json()["job_id"].as_str(),
        Some(ids[0].as_str()),
        "the surviving job is still the one for this work"
    );
}
