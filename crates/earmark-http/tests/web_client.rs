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
use earmark_core::{Asin, JobId, JobStatus, TaskType};
use earmark_db::testing::TestDb;
use earmark_testkit::app;
use earmark_testkit::app as support;
use earmark_testkit::shape::assert_shape;
use earmark_testkit::stand_in::StandIn;
use serde_json::{Value, json};

fn keyed(request: TestRequest) -> TestRequest {
    request.insert_header(("X-Api-Key", support::KEY))
}

/// State whose engine runs conversions with a stand-in, and the stand-in.
fn converting_with_a_stand_in(
    db: &TestDb,
    dir: &std::path::Path,
) -> (earmark_http::state::AppState, Arc<StandIn>) {
    let stand_in = Arc::new(StandIn::default());
    let handler: Arc<dyn JobHandler> = stand_in.clone();
    let state = support::state_with_handlers(
        db.db.clone(),
        dir,
        HashMap::from([(TaskType::Convert, handler)]),
    );
    (state, stand_in)
}

/// Sends `request` with the key; its status and JSON body (`null` when it has none).
async fn call<S, B>(app: &S, request: TestRequest) -> (StatusCode, Value)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let res = test::call_service(app, keyed(request).to_request()).await;
    let status = res.status();
    let body = test::read_body(res).await;
    (
        status,
        serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
    )
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
    let call = |request: TestRequest| call(&app, request);

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
    // Literal paths under /library are not taken for ASINs.
    let mut answers = Vec::new();
    for uri in [
        "/library/local",
        "/library/local/5d0c7c68-3f31-4d1a-9a4b-5d0c7c683f31",
        "/library/repair/preview",
        "/library/local:5d0c7c68",
    ] {
        let res = test::call_service(&app, keyed(TestRequest::get().uri(uri)).to_request()).await;
        answers.push((res.status(), test::read_body_json::<Value, _>(res).await));
    }
    assert_eq!(
        answers[0],
        (
            StatusCode::OK,
            json!({"items": [], "total": 0, "page": 1, "page_size": 50, "total_pages": 0})
        )
    );
    assert_eq!(answers[1].0, StatusCode::NOT_FOUND, "{}", answers[1].1);
    assert_eq!(answers[1].1["code"], "local_item_not_found");
    assert_eq!(answers[2].0, StatusCode::OK, "{}", answers[2].1);
    assert_eq!(answers[2].1["remote_total"], 0);
    assert_eq!(answers[3].0, StatusCode::NOT_FOUND, "{}", answers[3].1);
    assert_eq!(answers[3].1["code"], "route_not_found");
}

fn record(n: u32, title: &str) -> earmark_core::BookRecord {
    let asin = Asin::parse(&format!("B{n:09}")).unwrap();
    earmark_core::BookRecord {
        title: title.into(),
        subtitle: None,
        author: Some("Ada Fixture".into()),
        narrator: Some("Nora Reader".into()),
        series: None,
        series_sequence: None,
        series_asin: None,
        runtime_min: Some(90),
        cover_url: Some(format!(
            "https://m.media-amazon.com/images/I/{n}._SL500_.jpg"
        )),
        release_date: Some("2021-05-04".into()),
        purchase_date: Some("2024-02-01T10:00:00Z".into()),
        metadata_json: json!({
            "asin": asin.as_str(),
            "title": title,
            "publisher_summary": "<p>A book made by the tests.</p>",
            "language": "english",
            "category_ladders": [{"ladder": [
                {"id": "1", "name": "Science Fiction & Fantasy"},
                {"id": "2", "name": "Fantasy"}
            ], "root": "Genres"}]
        }),
        asin,
        parent: None,
    }
}

async fn register(
    db: &earmark_db::Database,
    asin: &Asin,
    kind: earmark_core::FileKind,
    path: &std::path::Path,
) {
    let size = i64::try_from(std::fs::metadata(path).unwrap().len()).unwrap();
    db.library
        .add_file(earmark_core::NewStoredFile {
            asin: asin.clone(),
            kind,
            path: path.display().to_string(),
            size,
            mime: "application/octet-stream".into(),
        })
        .await
        .unwrap();
}

