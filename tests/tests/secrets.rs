//! Secrets never leak: after a login, a token-played stream, a sync and a few refused
//! requests, with the most verbose log level, no secret appears in the server's log, the job
//! logs, `/metrics`, or any error body.

use std::time::Duration;

use earmark_testkit::fake_audible::{FakeAudible, library_item};
use earmark_testkit::{start_ok, stderr_log};
use serde_json::json;

#[test]
fn no_secret_reaches_a_log_metrics_or_an_error_body() {
    let api_key = "emk_the-secret-api-key-0123456789";
    let cwd = tempfile::tempdir().unwrap();
    let fake = FakeAudible::start();
    fake.set_library((1..=3).map(library_item).collect());
    let fake_env = fake.env();
    let mut env: Vec<(&str, &str)> = vec![
        ("EARMARK__SERVER__BIND", "127.0.0.1:0"),
        ("EARMARK__AUTH__API_KEY", api_key),
        ("RUST_LOG", "trace"),
    ];
    env.extend(fake_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let server = start_ok(cwd.path(), &env);
    let key = ("X-Api-Key", api_key);
    let mut bodies = Vec::new();

    // A login: the PKCE verifier, the code, and the registered tokens are secrets.
    let started = server.post_json(
        "/auth/audible/login",
        &json!({"profile": "me", "country_code": "us"}),
        &[key],
    );
    let login_url = started.json()["login_url"].as_str().unwrap().to_owned();
    let code = "secret-authorization-code-42";
    let landing = fake.log_in(&login_url, code);
    let finished = server.post_json(
        &format!(
            "/auth/audible/login/{}",
            started.json()["login_id"].as_str().unwrap()
        ),
        &json!({"redirect_url": landing}),
        &[key],
    );
    assert_eq!(finished.status, 201, "{}", finished.text());
    let auth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cwd.path().join("data/audible/me.json")).unwrap())
            .unwrap();

    // Its activation bytes, fetched and cached.
    let fetched = server.post_json(
        "/auth/audible/profiles/me/activation-bytes",
        &json!({}),
        &[key],
    );
    assert_eq!(fetched.status, 200, "{}", fetched.text());

    // A sync with that profile, a token, a refused token, a wrong key, a bad import.
    let sync = server.post_json("/library/sync", &json!({}), &[key]);
    let id = sync.json()["job_id"].as_str().unwrap().to_owned();
    server.wait_for_job(&id, &[key], Duration::from_secs(60), |j| {
        j["status"] == "COMPLETED"
    });
    let grant = server.post_json("/auth/tokens", &json!({"scope": "ws"}), &[key]);
    let token = grant.json()["token"].as_str().unwrap().to_owned();
    bodies.push(
        server
            .get(&format!("/stream/B000000001?token={token}"), &[])
            .text(),
    );
    bodies.push(server.get(&format!("/ws/jobs?token={token}x"), &[]).text());
    bodies.push(server.get("/jobs", &[("X-Api-Key", "wrong-key")]).text());
    let password = "hunter2-import-password";
    bodies.push(
        server
            .post_json(
                "/auth/audible/profiles/import",
                &json!({"profile": "imp", "country_code": "us", "auth_file": "{}", "password": password}),
                &[key],
            )
            .text(),
    );
    bodies.push(server.get("/metrics", &[key]).text());
    bodies.push(server.get(&format!("/jobs/{id}/log"), &[key]).text());
    server.terminate(Duration::from_secs(10));

    let mut written = std::fs::read_to_string(stderr_log(cwd.path())).unwrap();
    for entry in std::fs::read_dir(cwd.path().join("data/logs")).unwrap() {
        written.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    // The places a leak would show are really there: request lines (a token rides in a
    // query) and the job's command lines.
    assert!(
        written.contains("/stream/B000000001"),
        "requests are logged"
    );
    assert!(written.contains("1.0/library"), "the job log is scanned");
    let private_key = auth["device_private_key"].as_str().unwrap();
    let key_body = private_key.lines().nth(1).unwrap();
    let secrets = [
        ("API key", api_key),
        ("token", token.as_str()),
        ("authorization code", code),
        ("access token", auth["access_token"].as_str().unwrap()),
        ("refresh token", auth["refresh_token"].as_str().unwrap()),
        ("adp token", auth["adp_token"].as_str().unwrap()),
        ("device private key", key_body),
        ("import password", password),
        (
            "activation bytes",
            earmark_testkit::fake_audible::ACTIVATION_BYTES,
        ),
    ];
    for (what, secret) in secrets {
        assert!(!written.contains(secret), "the {what} is in a log");
        for body in &bodies {
            assert!(
                !body.contains(secret),
                "the {what} is in a response: {body}"
            );
        }
    }
}
