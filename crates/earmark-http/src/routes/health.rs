//! `/healthz`: liveness and readiness with the reasons behind them.

use actix_web::{HttpResponse, route, web};
use serde::Serialize;

use crate::disk::DiskStatus;
use crate::state::AppState;
use crate::tools::ToolStatus;

/// The health report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`; `degraded` (serving, but a required tool is missing); `unavailable` (the
    /// database or the data directory fails: not ready).
    pub status: String,
    /// earmark's version.
    pub version: String,
    /// The database.
    pub database: DatabaseStatus,
    /// The data directory.
    pub data_dir: DiskStatus,
    /// External tools.
    pub tools: Vec<ToolStatus>,
}

/// The database part of the report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DatabaseStatus {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Whether it answered a query just now.
    pub reachable: bool,
    /// Why not.
    pub error: Option<String>,
}

/// Liveness and readiness: 200 when the database answers and the data directory takes
/// writes, 503 otherwise. Needs no API key.
#[utoipa::path(
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "Ready (possibly degraded: see `tools`)", body = Health),
        (status = 503, description = "Not ready: database or data directory failing", body = Health),
    )
)]
#[route("/healthz", method = "GET", method = "HEAD")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    report(&state).await
}

/// The same report at the path the web client's server checks (its `/api/health` asks
/// earmark's `/health`): like every route but `/healthz`, it needs the key or a trusted
/// network.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Ready (possibly degraded: see `tools`)", body = Health),
        (status = 503, description = "Not ready: database or data directory failing", body = Health),
    )
)]
#[route("/health", method = "GET", method = "HEAD")]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    report(&state).await
}

/// Liveness alone: `{"status":"ok"}` while the process serves, whatever the database does
/// (what the web client's start-up scripts wait for).
#[utoipa::path(tag = "health", responses((status = 200, body = Live)))]
#[route("/health/live", method = "GET", method = "HEAD")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Live {
        status: "ok".into(),
    })
}

/// The liveness answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Live {
    /// Always `ok`.
    pub status: String,
}

async fn report(state: &AppState) -> HttpResponse {
    let root = state.data_root.clone();
    let (ping, disk, tools) = tokio::join!(
        state.library.ping(),
        async move {
            web::block(move || crate::disk::probe(&root))
                .await
                .unwrap_or_else(|e| DiskStatus {
                    path: String::new(),
                    writable: false,
                    free_bytes: 0,
                    total_bytes: 0,
                    error: Some(e.to_string()),
                })
        },
        state.tools.statuses(),
    );
    let database = DatabaseStatus {
        backend: state.backend.to_owned(),
        reachable: ping.is_ok(),
        error: ping.err().map(|e| e.to_string()),
    };
    let ready = database.reachable && disk.writable;
    let tools_ok = tools.iter().all(|t| t.found || !t.required);
    let status = match (ready, tools_ok) {
        (false, _) => "unavailable",
        (true, false) => "degraded",
        (true, true) => "ok",
    };
    let body = Health {
        status: status.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        database,
        data_dir: disk,
        tools,
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
