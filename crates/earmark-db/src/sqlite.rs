//! The SQLite adapter: a bundled SQLite behind diesel-async's `SyncConnectionWrapper`.
//!
//! Every connection runs in WAL mode with a busy timeout and foreign keys on; every write
//! transaction starts with `BEGIN IMMEDIATE`, so writers queue for the lock at BEGIN instead
//! of failing with SQLITE_BUSY when they try to upgrade a read lock.

use std::sync::atomic::{AtomicI64, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::PoolSettings;
use crate::error::StoreError;
use crate::files_impl::impl_file_queries;
use crate::jobs_impl::{impl_job_queue, jobs_matching, jobs_page};
use crate::library_browse::impl_library_browse;
use crate::library_impl::impl_library_repo;
use crate::local_items_impl::impl_local_item_store;
use crate::positions_impl::impl_position_queries;
use crate::schedule_impl::impl_schedule_store;
use crate::settings_impl::impl_settings_store;
use crate::sql_types::DbTime;
use crate::store_writes::impl_store_writes;
use crate::webhook_impl::impl_webhook_store;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Run on every new connection. `busy_timeout` comes first: the other pragmas may need a lock
/// that a busy writer holds, and without the timeout they would fail at once.
///
/// Checkpoints: by default the request that commits the 1000th WAL page copies the WAL into
/// the database and syncs it (a player's progress report then waits 5 ms and more). Here
/// [`checkpoint_in_background`] copies the WAL twice a second on a connection of its own, and
/// a committing connection checkpoints only past 2000 pages: by then the background has copied
/// nearly everything, and its checkpoint, which always runs right after a commit, lets the next
/// writer start the WAL over even under a stream of writes that never pauses (the background
/// one, racing those writers, rarely can).
const CONNECTION_PRAGMAS: &str = "PRAGMA busy_timeout = 15000; \
     PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; \
     PRAGMA wal_autocheckpoint = 2000; \
     PRAGMA foreign_keys = ON;";

/// How often the background checkpoint runs.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Checkpoints the WAL every [`CHECKPOINT_EVERY`] on a connection of its own, so that
/// requests rarely pay for it: `PASSIVE` never waits for readers or writers, and a WAL that
/// every frame of was copied starts over at the next commit. Ends when the store is dropped.
fn checkpoint_in_background(pool: &Pool<SqliteConn>) {
    let pool = pool.weak();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(pool) = pool.upgrade() else { return };
            let Ok(mut conn) = pool.get().await else {
                continue;
            };
            drop(pool);
            if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);").await {
                tracing::warn!(error = %e, "checkpointing the SQLite WAL failed");
            }
        }
    });
}

/// An async SQLite connection.
pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// The library and the job queue in one SQLite file.
pub struct SqliteStore {
    pool: Pool<SqliteConn>,
    /// Last time handed out by [`SqliteStore::tick`], in µs: the change feed needs a clock
    /// that never goes back, even when the wall clock does.
    last_tick: AtomicI64,
}

impl SqliteStore {
    /// Creates (if needed) and migrates the database file at `path`, then opens a pool on it.
    ///
    /// # Errors
    /// When the file cannot be opened or a migration fails.
    pub async fn open(path: &str, settings: &PoolSettings) -> Result<Self, crate::DbError> {
        let target = path.to_owned();
        tokio::task::spawn_blocking(move || migrate(&target))
            .await
            .map_err(|e| crate::DbError::Migrate(e.to_string()))??;

        let mut config = ManagerConfig::<SqliteConn>::default();
        // A failed query marks a connection broken; a probe query on every checkout would cost
        // a trip to the blocking pool per database call.
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(|url| {
            let url = url.to_owned();
            Box::pin(async move {
                let mut conn = SqliteConn::establish(&url).await?;
                conn.batch_execute(CONNECTION_PRAGMAS)
                    .await
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(conn)
            })
        });
        let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(path, config);
        let pool = settings.build_pool(manager)?;
        checkpoint_in_background(&pool);
        Ok(Self {
            pool,
            last_tick: AtomicI64::new(0),
        })
    }

