//! The PostgreSQL adapter: `AsyncPgConnection` (no libpq) in a deadpool pool.

use diesel::sql_types::BigInt;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
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

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Advisory-lock key of the change feed: writers of `books` hold it shared, change-feed
/// readers exclusively, so a reader's watermark is taken while no book write is in flight.
const CHANGE_FEED_LOCK: i64 = 0x6561_726d_6172_6b01;
/// Advisory-lock key that serialises migrations between processes starting together.
const MIGRATION_LOCK: i64 = 0x6561_726d_6172_6b02;

/// The library and the job queue on PostgreSQL.
pub struct PgStore {
    pool: Pool<AsyncPgConnection>,
}

#[derive(diesel::QueryableByName)]
struct Clock {
    #[diesel(sql_type = crate::sql_types::TimeSql)]
    now: DbTime,
}

impl PgStore {
    /// Migrates the database at `url` and opens a pool on it.
    ///
    /// # Errors
    /// When the server cannot be reached or a migration fails.
    pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Self, crate::DbError> {
        migrate(url).await?;
        let mut config = ManagerConfig::<AsyncPgConnection>::default();
        // A failed query marks a connection broken; a probe query on every checkout would cost
        // a round trip per database call.
        config.recycling_method = RecyclingMethod::Fast;
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
        let pool = settings.build_pool(manager)?;
        Ok(Self { pool })
    }

    async fn conn(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// The number of jobs `filter` selects and its page of them, newest first.
    async fn job_page(
        &self,
        filter: earmark_core::JobFilter,
    ) -> Result<(i64, Vec<crate::rows::JobRow>), StoreError> {
        use diesel::QueryDsl;
        use diesel_async::RunQueryDsl;

        let conn = self.conn().await?;
        // Pipelined on the one connection (diesel-async runs queries on a shared
        // `&AsyncPgConnection` side by side): both queries go out before either answer is
        // awaited, so the page costs one round trip, not two.
        let total = jobs_matching!(diesel::pg::Pg, &filter)
            .count()
            .get_result::<i64>(&mut &*conn);
        let rows = jobs_page!(diesel::pg::Pg, &filter).load(&mut &*conn);
        Ok(tokio::try_join!(total, rows)?)
    }

    async fn clock_after_lock(
        c: &mut AsyncPgConnection,
        lock_fn: &str,
    ) -> Result<DbTime, StoreError> {
        diesel::sql_query(format!("SELECT {lock_fn}($1)"))
            .bind::<BigInt, _>(CHANGE_FEED_LOCK)
            .execute(c)
            .await?;
        let clock: Clock = diesel::sql_query("SELECT clock_timestamp() AS now")
            .get_result(c)
            .await?;
        Ok(clock.now)
    }

    /// Inside a write transaction: hold the change-feed lock shared until commit, then read the
    /// clock, so the stamp is later than any watermark a reader took before this write.
    async fn write_clock(&self, c: &mut AsyncPgConnection) -> Result<DbTime, StoreError> {
        Self::clock_after_lock(c, "pg_advisory_xact_lock_shared").await
    }

    /// Inside a read transaction: wait until no book write is in flight, then read the clock.
    /// Every write committed before has a smaller stamp and is visible to the next statement
    /// (READ COMMITTED); every later one will be stamped after this watermark.
    async fn read_watermark(&self, c: &mut AsyncPgConnection) -> Result<DbTime, StoreError> {
        Self::clock_after_lock(c, "pg_advisory_xact_lock").await
    }

    /// New books in one multi-row INSERT (a chunk's binds stay far under PostgreSQL's limit).
    async fn insert_books(
        &self,
        c: &mut AsyncPgConnection,
        rows: &[crate::rows::BookRow],
    ) -> Result<(), StoreError> {
        diesel::insert_into(crate::schema::books::table)
            .values(rows)
            .execute(c)
            .await?;
        Ok(())
    }
}

impl_library_browse! {
    store = PgStore,
    backend = diesel::pg::Pg,
}

impl_settings_store! {
    store = PgStore,
}

impl_schedule_store! {
    store = PgStore,
}

impl_webhook_store! {
    store = PgStore,
    write_txn = transaction,
}

impl_library_repo! {
    store = PgStore,
    backend = diesel::pg::Pg,
    write_txn = transaction,
}

impl_position_queries! {
    store = PgStore,
    write_txn = transaction,
}

impl_file_queries! {
    store = PgStore,
    write_txn = transaction,
}

impl_local_item_store! {
    store = PgStore,
    backend = diesel::pg::Pg,
}

impl_store_writes! {
    store = PgStore,
    backend = diesel::pg::Pg,
    conn = AsyncPgConnection,
}

impl_job_queue! {
    store = PgStore,
    backend = diesel::pg::Pg,
    conn = AsyncPgConnection,
    write_txn = transaction,
    claim_lock = { for_update skip_locked },
}

async fn migrate(url: &str) -> Result<(), crate::DbError> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .map_err(|e| crate::DbError::Connect(e.to_string()))?;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK)
        .execute(&mut conn)
        .await
        .map_err(|e| crate::DbError::Migrate(e.to_string()))?;
    // The harness drives the async connection by blocking on the runtime, which a runtime
    // worker may not do: give it a blocking thread.
    let (conn, applied) = tokio::task::spawn_blocking(move || {
        let mut harness = diesel_async::AsyncMigrationHarness::new(conn);
        let applied = harness
            .run_pending_migrations(MIGRATIONS)
            .map(|done| done.len())
            .map_err(|e| e.to_string());
        (harness.into_inner(), applied)
    })
    .await
    .map_err(|e| crate::DbError::Migrate(e.to_string()))?;
    let mut conn = conn;
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK)
        .execute(&mut conn)
        .await
        .map_err(|e| crate::DbError::Migrate(e.to_string()))?;
    let applied = applied.map_err(crate::DbError::Migrate)?;
    if applied > 0 {
        tracing::info!(applied, backend = "postgres", "applied database migrations");
    }
    Ok(())
}
