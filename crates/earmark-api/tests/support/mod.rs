//! What the in-process HTTP tests share: an application state on a real database.
#![allow(
    dead_code,
    unused_macros,
    reason = "each test file uses a different part"
)]
#![expect(clippy::expect_used, reason = "test support fails by panicking")]

use std::collections::HashMap;
use std::sync::Arc;

use earmark_api::data_dir::DataDir;
use earmark_api::state::AppState;
use earmark_api::tools::{ToolPaths, ToolProbe};
use earmark_core::TaskType;
use earmark_core::ports::JobHandler;

/// The API key the test applications accept.
pub const KEY: &str = "emk_test-key";

/// State over `db` and a data directory in `dir`, with an engine that runs nothing.
pub fn state(db: earmark_db::Database, dir: &std::path::Path) -> AppState {
    state_with_handlers(db, dir, HashMap::new())
}

/// State whose engine runs `handlers` (not started: call `state.engine.start()`).
pub fn state_with_handlers(
    db: earmark_db::Database,
    dir: &std::path::Path,
    handlers: HashMap<TaskType, Arc<dyn JobHandler>>,
) -> AppState {
    let data_dir = DataDir::prepare(dir).expect("data dir");
    let mut config =
        earmark_jobs::EngineConfig::new(data_dir.root().join("logs"), data_dir.tmp(), 2, 1);
    config.poll_interval = std::time::Duration::from_millis(100);
    let engine = earmark_jobs::Engine::new(db.jobs.clone(), db.library.clone(), handlers, config);
    AppState::new(
        db,
        data_dir,
        Arc::new(ToolProbe::new(ToolPaths {
            ffmpeg: "/nonexistent/ffmpeg".into(),
            audible_cli: "/nonexistent/audible".into(),
            aaxtomp3: None,
        })),
        engine,
        earmark_api::auth::tokens::TokenSigner::new([42; 32]),
        Arc::new(earmark_audible::AccountHelper {
            cli: "/nonexistent/audible".into(),
            python: "/nonexistent/python".into(),
            script: "/nonexistent/helper.py".into(),
            config_dir: "/nonexistent".into(),
            timeout: std::time::Duration::from_secs(5),
        }),
    )
}

/// The application for `state`, unlocked by [`KEY`].
macro_rules! app {
    ($state:expr) => {
        actix_web::test::init_service(earmark_api::app::build(
            $state,
            earmark_api::auth::ApiKeyHash::of(support::KEY),
        ))
        .await
    };
}
