//! The job WebSocket over a real socket: snapshot, order, batching, slow clients, ping.
#![expect(
    clippy::expect_used,
    reason = "helpers of a test crate fail by panicking"
)]

use earmark_testkit::app as support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::HttpServer;
use earmark_core::ports::JobHandler;
use earmark_core::{Asin, JobId, TaskType};
use earmark_db::testing::TestDb;
use earmark_http::auth::ApiKeyHash;
use earmark_http::auth::tokens::TokenScope;
use earmark_http::state::AppState;
use earmark_testkit::stand_in::StandIn;
use earmark_testkit::ws_client::WsClient;
use serde_json::Value;
use tungstenite::Message;

/// Serves `state` on a free loopback port; returns `host:port`.
fn serve(state: AppState) -> String {
    let server = HttpServer::new(move || {
        earmark_http::app::build(state.clone(), ApiKeyHash::of(support::KEY))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .expect("bind");
    let addr = server.addrs()[0].to_string();
    actix_web::rt::spawn(server.run());
    addr
}

fn completed(id: JobId) -> impl Fn(&Value) -> bool {
    move |m| m["type"] == "status" && m["job_id"] == id.to_string() && m["status"] == "COMPLETED"
}

/// A state whose engine runs conversions with a stand-in, which the returned state's
/// [`submit`] feeds scripts through.
async fn rig() -> (TestDb, tempfile::TempDir, Rig) {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().expect("dir"));
    let stand_in = Arc::new(StandIn::default());
    let handler: Arc<dyn JobHandler> = stand_in.clone();
    let state = support::state_with_handlers(
        db.db.clone(),
        dir.path(),
        HashMap::from([(TaskType::Convert, handler)]),
    );
    (db, dir, Rig { state, stand_in })
}

struct Rig {
    state: AppState,
    stand_in: Arc<StandIn>,
}

impl std::ops::Deref for Rig {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.state
    }
}

async fn submit(rig: &Rig, n: u32, script: &str) -> JobId {
    let asin = Asin::parse(&format!("B{n:09}")).expect("asin");
    let job = rig.stand_in.job(TaskType::Convert, asin, script);
    rig.engine.submit(job).await.expect("submit").job.id
}

