//! The web login, end to end with the real `audible` library and audible-cli: start a login,
//! "sign in" at the fake Amazon, finish it, and sync the library with the new profile; plus
//! profile import, primary and removal.
#![expect(clippy::unwrap_used, reason = "test helpers fail by panicking")]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use earmark_testkit::Server;
use earmark_testkit::fake_audible::{
    ACTIVATION_BYTES, FakeAudible, Misbehaviour, audible_cli, library_item,
};
use serde_json::{Value, json};

const KEY: (&str, &str) = ("X-Api-Key", "login-key");

fn serve(cwd: &Path, fake: &FakeAudible) -> Server {
    fake.start_earmark(cwd, KEY.1, &[])
}

fn start_login(server: &Server, profile: &str) -> (String, String) {
    let started = server.post_json(
        "/auth/audible/login",
        &json!({"profile": profile, "country_code": "us"}),
        &[KEY],
    );
    assert_eq!(started.status, 200, "{}", started.text());
    let body = started.json();
    let url = body["login_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("https://www.amazon.com/ap/signin?"),
        "{url}"
    );
    assert!(
        !started.text().contains("code_verifier"),
        "the verifier stays on the server"
    );
    (body["login_id"].as_str().unwrap().to_owned(), url)
}

/// What the real audible-cli prints for `args` on earmark's config dir, its network sent to
/// `fake`.
/// `POST /auth/audible/login/{login_id}` with what the browser ended on.
fn finish_login(server: &Server, login_id: &str, redirect_url: &str) -> earmark_testkit::Reply {
    server.post_json(
        &format!("/auth/audible/login/{login_id}"),
        &json!({ "redirect_url": redirect_url }),
        &[KEY],
    )
}

