//! A real browser (Debian's headless Chromium, driven through ChromeDriver with fantoccini)
//! loads a page of our own from a second origin that calls earmark as the web client does: REST
//! with no credentials, the job WebSocket, `/stream` in an audio element with a seek. It works
//! from a trusted network with the page's origin listed; it is refused when either is missing;
//! a page of an unlisted origin in the same browser can neither POST nor open the WebSocket.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use earmark_fixtures::SyntheticBook;
use earmark_testkit::{Server, start_ok};
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

const KEY: &str = "browser-test-key";
const ASIN: &str = "B000000001";

/// Serves the test page on a free loopback port, to any path; returns the port.
fn serve_page() -> u16 {
    let page =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/browser/client.html"))
            .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let page = page.clone();
            std::thread::spawn(move || answer_page(stream, &page));
        }
    });
    port
}

fn answer_page(mut stream: TcpStream, page: &[u8]) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        if line == "\r\n" {
            break;
        }
        line.clear();
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        page.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(page);
}

/// ChromeDriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ChromeDriver, or `None` (outside CI) when Debian's chromium-driver is not installed.
fn chromedriver() -> Option<Driver> {
    let found = Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromedriver is missing: tests/ensure-chromium.sh installs Debian's chromium and chromium-driver"
        );
        eprintln!("SKIPPED: no chromedriver (run tests/ensure-chromium.sh, or ./just test)");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let ready = ureq::get(&format!("{}/status", driver.url))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
            .is_some_and(|s| s["value"]["ready"] == true);
        if ready {
            return Some(driver);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("chromedriver did not get ready within 20 s");
}

async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Runs `window.earmark.<call>(arg)` in the page and returns what its promise resolved to.
async fn page_call(client: &Client, call: &str, arg: &str) -> Value {
    page_call_with(client, call, json!(arg)).await
}

/// [`page_call`] with any JSON argument.
async fn page_call_with(client: &Client, call: &str, arg: Value) -> Value {
    let script = format!(
        "const done = arguments[arguments.length - 1]; window.earmark.{call}(arguments[0]).then(done, (e) => done({{thrown: String(e)}}));"
    );
    client
        .execute_async(&script, vec![arg])
        .await
        .unwrap_or_else(|e| panic!("{call}: {e}"))
}

fn start(cwd: &Path, trusted: &str, origins: &str) -> Server {
    start_ok(
        cwd,
        &[
            ("EARMARK__SERVER__BIND", "127.0.0.1:0"),
            ("EARMARK__AUTH__API_KEY", KEY),
            ("EARMARK__AUTH__TRUSTED_NETWORKS", trusted),
            ("EARMARK__SERVER__CORS_ORIGINS", origins),
        ],
    )
}

fn seeded_home() -> tempfile::TempDir {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    std::fs::create_dir_all(data.join("library")).unwrap();
    let db_url = data.join("library/earmark.db").display().to_string();
    let record = earmark_testkit::seed::record(ASIN, "Played in a Browser");
    earmark_testkit::seed::converted_into(&db_url, &data, record, &SyntheticBook::short(2));
    cwd
}

