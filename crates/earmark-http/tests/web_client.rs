//! The web client's calls, answered in the shapes its types read (`tests/fixtures/web-client`),
//! on both databases.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers of a test crate fail by panicking"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use earmark_core::ports::JobHandler;
use earmark_core::{Asin, JobStatus, TaskType};
use earmark_db::testing::TestDb;
use earmark_testkit::app;
use earmark_testkit::app as support;
use earmark_testkit::shape::assert_shape;
use earmark_testkit::stand_in::StandIn;
use serde_json::{Value, json};

fn keyed(request: TestRequest) -> TestRequest {
    request.insert_header(("X-Api-Key", support::KEY))
}

async fn the_job_calls_answer_in_the_clients_shapes(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let stand_in = Arc::new(StandIn::default());
    let handler: Arc<dyn JobHandler> = stand_in.clone();
    let state = support::state_with_handlers(
        db.db.clone(),
        dir.path(),
        HashMap::from([
            (TaskType::Convert, handler.clone()),
            (TaskType::Sync, handler),
        ]),
    );
    let engine = state.engine.clone();
    let app = app!(state);
    let call = |request: TestRequest| {
        let app = &app;
        async move {
            let res = test::call_service(app, keyed(request).to_request()).await;
            let status = res.status();
            let body = test::read_body(res).await;
            (
                status,
                serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
            )
        }
    };

    // A conversion asked for without a format: the client's batch convert sends only the ASIN.
    let (status, created) = call(
        TestRequest::post()
            .uri("/jobs/convert")
            .set_json(json!({"asin": "B000000001"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_shape(&created, "job-created.json");
    let id = created["job_id"].as_str().unwrap().to_owned();

    let (status, active) =
        call(TestRequest::get().uri("/jobs?status=RUNNING,PENDING,QUEUED,PAUSED")).await;
    assert_eq!(status, StatusCode::OK, "{active}");
    assert_shape(&active, "job-list.json");
    assert_eq!(active["items"][0]["id"], id.as_str());
    let (_, one) = call(TestRequest::get().uri(&format!("/jobs/{id}"))).await;
    assert_eq!(one["params"]["format"], "m4b", "the default format");
    for later in ["/jobs?task_type=REPAIR&limit=1", "/jobs?status=PAUSED"] {
        let (status, none) = call(TestRequest::get().uri(later)).await;
        assert_eq!(status, StatusCode::OK, "{later}: {none}");
        assert_eq!(none, json!({"items": [], "total": 0}), "{later}");
    }

    let (status, cancelled) = call(TestRequest::delete().uri(&format!("/jobs/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_shape(&cancelled, "cancelled.json");

    // A finished sync, a finished conversion with a log, then the history cleared.
    let (_, never) = call(TestRequest::get().uri("/library/sync/status")).await;
    assert_shape(&never, "sync-status.json");
    assert_eq!(never["last_sync_job_id"], Value::Null);
    let sync = stand_in.job(TaskType::Sync, Asin::parse("B000000009").unwrap(), "true");
    let sync = engine.submit(sync).await.unwrap().job.id;
    let asin = Asin::parse("B000000002").unwrap();
    let done = engine
        .submit(stand_in.job(TaskType::Convert, asin, "echo converted"))
        .await
        .unwrap()
        .job
        .id;
    engine.start();
    let mut log = None;
    for _ in 0..200 {
        let (a, b) = (
            engine.queue().get(sync).await.unwrap(),
            engine.queue().get(done).await.unwrap(),
        );
        if a.status == JobStatus::Completed && b.status == JobStatus::Completed {
            log = b.log_file_path;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = log.expect("both jobs completed");
    let (_, synced) = call(TestRequest::get().uri("/library/sync/status")).await;
    assert_shape(&synced, "sync-status.json");
    assert_eq!(synced["last_sync_job_id"], sync.to_string());
    assert!(synced["last_sync_completed_at"].is_string());

    let (status, cleared) =
        call(TestRequest::delete().uri("/jobs/history?status=COMPLETED&delete_logs=true")).await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_shape(&cleared, "history-cleared.json");
    assert_eq!(
        cleared["deleted"], 2,
        "the two completed jobs, not the cancelled one"
    );
    assert!(!std::path::Path::new(&log).exists(), "its log went with it");
    let (_, left) = call(TestRequest::get().uri("/jobs")).await;
    assert_eq!(left["total"], 1);
    let (status, refused) = call(TestRequest::delete().uri("/jobs/history?status=RUNNING")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
}

#[actix_web::test]
async fn the_job_calls_answer_in_the_clients_shapes_on_sqlite() {
    the_job_calls_answer_in_the_clients_shapes(TestDb::sqlite().await).await;
}

#[actix_web::test]
async fn the_job_calls_answer_in_the_clients_shapes_on_postgres() {
    if let Some(db) = TestDb::postgres().await {
        the_job_calls_answer_in_the_clients_shapes(db).await;
    }
}

#[actix_web::test]
async fn health_answers_and_the_literal_library_paths_are_not_taken_for_asins() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(support::state(db.db.clone(), dir.path()));
    let res = test::call_service(
        &app,
        keyed(TestRequest::get().uri("/health/live")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        test::read_body_json::<Value, _>(res).await,
        json!({"status": "ok"})
    );
    let res = test::call_service(&app, keyed(TestRequest::get().uri("/health")).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let health: Value = test::read_body_json(res).await;
    assert!(health["database"]["reachable"].as_bool().unwrap());
    for later in [
        "/library/local",
        "/library/local/5d0c7c68-3f31-4d1a-9a4b-5d0c7c683f31",
        "/library/continue-listening",
        "/library/repair/preview",
    ] {
        let res = test::call_service(&app, keyed(TestRequest::get().uri(later)).to_request()).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{later}");
        let problem: Value = test::read_body_json(res).await;
        assert_eq!(problem["code"], "route_not_found", "{later}: {problem}");
    }
}
