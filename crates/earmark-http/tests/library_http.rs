//! `/library` in-process on a real SQLite library: the list envelope, filters, the change
//! feed, one book, series, covers, and starting a sync.

#![expect(clippy::unwrap_used, reason = "test helpers fail by panicking")]

use earmark_testkit::app;
use earmark_testkit::app as support;

use actix_web::http::{StatusCode, header};
use actix_web::test::{self, TestRequest};
use earmark_audible::record::book_record;
use earmark_core::{
    Asin, BookRecord, BookSortKey, BookStatus, BookUpdate, FileKind, NewStoredFile,
};
use earmark_db::testing::TestDb;
use earmark_http::error::Problem;
use earmark_http::routes::jobs::Accepted;
use earmark_http::routes::library::{BookDetail, BookList, SeriesList};
use serde_json::{Value, json};

fn authed(req: TestRequest) -> TestRequest {
    req.insert_header(("X-Api-Key", support::KEY))
}

fn asin(n: u32) -> Asin {
    Asin::parse(&format!("B{n:09}")).unwrap()
}

/// A library item as Audible's API sends it.
fn item(n: u32) -> Value {
    let mut item = json!({
        "asin": asin(n).to_string(),
        "title": format!("Title {n:03}"),
        "authors": [{"asin": "B000AUTHOR", "name": format!("Author {}", n % 3)}],
        "narrators": [{"name": "Narrator"}],
        "runtime_length_min": 100 + n,
        "product_images": {"500": format!("https://m.media-amazon.com/images/I/{n}.jpg")},
        "release_date": "2020-01-01",
        "purchase_date": format!("2024-01-{:02}T00:00:00Z", 1 + n % 28),
        "publisher_name": "Pub",
        "language": "english",
        "format_type": "unabridged",
        "content_type": "Product",
        "available_codecs": [{"name": "aax_44_128"}, {"name": "mp4_44_128"}],
    });
    if n.is_multiple_of(2) {
        item["series"] =
            json!([{"asin": "B0SERIES00", "title": "Evens", "sequence": format!("{}", n / 2)}]);
    }
    item
}

fn records(range: std::ops::RangeInclusive<u32>) -> Vec<BookRecord> {
    range.map(|n| book_record(item(n)).unwrap()).collect()
}

/// `GET uri` with the key: the status and the body as `T` (or as text when it is not).
macro_rules! get {
    ($app:expr, $uri:expr) => {
        get!($app, $uri, _)
    };
    ($app:expr, $uri:expr, $t:ty) => {{
        let res = test::call_service($app, authed(TestRequest::get().uri($uri)).to_request()).await;
        let status = res.status();
        let body = test::read_body(res).await;
        let parsed: Result<$t, String> =
            serde_json::from_slice(&body).map_err(|_| String::from_utf8_lossy(&body).into_owned());
        (status, parsed)
    }};
}

#[actix_web::test]
async fn list_pages_filters_and_sorts_by_every_key() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    db.db.library.upsert_books(records(1..=30)).await.unwrap();
    let app = app!(support::state(db.db.clone(), dir.path()));

    let (status, list) = get!(&app, "/library", BookList);
    let list = list.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            list.total,
            list.page,
            list.page_size,
            list.total_pages,
            list.items.len()
        ),
        (30, 1, 50, 1, 30)
    );
    let second = &list.items[1];
    assert_eq!(second.title, "Title 002");
    assert_eq!(second.authors[0].asin.as_deref(), Some("B000AUTHOR"));
    assert_eq!(
        second.series.as_ref().unwrap()[0].sequence.as_deref(),
        Some("1")
    );
    assert!(second.aax_available && second.aaxc_available);
    assert_eq!(second.publisher.as_deref(), Some("Pub"));
    assert!(second.product_images.as_ref().unwrap().contains_key("500"));
    assert!(second.created_at.ends_with('Z'));
    assert_eq!(list.items[0].series, None, "odd books have no series");

    let (_, page) = get!(&app, "/library?page=2&page_size=7", BookList);
    let page = page.unwrap();
    assert_eq!((page.page, page.total_pages, page.items.len()), (2, 5, 7));
    assert_eq!(page.items[0].title, "Title 008");
    let (_, skipped) = get!(&app, "/library?skip=7&limit=7", BookList);
    assert_eq!(skipped.unwrap().items[0].title, "Title 008");

    let (_, found) = get!(&app, "/library?q=NARRATOR%20title%20007", BookList);
    let found = found.unwrap();
    assert_eq!(found.total, 1, "every word, any field");
    assert_eq!(found.items[0].title, "Title 007");
    let (_, found) = get!(&app, "/library?author=AUTHOR%201&sort_by=asin", BookList);
    assert_eq!(found.unwrap().total, 10, "n % 3 == 1");
    let (_, evens) = get!(
        &app,
        "/library?series_title=Evens&author=author%200",
        BookList
    );
    assert_eq!(
        evens.unwrap().total,
        5,
        "even and n % 3 == 0: 6, 12, 18, 24, 30"
    );

    for key in BookSortKey::ALL {
        for dir in ["asc", "desc"] {
            let (status, body) = get!(
                &app,
                &format!("/library?sort_by={key}&sort_dir={dir}"),
                BookList
            );
            assert_eq!(status, StatusCode::OK, "{key} {dir}: {:?}", body.err());
        }
    }
    let (_, desc) = get!(
        &app,
        "/library?sort_by=runtime_length_min&sort_order=desc",
        BookList
    );
    assert_eq!(desc.unwrap().items[0].runtime_length_min, Some(130));
}

