//! Starting and stopping the service: the composition root's run-time half.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use earmark_audible::{AudibleCli, AudibleDownloader, AudibleLibrary, AudiblePositionsApi};
use earmark_convert::{AaxToMp3Converter, Ffmpeg, FfmpegConverter, FfprobeTags, FsOutputStore};
use earmark_core::TaskType;
use earmark_core::conversion::ConvertBook;
use earmark_core::domain::webhook::RetryPolicy;
use earmark_core::download::DownloadBook;
use earmark_core::import::{ImportLibrary, ImportTargets};
use earmark_core::library_sync::LibrarySync;
use earmark_core::ports::{AudibleAccounts, Converter, JobHandler, Notifier};
use earmark_core::positions::PositionSync;
use earmark_core::repair::{RepairLibrary, SurveyPorts};
use earmark_jobs::{Engine, EngineConfig};
use earmark_jobs::{PositionPusher, PushPacing};

use crate::config::{ConverterEngine, ConverterSettings, Settings};
use crate::data_dir::DataDir;
use crate::listen;
use earmark_http::auth::AccessPolicy;
use earmark_http::auth::api_key::{self, ApiKeySetupError};
use earmark_http::state::AppState;
use earmark_http::tools::{ToolPaths, ToolProbe};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("cannot prepare the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    /// The API key could not be set up.
    #[error(transparent)]
    ApiKey(#[from] ApiKeySetupError),
    /// A trusted network or a CORS origin is not written right.
    #[error(transparent)]
    Access(#[from] earmark_http::auth::access::AccessError),
    /// The token secret could not be set up.
    #[error(transparent)]
    TokenSecret(#[from] earmark_http::auth::tokens::SecretError),
    /// The database could not be opened.
    #[error(transparent)]
    Database(#[from] earmark_db::DbError),
    /// The settings table could not be read.
    #[error("cannot read the saved settings: {0}")]
    Settings(#[from] earmark_core::ports::SettingsStoreError),
    /// Start-up recovery of interrupted jobs failed.
    #[error("cannot recover interrupted jobs: {0}")]
    Recovery(#[from] earmark_jobs::EngineError),
    /// No listener could be made on the configured address.
    #[error("cannot listen on {0}: {1}; {hint}", hint = bind_hint(.1))]
    Bind(String, std::io::Error),
    /// The server failed.
    #[error("cannot serve on {0}: {1}")]
    Serve(String, std::io::Error),
}

/// What to do about a listener that could not be made.
fn bind_hint(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => {
            "another program (or another earmark) is listening there: stop it, or set \
             EARMARK__SERVER__BIND to a free address such as 127.0.0.1:8081"
        }
        std::io::ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges: set EARMARK__SERVER__BIND to a port above 1023"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "this machine has no such address: set EARMARK__SERVER__BIND to one of its own \
             (127.0.0.1 for this machine only, 0.0.0.0 for every interface)"
        }
        _ => "check EARMARK__SERVER__BIND (host:port, e.g. 127.0.0.1:8080)",
    }
}

/// Opens everything `settings` names and serves until SIGINT or SIGTERM, then lets in-flight
/// requests finish.
///
/// Prints `API key: <key>` when a key was generated, and `Listening on http://<addr>` for
/// each bound address, on standard output.
///
/// # Errors
/// [`StartError`] saying what could not be set up.
pub async fn run(settings: Settings) -> Result<(), StartError> {
    let access = access_policy(&settings)?;
    let data_dir = DataDir::prepare(&settings.data_dir)
        .map_err(|e| StartError::DataDir(settings.data_dir.display().to_string(), e))?;
    let _only_user = data_dir
        .lock()
        .map_err(|e| StartError::DataDir(data_dir.root().display().to_string(), e))?;
    // Tools a crash of the last run left behind: nothing of theirs is wanted any more (their
    // jobs are re-queued below), and they would otherwise run to their own timeout.
    let ledger = earmark_process::Ledger::new(data_dir.running_tools());
    let reaped = ledger.reap();
    if !reaped.is_empty() {
        tracing::warn!(process_groups = ?reaped, "stopped tools that the last run left running");
    }
    earmark_process::set_ledger(ledger);
    let (key, generated) =
        api_key::load_or_create(data_dir.root(), settings.auth.api_key.as_deref())?;
    if let Some(key) = generated {
        println!("API key: {key}");
        println!(
            "(shown once; only its hash is stored in {})",
            data_dir.root().join(api_key::KEY_HASH_FILE).display()
        );
    }

    let url = settings.database_url();
    let pool = earmark_db::PoolSettings {
        max_connections: settings.database.max_connections.max(1),
        ..Default::default()
    };
    let db = earmark_db::connect(&url, &pool).await?;
    tracing::info!(backend = db.backend.name(), data_dir = %data_dir.root().display(), "database ready");

    let tools = Arc::new(ToolProbe::new(ToolPaths {
        ffmpeg: settings.converter.ffmpeg.clone(),
        audible_cli: settings.audible.cli.clone(),
        aaxtomp3: settings.converter.aaxtomp3.clone(),
    }));
    let accounts = Arc::new(earmark_audible::AccountHelper {
        cli: settings.audible.cli.clone(),
        // The helper runs on audible-cli's own Python, beside its `audible` script.
        python: settings.audible.cli.with_file_name("python"),
        script: settings.audible.helper.clone(),
        config_dir: settings.audible_config_dir(),
        timeout: Duration::from_secs(120),
    });
    let positions = settings.audible.sync_positions.then(|| {
        Arc::new(PositionSync::new(
            Arc::new(AudiblePositionsApi::new(audible_cli(&settings))),
            db.library.clone(),
        ))
    });
    if positions.is_none() {
        tracing::info!(
            "listening positions are not kept in step with Audible (EARMARK__AUDIBLE__SYNC_POSITIONS=false)"
        );
    }
    let webhooks = earmark_webhooks::Webhooks::start(
        db.webhooks.clone(),
        Arc::new(earmark_webhooks::HttpSender::new(Duration::from_secs(
            settings.webhooks.timeout_s.max(1),
        ))),
        RetryPolicy {
            first: Duration::from_millis(settings.webhooks.retry_ms.max(1)),
            give_up_after: Duration::from_secs(settings.webhooks.give_up_after_s),
            ..RetryPolicy::default()
        },
    );
    let engine = start_engine(
        &settings,
        &db,
        &data_dir,
        accounts.clone(),
        positions.clone(),
        Arc::new(webhooks.clone()),
    )
    .await?;
    earmark_webhooks::forward_job_events(engine.subscribe(), webhooks);
    let pushes = positions.map(|sync| {
        PositionPusher::start(
            sync,
            PushPacing {
                delay: Duration::from_millis(settings.audible.position_push_delay_ms)
                    .min(earmark_jobs::MAX_DELAY),
                retry: Duration::from_millis(settings.audible.position_retry_ms.max(1)),
                ..PushPacing::default()
            },
        )
    });
    earmark_jobs::start_auto_sync(
        Arc::new(engine.clone()),
        db.settings.clone(),
        db.schedule.clone(),
        earmark_jobs::AutoSyncPacing {
            min_interval: Duration::from_secs(settings.schedule.min_interval_s),
            ..earmark_jobs::AutoSyncPacing::default()
        },
    );
    let tokens = earmark_http::auth::tokens::TokenSigner::load_or_create(data_dir.root())?;
    let state = AppState::new(
        db.library.clone(),
        db.settings.clone(),
        db.backend.name(),
        data_dir.root().to_owned(),
        tools,
        engine,
        tokens,
        accounts,
    )
    .with_access(access)
    .with_failed_auth_limit(settings.auth.failed_attempts_per_minute)
    .with_position_pushes(pushes)
    .with_schedule(db.schedule.clone(), settings.schedule.min_interval_s)
    .with_webhooks(db.webhooks.clone())
    .with_repair(db.local_items.clone(), library_disk(&data_dir))
    .with_import_roots(import_roots(&settings.library.import_roots));

    let bind = settings.server.bind.clone();
    let listeners = listen::bind(&bind).map_err(|e| StartError::Bind(bind.clone(), e))?;
    let addrs: Vec<_> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    let grace = settings
        .server
        .shutdown_timeout_s
        .min(crate::config::MAX_SHUTDOWN_GRACE_S);
    let server = listen::serve(
        listeners,
        move || earmark_http::app::build(state.clone(), key.clone()),
        grace,
    )
    .map_err(|e| StartError::Serve(bind.clone(), e))?;
    end_within_bound_once_asked(Duration::from_secs(grace + 2));
    for addr in addrs {
        println!("Listening on http://{addr}");
    }
    server.await.map_err(|e| StartError::Serve(bind, e))?;
    // Jobs are not waited for: their tools stop with the server and the next start recovers
    // them, as after a crash.
    let tools = earmark_process::kill_recorded_tools();
    tracing::info!(tools_stopped = tools.len(), "stopped");
    Ok(())
}

/// On SIGTERM or SIGINT, ends the process `bound` later if it has not ended by then, whatever
/// it is waiting for (a connection that does not close, a blocking call, a stopped tool):
/// tools are killed first, their jobs stay for recovery at the next start.
fn end_within_bound_once_asked(bound: Duration) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot watch for SIGTERM: a stop is bounded only by the server's grace");
        return;
    };
    actix_web::rt::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        std::thread::spawn(move || {
            std::thread::sleep(bound);
            let tools = earmark_process::kill_recorded_tools();
            tracing::warn!(
                after_s = bound.as_secs(),
                tools_stopped = tools.len(),
                "still not stopped: ending now; interrupted jobs are recovered at the next start"
            );
            std::process::exit(1);
        });
    });
}

