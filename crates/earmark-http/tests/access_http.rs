//! Keyless access from trusted networks and CORS for listed origins, in process: who gets in
//! without a key, which web pages may call, and what a refused page can read.
#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test crate fail by panicking"
)]

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::test::{self, TestRequest};
use earmark_db::testing::TestDb;
use earmark_http::auth::AccessPolicy;
use earmark_http::auth::failures::FailedAuth;
use earmark_http::error::Problem;
use earmark_testkit::app;
use earmark_testkit::app as support;

const HOME: &str = "192.168.1.77:51000";
const AWAY: &str = "203.0.113.9:51000";
const CLIENT: &str = "http://192.168.1.20:3000";

fn policy() -> AccessPolicy {
    AccessPolicy::new(["192.168.1.0/24"], [CLIENT]).unwrap()
}

fn from(peer: &str, request: TestRequest) -> TestRequest {
    request
        .peer_addr(peer.parse().unwrap())
        .insert_header((header::HOST, "192.168.1.2:8080"))
}

fn header_of(headers: &header::HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).map(|v| v.to_str().unwrap().to_owned())
}

fn allowed_origin(headers: &header::HeaderMap) -> Option<String> {
    header_of(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN)
}

#[actix_web::test]
async fn a_trusted_network_needs_no_key_and_others_still_do() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(support::state(db.db.clone(), dir.path()).with_access(policy()));
    let res = test::call_service(
        &app,
        from(HOME, TestRequest::get().uri("/library")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = test::call_service(
        &app,
        from(AWAY, TestRequest::get().uri("/library")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let keyed = from(AWAY, TestRequest::get().uri("/library"))
        .insert_header(("X-Api-Key", support::KEY))
        .to_request();
    assert_eq!(
        test::call_service(&app, keyed).await.status(),
        StatusCode::OK
    );
    let wrong = from(HOME, TestRequest::get().uri("/library"))
        .insert_header(("X-Api-Key", "a-stale-key"))
        .to_request();
    assert_eq!(
        test::call_service(&app, wrong).await.status(),
        StatusCode::UNAUTHORIZED,
        "a key that is sent must be right"
    );

    // Nothing is trusted unless configured.
    let (db2, dir2) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let closed = app!(support::state(db2.db.clone(), dir2.path()));
    let res = test::call_service(
        &closed,
        from(HOME, TestRequest::get().uri("/library")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_page_of_a_foreign_origin_cannot_act_through_a_trusted_browser() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(support::state(db.db.clone(), dir.path()).with_access(policy()));
    // A hostile page's "simple" POST needs no preflight: it must be refused here.
    let post = from(HOME, TestRequest::post().uri("/jobs/download"))
        .insert_header((header::ORIGIN, "https://evil.example"))
        .set_json(serde_json::json!({"asin": "B000000001"}))
        .to_request();
    let res = test::call_service(&app, post).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(allowed_origin(res.headers()), None);
    let problem: Problem = test::read_body_json(res).await;
    assert_eq!(problem.code, "foreign_origin");
    assert!(
        problem.detail.contains("EARMARK__SERVER__CORS_ORIGINS"),
        "{}",
        problem.detail
    );

    // WebSocket upgrades skip CORS altogether in browsers.
    let upgrade = from(HOME, TestRequest::get().uri("/jobs/ws"))
        .insert_header((header::ORIGIN, "https://evil.example"))
        .insert_header((header::UPGRADE, "websocket"))
        .insert_header((header::CONNECTION, "Upgrade"))
        .insert_header((header::SEC_WEBSOCKET_VERSION, "13"))
        .insert_header((header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ=="))
        .to_request();
    assert_eq!(
        test::call_service(&app, upgrade).await.status(),
        StatusCode::FORBIDDEN
    );

    // earmark's own pages (the docs) and the listed client are fine; so is a keyed request.
    for origin in ["http://192.168.1.2:8080", CLIENT] {
        let own = from(HOME, TestRequest::get().uri("/library"))
            .insert_header((header::ORIGIN, origin))
            .to_request();
        assert_eq!(
            test::call_service(&app, own).await.status(),
            StatusCode::OK,
            "{origin}"
        );
    }
    let keyed = from(HOME, TestRequest::get().uri("/library"))
        .insert_header((header::ORIGIN, "https://evil.example"))
        .insert_header(("X-Api-Key", support::KEY))
        .to_request();
    assert_eq!(
        test::call_service(&app, keyed).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn a_listed_origin_gets_cors_answers_and_can_read_its_refusals() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(support::state(db.db.clone(), dir.path()).with_access(policy()));
    let preflight = |origin: &str| {
        from(
            AWAY,
            TestRequest::default().method(actix_web::http::Method::OPTIONS),
        )
        .uri("/settings")
        .insert_header((header::ORIGIN, origin.to_owned()))
        .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, "PATCH"))
        .insert_header((header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type"))
        .to_request()
    };
    let res = test::call_service(&app, preflight(CLIENT)).await;
    assert_eq!(
        res.status(),
        StatusCode::NO_CONTENT,
        "no key needed for a preflight"
    );
    assert_eq!(allowed_origin(res.headers()).as_deref(), Some(CLIENT));
    let methods = header_of(res.headers(), header::ACCESS_CONTROL_ALLOW_METHODS).unwrap();
    for method in ["GET", "POST", "PATCH", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    let headers = header_of(res.headers(), header::ACCESS_CONTROL_ALLOW_HEADERS).unwrap();
    assert!(
        headers.to_ascii_lowercase().contains("content-type"),
        "{headers}"
    );
    let res = test::call_service(&app, preflight("http://other.example:3000")).await;
    assert_eq!(
        allowed_origin(res.headers()),
        None,
        "any other origin gets no CORS headers"
    );

    // A listed page on an untrusted network is refused, and can read why.
    let refused = from(AWAY, TestRequest::get().uri("/library"))
        .insert_header((header::ORIGIN, CLIENT))
        .to_request();
    let res = test::call_service(&app, refused).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(allowed_origin(res.headers()).as_deref(), Some(CLIENT));

    // What a player needs from a ranged answer is exposed.
    let ok = from(HOME, TestRequest::get().uri("/library"))
        .insert_header((header::ORIGIN, CLIENT))
        .to_request();
    let res = test::call_service(&app, ok).await;
    assert_eq!(allowed_origin(res.headers()).as_deref(), Some(CLIENT));
    let exposed = header_of(res.headers(), header::ACCESS_CONTROL_EXPOSE_HEADERS)
        .unwrap()
        .to_ascii_lowercase();
    for name in ["content-range", "accept-ranges", "content-length", "etag"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    let vary = header_of(res.headers(), header::VARY).unwrap();
    assert!(vary.to_ascii_lowercase().contains("origin"), "{vary}");
}

#[actix_web::test]
async fn failed_attempts_never_lock_out_a_trusted_network() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let mut state = support::state(db.db.clone(), dir.path()).with_access(policy());
    state.auth_failures = Arc::new(FailedAuth::new(3, Duration::from_secs(60)));
    let app = app!(state);
    let attempt = |peer: &str| {
        from(peer, TestRequest::get().uri("/library"))
            .insert_header(("X-Api-Key", "guess"))
            .to_request()
    };
    for _ in 0..10 {
        let res = test::call_service(&app, attempt(HOME)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let keyless = from(HOME, TestRequest::get().uri("/library")).to_request();
    assert_eq!(
        test::call_service(&app, keyless).await.status(),
        StatusCode::OK
    );
    for _ in 0..3 {
        test::call_service(&app, attempt(AWAY)).await;
    }
    assert_eq!(
        test::call_service(&app, attempt(AWAY)).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "other addresses are still limited"
    );
}