#[actix_web::test]
async fn invalid_parameters_are_422_problems_that_name_them() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(support::state(db.db.clone(), dir.path()));
    for (query, needle) in [
        ("sort_by=rating", "sort_by"),
        ("sort_dir=sideways", "sort_dir"),
        ("page=0", "page"),
        ("page_size=100000", "page_size"),
        ("status=DONE", "status"),
        ("since=last%20tuesday", "since"),
        ("since=2026-01-01T00:00:00Z&sort_by=title", "sort_by"),
        ("limit=-1", "limit"),
    ] {
        let res = test::call_service(
            &app,
            authed(TestRequest::get().uri(&format!("/library?{query}"))).to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
        let problem: Problem = test::read_body_json(res).await;
        assert_eq!(problem.code, "validation_failed");
        assert!(
            problem.detail.contains(needle),
            "{query}: {}",
            problem.detail
        );
    }
}

#[actix_web::test]
async fn the_change_feed_returns_changes_and_tombstones_once_then_nothing() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let library = db.db.library.clone();
    library.upsert_books(records(1..=5)).await.unwrap();
    let app = app!(support::state(db.db.clone(), dir.path()));

    // A first mirror, paged by cursor two books at a time.
    let mut since = "1970-01-01T00:00:00Z".to_owned();
    let mut cursor: Option<String> = None;
    let mut mirrored = Vec::new();
    loop {
        let mut uri = format!("/library?since={since}&limit=2");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = get!(&app, &uri, BookList);
        let page = page.unwrap();
        assert_eq!(status, StatusCode::OK);
        mirrored.extend(page.items.iter().map(|b| b.asin.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => {
                since = page.next_since.unwrap();
                break;
            }
        }
    }
    assert_eq!(mirrored.len(), 5);

    let (_, nothing) = get!(&app, &format!("/library?since={since}"), BookList);
    let nothing = nothing.unwrap();
    assert!(nothing.items.is_empty(), "no change, no delta");
    let since = nothing.next_since.unwrap();

    library
        .update_book(
            &asin(2),
            BookUpdate {
                status: Some(BookStatus::Downloaded),
                ..BookUpdate::default()
            },
        )
        .await
        .unwrap();
    library
        .mark_removed_except((1..=4).map(asin).collect())
        .await
        .unwrap();
    let (_, delta) = get!(&app, &format!("/library?since={since}"), BookList);
    let delta = delta.unwrap();
    let changed: Vec<(&str, &str, bool)> = delta
        .items
        .iter()
        .map(|b| (b.asin.as_str(), b.status.as_str(), b.removed_at.is_some()))
        .collect();
    assert_eq!(
        changed,
        vec![
            ("B000000002", "DOWNLOADED", false),
            ("B000000005", "NEW", true)
        ]
    );
    let (_, listed) = get!(&app, "/library", BookList);
    assert_eq!(listed.unwrap().total, 4, "tombstones are not listed");
    let (_, all) = get!(&app, "/library?include_removed=true", BookList);
    assert_eq!(all.unwrap().total, 5);
}