/// Who needs no key and which web pages may call, as configured; said in the log, since it
/// opens the API.
fn access_policy(settings: &Settings) -> Result<AccessPolicy, StartError> {
    let access = AccessPolicy::new(
        settings.auth.trusted_networks.iter().map(String::as_str),
        settings.server.cors_origins.iter().map(String::as_str),
    )?;
    let networks: Vec<String> = access
        .trusted_networks()
        .iter()
        .map(ToString::to_string)
        .collect();
    if networks.is_empty() {
        tracing::info!("no trusted network: every request needs the API key");
    } else {
        tracing::warn!(networks = ?networks, "requests from these networks need no API key");
    }
    if !access.origins().is_empty() {
        tracing::info!(origins = ?access.origins(), "web pages from these origins may call the API");
    }
    Ok(access)
}

/// audible-cli as the settings place it, for calls that are not downloads.
fn audible_cli(settings: &Settings) -> AudibleCli {
    AudibleCli {
        program: settings.audible.cli.clone(),
        config_dir: settings.audible_config_dir(),
        timeout: Duration::from_secs(settings.audible.timeout_s.max(1)),
    }
}

/// The job engine with the handlers this build has, after recovering what a crash interrupted.
async fn start_engine(
    settings: &Settings,
    db: &earmark_db::Database,
    data_dir: &DataDir,
    accounts: Arc<dyn AudibleAccounts>,
    positions: Option<Arc<PositionSync>>,
    notifier: Arc<dyn Notifier>,
) -> Result<Engine, StartError> {
    let mut config = EngineConfig::new(
        data_dir.root().join("logs"),
        data_dir.tmp(),
        settings.jobs.download_concurrency,
        settings.jobs.convert_concurrency,
    );
    config.back_off.throttled = Duration::from_secs(settings.jobs.throttled_backoff_s.max(1));
    config.back_off.transient = Duration::from_secs(settings.jobs.transient_backoff_s.max(1));
    earmark_process::set_default_niceness(settings.jobs.tool_niceness);
    let audible = audible_cli(settings);
    let mut library_sync = LibrarySync::new(
        Arc::new(AudibleLibrary::new(audible.clone())),
        db.library.clone(),
    );
    if let Some(positions) = positions {
        library_sync = library_sync.with_positions(positions);
    }
    library_sync = library_sync
        .with_new_books(db.settings.clone())
        .with_notifier(notifier);
    let sync: Arc<dyn JobHandler> = Arc::new(library_sync);
    let downloading = AudibleCli {
        timeout: Duration::from_secs(settings.audible.download_timeout_s.max(1)),
        ..audible
    };
    let download: Arc<dyn JobHandler> = Arc::new(DownloadBook::new(
        Arc::new(AudibleDownloader::new(
            downloading,
            settings.audible.http_timeout_s.max(1),
        )),
        Arc::new(FsOutputStore::new(data_dir.root().join("downloads"))),
        db.library.clone(),
        db.jobs.clone(),
        (settings.audible.daily_download_limit > 0)
            .then_some(settings.audible.daily_download_limit),
    ));
    let convert: Arc<dyn JobHandler> = Arc::new(ConvertBook::new(
        converter(&settings.converter),
        Arc::new(FsOutputStore::new(data_dir.root().join("converted"))),
        db.library.clone(),
        accounts,
    ));
    let repair: Arc<dyn JobHandler> = Arc::new(RepairLibrary::new(
        SurveyPorts {
            library: db.library.clone(),
            local_items: db.local_items.clone(),
            disk: library_disk(data_dir),
            jobs: db.jobs.clone(),
        },
        db.settings.clone(),
    ));
    let import: Arc<dyn JobHandler> = Arc::new(ImportLibrary::new(
        db.library.clone(),
        db.local_items.clone(),
        library_disk(data_dir),
        Arc::new(FfprobeTags::new(Ffmpeg::new(
            settings.converter.ffmpeg.clone(),
        ))),
        Arc::new(FsOutputStore::new(data_dir.root().join("converted"))),
        db.settings.clone(),
        ImportTargets {
            converted: data_dir.root().join("converted").display().to_string(),
            downloads: data_dir.root().join("downloads").display().to_string(),
        },
    ));
    let handlers: HashMap<TaskType, Arc<dyn JobHandler>> = HashMap::from([
        (TaskType::Sync, sync),
        (TaskType::Download, download),
        (TaskType::Convert, convert),
        (TaskType::Repair, repair),
        (TaskType::Import, import),
    ]);
    let engine = Engine::new(db.jobs.clone(), handlers, config);
    // The person's retry settings hold from the first job on, the recovered ones included.
    engine.set_max_attempts(db.settings.load().await?.max_attempts());
    let report = engine.recover().await?;
    if !report.requeued.is_empty() || !report.failed.is_empty() {
        tracing::info!(
            requeued = report.requeued.len(),
            failed = report.failed.len(),
            "recovered interrupted jobs"
        );
    }
    // Books that a crash left marked as worked on, with no job working on them.
    match earmark_core::book_life::mend_books(db.library.as_ref(), db.jobs.as_ref()).await {
        Ok(mended) if !mended.is_empty() => {
            tracing::info!(books = ?mended, "set right books whose jobs a crash interrupted");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot check books that a crash may have left behind")
        }
    }
    engine.start();
    Ok(engine)
}

