//! Job-engine benchmark. Serves earmark's real application in-process (SQLite, the engine with
//! a stand-in handler), starts 5 downloads and 2 conversions that each print about 2,500 log
//! lines a second, connects 100 WebSocket subscribers and one that never reads, and measures
//! `GET /jobs` with `wrk` twice: idle (the reference) and under that load. Prints a Markdown
//! report. Usage: `earmark-bench-jobs [seconds]` (default 20); `BENCH_SUBSCRIBERS` changes
//! the number of reading subscribers.
#![expect(clippy::expect_used, reason = "a benchmark fails loudly")]

use std::collections::HashMap;
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::HttpServer;
use earmark_core::ports::JobHandler;
use earmark_core::{Asin, JobStatus, TaskType};
use earmark_http::auth::ApiKeyHash;
use earmark_jobs::{Engine, EngineConfig};
use earmark_server::data_dir::DataDir;
use earmark_testkit::stand_in::StandIn;
use earmark_testkit::wrk::{latency_ms, requests_per_second};

const KEY: &str = "bench-key";
const LINES_PER_SECOND: u64 = 2500;
const SUBSCRIBERS: usize = 100;
/// The book whose progress a player reports.
const PLAYED: &str = "B900000001";

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:")
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// `wrk` on `GET /jobs` for `seconds` over `connections` connections: (requests/s, p99 ms).
/// One connection measures the latency a client sees; eight measure capacity (there the p99
/// is mostly the eight requests queueing behind each other).
fn wrk(addr: &str, seconds: u64, connections: u32) -> (f64, f64) {
    wrk_on(
        &format!("http://{addr}/jobs?limit=50"),
        None,
        seconds,
        connections,
    )
}

/// A player's calls on one connection for `seconds`: `GET` of the book's progress, or with
/// `patching` its `PATCH` (`progress.lua`, a new position each time): (requests/s, p99 ms).
fn progress(addr: &str, seconds: u64, patching: bool) -> (f64, f64) {
    let url = format!("http://{addr}/library/{PLAYED}/progress");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/progress.lua");
    wrk_on(&url, patching.then_some(script), seconds, 1)
}

fn wrk_on(url: &str, script: Option<&str>, seconds: u64, connections: u32) -> (f64, f64) {
    let mut command = Command::new("wrk");
    command.args([
        "-t1",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
        "-H",
        &format!("X-Api-Key: {KEY}"),
    ]);
    if let Some(script) = script {
        command.args(["-s", script]);
    }
    let out = command
        .arg(url)
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    (requests_per_second(&text), latency_ms(&text, "99%"))
}

/// An authenticated `/ws/jobs` client, reads timing out after `read_timeout`.
fn connect(addr: &str, read_timeout: Option<Duration>) -> tungstenite::WebSocket<TcpStream> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(read_timeout).expect("timeout");
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}/ws/jobs"))
            .expect("request");
    request
        .headers_mut()
        .insert("X-Api-Key", KEY.parse().expect("header"));
    tungstenite::client(request, stream)
        .map_err(|_| "handshake")
        .expect("handshake")
        .0
}

/// A WebSocket frame as far as the subscribers look at it: one event, or a batch of them.
#[derive(serde::Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default, borrow)]
    job_id: Option<&'a str>,
    #[serde(default, borrow)]
    line: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    messages: Vec<Event<'a>>,
}

/// Subscribes and counts log lines until `stop`; returns the count and whether lines of each
/// job arrived in order.
fn subscriber(
    addr: String,
    stop: Arc<AtomicBool>,
    lines: Arc<AtomicUsize>,
    in_order: Arc<AtomicBool>,
) {
    let mut socket = connect(&addr, Some(Duration::from_millis(100)));
    let mut last: HashMap<String, u64> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        match socket.read() {
            Ok(tungstenite::Message::Text(text)) => {
                // Typed and borrowed: the 100 clients share the server's two cores, so what
                // they spend parsing is taken from the server being measured.
                let Ok(frame) = serde_json::from_str::<Event<'_>>(text.as_str()) else {
                    continue;
                };
                for message in frame.messages.iter().chain(std::iter::once(&frame)) {
                    match message.kind {
                        "log" => {
                            lines.fetch_add(1, Ordering::Relaxed);
                            let n: u64 = message
                                .line
                                .as_deref()
                                .and_then(|l| l.split_whitespace().nth(1))
                                .and_then(|n| n.parse().ok())
                                .unwrap_or(0);
                            let job = message.job_id.unwrap_or_default();
                            if let Some(previous) = last.insert(job.to_owned(), n)
                                && n != previous + 1
                            {
                                in_order.store(false, Ordering::Relaxed);
                            }
                        }
                        "lost" => in_order.store(false, Ordering::Relaxed),
                        _ => {}
                    }
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(_)) => {}
            Err(_) => break,
        }
    }
}

