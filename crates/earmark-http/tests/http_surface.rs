//! The HTTP skeleton in-process: key check, problem+json, health, OpenAPI and offline docs.

use std::sync::Arc;

use actix_web::http::{Method, StatusCode};
use actix_web::test;
use earmark_core::ports::{LibraryRepoError, MockLibraryRepo};
use earmark_db::testing::TestDb;
use earmark_http::error::Problem;

use earmark_testkit::app;
use earmark_testkit::app as support;

use support::{KEY, state};

#[actix_web::test]
async fn requests_without_the_key_get_401_problem_json() {
    let (testdb, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(state(testdb.db.clone(), dir.path()));
    for (path, header) in [
        ("/library", None),
        ("/no/such/route", None),
        ("/jobs", Some(("Authorization", "Bearer wrong"))),
        ("/jobs", Some(("X-Api-Key", "emk_test-ke"))),
        ("/jobs", Some(("Authorization", "Basic dXNlcjp3cm9uZw=="))),
    ] {
        let mut req = test::TestRequest::get().uri(path);
        if let Some(h) = header {
            req = req.insert_header(h);
        }
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path} {header:?}");
        assert_eq!(
            res.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
        assert!(
            res.headers()
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap()
                .contains("Bearer")
        );
        let problem: Problem = test::read_body_json(res).await;
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (401, "unauthorized")
        );
        assert!(
            problem.detail.contains("X-Api-Key"),
            "the message says what to do"
        );
    }
}

