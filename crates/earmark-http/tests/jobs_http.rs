//! `/jobs` in-process on a real SQLite queue, with the stand-in handler where jobs must run.

use earmark_testkit::app;
use earmark_testkit::app as support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use earmark_core::TaskType;
use earmark_core::ports::JobHandler;
use earmark_db::testing::TestDb;
use earmark_http::error::Problem;
use earmark_http::routes::jobs::{Accepted, JobList, JobView};
use earmark_testkit::stand_in::StandIn;
use serde_json::json;

fn authed(req: TestRequest) -> TestRequest {
    req.insert_header(("X-Api-Key", support::KEY))
}

#[actix_web::test]
async fn requests_are_persisted_at_once_and_duplicates_join_the_existing_job() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    db.db
        .library
        .upsert_books((1..=2).map(earmark_contract::record).collect())
        .await
        .unwrap();
    let app = app!(support::state(db.db.clone(), dir.path()));
    let convert = json!({"asin": "B000000001", "format": "m4b", "mode": "chapters", "naming_scheme": "$artist/$title"});

    let res = test::call_service(
        &app,
        authed(TestRequest::post().uri("/jobs/convert"))
            .set_json(&convert)
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let first: Accepted = test::read_body_json(res).await;
    assert_eq!(
        (first.status.as_str(), first.message.as_str()),
        ("QUEUED", "queued")
    );
    let id = first.job_id.clone().unwrap();

    let res = test::call_service(
        &app,
        authed(TestRequest::post().uri("/jobs/convert"))
            .set_json(&convert)
            .to_request(),
    )
    .await;
    let again: Accepted = test::read_body_json(res).await;
    assert_eq!(
        again.job_id.as_deref(),
        Some(id.as_str()),
        "same work, same job"
    );
    assert!(again.message.contains("already"));

    let res = test::call_service(
        &app,
        authed(TestRequest::post().uri("/jobs/download"))
            .set_json(json!({"asins": ["B000000001", "B000000002"], "format": "aax"}))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let batch: Accepted = test::read_body_json(res).await;
    assert_eq!(batch.job_ids.map(|ids| ids.len()), Some(2));

    let res = test::call_service(
        &app,
        authed(TestRequest::get().uri(&format!("/jobs/{id}"))).to_request(),
    )
    .await;
    let job: JobView = test::read_body_json(res).await;
    assert_eq!(
        (
            job.task_type.as_str(),
            job.book_asin.as_deref(),
            job.status.as_str()
        ),
        ("CONVERT", Some("B000000001"), "QUEUED")
    );
    assert_eq!(job.params["mode"], "chapters");
    assert_eq!(job.attempt, 0);
}

#[actix_web::test]
async fn bad_requests_are_422_with_the_reason() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(support::state(db.db.clone(), dir.path()));
    let cases = [
        (
            "/jobs/convert",
            json!({"asin": "B000000001", "format": "wav"}),
            "wav",
        ),
        (
            "/jobs/convert",
            json!({"asin": "b0000", "format": "mp3"}),
            "b0000",
        ),
        (
            "/jobs/convert",
            json!({"asin": "B000000001", "format": "mp3", "naming_scheme": "$(rm -rf ~)"}),
            "$(",
        ),
        (
            "/jobs/convert",
            json!({"asin": "B000000001", "format": "mp3", "chapter_naming_scheme": "$title; reboot"}),
            ";",
        ),
        ("/jobs/convert", json!({"format": "mp3"}), "asin"),
        ("/jobs/download", json!({"asins": []}), "empty"),
        (
            "/jobs/download",
            json!({"asin": "B000000001", "format": "mp4"}),
            "aax-fallback",
        ),
        (
            "/jobs/download",
            json!({"asin": "B000000001", "convert": {"format": "mp3", "naming_scheme": "$auth_code"}}),
            "$auth_code",
        ),
    ];
    for (uri, body, mentions) in cases {
        let res = test::call_service(
            &app,
            authed(TestRequest::post().uri(uri))
                .set_json(&body)
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let problem: Problem = test::read_body_json(res).await;
        assert_eq!(problem.code, "validation_failed");
        assert!(
            problem.detail.contains(mentions),
            "{body}: {}",
            problem.detail
        );
    }
    let res = test::call_service(
        &app,
        authed(TestRequest::post().uri("/jobs/convert"))
            .insert_header(("content-type", "application/json"))
            .set_payload("{not json")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    for uri in [
        "/jobs?status=DONE",
        "/jobs?task_type=COPY",
        "/jobs?limit=0",
        "/jobs?book_asin=x",
        "/jobs/not-a-uuid",
    ] {
        let res = test::call_service(&app, authed(TestRequest::get().uri(uri)).to_request()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
    }
    let res = test::call_service(
        &app,
        authed(TestRequest::get().uri("/jobs/0190d4c4-0000-7000-8000-000000000000")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn listing_filters_cancel_retry_and_history() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(support::state(db.db.clone(), dir.path()));
    let mut ids = Vec::new();
    for n in 1..=3 {
        let body = json!({"asin": format!("B00000000{n}"), "format": "mp3"});
        let res = test::call_service(
            &app,
            authed(TestRequest::post().uri("/jobs/convert"))
                .set_json(&body)
                .to_request(),
        )
        .await;
        ids.push(
            test::read_body_json::<Accepted, _>(res)
                .await
                .job_id
                .unwrap(),
        );
    }
    let res = test::call_service(
        &app,
        authed(TestRequest::delete().uri(&format!("/jobs/{}", ids[0]))).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        test::read_body_json::<JobView, _>(res).await.status,
        "CANCELLED"
    );
    let res = test::call_service(
        &app,
        authed(TestRequest::delete().uri(&format!("/jobs/{}", ids[0]))).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "already finished");

    let res = test::call_service(
        &app,
        authed(TestRequest::get().uri("/jobs?status=queued,running&task_type=convert&limit=10"))
            .to_request(),
    )
    .await;
    let waiting: JobList = test::read_body_json(res).await;
    assert_eq!(waiting.total, 2);
    assert_eq!(
        waiting
            .items
            .iter()
            .map(|j| j.id.clone())
            .collect::<Vec<_>>(),
        vec![ids[2].clone(), ids[1].clone()],
        "newest first"
    );
    let res = test::call_service(
        &app,
        authed(TestRequest::get().uri("/jobs?book_asin=B000000001")).to_request(),
    )
    .await;
    assert_eq!(test::read_body_json::<JobList, _>(res).await.total, 1);

    let res = test::call_service(
        &app,
        authed(TestRequest::post().uri(&format!("/jobs/{}/retry", ids[0]))).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let retried: Accepted = test::read_body_json(res).await;
    let res = test::call_service(
        &app,
        authed(TestRequest::get().uri(&format!("/jobs/{}", retried.job_id.unwrap()))).to_request(),
    )
    .await;
    assert_eq!(
        test::read_body_json::<JobView, _>(res)
            .await
            .original_job_id
            .as_deref(),
        Some(ids[0].as_str())
    );
    let res = test::call_service(
        &app,
        authed(TestRequest::post().uri(&format!("/jobs/{}/retry", ids[1]))).to_request(),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "a queued job is not retried"
    );

    let res = test::call_service(
        &app,
        authed(TestRequest::delete().uri("/jobs/history")).to_request(),
    )
    .await;
    assert_eq!(
        test::read_body_json::<serde_json::Value, _>(res).await["deleted"],
        1
    );
    let res = test::call_service(&app, authed(TestRequest::get().uri("/jobs")).to_request()).await;
    assert_eq!(test::read_body_json::<JobList, _>(res).await.total, 3);
}

#[actix_web::test]
async fn a_running_job_s_log_can_be_read_whole_or_by_range() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let stand_in = Arc::new(StandIn::default());
    let handler: Arc<dyn JobHandler> = stand_in.clone();
    let state = support::state_with_handlers(
        db.db.clone(),
        dir.path(),
        HashMap::from([(TaskType::Convert, handler)]),
    );
    let engine = state.engine.clone();
    let app = app!(state);
    let asin = earmark_core::Asin::parse("B000000009").unwrap();
    let id = engine
        .submit(stand_in.job(TaskType::Convert, asin, "echo first; echo second"))
        .await
        .unwrap()
        .job
        .id;
    let res = test::call_service(
        &app,
        authed(TestRequest::get().uri(&format!("/jobs/{id}/log"))).to_request(),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "no log before the job starts"
    );
    engine.start();
    for _ in 0..100 {
        if engine.queue().get(id).await.unwrap().status == earmark_core::JobStatus::Completed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let res = test::call_service(
        &app,
        authed(TestRequest::get().uri(&format!("/jobs/{id}/log"))).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(test::read_body(res).await, "first\nsecond\n");
    let res = test::call_service(
        &app,
        authed(TestRequest::get().uri(&format!("/jobs/{id}/log")))
            .insert_header(("Range", "bytes=6-"))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(test::read_body(res).await, "second\n");
}

#[actix_web::test]
async fn metrics_count_jobs_by_lane_and_requests_by_route_without_secrets() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let handler: Arc<dyn JobHandler> = Arc::new(StandIn::default());
    let state = support::state_with_handlers(
        db.db.clone(),
        dir.path(),
        HashMap::from([(TaskType::Download, handler)]),
    );
    let app = app!(state);
    let res = test::call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body = json!({"asin": "B000000001", "format": "flac"});
    let res = test::call_service(
        &app,
        authed(TestRequest::post().uri("/jobs/convert"))
            .set_json(&body)
            .to_request(),
    )
    .await;
    let job_id = test::read_body_json::<Accepted, _>(res)
        .await
        .job_id
        .unwrap();
    test::call_service(
        &app,
        authed(TestRequest::get().uri(&format!("/jobs/{job_id}"))).to_request(),
    )
    .await;
    let unknown_file = format!("/stream/{}", uuid::Uuid::now_v7());
    test::call_service(
        &app,
        authed(TestRequest::get().uri(&unknown_file)).to_request(),
    )
    .await;

    let res = test::call_service(
        &app,
        authed(TestRequest::get().uri("/metrics")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    for expected in [
        r#"earmark_jobs{lane="convert",status="QUEUED"} 1"#,
        r#"earmark_jobs{lane="download",status="RUNNING"} 0"#,
        r#"earmark_queue_depth{lane="convert"} 1"#,
        r#"earmark_lane_capacity{lane="download"} 2"#,
        r#"earmark_lane_capacity{lane="convert"} 0"#,
        r#"earmark_lane_running{lane="download"} 0"#,
        r#"earmark_http_requests_total{method="POST",route="/jobs/convert",status="202"} 1"#,
        r#"earmark_http_requests_total{method="GET",route="/jobs/{id}",status="200"} 1"#,
        r#"earmark_http_requests_total{method="GET",route="/stream/{file_id}",status="404"} 1"#,
        r#"earmark_http_request_duration_seconds_count{method="POST",route="/jobs/convert",status="202"} 1"#,
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    assert!(!text.contains(&job_id), "ids stay out of metrics");
    assert!(!text.contains(support::KEY), "the key stays out of metrics");
}

/// Issue 19, defect 2: a batch of 100,000 unknown ASINs ran for minutes and left 100,000
/// failed jobs. A batch is capped, and one naming a book not in the library queues nothing.
#[actix_web::test]
async fn batches_are_bounded_and_taken_whole_or_not_at_all() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    db.db
        .library
        .upsert_books((1..=3).map(earmark_contract::record).collect())
        .await
        .unwrap();
    let app = app!(support::state(db.db.clone(), dir.path()));
    let post = |uri: &str, body: serde_json::Value| {
        authed(TestRequest::post().uri(uri))
            .set_json(body)
            .to_request()
    };
    let too_many: Vec<String> = (1..=1_001).map(|n| format!("B{n:09}")).collect();
    for uri in ["/jobs/download", "/jobs/convert"] {
        let res = test::call_service(&app, post(uri, json!({"asins": too_many}))).await;
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{uri}");
        let problem: Problem = test::read_body_json(res).await;
        assert_eq!(problem.code, "batch_too_large");
        assert!(problem.detail.contains("1000"), "{}", problem.detail);

        let with_unknown =
            json!({"asins": ["B000000001", "B000000098", "B000000002", "B000000099"]});
        let res = test::call_service(&app, post(uri, with_unknown)).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
        let problem: Problem = test::read_body_json(res).await;
        assert!(
            problem.detail.contains("B000000098, B000000099"),
            "{}",
            problem.detail
        );
    }
    let res = test::call_service(
        &app,
        authed(TestRequest::get().uri("/jobs?limit=10")).to_request(),
    )
    .await;
    let listed: JobList = test::read_body_json(res).await;
    assert_eq!(listed.total, 0, "nothing was queued");

    let known = json!({"asins": ["B000000001", "B000000002", "B000000003"]});
    let res = test::call_service(&app, post("/jobs/download", known)).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let accepted: Accepted = test::read_body_json(res).await;
    assert_eq!(accepted.job_ids.map(|ids| ids.len()), Some(3));
}
