#![doc = include_str!("../README.md")]

mod error;
mod files_impl;
mod jobs_impl;
mod library_browse;
mod library_impl;
mod local_item_rows;
mod local_items_impl;
mod positions_impl;
mod postgres;
mod rows;
mod schedule_impl;
mod schema;
mod settings_impl;
mod sql_types;
mod sqlite;
mod store_impl;
mod store_writes;
#[cfg(feature = "testing")]
pub mod testing;
mod webhook_impl;
mod webhook_rows;

use std::sync::Arc;
use std::time::Duration;

use earmark_core::ports::{JobQueue, LibraryRepo};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no backend earmark knows.
    #[error(
        "unsupported database URL `{0}`: use postgres://user@host/db, sqlite://path/to/file.db \
         or a plain file path"
    )]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// A migration failed; the database is as the last successful migration left it.
    #[error("database migration failed: {0}")]
    Migrate(String),
    /// The connection pool could not be built.
    #[error("cannot build the connection pool: {0}")]
    Pool(String),
    /// The directory for a SQLite file could not be created.
    #[error("cannot create the database directory {0}: {1}")]
    Directory(String, std::io::Error),
}

/// Which backend a database runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// Lower-case name, for health reports and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Connection-pool limits.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long to wait for a free (or new) connection before reporting the database unavailable.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl PoolSettings {
    /// A deadpool pool of `C` connections from `manager`, sized and timed by these settings.
    fn build_pool<C>(
        &self,
        manager: diesel_async::pooled_connection::AsyncDieselConnectionManager<C>,
    ) -> Result<diesel_async::pooled_connection::deadpool::Pool<C>, DbError>
    where
        diesel_async::pooled_connection::AsyncDieselConnectionManager<C>:
            deadpool::managed::Manager<Type = C>,
    {
        diesel_async::pooled_connection::deadpool::Pool::builder(manager)
            .max_size(self.max_connections)
            .wait_timeout(Some(self.acquire_timeout))
            .create_timeout(Some(self.acquire_timeout))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| DbError::Pool(e.to_string()))
    }
}

/// An open, migrated database, handed out as the ports the rest of earmark uses.
#[derive(Clone)]
pub struct Database {
    /// Books and files.
    pub library: Arc<dyn LibraryRepo>,
    /// Jobs.
    pub jobs: Arc<dyn JobQueue>,
    /// The person's settings.
    pub settings: Arc<dyn earmark_core::ports::SettingsStore>,
    /// The automatic sync's next run time.
    pub schedule: Arc<dyn earmark_core::ports::ScheduleStore>,
    /// Webhooks and their deliveries.
    pub webhooks: Arc<dyn earmark_core::ports::WebhookStore>,
    /// Audio files in the data directory that belong to no book.
    pub local_items: Arc<dyn earmark_core::ports::LocalItemStore>,
    /// Which backend this is.
    pub backend: Backend,
}

/// Where a database URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A PostgreSQL URL, as given.
    Postgres(String),
    /// A SQLite file path.
    Sqlite(String),
}

impl Target {
    /// Reads `url`: `postgres://` or `postgresql://` is PostgreSQL; `sqlite://PATH`,
    /// `sqlite:PATH` or a plain path is a SQLite file.
    ///
    /// # Errors
    /// [`DbError::UnsupportedUrl`] for any other scheme.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            return Ok(Self::Sqlite(path.to_owned()));
        }
        if url.contains("://") || url.is_empty() {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        }
        Ok(Self::Sqlite(url.to_owned()))
    }
}

/// Opens and migrates the database `url` names, creating a SQLite file's directory if needed.
///
/// # Errors
/// [`DbError`] saying what failed and, where it can, what to do.
pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Database, DbError> {
    match Target::parse(url)? {
        Target::Postgres(url) => {
            let store = Arc::new(PgStore::connect(&url, settings).await?);
            Ok(Database {
                library: store.clone(),
                jobs: store.clone(),
                settings: store.clone(),
                schedule: store.clone(),
                webhooks: store.clone(),
                local_items: store,
                backend: Backend::Postgres,
            })
        }
        Target::Sqlite(path) => {
            if let Some(dir) = std::path::Path::new(&path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbError::Directory(dir.display().to_string(), e))?;
            }
            let store = Arc::new(SqliteStore::open(&path, settings).await?);
            Ok(Database {
                library: store.clone(),
                jobs: store.clone(),
                settings: store.clone(),
                schedule: store.clone(),
                webhooks: store.clone(),
                local_items: store,
                backend: Backend::Sqlite,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend() {
        assert_eq!(
            Target::parse("postgres://postgres@127.0.0.1/x").ok(),
            Some(Target::Postgres("postgres://postgres@127.0.0.1/x".into()))
        );
        assert_eq!(
            Target::parse("sqlite://data/library/earmark.db").ok(),
            Some(Target::Sqlite("data/library/earmark.db".into()))
        );
        assert_eq!(
            Target::parse("sqlite:///abs/e.db").ok(),
            Some(Target::Sqlite("/abs/e.db".into()))
        );
        assert_eq!(
            Target::parse("./e.db").ok(),
            Some(Target::Sqlite("./e.db".into()))
        );
        assert!(matches!(
            Target::parse("mysql://x"),
            Err(DbError::UnsupportedUrl(_))
        ));
    }
}
