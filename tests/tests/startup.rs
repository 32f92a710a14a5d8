//! The two-command start, proven on the real binary: no configuration, SQLite, PostgreSQL.

use std::time::Duration;

use earmark_testkit::{Started, start, start_ok};

/// Port 0: the one setting these tests add, so they can run side by side.
const ANY_PORT: (&str, &str) = ("EARMARK__SERVER__BIND", "127.0.0.1:0");

#[test]
fn starts_on_an_empty_directory_with_no_configuration() {
    let cwd = tempfile::tempdir().unwrap();
    let server = start_ok(cwd.path(), &[ANY_PORT]);
    let key = server
        .printed_key
        .clone()
        .expect("a first start prints `API key: <key>`");

    let health = server.get("/healthz", &[]);
    assert_eq!(health.status, 200, "{}", health.text());
    let health = health.json();
    assert_eq!(health["database"]["backend"], "sqlite");
    assert_eq!(health["database"]["reachable"], true);
    for sub in [
        "library",
        "downloads",
        "converted",
        "logs",
        "tmp",
        "audible",
    ] {
        assert!(
            cwd.path().join("data").join(sub).is_dir(),
            "./data/{sub} created"
        );
    }
    assert!(
        cwd.path().join("data/library/earmark.db").is_file(),
        "SQLite under ./data/library"
    );

    let refused = server.get("/library", &[]);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.content_type(), Some("application/problem+json"));
    let admitted = server.get("/nope", &[("Authorization", &format!("Bearer {key}"))]);
    assert_eq!(admitted.status, 404);
    assert_eq!(admitted.json()["code"], "route_not_found");
    assert_eq!(server.get("/docs/", &[]).status, 200);

    let status = server.terminate(Duration::from_secs(15));
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
}

#[test]
fn later_starts_keep_the_key_and_do_not_print_it() {
    let cwd = tempfile::tempdir().unwrap();
    let first = start_ok(cwd.path(), &[ANY_PORT]);
    let key = first.printed_key.clone().unwrap();
    first.terminate(Duration::from_secs(15));

    let second = start_ok(cwd.path(), &[ANY_PORT]);
    assert_eq!(second.printed_key, None);
    assert!(
        second.stdout.iter().all(|line| !line.contains(&key)),
        "the key is never printed again"
    );
    assert_eq!(
        second.get("/x", &[("X-Api-Key", &key)]).status,
        404,
        "the stored key still works"
    );
}

#[test]
fn a_rotated_key_replaces_the_old_one_after_a_restart() {
    let cwd = tempfile::tempdir().unwrap();
    let env = [("EARMARK__SERVER__BIND", "127.0.0.1:0")];
    let first = start_ok(cwd.path(), &env);
    let old = first.printed_key.clone().unwrap();
    first.terminate(std::time::Duration::from_secs(10));

    let out = std::process::Command::new(earmark_testkit::earmark_bin())
        .args(["api-key", "rotate"])
        .current_dir(cwd.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let new = stdout
        .lines()
        .find_map(|l| l.strip_prefix("API key: "))
        .unwrap()
        .to_owned();
    assert_ne!(new, old);

    let restarted = start_ok(cwd.path(), &env);
    assert_eq!(
        restarted.printed_key, None,
        "a stored key is not printed again"
    );
    assert_eq!(restarted.get("/jobs", &[("X-Api-Key", &old)]).status, 401);
    assert_eq!(restarted.get("/jobs", &[("X-Api-Key", &new)]).status, 200);

    let refused = std::process::Command::new(earmark_testkit::earmark_bin())
        .args(["api-key", "rotate"])
        .current_dir(cwd.path())
        .env("EARMARK__AUTH__API_KEY", "fixed")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("set by configuration"));
}

#[test]
fn a_configured_key_is_used_and_never_printed() {
    let cwd = tempfile::tempdir().unwrap();
    let server = start_ok(
        cwd.path(),
        &[ANY_PORT, ("EARMARK__AUTH__API_KEY", "my-own-key")],
    );
    assert_eq!(server.printed_key, None);
    assert_eq!(server.get("/x", &[("X-Api-Key", "my-own-key")]).status, 404);
    assert_eq!(server.get("/x", &[("X-Api-Key", "emk_other")]).status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_on_postgresql_from_either_url_variable() {
    let Some(database) = earmark_db::testing::TestDb::postgres().await else {
        return;
    };
    for variable in ["DATABASE_URL", "EARMARK__DATABASE__URL"] {
        let cwd = tempfile::tempdir().unwrap();
        let server = start_ok(cwd.path(), &[ANY_PORT, (variable, &database.url)]);
        let health = server.get("/healthz", &[]);
        assert_eq!(health.status, 200, "{variable}: {}", health.text());
        assert_eq!(
            health.json()["database"]["backend"],
            "postgres",
            "{variable}"
        );
        assert!(
            !cwd.path().join("data/library/earmark.db").exists(),
            "no SQLite file when on PostgreSQL"
        );
        server.terminate(Duration::from_secs(15));
    }
}

#[test]
fn bad_settings_stop_the_start_with_a_message_that_says_what_is_wrong() {
    let cwd = tempfile::tempdir().unwrap();
    for (env, expected_code, expected_text) in [
        (("EARMARK__CONVERTER__ENGINE", "handbrake"), 2, "handbrake"),
        (
            ("EARMARK__DATABASE__URL", "mysql://db/earmark"),
            1,
            "unsupported database URL",
        ),
        (
            ("EARMARK__SERVER__BIND", "not-an-address"),
            1,
            "not-an-address",
        ),
    ] {
        match start(cwd.path(), &[env], &[]) {
            Started::Up(_) => panic!("{env:?} should not start"),
            Started::Exited { status, stderr, .. } => {
                assert_eq!(status.code(), Some(expected_code), "{env:?}: {stderr}");
                assert!(stderr.contains(expected_text), "{env:?}: {stderr}");
            }
        }
    }
}

#[test]
fn an_address_in_use_stops_the_start_with_what_to_do() {
    let cwd = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    match start(cwd.path(), &[("EARMARK__SERVER__BIND", bind.as_str())], &[]) {
        Started::Up(_) => panic!("earmark listened on a port that was taken"),
        Started::Exited { status, stderr, .. } => {
            assert_eq!(status.code(), Some(1), "{stderr}");
            assert!(
                stderr.contains(&format!("cannot listen on {bind}")),
                "{stderr}"
            );
            assert!(
                stderr.contains("set EARMARK__SERVER__BIND to a free address"),
                "{stderr}"
            );
        }
    }
}

#[test]
fn a_second_earmark_on_the_same_data_directory_refuses_to_start() {
    let cwd = tempfile::tempdir().unwrap();
    let first = start_ok(cwd.path(), &[ANY_PORT]);
    match start(cwd.path(), &[ANY_PORT], &[]) {
        Started::Up(_) => panic!("two earmarks run on one data directory"),
        Started::Exited { status, stderr, .. } => {
            assert!(!status.success());
            assert!(stderr.contains("another earmark is using it"), "{stderr}");
        }
    }
    assert_eq!(
        first.get("/healthz", &[]).status,
        200,
        "the first one is unharmed"
    );
    first.terminate(Duration::from_secs(15));
}