fn audible_cli_says(cwd: &Path, fake: &FakeAudible, args: &[&str]) -> String {
    let out = std::process::Command::new(audible_cli())
        .args(args)
        .envs(fake.env())
        .env("AUDIBLE_CONFIG_DIR", cwd.join("data/audible"))
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_web_login_yields_a_profile_audible_cli_uses_to_sync() {
    let cwd = tempfile::tempdir().unwrap();
    let fake = FakeAudible::start();
    fake.set_library((1..=7).map(library_item).collect());
    let server = serve(cwd.path(), &fake);

    let (login_id, url) = start_login(&server, "web");
    let landing = fake.log_in(&url, "amazon-code-1");
    let finished = finish_login(&server, &login_id, &landing);
    assert_eq!(finished.status, 201, "{}", finished.text());
    let profile = finished.json();
    assert_eq!(profile["name"], "web");
    assert_eq!(profile["marketplace"], "us");
    assert_eq!(profile["device_name"], "Test's Audible for iPhone");
    assert_eq!(
        profile["primary"], true,
        "the first profile is the primary one"
    );
    assert_eq!(profile["activation_bytes_cached"], false);

    let auth_file = cwd.path().join("data/audible/web.json");
    let mode = std::fs::metadata(&auth_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let config = std::fs::read_to_string(cwd.path().join("data/audible/config.toml")).unwrap();
    assert!(
        config.contains("[profile.web]") && config.contains("primary_profile = \"web\""),
        "{config}"
    );
    assert!(audible_cli_says(cwd.path(), &fake, &["manage", "profile", "list"]).contains("web"));

    // earmark has audible-cli fetch the activation bytes with the new device's signature
    // once; they are cached in the auth file, and audible-cli itself answers from there
    // afterwards, offline.
    fake.clear_requests();
    let fetched = server.post_json(
        "/auth/audible/profiles/web/activation-bytes",
        &json!({}),
        &[KEY],
    );
    assert_eq!(fetched.status, 200, "{}", fetched.text());
    assert_eq!(fetched.json()["activation_bytes_cached"], true);
    assert!(!fetched.text().contains(ACTIVATION_BYTES), "never shown");
    assert_eq!(fake.requests().len(), 1);
    let missing = server.post_json(
        "/auth/audible/profiles/nobody/activation-bytes",
        &json!({}),
        &[KEY],
    );
    assert_eq!(missing.status, 404, "{}", missing.text());
    assert_eq!(missing.json()["code"], "profile_not_found");
    fake.misbehave(Some(Misbehaviour::Status(503, "offline".into())));
    let cached = audible_cli_says(cwd.path(), &fake, &["-P", "web", "activation-bytes"]);
    assert_eq!(cached.trim(), ACTIVATION_BYTES);
    assert_eq!(
        fake.requests().len(),
        1,
        "the second answer came from the auth file"
    );
    fake.misbehave(None);
    let listed = server.get("/auth/audible/profiles", &[KEY]);
    assert_eq!(listed.json()["items"][0]["activation_bytes_cached"], true);
    assert!(
        !listed.text().contains(ACTIVATION_BYTES),
        "never their value"
    );

    // The same login cannot be finished twice.
    let again = finish_login(&server, &login_id, &landing);
    assert_eq!(
        (again.status, again.json()["code"].clone()),
        (404, json!("login_not_found"))
    );

    // The new profile syncs the library, signing with the registered device's key.
    fake.clear_requests();
    let accepted = server.post_json("/library/sync", &json!({"profile": "web"}), &[KEY]);
    let id = accepted.json()["job_id"].as_str().unwrap().to_owned();
    let job = server.wait_for_job(&id, &[KEY], Duration::from_secs(60), |j| {
        matches!(j["status"].as_str(), Some("COMPLETED" | "FAILED"))
    });
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(server.get("/library", &[KEY]).json()["total"], 7);
    assert!(fake.requests().iter().all(|r| r.signed));
}

#[test]
fn bad_logins_are_refused_with_what_to_do() {
    let cwd = tempfile::tempdir().unwrap();
    let fake = FakeAudible::start();
    let server = serve(cwd.path(), &fake);

    let bad = server.post_json(
        "/auth/audible/login",
        &json!({"profile": "../x", "country_code": "us"}),
        &[KEY],
    );
    assert_eq!(bad.status, 422);
    let bad = server.post_json(
        "/auth/audible/login",
        &json!({"profile": "p", "country_code": "xx"}),
        &[KEY],
    );
    assert_eq!(bad.status, 422);

    let (login_id, _) = start_login(&server, "p");
    let no_code = finish_login(
        &server,
        &login_id,
        "https://www.amazon.com/ap/maplanding?openid.mode=cancel",
    );
    assert_eq!(no_code.status, 422, "{}", no_code.text());
    assert_eq!(no_code.json()["code"], "invalid_account_request");
    assert!(
        no_code.json()["detail"]
            .as_str()
            .unwrap()
            .contains("maplanding")
    );

    // An address without a code, or a code Amazon refuses, leaves the login standing.
    let refused = finish_login(&server, &login_id, "never-issued-code");
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert_eq!(refused.json()["code"], "login_refused");
    let again = finish_login(&server, &login_id, "never-issued-code");
    assert_eq!(again.json()["code"], "login_refused", "{}", again.text());
    assert!(
        !cwd.path().join("data/audible/p.json").exists(),
        "nothing half-written"
    );
}

#[test]
fn profiles_are_imported_made_primary_and_removed() {
    let cwd = tempfile::tempdir().unwrap();
    let fake = FakeAudible::start();
    let server = serve(cwd.path(), &fake);
    let (login_id, url) = start_login(&server, "first");
    let landing = fake.log_in(&url, "code-first");
    let finished = finish_login(&server, &login_id, &landing);
    assert_eq!(finished.status, 201, "{}", finished.text());

    // An auth file made elsewhere (here: the same shape the test fixtures write).
    let elsewhere = tempfile::tempdir().unwrap();
    earmark_testkit::fake_audible::write_profile(elsewhere.path(), "x");
    let contents = std::fs::read_to_string(elsewhere.path().join("x.json")).unwrap();
    let imported = server.post_json(
        "/auth/audible/profiles/import",
        &json!({"profile": "second", "country_code": "de", "auth_file": contents}),
        &[KEY],
    );
    assert_eq!(imported.status, 201, "{}", imported.text());
    assert_eq!(imported.json()["primary"], false);
    let again = server.post_json(
        "/auth/audible/profiles/import",
        &json!({"profile": "second", "country_code": "de", "auth_file": contents}),
        &[KEY],
    );
    assert_eq!(again.status, 409, "{}", again.text());
    assert_eq!(again.json()["code"], "profile_exists");
    let garbage = server.post_json(
        "/auth/audible/profiles/import",
        &json!({"profile": "third", "country_code": "de", "auth_file": "{not json"}),
        &[KEY],
    );
    assert_eq!(garbage.status, 422, "{}", garbage.text());

    // An encrypted one (as `audible manage auth-file encrypt` writes it), with its password.
    let encrypted_path = elsewhere.path().join("encrypted.json");
    let out = std::process::Command::new(audible_cli().with_file_name("python"))
        .args([
            "-c",
            "import audible, sys; a = audible.Authenticator.from_file(sys.argv[1]); \
             a.to_file(sys.argv[2], password='open sesame', encryption='json', set_default=False)",
        ])
        .arg(elsewhere.path().join("x.json"))
        .arg(&encrypted_path)
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let encrypted = std::fs::read_to_string(&encrypted_path).unwrap();
    let wrong = server.post_json(
        "/auth/audible/profiles/import",
        &json!({"profile": "third", "country_code": "uk", "auth_file": encrypted, "password": "nope"}),
        &[KEY],
    );
    assert_eq!(wrong.status, 422, "{}", wrong.text());
    assert!(
        wrong.json()["detail"]
            .as_str()
            .unwrap()
            .contains("password")
    );
    let right = server.post_json(
        "/auth/audible/profiles/import",
        &json!({"profile": "third", "country_code": "uk", "auth_file": encrypted, "password": "open sesame"}),
        &[KEY],
    );
    assert_eq!(right.status, 201, "{}", right.text());
    let stored = std::fs::read_to_string(cwd.path().join("data/audible/third.json")).unwrap();
    assert!(
        stored.contains("adp_token"),
        "stored decrypted, for audible-cli to read unattended"
    );
    assert_eq!(
        server
            .request("DELETE", "/auth/audible/profiles/third", &[KEY])
            .status,
        204
    );

    let primary = server.post_json("/auth/audible/profiles/second/primary", &json!({}), &[KEY]);
    assert_eq!(primary.status, 200, "{}", primary.text());
    let list = server.get("/auth/audible/profiles", &[KEY]).json();
    let flags: Vec<(String, bool, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["primary"].as_bool().unwrap(),
                p["marketplace"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            ("first".into(), false, "us".into()),
            ("second".into(), true, "de".into())
        ]
    );
    let text = server.get("/auth/audible/profiles", &[KEY]).text();
    assert!(
        !text.contains("Atna|") && !text.contains("PRIVATE KEY"),
        "no secrets: {text}"
    );

    let removed = server.request("DELETE", "/auth/audible/profiles/second", &[KEY]);
    assert_eq!(removed.status, 204);
    assert!(!cwd.path().join("data/audible/second.json").exists());
    let list: Value = server.get("/auth/audible/profiles", &[KEY]).json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        list["items"][0]["primary"], true,
        "the remaining profile is primary again"
    );
    let missing = server.request("DELETE", "/auth/audible/profiles/second", &[KEY]);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "profile_not_found");
}