/// Client process: `clients ADDR N EXPECTED` connects N reading subscribers and one that never
/// reads, runs until its standard input closes, and prints `complete=C ordered=O`.
fn run_clients(addr: &str, n: usize, expected: usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Vec<Arc<AtomicUsize>> = (0..n).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let orders: Vec<Arc<AtomicBool>> = (0..n).map(|_| Arc::new(AtomicBool::new(true))).collect();
    let readers: Vec<_> = (0..n)
        .map(|i| {
            let (addr, stop, lines, order) = (
                addr.to_owned(),
                stop.clone(),
                counts[i].clone(),
                orders[i].clone(),
            );
            std::thread::spawn(move || subscriber(addr, stop, lines, order))
        })
        .collect();
    let _stalled = connect(addr, None);
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        let _ = reader.join();
    }
    let complete = counts
        .iter()
        .filter(|c| c.load(Ordering::Relaxed) == expected)
        .count();
    let ordered = orders.iter().filter(|o| o.load(Ordering::Relaxed)).count();
    println!("complete={complete} ordered={ordered}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("clients") {
        let number = |i: usize| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
        run_clients(&args[2], number(3), number(4));
        return;
    }
    actix_web::rt::System::new().block_on(server_side());
}

async fn server_side() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = DataDir::prepare(dir.path()).expect("data dir");
    let db = earmark_db::connect(
        &data_dir
            .root()
            .join("library/earmark.db")
            .display()
            .to_string(),
        &Default::default(),
    )
    .await
    .expect("db");
    let stand_in = Arc::new(StandIn::default());
    let handler: Arc<dyn JobHandler> = stand_in.clone();
    let handlers = HashMap::from([
        (TaskType::Download, handler.clone()),
        (TaskType::Convert, handler),
    ]);
    let config = EngineConfig::new(data_dir.root().join("logs"), data_dir.tmp(), 5, 2);
    let engine = Engine::new(db.jobs.clone(), handlers, config);
    // History to list: 500 finished jobs, as after a day of work.
    for n in 0..500u32 {
        let asin = Asin::parse(&format!("H{n:09}")).expect("asin");
        let job = stand_in.job(TaskType::Convert, asin, "true");
        let id = db.jobs.enqueue(job).await.expect("enqueue").job.id;
        db.jobs
            .update(
                id,
                earmark_core::JobUpdate {
                    status: Some(JobStatus::Cancelled),
                    ..Default::default()
                },
            )
            .await
            .expect("finish");
    }
    let played = earmark_core::BookRecord {
        asin: Asin::parse(PLAYED).expect("asin"),
        title: "Played".into(),
        subtitle: None,
        author: None,
        narrator: None,
        series: None,
        series_sequence: None,
        series_asin: None,
        runtime_min: Some(600),
        cover_url: None,
        release_date: None,
        purchase_date: None,
        metadata_json: serde_json::json!({"asin": PLAYED}),
        parent: None,
    };
    db.library.upsert_books(vec![played]).await.expect("book");
    let state = earmark_testkit::app::state_over(&db, data_dir.root().to_owned(), engine.clone());
    let server =
        HttpServer::new(move || earmark_http::app::build(state.clone(), ApiKeyHash::of(KEY)))
            .bind(("127.0.0.1", 0))
            .expect("bind");
    let addr = server.addrs()[0].to_string();
    actix_web::rt::spawn(server.run());

    let idle = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || {
            [
                wrk(&addr, 5, 1),
                wrk(&addr, 5, 8),
                progress(&addr, 5, false),
                progress(&addr, 5, true),
            ]
        }
    })
    .await
    .expect("wrk");
    let rss_before = rss_kib();

    // The clients run in a process of their own, so that the RSS measured here is the
    // server's alone.
    // BENCH_SUBSCRIBERS=0 shows what the 100 subscribers themselves cost the API.
    let subscribers: usize = std::env::var("BENCH_SUBSCRIBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SUBSCRIBERS);
    let per_job = LINES_PER_SECOND * seconds;
    let expected = per_job as usize * 7;
    // At niceness 19 they stand in for browsers on other machines: they use only the CPU
    // the server leaves free, instead of taking it from the server being measured.
    let mut clients = Command::new("nice")
        .args(["-n", "19"])
        .arg(std::env::current_exe().expect("own path"))
        .args([
            "clients",
            &addr,
            &subscribers.to_string(),
            &expected.to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("client process");
    tokio::time::sleep(Duration::from_millis(500)).await;

    engine.start();
    let script = format!(
        "awk 'BEGIN {{ for (i = 0; i < {per_job}; i++) {{ print \"line \" i; if (i % 250 == 249) {{ fflush(); system(\"sleep 0.1\") }} }} }}'"
    );
    let mut ids = Vec::new();
    for (n, task_type) in (0..7u32).zip(
        [TaskType::Download; 5]
            .into_iter()
            .chain([TaskType::Convert; 2]),
    ) {
        let asin = Asin::parse(&format!("B{n:09}")).expect("asin");
        let job = stand_in.job(task_type, asin, &script);
        ids.push(engine.submit(job).await.expect("submit").job.id);
    }
    let started = Instant::now();
    let quarter = (seconds.saturating_sub(2) / 4).max(3);
    let load = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || {
            [
                wrk(&addr, quarter, 1),
                wrk(&addr, quarter, 8),
                progress(&addr, quarter, false),
                progress(&addr, quarter, true),
            ]
        }
    })
    .await
    .expect("wrk");
    let mut rss_peak = rss_kib();
    for id in &ids {
        loop {
            rss_peak = rss_peak.max(rss_kib());
            if db.jobs.get(*id).await.expect("job").status == JobStatus::Completed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss_kib();
    drop(clients.stdin.take()); // end of input: the clients stop and report
    let output = clients.wait_with_output().expect("client results");
    let report = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> usize {
        report
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let (complete, ordered) = (field("complete="), field("ordered="));
    let rate = expected as f64 / elapsed.as_secs_f64();

    println!("| measure | idle (reference) | 7 jobs logging | ratio |");
    println!("| --- | ---: | ---: | ---: |");
    for (n, (connections, what)) in [(1, "latency"), (8, "capacity")].into_iter().enumerate() {
        let ((idle_rps, idle_p99), (load_rps, load_p99)) = (idle[n], load[n]);
        println!(
            "| `GET /jobs?limit=50` p99, {connections} connection(s) ({what}) | {idle_p99:.2} ms | {load_p99:.2} ms | {:.2} |",
            load_p99 / idle_p99
        );
        println!(
            "| `GET /jobs?limit=50` req/s, {connections} connection(s) | {idle_rps:.0} | {load_rps:.0} | {:.2} |",
            load_rps / idle_rps
        );
    }
    for (n, what) in [(2, "GET"), (3, "PATCH")] {
        let ((idle_rps, idle_p99), (load_rps, load_p99)) = (idle[n], load[n]);
        println!(
            "| `{what} /library/{{asin}}/progress` p99, 1 connection | {idle_p99:.2} ms | {load_p99:.2} ms | {:.2} |",
            load_p99 / idle_p99
        );
        println!(
            "| `{what} /library/{{asin}}/progress` req/s, 1 connection | {idle_rps:.0} | {load_rps:.0} | {:.2} |",
            load_rps / idle_rps
        );
    }
    println!();
    println!(
        "Jobs logged {expected} lines in {:.1} s ({rate:.0} lines/s across 5 downloads and 2 conversions).",
        elapsed.as_secs_f64()
    );
    println!(
        "WebSocket subscribers that received every line: {complete} of {subscribers}; in order, nothing lost: {ordered} of {subscribers} (one more subscriber never read)."
    );
    println!(
        "Server RSS (the clients run in another process): {} MiB before the load, {} MiB at its peak, {} MiB after.",
        rss_before / 1024,
        rss_peak / 1024,
        rss_after / 1024
    );
}