#[actix_web::test]
async fn a_client_gets_the_snapshot_then_every_event_in_order() {
    let (_db, _dir, state) = rig().await;
    let waiting = submit(
        &state,
        1,
        "echo a; printf 'progress: 50\\r'; echo b; echo c",
    )
    .await;
    let addr = serve(state.clone());
    let mut client = tokio::task::spawn_blocking(move || {
        WsClient::connect(&addr, "/ws/jobs", Some(support::KEY)).expect("handshake")
    })
    .await
    .expect("join");
    let snapshot = client.next(Duration::from_secs(5)).expect("snapshot");
    assert_eq!(
        (snapshot["type"].as_str(), snapshot["status"].as_str()),
        (Some("status"), Some("QUEUED"))
    );
    assert_eq!(snapshot["job_id"], waiting.to_string());
    assert_eq!(snapshot["task_type"], "CONVERT");
    assert_eq!(snapshot["book_asin"], "B000000001");

    state.engine.start();
    let (client, seen) = tokio::task::spawn_blocking(move || {
        let seen = client.until(Duration::from_secs(10), completed(waiting));
        (client, seen)
    })
    .await
    .expect("join");
    let story: Vec<String> = seen
        .iter()
        .map(|m| match m["type"].as_str() {
            Some("status") => format!("status {}", m["status"].as_str().unwrap_or("")),
            Some("log") => format!("log {}", m["line"].as_str().unwrap_or("")),
            Some("progress") => format!("progress {}", m["percent"]),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        story,
        [
            "status RUNNING",
            "log a",
            "progress 50.0",
            "log b",
            "log c",
            "status COMPLETED"
        ]
    );
    drop(client);
}

#[actix_web::test]
async fn a_client_that_never_reads_slows_nobody() {
    let (_db, _dir, state) = rig().await;
    let addr = serve(state.clone());
    let (stalled_addr, reader_addr) = (addr.clone(), addr.clone());
    // The stalled client connects and then never reads a byte.
    let stalled = tokio::task::spawn_blocking(move || {
        let client =
            WsClient::connect(&stalled_addr, "/ws/jobs", Some(support::KEY)).expect("handshake");
        rustix::net::sockopt::set_socket_recv_buffer_size(client.socket.get_ref(), 4096)
            .expect("small receive buffer");
        client
    })
    .await
    .expect("join");
    let mut reader = tokio::task::spawn_blocking(move || {
        WsClient::connect(&reader_addr, "/ws/jobs", Some(support::KEY)).expect("handshake")
    })
    .await
    .expect("join");
    assert_eq!(
        reader.next(Duration::from_millis(500)),
        None,
        "an empty snapshot: nothing is active"
    );
    state.engine.start();
    const LINES: usize = 20_000;
    let started = Instant::now();
    // About 10,000 lines a second, in bursts of 1,000: far chattier than any real tool.
    // Lines of ~250 bytes: 5 MB in all, more than the socket buffers of the stalled client.
    let pad = "x".repeat(240);
    let script = format!(
        "i=0; while [ $i -lt {LINES} ]; do echo \"line $i {pad}\"; i=$((i+1)); [ $((i % 1000)) -eq 0 ] && sleep 0.1; done; true"
    );
    let id = submit(&state, 2, &script).await;
    let seen =
        tokio::task::spawn_blocking(move || reader.until(Duration::from_secs(60), completed(id)))
            .await
            .expect("join");
    let lines: Vec<&str> = seen
        .iter()
        .filter(|m| m["type"] == "log")
        .filter_map(|m| m["line"].as_str())
        .collect();
    assert_eq!(lines.len(), LINES, "every line arrived");
    assert!(
        lines
            .iter()
            .enumerate()
            .all(|(i, l)| l.starts_with(&format!("line {i} "))),
        "in order"
    );
    assert!(started.elapsed() < Duration::from_secs(60));

    // The stalled client really was stalled: by the time the job ended it had been sent only
    // what its tiny receive window took (its connection is stuck behind a full window, which
    // on loopback, with 64 KiB segments, does not reopen; it wedges only itself).
    let mut stalled = stalled;
    let behind = tokio::task::spawn_blocking(move || {
        let mut lines = 0;
        while let Some(message) = stalled.next(Duration::from_millis(500)) {
            lines += usize::from(message["type"] == "log");
        }
        lines
    })
    .await
    .expect("join");
    assert!(
        behind < LINES / 2,
        "the stalled client got {behind} lines: it was not held back"
    );
}

#[actix_web::test]
async fn ping_is_answered_and_one_job_replays_its_log() {
    let (_db, _dir, state) = rig().await;
    let id = submit(&state, 3, "echo one; echo two").await;
    state.engine.start();
    for _ in 0..100 {
        if state.engine.queue().get(id).await.expect("job").status
            == earmark_core::JobStatus::Completed
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let addr = serve(state.clone());
    let other = submit(&state, 4, "echo unrelated").await;
    let (mut client, first) = tokio::task::spawn_blocking(move || {
        let mut client = WsClient::connect(&addr, &format!("/ws/jobs/{id}"), Some(support::KEY))
            .expect("handshake");
        let first: Vec<Value> = (0..3)
            .filter_map(|_| client.next(Duration::from_secs(5)))
            .collect();
        (client, first)
    })
    .await
    .expect("join");
    assert_eq!(first[0]["status"], "COMPLETED");
    assert_eq!(
        (first[1]["line"].as_str(), first[2]["line"].as_str()),
        (Some("one"), Some("two"))
    );
    let pong = tokio::task::spawn_blocking(move || {
        client.socket.send(Message::text("ping")).expect("send");
        let mut pong = None;
        let deadline = Instant::now() + Duration::from_secs(5);
        while pong.is_none() && Instant::now() < deadline {
            match client.socket.read() {
                Ok(Message::Text(t)) if t.as_str() == "pong" => pong = Some(t.to_string()),
                Ok(Message::Text(t)) => {
                    let value: Value = serde_json::from_str(t.as_str()).expect("json");
                    assert!(
                        !value.to_string().contains(&other.to_string()),
                        "another job's event leaked: {value}"
                    );
                }
                _ => {}
            }
        }
        pong
    })
    .await
    .expect("join");
    assert_eq!(pong.as_deref(), Some("pong"));
}

#[actix_web::test]
async fn the_socket_needs_the_key() {
    let (_db, _dir, state) = rig().await;
    let addr = serve(state.state);
    let refused =
        tokio::task::spawn_blocking(move || WsClient::connect(&addr, "/ws/jobs", None).err())
            .await
            .expect("join");
    match refused {
        Some(tungstenite::Error::Http(response)) => assert_eq!(response.status().as_u16(), 401),
        other => panic!("expected HTTP 401, got {other:?}"),
    }
}

#[actix_web::test]
async fn a_browser_connects_with_a_ws_token_instead_of_the_key() {
    let (_db, _dir, state) = rig().await;
    let in_a_minute = time::OffsetDateTime::now_utc() + time::Duration::minutes(1);
    let ws_token = state.tokens.issue(TokenScope::Ws, None, in_a_minute);
    let stream_token = state.tokens.issue(TokenScope::Stream, None, in_a_minute);
    let addr = serve(state.state);
    let (connected, refused) = tokio::task::spawn_blocking(move || {
        let mut client = WsClient::connect(&addr, &format!("/ws/jobs?token={ws_token}"), None)
            .expect("a ws token opens the socket");
        client.socket.send(Message::text("ping")).expect("send");
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut pong = false;
        while !pong && Instant::now() < deadline {
            pong = matches!(client.socket.read(), Ok(Message::Text(t)) if t.as_str() == "pong");
        }
        let refused =
            WsClient::connect(&addr, &format!("/jobs/ws?token={stream_token}"), None).err();
        (pong, refused)
    })
    .await
    .expect("join");
    assert!(connected, "the socket opened with the token answers ping");
    match refused {
        Some(tungstenite::Error::Http(response)) => assert_eq!(response.status().as_u16(), 401),
        other => panic!("a stream token must not open the socket, got {other:?}"),
    }
}

/// The web client reads every `batch` on `/jobs/ws` as the complete list of active jobs: it
/// gets one (the snapshot), then statuses only, a job's progress among them.
#[actix_web::test]
async fn the_web_clients_feed_is_one_snapshot_then_statuses_with_progress() {
    let (_db, _dir, state) = rig().await;
    let waiting = submit(&state, 1, "echo x").await;
    let addr = serve(state.clone());
    let mut client = tokio::task::spawn_blocking(move || {
        WsClient::connect(&addr, "/jobs/ws", Some(support::KEY)).expect("handshake")
    })
    .await
    .expect("join");
    let chatty = submit(
        &state,
        2,
        "for i in 1 2 3 4 5; do echo line $i; printf 'progress: %d\\n' $((i*20)); sleep 0.15; done",
    )
    .await;
    state.engine.start();
    let frames = tokio::task::spawn_blocking(move || {
        client.frames_until(Duration::from_secs(15), |f| {
            f["type"] == "status" && f["job_id"] == chatty.to_string() && f["status"] == "COMPLETED"
        })
    })
    .await
    .expect("join");
    let snapshot = &frames[0];
    assert_eq!(snapshot["type"], "batch");
    assert_eq!(snapshot["messages"][0]["job_id"], waiting.to_string());
    let kinds: Vec<&str> = frames[1..]
        .iter()
        .filter_map(|f| f["type"].as_str())
        .collect();
    assert!(
        kinds.iter().all(|k| *k == "status"),
        "only statuses after the snapshot: {kinds:?}"
    );
    let progress: Vec<f64> = frames[1..]
        .iter()
        .filter(|f| f["job_id"] == chatty.to_string() && f["status"] == "RUNNING")
        .filter_map(|f| f["progress"].as_f64())
        .collect();
    assert!(
        progress.iter().any(|p| *p > 0.0 && *p < 100.0),
        "progress arrives as statuses: {progress:?}"
    );
    let first = frames
        .iter()
        .find(|f| f["job_id"] == chatty.to_string())
        .expect("the new job announced");
    earmark_testkit::shape::assert_shape(first, "ws-status.json");
    assert_eq!(first["status"], "QUEUED");
    assert_eq!(first["task_type"], "CONVERT");
    assert_eq!(first["book_asin"], "B000000002");
    assert_eq!(first["attempt"], 0);
}

/// On the web client's one-job path the client is greeted with `connected` (it starts its log
/// view afresh on it), then gets the job's status and its recent log lines.
#[actix_web::test]
async fn the_web_clients_job_feed_says_connected_first() {
    let (_db, _dir, state) = rig().await;
    let id = submit(&state, 3, "echo one; echo two").await;
    state.engine.start();
    for _ in 0..100 {
        if state.engine.queue().get(id).await.expect("job").status
            == earmark_core::JobStatus::Completed
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let addr = serve(state.clone());
    let messages = tokio::task::spawn_blocking(move || {
        let mut client = WsClient::connect(&addr, &format!("/jobs/ws/{id}"), Some(support::KEY))
            .expect("handshake");
        (0..4)
            .filter_map(|_| client.next(Duration::from_secs(5)))
            .collect::<Vec<Value>>()
    })
    .await
    .expect("join");
    assert_eq!(messages[0]["type"], "connected");
    assert_eq!(messages[0]["job_id"], id.to_string());
    assert_eq!(messages[1]["status"], "COMPLETED");
    assert_eq!(
        (messages[2]["line"].as_str(), messages[3]["line"].as_str()),
        (Some("one"), Some("two"))
    );
}