fn sync_jobs(server: &Server) -> u64 {
    server
        .get("/jobs?task_type=SYNC", &[("X-Api-Key", KEY)])
        .json()["total"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_page_of_another_origin_uses_earmark_keyless_only_from_a_trusted_network_and_a_listed_origin() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let page_port = serve_page();
    let listed = format!("http://127.0.0.1:{page_port}");
    // Another origin on the same host: same page, same browser, not listed.
    let unlisted = format!("http://localhost:{page_port}");
    let home = seeded_home();
    let open = start(home.path(), "127.0.0.0/8", &listed);
    let api = open.base.clone();
    let ws = api.replacen("http://", "ws://", 1);
    let profile = tempfile::tempdir().unwrap();
    let second_home = seeded_home();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = browser(&driver, profile.path()).await;

        // Trusted network, listed origin: everything the client does works.
        client.goto(&format!("{listed}/")).await.unwrap();
        let rest = page_call(&client, "rest", &api).await;
        assert_eq!(rest["library"]["status"], 200, "{rest}");
        assert_eq!(rest["library"]["body"]["total"], 1, "{rest}");
        assert_eq!(rest["library"]["body"]["items"][0]["asin"], ASIN);
        assert_eq!(rest["sync"]["status"], 202, "{rest}");
        assert!(rest["sync"]["body"]["job_id"].is_string(), "{rest}");
        let feed = page_call(&client, "feed", &ws).await;
        assert_eq!(
            feed["first"]["type"], "batch",
            "the feed's snapshot: {feed}"
        );
        let played = page_call(&client, "play", &format!("{api}/stream/{ASIN}")).await;
        let duration = played["duration"]
            .as_f64()
            .unwrap_or_else(|| panic!("{played}"));
        assert!((5.8..6.3).contains(&duration), "{played}");
        let (target, at) = (
            played["target"].as_f64().unwrap(),
            played["currentTime"].as_f64().unwrap(),
        );
        assert!(at >= target - 0.05, "played on from the seek: {played}");
        assert!(played["readyState"].as_u64().unwrap() >= 2, "{played}");
        let syncs = sync_jobs(&open);
        assert_eq!(syncs, 1);

        // Trusted network, unlisted origin: the browser may read nothing, and neither a
        // simple POST nor a WebSocket gets through.
        client.goto(&format!("{unlisted}/")).await.unwrap();
        let rest = page_call(&client, "rest", &api).await;
        assert!(
            rest["library"]["error"].is_string(),
            "CORS refuses reading: {rest}"
        );
        assert!(
            rest["sync"]["error"].is_string(),
            "the preflight refuses: {rest}"
        );
        let posted = page_call(&client, "simplePost", &api).await;
        assert_eq!(posted["type"], "opaque", "{posted}");
        let feed = page_call(&client, "feed", &ws).await;
        assert_eq!(feed["error"], true, "{feed}");
        assert_eq!(sync_jobs(&open), syncs, "the simple POST did nothing");
        let metrics = open.get("/metrics", &[("X-Api-Key", KEY)]).text();
        let refused_post = metrics.lines().any(|l| {
            l.starts_with("earmark_http_requests_total")
                && l.contains("method=\"POST\"")
                && l.contains("route=\"/library/sync\"")
                && l.contains("status=\"403\"")
        });
        assert!(refused_post, "the simple POST was refused 403:\n{metrics}");
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("earmark_http_requests_total")
                    && l.contains("route=\"/stream/{file_id}\"")
                    && l.contains("status=\"206\"")),
            "the audio element read ranges:\n{metrics}"
        );

        // Listed origin, untrusted network: refusals the page can read, no socket, no audio.
        drop(open);
        let keyed = start(second_home.path(), "", &listed);
        let api = keyed.base.clone();
        let ws = api.replacen("http://", "ws://", 1);
        client.goto(&format!("{listed}/")).await.unwrap();
        let rest = page_call(&client, "rest", &api).await;
        assert_eq!(rest["library"]["status"], 401, "{rest}");
        assert_eq!(rest["library"]["body"]["code"], "unauthorized", "{rest}");
        assert_eq!(rest["sync"]["status"], 401, "{rest}");
        let feed = page_call(&client, "feed", &ws).await;
        assert_eq!(feed["error"], true, "{feed}");
        let played = page_call(&client, "play", &format!("{api}/stream/{ASIN}")).await;
        assert!(played["error"].is_u64(), "{played}");
        assert_eq!(sync_jobs(&keyed), 0);

        client.close().await.unwrap();
    });
}

#[test]
fn a_downloaded_book_plays_and_seeks_in_a_browser_before_any_conversion() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let page_port = serve_page();
    let origin = format!("http://127.0.0.1:{page_port}");
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let asin = "B0HEARDNOW";
    earmark_testkit::seed::downloaded(
        &data,
        earmark_testkit::seed::record(asin, "Heard Before Converting"),
        &SyntheticBook::short(2),
        true,
    );
    let server = start(home.path(), "127.0.0.0/8", &origin);
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = browser(&driver, profile.path()).await;
        client.goto(&format!("{origin}/")).await.unwrap();
        let src = format!("{}/stream/{asin}", server.base);
        let played = page_call_with(&client, "play", json!({"src": src, "at": 0.8})).await;
        let duration = played["duration"]
            .as_f64()
            .unwrap_or_else(|| panic!("{played}"));
        assert!((5.8..6.3).contains(&duration), "{played}");
        let (target, at) = (
            played["target"].as_f64().unwrap(),
            played["currentTime"].as_f64().unwrap(),
        );
        assert!(at > target, "played on from 80%: {played}");
        client.close().await.unwrap();
    });
}
