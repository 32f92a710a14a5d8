//! The person's settings outlast a restart of the real binary, on both databases.
#![expect(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::time::Duration;

use earmark_db::testing::TestDb;
use earmark_testkit::start_ok;
use serde_json::json;

const KEY: (&str, &str) = ("X-Api-Key", "settings-key");

fn saved_settings_outlast_a_restart(database_url: Option<&str>) {
    let cwd = tempfile::tempdir().unwrap();
    let mut env = vec![
        ("EARMARK__SERVER__BIND", "127.0.0.1:0"),
        ("EARMARK__AUTH__API_KEY", KEY.1),
    ];
    if let Some(url) = database_url {
        env.push(("EARMARK__DATABASE__URL", url));
    }
    let server = start_ok(cwd.path(), &env);
    let change = json!({"output_format": "flac", "compression_flac": 8, "max_retries": 5});
    let reply = server.request_json("PATCH", "/settings", &change, &[KEY]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let saved = reply.json();
    server.terminate(Duration::from_secs(10));

    let server = start_ok(cwd.path(), &env);
    let read = server.get("/settings", &[KEY]).json();
    assert_eq!(read, saved);
    assert_eq!(read["output_format"], "flac");
    server.terminate(Duration::from_secs(10));
}

#[test]
fn saved_settings_outlast_a_restart_on_sqlite() {
    saved_settings_outlast_a_restart(None);
}

#[test]
fn saved_settings_outlast_a_restart_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Some(db) = runtime.block_on(TestDb::postgres()) {
        saved_settings_outlast_a_restart(Some(&db.url));
    }
}