    async fn conn(&self) -> Result<Object<SqliteConn>, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// The number of jobs `filter` selects and its page of them, newest first. Both queries
    /// run in one trip to the blocking pool (each query on its own would be one trip).
    async fn job_page(
        &self,
        filter: earmark_core::JobFilter,
    ) -> Result<(i64, Vec<crate::rows::JobRow>), StoreError> {
        use diesel::{QueryDsl, RunQueryDsl};

        let mut conn = self.conn().await?;
        let page = conn.spawn_blocking(move |c| {
            let total: i64 = jobs_matching!(diesel::sqlite::Sqlite, &filter)
                .count()
                .get_result(c)?;
            let rows = jobs_page!(diesel::sqlite::Sqlite, &filter).load(c)?;
            Ok((total, rows))
        });
        Ok(page.await?)
    }

    /// The wall clock, but strictly after every time this store handed out before.
    fn tick(&self) -> DbTime {
        let now = DbTime::now().unix_micros();
        let mut last = self.last_tick.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self.last_tick.compare_exchange_weak(
                last,
                next,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return DbTime::from_unix_micros(next),
                Err(seen) => last = seen,
            }
        }
    }

    /// Inside a `BEGIN IMMEDIATE` transaction no other writer is in flight: the stamp is later
    /// than any watermark handed out before.
    async fn write_clock(&self, _c: &mut SqliteConn) -> Result<DbTime, StoreError> {
        Ok(self.tick())
    }

    /// The change feed reads under `BEGIN IMMEDIATE` too: holding the write lock, it sees every
    /// committed write, and every later write is stamped after this watermark.
    async fn read_watermark(&self, _c: &mut SqliteConn) -> Result<DbTime, StoreError> {
        Ok(self.tick())
    }

    /// New books row by row: diesel-async has no batch insert for SQLite, and inside one
    /// transaction each row is a cheap in-process call.
    async fn insert_books(
        &self,
        c: &mut SqliteConn,
        rows: &[crate::rows::BookRow],
    ) -> Result<(), StoreError> {
        use diesel_async::RunQueryDsl;
        for row in rows {
            diesel::insert_into(crate::schema::books::table)
                .values(row)
                .execute(c)
                .await?;
        }
        Ok(())
    }
}

impl_library_browse! {
    store = SqliteStore,
    backend = diesel::sqlite::Sqlite,
}

impl_settings_store! {
    store = SqliteStore,
}

impl_schedule_store! {
    store = SqliteStore,
}

impl_webhook_store! {
    store = SqliteStore,
    write_txn = immediate_transaction,
}

impl_library_repo! {
    store = SqliteStore,
    backend = diesel::sqlite::Sqlite,
    write_txn = immediate_transaction,
}

impl_position_queries! {
    store = SqliteStore,
    write_txn = immediate_transaction,
}

impl_file_queries! {
    store = SqliteStore,
    write_txn = immediate_transaction,
}

impl_local_item_store! {
    store = SqliteStore,
    backend = diesel::sqlite::Sqlite,
}

impl_store_writes! {
    store = SqliteStore,
    backend = diesel::sqlite::Sqlite,
    conn = SqliteConn,
}

impl_job_queue! {
    store = SqliteStore,
    backend = diesel::sqlite::Sqlite,
    conn = SqliteConn,
    write_txn = immediate_transaction,
    claim_lock = {},
}

/// Creates or brings up to date the SQLite database at `path`.
pub(crate) fn migrate(path: &str) -> Result<(), crate::DbError> {
    let mut conn =
        SqliteConnection::establish(path).map_err(|e| crate::DbError::Connect(e.to_string()))?;
    conn.batch_execute(CONNECTION_PRAGMAS)
        .map_err(|e| crate::DbError::Migrate(e.to_string()))?;
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| crate::DbError::Migrate(e.to_string()))?
        .len();
    if applied > 0 {
        tracing::info!(applied, backend = "sqlite", "applied database migrations");
    }
    Ok(())
}