/// The configured import roots, resolved; one that does not resolve is left out, saying so
/// (a share not mounted yet must not stop the server).
fn import_roots(configured: &[String]) -> Vec<std::path::PathBuf> {
    configured
        .iter()
        .map(|root| root.trim())
        .filter(|root| !root.is_empty())
        .filter_map(|root| match std::fs::canonicalize(root) {
            Ok(resolved) if resolved.is_dir() => Some(resolved),
            Ok(_) | Err(_) => {
                tracing::warn!(
                    root,
                    "import root left out: it is not a folder this server can read"
                );
                None
            }
        })
        .collect()
}

/// The data directory's files as a repair sees them.
fn library_disk(data_dir: &DataDir) -> Arc<dyn earmark_core::ports::LibraryDisk> {
    Arc::new(earmark_disk::FsLibraryDisk::new(data_dir.root()))
}

/// The conversion engine the settings choose: AAXtoMP3 when asked for (or, with `auto`,
/// when a script is configured), else ffmpeg directly.
fn converter(settings: &ConverterSettings) -> Arc<dyn Converter> {
    let tools = Ffmpeg::new(settings.ffmpeg.clone());
    let timeout = Duration::from_secs(settings.timeout_s.max(1));
    match (settings.engine, &settings.aaxtomp3) {
        (ConverterEngine::Aaxtomp3 | ConverterEngine::Auto, Some(script)) => {
            Arc::new(AaxToMp3Converter::new(script.clone(), tools, timeout))
        }
        (ConverterEngine::Aaxtomp3, None) => {
            tracing::warn!(
                "converter.engine is aaxtomp3 but EARMARK__CONVERTER__AAXTOMP3 is not set: converting with ffmpeg"
            );
            Arc::new(FfmpegConverter::new(tools, timeout))
        }
        (ConverterEngine::Ffmpeg | ConverterEngine::Auto, _) => {
            Arc::new(FfmpegConverter::new(tools, timeout))
        }
    }
}