#[actix_web::test]
async fn every_key_form_is_accepted() {
    let (testdb, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(state(testdb.db.clone(), dir.path()));
    // "anyone:emk_test-key"
    let basic = "Basic YW55b25lOmVta190ZXN0LWtleQ==";
    for header in [
        ("Authorization", "Bearer emk_test-key"),
        ("X-Api-Key", KEY),
        ("Authorization", basic),
    ] {
        let req = test::TestRequest::get()
            .uri("/no/such/route")
            .insert_header(header)
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(
            res.status(),
            StatusCode::NOT_FOUND,
            "{header:?} unlocks, then the route is unknown"
        );
        let problem: Problem = test::read_body_json(res).await;
        assert_eq!(problem.code, "route_not_found");
        assert_eq!(problem.type_uri, "urn:earmark:problem:route_not_found");
    }
}

/// Issue 19: every operation the key protects documents its 401 (with `WWW-Authenticate`)
/// and 429 (with `Retry-After`) as problem+json, every one with a body its 400; the public
/// one asks for no credentials.
#[actix_web::test]
async fn the_document_lists_the_refusals_every_route_can_answer() {
    let (testdb, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(state(testdb.db.clone(), dir.path()));
    let res = test::call_service(
        &app,
        test::TestRequest::get().uri("/openapi.json").to_request(),
    )
    .await;
    let doc: serde_json::Value = test::read_body_json(res).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = &operation["responses"];
            if path == "/healthz" {
                assert_eq!(operation["security"], serde_json::json!([{}]), "{path}");
                assert!(responses.get("401").is_none(), "{path}");
                continue;
            }
            for (status, header) in [("401", "WWW-Authenticate"), ("429", "Retry-After")] {
                let response = &responses[status];
                assert!(
                    response["content"]["application/problem+json"].is_object(),
                    "{method} {path} {status}"
                );
                assert!(response["headers"][header].is_object(), "{method} {path}");
            }
            if operation.get("requestBody").is_some() {
                assert!(responses["400"].is_object(), "{method} {path}");
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");

    // Constraints the server enforces are in the schemas.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["AsinText"]["pattern"], "^[0-9A-Z]{10}$");
    let asins = &schemas["DownloadRequest"]["properties"]["asins"];
    assert_eq!(
        (&asins["minItems"], &asins["maxItems"]),
        (&1.into(), &1000.into())
    );
    assert_eq!(asins["items"]["$ref"], "#/components/schemas/AsinText");
    let names_a_book =
        serde_json::json!({"anyOf": [{"required": ["asin"]}, {"required": ["asins"]}]});
    assert_eq!(
        schemas["DownloadBody"]["allOf"][1]["anyOf"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // The conversion body's options and books are one object that takes `asin` (a derived
    // `allOf` with the options' `additionalProperties: false` refused it).
    let convert = &schemas["ConvertBody"]["allOf"];
    assert_eq!(
        convert[0]["properties"]["asin"]["pattern"],
        "^[0-9A-Z]{10}$"
    );
    assert_eq!(convert[0]["properties"]["asins"]["maxItems"], 1000);
    assert!(convert[0]["properties"]["format"].is_object());
    assert!(convert[0].get("additionalProperties").is_none());
    for (required, alternative) in convert[1]["anyOf"]
        .as_array()
        .unwrap()
        .iter()
        .zip(names_a_book["anyOf"].as_array().unwrap())
    {
        assert_eq!(required["required"], alternative["required"]);
    }
    let path = |p: &str, method: &str| doc["paths"][p][method].clone();
    let parameter = |op: &serde_json::Value, name: &str| {
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["schema"]
            .to_string()
    };
    let jobs = path("/jobs", "get");
    assert!(parameter(&jobs, "limit").contains(r#""maximum":500"#));
    assert!(parameter(&jobs, "status").contains("RUNNING|"));
    assert!(parameter(&jobs, "task_type").contains("DOWNLOAD"));
    assert!(parameter(&path("/jobs/{id}", "get"), "id").contains(r#""format":"uuid""#));
    assert!(
        parameter(&path("/auth/audible/profiles/{name}", "delete"), "name").contains("[A-Za-z0-9]")
    );
    assert!(parameter(&path("/library", "get"), "sort_by").contains("purchase_date"));
    for (p, method, status) in [
        ("/jobs/{id}/retry", "post", "404"),
        ("/jobs/{id}", "delete", "422"),
        ("/ws/jobs", "get", "400"),
        ("/library/delete", "post", "413"),
    ] {
        assert!(
            path(p, method)["responses"][status].is_object(),
            "{method} {p} {status}"
        );
    }
    assert_eq!(
        schemas["Settings"]["properties"]["compression_mp3"]["maximum"],
        9
    );
    let stream = path("/stream/{file_id}", "get");
    for status in ["200", "206"] {
        let media: Vec<&String> = stream["responses"][status]["content"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        for served in [
            "audio/mp4",
            "audio/mpeg",
            "audio/flac",
            "audio/ogg",
            "application/octet-stream",
        ] {
            assert!(
                media.iter().any(|m| *m == served),
                "{status}: {served} in {media:?}"
            );
        }
    }
    let ttl = &schemas["TokenRequest"]["properties"]["ttl_s"];
    assert_eq!(
        (ttl["minimum"].as_f64(), ttl["maximum"].as_f64()),
        (Some(10.0), Some(86_400.0))
    );
}

/// Issue 19, defect 6: a known path asked with a method it lacks answered 404.
#[actix_web::test]
async fn a_known_path_with_another_method_is_405_with_allow() {
    let (testdb, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(state(testdb.db.clone(), dir.path()));
    for (method, path, allow) in [
        (Method::DELETE, "/settings", "GET, PATCH"),
        (Method::PUT, "/library/B000000001/progress", "GET, PATCH"),
        (Method::POST, "/ws/jobs", "GET"),
        (Method::DELETE, "/library/sync/status", "GET"),
    ] {
        let req = test::TestRequest::default()
            .method(method.clone())
            .uri(path)
            .insert_header(("X-Api-Key", KEY))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(
            res.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
        let problem: Problem = test::read_body_json(res).await;
        assert_eq!(problem.code, "method_not_allowed");
        assert!(problem.detail.contains(allow), "{}", problem.detail);
    }
    let unknown = test::TestRequest::delete()
        .uri("/no/such/route")
        .insert_header(("X-Api-Key", KEY))
        .to_request();
    assert_eq!(
        test::call_service(&app, unknown).await.status(),
        StatusCode::NOT_FOUND
    );
    let keyless = test::TestRequest::delete().uri("/settings").to_request();
    assert_eq!(
        test::call_service(&app, keyless).await.status(),
        StatusCode::UNAUTHORIZED,
        "the key is checked first"
    );
}

#[actix_web::test]
async fn healthz_is_public_and_reports_every_part() {
    let (testdb, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(state(testdb.db.clone(), dir.path()));
    let res = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(
        body["status"], "degraded",
        "tools are missing in this test: {body}"
    );
    assert_eq!(body["database"]["backend"], "sqlite");
    assert_eq!(body["database"]["reachable"], true);
    assert_eq!(body["data_dir"]["writable"], true);
    assert!(body["data_dir"]["free_bytes"].as_u64().unwrap() > 0);
    let tools: Vec<_> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tools, ["ffmpeg", "audible-cli", "AAXtoMP3"]);
    assert!(
        body["tools"][0]["hint"]
            .as_str()
            .unwrap()
            .contains("install ffmpeg")
    );

    let head = test::call_service(
        &app,
        test::TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .uri("/healthz")
            .to_request(),
    )
    .await;
    assert_eq!(head.status(), StatusCode::OK, "HEAD answers too");
}

#[actix_web::test]
async fn healthz_is_503_when_the_database_does_not_answer() {
    let mut library = MockLibraryRepo::new();
    library
        .expect_ping()
        .returning(|| Err(LibraryRepoError::Unavailable("connection refused".into())));
    let testdb = TestDb::sqlite().await;
    let db = earmark_db::Database {
        library: Arc::new(library),
        ..testdb.db.clone()
    };
    let dir = tempfile::tempdir().unwrap();
    let app = app!(state(db, dir.path()));
    let res = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"]["reachable"], false);
    assert!(
        body["database"]["error"]
            .as_str()
            .unwrap()
            .contains("connection refused")
    );
}

#[actix_web::test]
async fn openapi_lists_the_routes_and_docs_work_offline() {
    let (testdb, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(state(testdb.db.clone(), dir.path()));
    let res = test::call_service(
        &app,
        test::TestRequest::get().uri("/openapi.json").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: serde_json::Value = test::read_body_json(res).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["title"], "earmark");
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert_eq!(
        paths,
        [
            "/auth/audible/login",
            "/auth/audible/login/{login_id}",
            "/auth/audible/profiles",
            "/auth/audible/profiles/import",
            "/auth/audible/profiles/{name}",
            "/auth/audible/profiles/{name}/activation-bytes",
            "/auth/audible/profiles/{name}/primary",
            "/auth/tokens",
            "/health",
            "/health/live",
            "/healthz",
            "/jobs",
            "/jobs/convert",
            "/jobs/download",
            "/jobs/history",
            "/jobs/{id}",
            "/jobs/{id}/log",
            "/jobs/{id}/pause",
            "/jobs/{id}/resume",
            "/jobs/{id}/retry",
            "/library",
            "/library/continue-listening",
            "/library/delete",
            "/library/downloads/incomplete",
            "/library/import",
            "/library/local",
            "/library/local/{id}",
            "/library/positions/sync",
            "/library/repair/apply",
            "/library/repair/preview",
            "/library/series",
            "/library/sync",
            "/library/sync/status",
            "/library/{asin}",
            "/library/{asin}/chapters",
            "/library/{asin}/cover",
            "/library/{asin}/details",
            "/library/{asin}/progress",
            "/metrics",
            "/settings",
            "/settings/naming-variables",
            "/stream/local/{id}",
            "/stream/{file_id}",
            "/webhooks",
            "/webhooks/{id}",
            "/webhooks/{id}/deliveries",
            "/ws/jobs",
            "/ws/jobs/{id}"
        ]
    );
    assert!(doc["paths"]["/healthz"]["get"]["responses"]["503"].is_object());
    // Client generators name their functions after operationIds: each must be unique.
    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "operationIds repeat: {ids:?}");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let res = test::call_service(&app, test::TestRequest::get().uri("/docs").to_request()).await;
    assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(res.headers().get("location").unwrap(), "/docs/");

    let res = test::call_service(&app, test::TestRequest::get().uri("/docs/").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        assert!(html.contains(asset), "{asset} referenced");
        let res = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/docs/{asset}"))
                .to_request(),
        )
        .await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{asset} served from the binary"
        );
    }
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no asset from the internet"
    );
    let init = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/docs/swagger-initializer.js")
            .to_request(),
    )
    .await;
    let init = String::from_utf8(test::read_body(init).await.to_vec()).unwrap();
    assert!(
        init.contains("/openapi.json"),
        "the UI loads our document: {init}"
    );
}
