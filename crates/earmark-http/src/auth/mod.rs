//! Who may call the API: the key check every route but the public ones passes through.

pub mod access;
pub mod api_key;
pub mod failures;
pub mod tokens;

use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use actix_web::middleware::Next;
use actix_web::web;
use base64::Engine;

pub use access::{AccessPolicy, Keyless};
pub use api_key::ApiKeyHash;

use crate::error::ApiError;
use crate::state::AppState;

/// Routes anyone may call: liveness and the API's own documentation.
pub fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/openapi.json" | "/docs") || path.starts_with("/docs/")
}

/// The keys a request presents, one per place: `X-Api-Key: <key>`, and `Authorization:
/// Bearer <key>` or HTTP Basic with the key as password (any user name). An `Authorization`
/// that cannot be read as either is presented too, as `None`: a credential nobody can check
/// is a wrong one, not an absent one.
pub fn presented_keys(headers: &HeaderMap) -> Vec<Option<String>> {
    let mut keys = Vec::new();
    for value in headers.get_all("x-api-key") {
        keys.push(value.to_str().ok().map(|key| key.trim().to_owned()));
    }
    for value in headers.get_all(AUTHORIZATION) {
        keys.push(value.to_str().ok().and_then(authorization_key));
    }
    keys
}

/// The key in an `Authorization` value: Bearer, or Basic's password.
fn authorization_key(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_user, password) = text.split_once(':')?;
        return Some(password.to_owned());
    }
    None
}

/// The `token` query parameter, if any.
fn query_token(query: &str) -> Option<String> {
    web::Query::<std::collections::HashMap<String, String>>::from_query(query)
        .ok()?
        .into_inner()
        .remove("token")
}

/// Whether `req` may pass: every key it presents is the API key, and it presents one, or (on
/// stream and WebSocket paths) a valid token, or comes from a trusted network (unless a
/// foreign web page sent it). A wrong key is refused even beside a right one or a token, so
/// a credential that stopped being valid is noticed rather than silently outranked.
fn authenticate(req: &ServiceRequest, state: &AppState) -> Result<(), ApiError> {
    let keys = presented_keys(req.headers());
    let hash = req.app_data::<web::Data<ApiKeyHash>>();
    let all_right = keys.iter().all(|key| {
        key.as_deref()
            .is_some_and(|key| hash.is_some_and(|hash| hash.matches(key)))
    });
    if !all_right {
        return Err(ApiError::Unauthorized);
    }
    if let Some((scope, target)) = tokens::token_route(req.path())
        && let Some(token) = query_token(req.query_string())
    {
        return Ok(state
            .tokens
            .verify(&token, scope, target, time::OffsetDateTime::now_utc())?);
    }
    if !keys.is_empty() {
        return Ok(());
    }
    let peer = req.peer_addr().map(|a| a.ip());
    match state.access.keyless(peer, req.headers()) {
        Keyless::Allowed => Ok(()),
        Keyless::ForeignOrigin => Err(ApiError::ForeignOrigin),
        Keyless::Untrusted => Err(ApiError::Unauthorized),
    }
}

/// Middleware: lets public routes through and everything else only with the API key (or, on
/// `/stream` and the WebSocket paths, a `?token=`); a refused request is answered here with a
/// 401 problem document, and an address that fails too often with 429.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn require_api_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !is_public(req.path()) {
        let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
            // Fail closed: without the state nothing can be checked.
            let refusal = ApiError::Unauthorized.error_response();
            return Ok(req.into_response(refusal).map_into_right_body());
        };
        // A trusted network is never locked out, nor counted against.
        let ip = req
            .peer_addr()
            .map(|a| a.ip())
            .filter(|ip| !state.access.is_trusted(*ip));
        let refusal = match ip.and_then(|ip| state.auth_failures.blocked(ip)) {
            Some(wait) => Some(ApiError::TooManyFailures(wait.as_secs().max(1))),
            None => authenticate(&req, &state).err(),
        };
        // Failures only age out: a success (a `?token=` for one) must not let whoever holds
        // it guess keys without limit.
        if let Some(ip) = ip
            && refusal
                .as_ref()
                .is_some_and(|r| !matches!(r, ApiError::TooManyFailures(_)))
        {
            state.auth_failures.failed(ip);
        }
        if let Some(refusal) = refusal {
            return Ok(req
                .into_response(refusal.error_response())
                .map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).unwrap(),
        );
        map
    }

    fn keys(headers: &HeaderMap) -> Vec<Option<String>> {
        presented_keys(headers)
    }

    #[test]
    fn reads_all_three_forms() {
        assert_eq!(
            keys(&headers("authorization", "Bearer k1")),
            [Some("k1".to_owned())]
        );
        assert_eq!(
            keys(&headers("authorization", "bearer  k1 ")),
            [Some("k1".to_owned())]
        );
        assert_eq!(keys(&headers("x-api-key", "k2")), [Some("k2".to_owned())]);
        let basic = base64::engine::general_purpose::STANDARD.encode("anyone:k3:with-colon");
        assert_eq!(
            keys(&headers("authorization", &format!("Basic {basic}"))),
            [Some("k3:with-colon".to_owned())]
        );
        assert!(keys(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn an_unreadable_authorization_is_presented_as_a_wrong_key() {
        assert_eq!(keys(&headers("authorization", "Digest abc")), [None]);
        assert_eq!(keys(&headers("authorization", "Basic !!!")), [None]);
        assert_eq!(keys(&headers("authorization", "Bearer")), [None]);
    }

    #[test]
    fn every_place_presents_its_own_key() {
        let mut both = headers("x-api-key", "k1");
        both.insert(AUTHORIZATION, HeaderValue::from_static("Bearer k2"));
        assert_eq!(keys(&both), [Some("k1".to_owned()), Some("k2".to_owned())]);
    }

    #[test]
    fn only_health_and_docs_are_public() {
        for public in [
            "/healthz",
            "/openapi.json",
            "/docs",
            "/docs/",
            "/docs/index.css",
        ] {
            assert!(is_public(public), "{public}");
        }
        for private in ["/", "/library", "/healthz/x", "/docsx", "/openapi.json/x"] {
            assert!(!is_public(private), "{private}");
        }
    }
}