#[actix_web::test]
async fn one_book_with_files_and_jobs_or_a_clear_404_or_422() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    db.db.library.upsert_books(records(1..=2)).await.unwrap();
    let cover = dir.path().join("downloads/B000000001_(500).jpg");
    std::fs::create_dir_all(cover.parent().unwrap()).unwrap();
    std::fs::write(&cover, b"\xff\xd8jpeg bytes").unwrap();
    db.db
        .library
        .add_file(NewStoredFile {
            asin: asin(1),
            kind: FileKind::Cover,
            path: cover.display().to_string(),
            size: 12,
            mime: "image/jpeg".into(),
        })
        .await
        .unwrap();
    db.db
        .library
        .update_book(
            &asin(1),
            BookUpdate {
                local_path_cover: Some(Some(cover.display().to_string())),
                ..BookUpdate::default()
            },
        )
        .await
        .unwrap();
    let app = app!(support::state(db.db.clone(), dir.path()));
    let res = test::call_service(
        &app,
        authed(TestRequest::post().uri("/jobs/download"))
            .set_json(json!({"asin": "B000000001"}))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);

    let (status, detail) = get!(&app, "/library/B000000001", BookDetail);
    let detail = detail.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail.book.title, "Title 001");
    assert_eq!(detail.files.len(), 1);
    assert_eq!(detail.jobs.len(), 1);
    assert_eq!(detail.jobs[0].task_type, "DOWNLOAD");

    let (status, problem) = get!(&app, "/library/B000000009", Problem);
    assert_eq!(
        (status, problem.unwrap().code.as_str()),
        (StatusCode::NOT_FOUND, "book_not_found")
    );
    let (status, problem) = get!(&app, "/library/not-an-asin", Problem);
    assert_eq!(
        (status, problem.unwrap().code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    // Issue 19, defect 4: white space around an ASIN was trimmed and the book served.
    for padded in [
        "/library/%20B000000001",
        "/library/B000000001%20",
        "/library/%09B000000001",
    ] {
        let (status, problem) = get!(&app, padded, Problem);
        assert_eq!(
            (status, problem.unwrap().code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            "{padded}"
        );
    }
    let res = test::call_service(
        &app,
        authed(TestRequest::post().uri("/jobs/download"))
            .set_json(json!({"asin": " B000000001"}))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let res = test::call_service(
        &app,
        authed(TestRequest::get().uri("/library/B000000001/cover")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(test::read_body(res).await.as_ref(), b"\xff\xd8jpeg bytes");
    let res = test::call_service(
        &app,
        authed(TestRequest::get().uri("/library/B000000002/cover")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        res.headers().get(header::LOCATION).unwrap(),
        "https://m.media-amazon.com/images/I/2.jpg"
    );
}

#[actix_web::test]
async fn series_are_counted_and_a_sync_is_queued_once() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    db.db.library.upsert_books(records(1..=5)).await.unwrap();
    let app = app!(support::state(db.db.clone(), dir.path()));
    let (_, series) = get!(&app, "/library/series", SeriesList);
    let series = series.unwrap();
    assert_eq!(series.items.len(), 1);
    assert_eq!(
        (
            series.items[0].title.as_str(),
            series.items[0].asin.as_deref(),
            series.items[0].count
        ),
        ("Evens", Some("B0SERIES00"), 2)
    );
    assert_eq!(series.no_series_count, 3);

    let sync = || {
        authed(TestRequest::post().uri("/library/sync"))
            .set_json(json!({"profile": "audible"}))
            .to_request()
    };
    let res = test::call_service(&app, sync()).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let first: Accepted = test::read_body_json(res).await;
    let res = test::call_service(&app, sync()).await;
    let second: Accepted = test::read_body_json(res).await;
    assert_eq!(first.job_id, second.job_id, "one sync at a time");
    assert!(second.message.contains("already"), "{}", second.message);

    for bad in [
        json!({"profile": "../etc"}),
        json!({"profile": 5}),
        json!("audible"),
    ] {
        let res = test::call_service(
            &app,
            authed(TestRequest::post().uri("/library/sync"))
                .set_json(&bad)
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let bare = test::call_service(
        &app,
        authed(TestRequest::post().uri("/library/sync")).to_request(),
    )
    .await;
    assert_eq!(
        bare.status(),
        StatusCode::ACCEPTED,
        "no body: the primary profile"
    );
}
