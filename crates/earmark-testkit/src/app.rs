//! The application in process, for HTTP tests and benchmarks: a state on a real database and
//! a data directory of the test's, with an engine running the handlers given.

use std::collections::HashMap;
use std::sync::Arc;

use earmark_core::TaskType;
use earmark_core::ports::JobHandler;
use earmark_http::state::AppState;
use earmark_http::tools::{ToolPaths, ToolProbe};

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
    for sub in ["logs", "tmp", "downloads", "converted"] {
        std::fs::create_dir_all(dir.join(sub)).expect("data dir");
    }
    let root = std::fs::canonicalize(dir).expect("data dir");
    let mut config = earmark_jobs::EngineConfig::new(root.join("logs"), root.join("tmp"), 2, 1);
    config.poll_interval = std::time::Duration::from_millis(100);
    let engine = earmark_jobs::Engine::new(db.jobs.clone(), handlers, config);
    state_over(&db, root, engine)
}

/// State over `db`, the data directory `root` (absolute, already laid out) and `engine`; no
/// tool is found and no Audible account answers; local items and repairs on `db` and `root`.
pub fn state_over(
    db: &earmark_db::Database,
    root: std::path::PathBuf,
    engine: earmark_jobs::Engine,
) -> AppState {
    let disk = Arc::new(earmark_disk::FsLibraryDisk::new(&root));
    AppState::new(
        db.library.clone(),
        db.settings.clone(),
        db.backend.name(),
        root,
        Arc::new(ToolProbe::new(ToolPaths {
            ffmpeg: "/nonexistent/ffmpeg".into(),
            audible_cli: "/nonexistent/audible".into(),
            aaxtomp3: None,
        })),
        engine,
        earmark_http::auth::tokens::TokenSigner::new([42; 32]),
        Arc::new(earmark_audible::AccountHelper {
            cli: "/nonexistent/audible".into(),
            python: "/nonexistent/python".into(),
            script: "/nonexistent/helper.py".into(),
            config_dir: "/nonexistent".into(),
            timeout: std::time::Duration::from_secs(5),
        }),
    )
    .with_repair(db.local_items.clone(), disk)
}

/// The application for `state`, unlocked by [`KEY`], as actix's test service (await it).
#[macro_export]
macro_rules! app {
    ($state:expr) => {
        actix_web::test::init_service(earmark_http::app::build(
            $state,
            earmark_http::auth::ApiKeyHash::of($crate::app::KEY),
        ))
        .await
    };
}