/// Details with real chapters (from audible-cli's chapter file, or from the converted file's
/// own chapter list) and real file facts, incomplete downloads, and removal with and without
/// files, refused while a job runs.
async fn book_details_incomplete_downloads_and_removal(db: TestDb) {
    use earmark_core::{BookStatus, BookUpdate, FileKind, OutputFormat};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let synthetic = earmark_fixtures::SyntheticBook::short(2);
    let render = data.join("render");
    std::fs::create_dir_all(&render).unwrap();
    let (downloaded, converted) = {
        let (render, synthetic) = (render.clone(), synthetic.clone());
        tokio::task::spawn_blocking(move || {
            let ffmpeg = std::path::Path::new("ffmpeg");
            let downloaded =
                earmark_fixtures::downloaded_book(ffmpeg, &render, "B000000001", &synthetic, true)
                    .unwrap();
            let converted = synthetic
                .render(ffmpeg, &render.join(".render-B000000001"))
                .unwrap();
            (downloaded, converted)
        })
        .await
        .unwrap()
    };
    let library = &db.db.library;
    library
        .upsert_books((1..=4).map(|n| record(n, &format!("Book {n}"))).collect())
        .await
        .unwrap();
    let asin = |n: u32| Asin::parse(&format!("B{n:09}")).unwrap();

    // 1: downloaded AAXC with audible-cli's chapter file.
    let one = data.join("downloads/B000000001");
    std::fs::create_dir_all(&one).unwrap();
    let mut placed = Vec::new();
    for (kind, from) in [
        (FileKind::Aaxc, &downloaded.audio),
        (FileKind::Voucher, downloaded.voucher.as_ref().unwrap()),
        (FileKind::Chapters, &downloaded.chapters),
        (FileKind::Cover, &downloaded.cover),
    ] {
        let to = one.join(from.file_name().unwrap());
        std::fs::rename(from, &to).unwrap();
        register(&db.db, &asin(1), kind, &to).await;
        placed.push(to);
    }
    let aaxc = placed[0].display().to_string();
    let update = BookUpdate {
        status: Some(BookStatus::Downloaded),
        local_path_aax: Some(Some(aaxc)),
        ..BookUpdate::default()
    };
    library.update_book(&asin(1), update).await.unwrap();
    // 2: converted to m4b, no chapter file: the chapters are the file's own.
    let two = data.join("library/Fantasy/Ada Fixture/Book 2");
    std::fs::create_dir_all(&two).unwrap();
    let m4b = two.join("Book 2.m4b");
    std::fs::copy(&converted, &m4b).unwrap();
    register(&db.db, &asin(2), FileKind::Converted, &m4b).await;
    let update = BookUpdate {
        status: Some(BookStatus::Completed),
        local_path_converted: Some(Some(m4b.display().to_string())),
        conversion_format: Some(Some(OutputFormat::M4b)),
        ..BookUpdate::default()
    };
    library.update_book(&asin(2), update).await.unwrap();
    // 3: nothing yet. 4: a cover but no audio, as a download that never finished leaves it.
    let four = data.join("downloads/B000000004");
    std::fs::create_dir_all(&four).unwrap();
    std::fs::write(four.join("B000000004_(500).jpg"), b"jpeg").unwrap();
    register(
        &db.db,
        &asin(4),
        FileKind::Cover,
        &four.join("B000000004_(500).jpg"),
    )
    .await;

    let stand_in = Arc::new(StandIn::default());
    let handler: Arc<dyn JobHandler> = stand_in.clone();
    let state = support::state_with_handlers(
        db.db.clone(),
        &data,
        HashMap::from([(TaskType::Convert, handler)]),
    );
    let engine = state.engine.clone();
    let app = app!(state);
    let call = |request: TestRequest| call(&app, request);

    let titles = |details: &Value| -> Vec<(String, u64, u64)> {
        details["chapters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["title"].as_str().unwrap().to_owned(),
                    c["start_offset_ms"].as_u64().unwrap(),
                    c["end_offset_ms"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let expected = vec![
        ("Opening Credits".to_owned(), 0, 2000),
        ("Chapter One".to_owned(), 2000, 4000),
        ("Chapter Two".to_owned(), 4000, 6000),
    ];
    let (status, first) = call(TestRequest::get().uri("/library/B000000001/details")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_shape(&first, "book-details.json");
    assert_eq!(titles(&first), expected, "from the chapter file");
    assert_eq!(first["chapters_synthetic"], false);
    assert_eq!(
        first["genres"],
        json!(["Science Fiction & Fantasy", "Fantasy"])
    );
    assert_eq!(first["description"], "<p>A book made by the tests.</p>");
    let tech = &first["technical"];
    assert_eq!(tech["format"], "aaxc");
    assert_eq!(
        (tech["channels"].as_u64(), tech["sample_rate"].as_u64()),
        (Some(2), Some(44_100))
    );
    assert_eq!(
        tech["file_size"].as_u64(),
        Some(std::fs::metadata(&placed[0]).unwrap().len())
    );
    let duration = tech["duration_ms"].as_u64().unwrap();
    assert!(
        (5_900..=6_100).contains(&duration),
        "the track's own duration: {duration}"
    );
    assert_eq!(first["duration_total_ms"].as_u64(), Some(duration));
    assert!(tech["bitrate"].as_u64().unwrap() > 0);

    let (_, second) = call(TestRequest::get().uri("/library/B000000002/details")).await;
    assert_shape(&second, "book-details.json");
    let marks = titles(&second);
    assert_eq!(marks.len(), 3, "the m4b's own chapter list: {second}");
    for ((title, start, _), (want, want_start, _)) in marks.iter().zip(&expected) {
        assert_eq!(title, want);
        assert!(start.abs_diff(*want_start) < 50, "{title} at {start}");
    }
    assert_eq!(second["chapters_synthetic"], false);
    assert_eq!(second["technical"]["format"], "m4b");

    let (_, third) = call(TestRequest::get().uri("/library/B000000003/details")).await;
    assert_eq!(third["chapters_synthetic"], true, "{third}");
    assert_eq!(third["technical"], Value::Null);
    assert_eq!(third["duration_total_ms"], 90 * 60_000, "the running time");
    assert_eq!(titles(&third), [("Book 3".to_owned(), 0, 90 * 60_000)]);
    let (status, _) = call(TestRequest::get().uri("/library/local:5d0c7c68/details")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the client's local items are not books"
    );

    let (status, incomplete) = call(TestRequest::get().uri("/library/downloads/incomplete")).await;
    assert_eq!(status, StatusCode::OK, "{incomplete}");
    assert_shape(&incomplete, "incomplete-downloads.json");
    assert_eq!(incomplete["total"], 1);
    assert_eq!(incomplete["items"][0]["asin"], "B000000004");
    assert!(
        incomplete["items"][0]["cover_path"]
            .as_str()
            .unwrap()
            .ends_with("_(500).jpg")
    );

    // Removal: one book with its files, then a batch that a queued job holds back.
    let (status, removed) =
        call(TestRequest::delete().uri("/library/B000000001?delete_files=true")).await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_shape(&removed, "books-deleted.json");
    assert_eq!(
        (
            removed["deleted"].as_u64(),
            removed["files_deleted"].as_u64()
        ),
        (Some(1), Some(4))
    );
    assert!(!one.exists(), "its files and its folder are gone");
    assert!(
        data.join("downloads").exists(),
        "the downloads folder stays"
    );
    let (_, listed) = call(TestRequest::get().uri("/library?limit=10")).await;
    assert_eq!(listed["total"], 3, "a removed book is not listed: {listed}");

    let queued = engine
        .submit(stand_in.job(TaskType::Convert, asin(2), "true"))
        .await
        .unwrap()
        .job
        .id;
    let batch = json!({"asins": ["B000000002", "B000000003", "B000000099"]});
    let (status, refused) = call(
        TestRequest::post()
            .uri("/library/delete?delete_files=true")
            .set_json(&batch),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "book_busy");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains(&queued.to_string())
    );
    assert!(m4b.exists(), "nothing removed while the job waits");
    let (_, still) = call(TestRequest::get().uri("/library?limit=10")).await;
    assert_eq!(still["total"], 3);

    call(TestRequest::delete().uri(&format!("/jobs/{queued}"))).await;
    let (status, removed) = call(
        TestRequest::post()
            .uri("/library/delete?delete_files=true")
            .set_json(&batch),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_shape(&removed, "books-deleted.json");
    assert_eq!(removed["deleted"], 2, "the unknown ASIN is passed over");
    assert!(
        !m4b.exists() && !data.join("library/Fantasy").exists(),
        "emptied folders go too"
    );
    assert!(data.join("library").exists());
    let (_, feed) = call(TestRequest::get().uri("/library?since=1970-01-01T00:00:00Z")).await;
    let tombstones = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["removed_at"].is_string())
        .count();
    assert_eq!(tombstones, 3, "the change feed reports each removal");
    let (status, _) = call(TestRequest::delete().uri("/library/B000000099")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Pause and resume: a paused waiting job is not started; a paused running job's process
/// stands still and goes on where it stood; PAUSED is listed as the client asks for it; an
/// ended job cannot be paused.
async fn jobs_pause_and_resume(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (state, stand_in) = converting_with_a_stand_in(&db, dir.path());
    let engine = state.engine.clone();
    let app = app!(state);
    let call = |request: TestRequest| call(&app, request);
    let ticks = dir.path().join("ticks");
    let counting = format!(
        "i=0; while [ $i -lt 30 ]; do echo $i >> {}; i=$((i+1)); sleep 0.05; done",
        ticks.display()
    );
    let asin = |n: u32| Asin::parse(&format!("B{n:09}")).unwrap();
    let running = engine
        .submit(stand_in.job(TaskType::Convert, asin(1), &counting))
        .await
        .unwrap()
        .job
        .id;
    let waiting = engine
        .submit(stand_in.job(TaskType::Convert, asin(2), "true"))
        .await
        .unwrap()
        .job
        .id;
    let (status, paused) = call(TestRequest::post().uri(&format!("/jobs/{waiting}/pause"))).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_shape(&paused, "job-paused.json");
    assert_eq!(paused["status"], "PAUSED");

    engine.start();
    let status_of = |id: JobId| {
        let engine = engine.clone();
        async move { engine.queue().get(id).await.unwrap() }
    };
    let completes = |id: JobId| {
        let engine = engine.clone();
        async move {
            for _ in 0..200 {
                if engine.queue().get(id).await.unwrap().status == JobStatus::Completed {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("job {id} did not complete");
        }
    };
    for _ in 0..200 {
        if ticks.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (status, held) = call(TestRequest::post().uri(&format!("/jobs/{running}/pause"))).await;
    assert_eq!(status, StatusCode::OK, "{held}");
    assert_eq!(held["status"], "PAUSED");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let at_pause = std::fs::read_to_string(&ticks).unwrap().lines().count();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let later = std::fs::read_to_string(&ticks).unwrap().lines().count();
    assert_eq!(at_pause, later, "the paused process stands still");
    assert!(later < 30, "paused before it finished: {later}");
    let (_, listed) =
        call(TestRequest::get().uri("/jobs?status=RUNNING,PENDING,QUEUED,PAUSED")).await;
    assert_shape(&listed, "job-list.json");
    assert_eq!(listed["total"], 2, "{listed}");
    let (_, only_paused) = call(TestRequest::get().uri("/jobs?status=PAUSED")).await;
    assert_eq!(only_paused["total"], 2);
    let (_, only_running) = call(TestRequest::get().uri("/jobs?status=RUNNING")).await;
    assert_eq!(
        only_running["total"], 0,
        "a paused job is not listed as running"
    );

    let (status, resumed) = call(TestRequest::post().uri(&format!("/jobs/{running}/resume"))).await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_shape(&resumed, "job-paused.json");
    assert_eq!(resumed["status"], "RUNNING");
    completes(running).await;
    assert_eq!(
        std::fs::read_to_string(&ticks).unwrap().lines().count(),
        30,
        "on where it stood"
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = status_of(waiting).await;
    assert_eq!(
        still.shown_status(),
        JobStatus::Paused,
        "a free lane does not take a paused job"
    );
    let (_, resumed) = call(TestRequest::post().uri(&format!("/jobs/{waiting}/resume"))).await;
    assert_eq!(resumed["status"], "QUEUED");
    completes(waiting).await;
    let (status, refused) = call(TestRequest::post().uri(&format!("/jobs/{running}/pause"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
}

/// Settings: the client's shape, partial changes checked field by field, used as the
/// defaults of conversions (a request's own options win) and of the engine's retries.
async fn settings_are_saved_checked_and_used_as_defaults(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (state, stand_in) = converting_with_a_stand_in(&db, dir.path());
    let engine = state.engine.clone();
    let app = app!(state);
    let call = |request: TestRequest| call(&app, request);

    let (status, defaults) = call(TestRequest::get().uri("/settings")).await;
    assert_eq!(status, StatusCode::OK, "{defaults}");
    assert_shape(&defaults, "settings.json");
    assert_eq!(defaults["output_format"], "m4b");
    let (_, variables) = call(TestRequest::get().uri("/settings/naming-variables")).await;
    assert_shape(&variables, "naming-variables.json");
    assert!(
        variables["chapter"]
            .as_array()
            .unwrap()
            .contains(&json!("$chapternum"))
    );
    assert!(
        !variables["file"]
            .as_array()
            .unwrap()
            .contains(&json!("$chapternum"))
    );

    let change = json!({
        "output_format": "mp3", "single_file": false, "compression_mp3": 7,
        "file_naming_scheme": "$title - $narrator", "auto_retry": false
    });
    let (status, saved) = call(TestRequest::patch().uri("/settings").set_json(&change)).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_shape(&saved, "settings.json");
    assert_eq!(
        (
            saved["output_format"].clone(),
            saved["compression_mp3"].clone()
        ),
        (json!("mp3"), json!(7))
    );
    assert_eq!(
        saved["dir_naming_scheme"], defaults["dir_naming_scheme"],
        "the rest unchanged"
    );
    for (body, field) in [
        (json!({"output_format": "ogg"}), "output_format"),
        (json!({"compression_flac": 13}), "compression_flac"),
        (
            json!({"dir_naming_scheme": "$(reboot)"}),
            "dir_naming_scheme",
        ),
        (json!({"max_retries": 99}), "max_retries"),
    ] {
        let (status, problem) = call(TestRequest::patch().uri("/settings").set_json(&body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert!(
            problem["detail"].as_str().unwrap().starts_with(field),
            "{problem}"
        );
    }
    let (_, kept) = call(TestRequest::get().uri("/settings")).await;
    assert_eq!(kept, saved, "a refused change changes nothing");

    // The saved values fill what a conversion request leaves out; its own options win.
    let (_, queued) = call(
        TestRequest::post()
            .uri("/jobs/convert")
            .set_json(json!({"asin": "B000000001"})),
    )
    .await;
    let (_, job) =
        call(TestRequest::get().uri(&format!("/jobs/{}", queued["job_id"].as_str().unwrap())))
            .await;
    let params = &job["params"];
    assert_eq!(
        (
            params["format"].clone(),
            params["mode"].clone(),
            params["level"].clone()
        ),
        (json!("mp3"), json!("chapters"), json!(7)),
        "{job}"
    );
    assert_eq!(params["naming_scheme"], "$title - $narrator");
    let own = json!({"asin": "B000000002", "format": "m4b", "mode": "single"});
    let (_, queued) = call(TestRequest::post().uri("/jobs/convert").set_json(&own)).await;
    let (_, job) =
        call(TestRequest::get().uri(&format!("/jobs/{}", queued["job_id"].as_str().unwrap())))
            .await;
    assert_eq!(
        (
            job["params"]["format"].clone(),
            job["params"]["mode"].clone()
        ),
        (json!("m4b"), json!("single"))
    );
    assert_eq!(job["params"]["level"], Value::Null, "m4b takes no level");

    // auto_retry off: a failure worth a retry fails at once.
    let failing = engine
        .submit(stand_in.job(
            TaskType::Convert,
            Asin::parse("B000000003").unwrap(),
            "exit 3",
        ))
        .await
        .unwrap()
        .job
        .id;
    engine.start();
    let mut last = None;
    for _ in 0..200 {
        let job = engine.queue().get(failing).await.unwrap();
        if job.status.is_terminal() || job.status == JobStatus::Pending {
            last = Some(job);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = last.expect("the job ended");
    assert_eq!(
        (last.status, last.attempts),
        (JobStatus::Failed, 1),
        "no retry: {last:?}"
    );

    // auto_retry back on: the same failure waits for its retry.
    let on = json!({"auto_retry": true, "max_retries": 1});
    let (status, _) = call(TestRequest::patch().uri("/settings").set_json(&on)).await;
    assert_eq!(status, StatusCode::OK);
    let retried = engine
        .submit(stand_in.job(
            TaskType::Convert,
            Asin::parse("B000000004").unwrap(),
            "exit 3",
        ))
        .await
        .unwrap()
        .job
        .id;
    let mut pending = false;
    for _ in 0..200 {
        let job = engine.queue().get(retried).await.unwrap();
        if job.status == JobStatus::Pending {
            pending = true;
            break;
        }
        assert!(!job.status.is_terminal(), "{job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(pending, "a retry is scheduled");
}

/// Listening progress: `null` before playing, a player's reports kept (what they leave out
/// stays), past-the-end positions refused, continue-listening newest first without finished
/// books, each change in the library's change feed.
async fn progress_is_kept_and_listed(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    db.db
        .library
        .upsert_books((1..=3).map(|n| record(n, &format!("Book {n}"))).collect())
        .await
        .unwrap();
    let app = app!(support::state(db.db.clone(), dir.path()));
    let call = |request: TestRequest| call(&app, request);

    let (status, none) = call(TestRequest::get().uri("/library/B000000001/progress")).await;
    assert_eq!((status, none), (StatusCode::OK, Value::Null));
    let (_, feed) = call(TestRequest::get().uri("/library?since=1970-01-01T00:00:00Z")).await;
    let since = feed["next_since"].as_str().unwrap().to_owned();

    let report = json!({"position_ms": 61_000, "playback_speed": 1.5, "chapter_id": "4"});
    let (status, saved) = call(
        TestRequest::patch()
            .uri("/library/B000000001/progress")
            .set_json(&report),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_shape(&saved, "progress.json");
    assert_eq!(
        (
            saved["position_ms"].clone(),
            saved["playback_speed"].clone()
        ),
        (json!(61_000), json!(1.5))
    );
    let (_, read) = call(TestRequest::get().uri("/library/B000000001/progress")).await;
    assert_eq!(read, saved);
    let later = json!({"position_ms": 62_000});
    let (_, moved) = call(
        TestRequest::patch()
            .uri("/library/B000000001/progress")
            .set_json(&later),
    )
    .await;
    assert_eq!(
        (
            moved["playback_speed"].clone(),
            moved["last_chapter_id"].clone()
        ),
        (json!(1.5), json!("4")),
        "kept"
    );
    call(
        TestRequest::patch()
            .uri("/library/B000000002/progress")
            .set_json(json!({"position_ms": 1})),
    )
    .await;
    let (_, finished) = call(
        TestRequest::patch()
            .uri("/library/B000000003/progress")
            .set_json(json!({"position_ms": 5_400_000, "is_finished": true})),
    )
    .await;
    assert!(finished["completed_at"].is_string(), "{finished}");

    let (status, past) = call(
        TestRequest::patch()
            .uri("/library/B000000001/progress")
            .set_json(json!({"position_ms": 91 * 60_000 + 1})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{past}");
    assert!(past["detail"].as_str().unwrap().starts_with("position_ms"));
    let (status, _) = call(
        TestRequest::patch()
            .uri("/library/B000000099/progress")
            .set_json(&later),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        TestRequest::patch()
            .uri("/library/local:5d0c7c68/progress")
            .set_json(&later),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the client's local items are not books"
    );

    let (status, listening) =
        call(TestRequest::get().uri("/library/continue-listening?limit=5")).await;
    assert_eq!(status, StatusCode::OK, "{listening}");
    assert_shape(&json!({"items": listening}), "continue-listening.json");
    let asins: Vec<&str> = listening
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["book_asin"].as_str().unwrap())
        .collect();
    assert_eq!(
        asins,
        ["B000000002", "B000000001"],
        "newest first, the finished one left out"
    );

    let (_, changed) = call(TestRequest::get().uri(&format!("/library?since={since}"))).await;
    let mut seen: Vec<&str> = changed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["asin"].as_str().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        ["B000000001", "B000000002", "B000000003"],
        "{changed}"
    );
    let first = changed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["asin"] == "B000000001")
        .unwrap();
    assert_eq!(first["progress"]["position_ms"], 62_000);
}

/// One test of `case` on SQLite and one on PostgreSQL, named `<case>_on_<backend>`.
macro_rules! on_both_databases {
    ($($case:ident => $sqlite:ident, $postgres:ident;)+) => {$(
        #[actix_web::test]
        async fn $sqlite() {
            $case(TestDb::sqlite().await).await;
        }

        #[actix_web::test]
        async fn $postgres() {
            if let Some(db) = TestDb::postgres().await {
                $case(db).await;
            }
        }
    )+};
}

on_both_databases! {
    the_job_calls_answer_in_the_clients_shapes => the_job_calls_answer_in_the_clients_shapes_on_sqlite, the_job_calls_answer_in_the_clients_shapes_on_postgres;
    book_details_incomplete_downloads_and_removal => book_details_incomplete_downloads_and_removal_on_sqlite, book_details_incomplete_downloads_and_removal_on_postgres;
    jobs_pause_and_resume => jobs_pause_and_resume_on_sqlite, jobs_pause_and_resume_on_postgres;
    progress_is_kept_and_listed => progress_is_kept_and_listed_on_sqlite, progress_is_kept_and_listed_on_postgres;
    settings_are_saved_checked_and_used_as_defaults => settings_are_saved_checked_and_used_as_defaults_on_sqlite, settings_are_saved_checked_and_used_as_defaults_on_postgres;
}
