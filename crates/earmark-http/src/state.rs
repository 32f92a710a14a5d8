//! What every handler can reach.

use std::path::PathBuf;
use std::sync::Arc;

use earmark_core::ports::{LibraryRepo, SettingsStore};

use crate::routes::stream::StreamLookupCache;
use crate::tools::ToolProbe;

/// The shortest automatic sync interval when the deployment says none: five minutes.
pub const DEFAULT_MIN_SYNC_INTERVAL_S: u64 = 300;

/// Shared application state, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Books and their files.
    pub library: Arc<dyn LibraryRepo>,
    /// The person's settings: defaults of requests and of retries.
    pub settings: Arc<dyn SettingsStore>,
    /// Serialises settings changes (read, patch, save) within this process.
    pub settings_writes: Arc<tokio::sync::Mutex<()>>,
    /// The database backend's name (`sqlite`, `postgres`), for health reports.
    pub backend: &'static str,
    /// The absolute data directory: streams and covers are served from inside it only.
    pub data_root: PathBuf,
    /// External tool checks.
    pub tools: Arc<ToolProbe>,
    /// The job engine.
    pub engine: earmark_jobs::Engine,
    /// Job events encoded once for every WebSocket client.
    pub ws_hub: Arc<crate::routes::ws::WsHub>,
    /// Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Recently resolved `/stream` ids.
    pub stream_cache: Arc<StreamLookupCache>,
    /// Files opened for `/stream` in the last second, for the next request.
    pub open_files: Arc<crate::routes::stream::OpenFiles>,
    /// Plain views of the downloads being listened to before conversion.
    pub plain_views: Arc<crate::routes::stream::PlainViews>,
    /// Signs and checks `?token=` tokens.
    pub tokens: crate::auth::tokens::TokenSigner,
    /// Trusted networks and the origins browsers may call from.
    pub access: Arc<crate::auth::AccessPolicy>,
    /// Failed authentication attempts per client address.
    pub auth_failures: Arc<crate::auth::failures::FailedAuth>,
    /// Audible logins and audible-cli profiles.
    pub accounts: Arc<dyn earmark_core::ports::AudibleAccounts>,
    /// Logins between their two calls.
    pub logins: Arc<crate::routes::auth::audible::PendingLogins>,
    /// Writes reported positions to Audible; `None` when positions are not kept in step.
    pub position_pushes: Option<earmark_jobs::PositionPusher>,
    /// The automatic sync's schedule; `None` when this deployment runs no automatic sync.
    pub schedule: Option<Arc<dyn earmark_core::ports::ScheduleStore>>,
    /// The shortest automatic sync interval a setting may ask for, in seconds.
    pub min_sync_interval_s: u64,
    /// Webhooks; `None` when this deployment delivers none (the routes say so).
    pub webhooks: Option<Arc<dyn earmark_core::ports::WebhookStore>>,
    /// Local items; `None` when this deployment keeps none (the routes say so).
    pub local_items: Option<Arc<dyn earmark_core::ports::LocalItemStore>>,
    /// The data directory's files, for repairs; `None` when this deployment repairs nothing.
    pub disk: Option<Arc<dyn earmark_core::ports::LibraryDisk>>,
    /// The folders (resolved) that `POST /library/import` may import from; none by default.
    pub import_roots: Vec<PathBuf>,
}

impl AppState {
    /// The state over these parts, with what every deployment builds the same way made fresh:
    /// the WebSocket hub on `engine`'s events, metrics, the stream cache, the failed-attempt
    /// counter and the table of pending logins. Needs a runtime (the hub is a task).
    #[expect(clippy::too_many_arguments, reason = "every part a deployment chooses")]
    pub fn new(
        library: Arc<dyn LibraryRepo>,
        settings: Arc<dyn SettingsStore>,
        backend: &'static str,
        data_root: PathBuf,
        tools: Arc<ToolProbe>,
        engine: earmark_jobs::Engine,
        tokens: crate::auth::tokens::TokenSigner,
        accounts: Arc<dyn earmark_core::ports::AudibleAccounts>,
    ) -> Self {
        let ws_hub = crate::routes::ws::WsHub::start(engine.subscribe());
        Self {
            library,
            settings,
            settings_writes: Arc::default(),
            backend,
            data_root,
            tools,
            engine,
            ws_hub,
            metrics: Arc::default(),
            stream_cache: Arc::default(),
            open_files: Arc::default(),
            plain_views: Arc::default(),
            tokens,
            access: Arc::default(),
            auth_failures: Arc::default(),
            accounts,
            logins: Arc::default(),
            position_pushes: None,
            schedule: None,
            min_sync_interval_s: DEFAULT_MIN_SYNC_INTERVAL_S,
            webhooks: None,
            local_items: None,
            disk: None,
            import_roots: Vec::new(),
        }
    }

    /// The same state, trusting what `access` says (nothing is trusted by default).
    pub fn with_access(mut self, access: crate::auth::AccessPolicy) -> Self {
        self.access = Arc::new(access);
        self
    }

    /// The same, refusing an address (429) once it sent `per_minute` wrong keys within a
    /// minute.
    #[must_use]
    pub fn with_failed_auth_limit(mut self, per_minute: u32) -> Self {
        self.auth_failures = Arc::new(crate::auth::failures::FailedAuth::new(
            per_minute,
            std::time::Duration::from_secs(60),
        ));
        self
    }

    /// The same, telling when the automatic sync (which the deployment runs) is next due from
    /// `schedule`, and refusing intervals shorter than `min_interval_s`.
    #[must_use]
    pub fn with_schedule(
        mut self,
        schedule: Arc<dyn earmark_core::ports::ScheduleStore>,
        min_interval_s: u64,
    ) -> Self {
        self.schedule = Some(schedule);
        self.min_sync_interval_s = min_interval_s;
        self
    }

    /// The same, keeping webhooks in `webhooks` (whose deliveries the deployment runs).
    #[must_use]
    pub fn with_webhooks(mut self, webhooks: Arc<dyn earmark_core::ports::WebhookStore>) -> Self {
        self.webhooks = Some(webhooks);
        self
    }

    /// The same, keeping local items in `local_items` and comparing the database with the
    /// data directory through `disk` (whose REPAIR jobs the deployment runs).
    #[must_use]
    pub fn with_repair(
        mut self,
        local_items: Arc<dyn earmark_core::ports::LocalItemStore>,
        disk: Arc<dyn earmark_core::ports::LibraryDisk>,
    ) -> Self {
        self.local_items = Some(local_items);
        self.disk = Some(disk);
        self
    }

    /// The same, importing from the folders `roots` (resolved; IMPORT jobs run on the
    /// deployment's engine).
    #[must_use]
    pub fn with_import_roots(mut self, roots: Vec<PathBuf>) -> Self {
        self.import_roots = roots;
        self
    }

    /// The same, writing reported positions to Audible through `pushes` (`None`: positions
    /// are not kept in step, and `POST /library/positions/sync` says so).
    #[must_use]
    pub fn with_position_pushes(mut self, pushes: Option<earmark_jobs::PositionPusher>) -> Self {
        self.position_pushes = pushes;
        self
    }
}
