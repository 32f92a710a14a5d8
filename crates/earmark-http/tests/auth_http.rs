//! Who may call what: every documented route refuses a caller without credentials, tokens
//! open only the stream and WebSocket paths they were made for, and an address that keeps
//! failing is slowed down.

use earmark_testkit::app;
use earmark_testkit::app as support;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::test::{self, TestRequest};
use earmark_db::testing::TestDb;
use earmark_http::auth::failures::FailedAuth;
use earmark_http::auth::tokens::TokenScope;
use earmark_http::error::Problem;
use earmark_http::routes::auth::tokens::TokenGrant;
use serde_json::json;

const PUBLIC: [&str; 3] = ["/healthz", "/openapi.json", "/docs"];

#[actix_web::test]
async fn every_documented_route_needs_credentials() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let app = app!(support::state(db.db.clone(), dir.path()));
    let doc: serde_json::Value = test::read_body_json(
        test::call_service(&app, TestRequest::get().uri("/openapi.json").to_request()).await,
    )
    .await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{asin}", "B000000001")
            .replace("{id}", "01939b5e-0000-7000-8000-000000000001")
            .replace("{file_id}", "01939b5e-0000-7000-8000-000000000002")
            .replace("{login_id}", "01939b5e-0000-7000-8000-000000000003")
            .replace("{name}", "someone");
        assert!(
            !concrete.contains('{'),
            "a path parameter the walk does not fill: {path}"
        );
        for method in item.as_object().unwrap().keys() {
            let req = TestRequest::default()
                .method(method.to_uppercase().parse().unwrap())
                .uri(&concrete)
                .set_json(json!({}));
            let res = test::call_service(&app, req.to_request()).await;
            if PUBLIC.contains(&path.as_str()) {
                assert_ne!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
                continue;
            }
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
            assert!(
                res.headers().contains_key(header::WWW_AUTHENTICATE),
                "{method} {path}"
            );
            if method == "head" {
                // The same answer, without its body.
                assert!(
                    test::read_body(res).await.is_empty(),
                    "{method} {path}: a HEAD answer has no body"
                );
            } else {
                let problem: Problem = test::read_body_json(res).await;
                assert_eq!(problem.code, "unauthorized");
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} routes checked");
    for ws in ["/ws/jobs", "/jobs/ws", "/ws/jobs/x", "/jobs/ws/x"] {
        let res = test::call_service(&app, TestRequest::get().uri(ws).to_request()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{ws}");
    }
}

#[actix_web::test]
async fn tokens_open_only_what_they_were_made_for() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let state = support::state(db.db.clone(), dir.path());
    let signer = state.tokens.clone();
    let app = app!(state);
    let file = "01939b5e-0000-7000-8000-000000000002";

    let mint = |body: serde_json::Value, key: bool| {
        let req = TestRequest::post().uri("/auth/tokens").set_json(body);
        if key {
            req.insert_header(("X-Api-Key", support::KEY)).to_request()
        } else {
            req.to_request()
        }
    };
    let res = test::call_service(&app, mint(json!({"scope": "stream"}), false)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = test::call_service(
        &app,
        mint(json!({"scope": "stream", "ttl_s": 999_999}), true),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // JSON's 60.0 is the whole number 60; 60.5 is not.
    let res = test::call_service(&app, mint(json!({"scope": "ws", "ttl_s": 60.0}), true)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = test::call_service(&app, mint(json!({"scope": "ws", "ttl_s": 60.5}), true)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = test::call_service(
        &app,
        mint(
            json!({"scope": "stream", "file_id": file, "ttl_s": 60}),
            true,
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let grant: TokenGrant = test::read_body_json(res).await;
    assert!(grant.expires_at.ends_with('Z'));
    let ws: TokenGrant =
        test::read_body_json(test::call_service(&app, mint(json!({"scope": "ws"}), true)).await)
            .await;

    let get = |uri: String| TestRequest::get().uri(&uri).to_request();
    // The right token passes the gate: the file is unknown, so the stream answers 404.
    let res = test::call_service(&app, get(format!("/stream/{file}?token={}", grant.token))).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let expired = signer.issue(
        TokenScope::Stream,
        Some(file),
        time::OffsetDateTime::now_utc() - time::Duration::seconds(1),
    );
    let tampered = grant
        .token
        .replacen(file, "01939b5e-0000-7000-8000-000000000003", 1);
    for (uri, why) in [
        (
            format!("/stream/other?token={}", grant.token),
            "another file",
        ),
        (format!("/stream/{file}?token={}", ws.token), "a ws token"),
        (format!("/stream/{file}?token={expired}"), "expired"),
        (
            format!("/stream/01939b5e-0000-7000-8000-000000000003?token={tampered}"),
            "tampered",
        ),
        (
            format!("/library?token={}", grant.token),
            "not a token route",
        ),
        (format!("/jobs?token={}", ws.token), "not a token route"),
    ] {
        let res = test::call_service(&app, get(uri.clone())).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{why}: {uri}");
        assert!(
            res.headers().contains_key(header::WWW_AUTHENTICATE),
            "{why}"
        );
        let problem: Problem = test::read_body_json(res).await;
        if why == "expired" {
            assert!(problem.detail.contains("expired"), "{}", problem.detail);
        }
        assert!(
            !problem.detail.contains(&grant.token),
            "the token is not echoed"
        );
    }
    // A ws token passes the gate of the WebSocket paths (this is no upgrade request, so the
    // handshake itself is refused, with something other than 401).
    let res = test::call_service(&app, get(format!("/ws/jobs?token={}", ws.token))).await;
    assert_ne!(res.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_wrong_key_is_refused_even_beside_a_right_one_or_a_token() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let state = support::state(db.db.clone(), dir.path());
    let signer = state.tokens.clone();
    let app = app!(state);
    let right = support::KEY;
    let bearer = |key: &str| format!("Bearer {key}");
    let get = |uri: &str, headers: &[(&str, String)]| {
        let mut req = TestRequest::get().uri(uri);
        for (name, value) in headers {
            req = req.insert_header((*name, value.as_str()));
        }
        req.to_request()
    };
    for (headers, expected) in [
        (vec![("X-Api-Key", right.to_owned())], StatusCode::OK),
        (vec![("Authorization", bearer(right))], StatusCode::OK),
        (
            vec![
                ("X-Api-Key", right.to_owned()),
                ("Authorization", bearer(right)),
            ],
            StatusCode::OK,
        ),
        (
            vec![
                ("X-Api-Key", right.to_owned()),
                ("Authorization", bearer("wrong")),
            ],
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![
                ("X-Api-Key", "wrong".to_owned()),
                ("Authorization", bearer(right)),
            ],
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![
                ("X-Api-Key", right.to_owned()),
                ("Authorization", "Digest x".to_owned()),
            ],
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        let res = test::call_service(&app, get("/jobs", &headers)).await;
        assert_eq!(res.status(), expected, "{headers:?}");
    }
    let file = "01939b5e-0000-7000-8000-000000000002";
    let token = signer.issue(
        TokenScope::Stream,
        Some(file),
        time::OffsetDateTime::now_utc() + time::Duration::minutes(5),
    );
    let uri = format!("/stream/{file}?token={token}");
    // The token passes the gate (the file is unknown: 404); a wrong key beside it does not.
    let res = test::call_service(&app, get(&uri, &[])).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = test::call_service(&app, get(&uri, &[("Authorization", bearer("wrong"))])).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn an_address_that_keeps_failing_is_refused_for_a_while() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let mut state = support::state(db.db.clone(), dir.path());
    state.auth_failures = Arc::new(FailedAuth::new(3, Duration::from_secs(60)));
    let app = app!(state);
    let from = |ip: &str, key: &str| {
        TestRequest::get()
            .uri("/jobs")
            .peer_addr(format!("{ip}:40000").parse().unwrap())
            .insert_header(("X-Api-Key", key.to_owned()))
            .to_request()
    };
    for _ in 0..3 {
        let res = test::call_service(&app, from("192.0.2.7", "guess")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    for key in ["guess", support::KEY] {
        let res = test::call_service(&app, from("192.0.2.7", key)).await;
        assert_eq!(
            res.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "even the right key waits"
        );
        let wait: u64 = res
            .headers()
            .get(header::RETRY_AFTER)
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait));
        let problem: Problem = test::read_body_json(res).await;
        assert_eq!(problem.code, "too_many_failures");
    }
    let res = test::call_service(&app, from("192.0.2.8", support::KEY)).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "other addresses are not affected"
    );
}

/// Issue 19, defect 1: a request a token authorises, between wrong keys, used to clear the
/// address's failures, so whoever held a token could guess keys without limit.
#[actix_web::test]
async fn successes_in_between_do_not_reset_the_failure_count() {
    let (db, dir) = (TestDb::sqlite().await, tempfile::tempdir().unwrap());
    let mut state = support::state(db.db.clone(), dir.path());
    state.auth_failures = Arc::new(FailedAuth::new(3, Duration::from_secs(60)));
    let signer = state.tokens.clone();
    let app = app!(state);
    let token = signer.issue(
        TokenScope::Stream,
        None,
        time::OffsetDateTime::now_utc() + time::Duration::minutes(5),
    );
    let peer = "192.0.2.9:40000".parse().unwrap();
    let guess = || {
        TestRequest::get()
            .uri("/jobs")
            .peer_addr(peer)
            .insert_header(("X-Api-Key", "guess"))
            .to_request()
    };
    let with_token = || {
        TestRequest::get()
            .uri(&format!(
                "/stream/01939b5e-0000-7000-8000-000000000002?token={token}"
            ))
            .peer_addr(peer)
            .to_request()
    };
    for _ in 0..3 {
        let res = test::call_service(&app, guess()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let res = test::call_service(&app, with_token()).await;
        assert_ne!(res.status(), StatusCode::UNAUTHORIZED, "the token passes");
    }
    let res = test::call_service(&app, guess()).await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "three failures in the window, whatever succeeded in between"
    );
}
