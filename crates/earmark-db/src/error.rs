//! The adapter's own error, converted once into each port's error.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use earmark_core::ports::{BoxError, JobQueueError, LibraryRepoError};

/// What can go wrong inside the database adapter.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had from the pool in time, or none could be opened.
    #[error("no database connection: {0}")]
    Pool(String),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] DieselError),
    /// A stored value no longer parses as its domain type.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A stored value that does not parse.
    pub fn corrupt(err: impl std::fmt::Display) -> Self {
        Self::Corrupt(err.to_string())
    }

    /// Whether retrying later may succeed (the database is down or overloaded).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Pool(_) => true,
            Self::Query(DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)) => true,
            Self::Query(DieselError::DatabaseError(_, info)) => {
                // SQLite reports a lock held past busy_timeout this way.
                info.message().contains("database is locked")
            }
            _ => false,
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StoreError {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::Pool(err.to_string())
    }
}

/// Each port's error from the adapter's: `Unavailable` when a retry later may succeed,
/// `Storage` otherwise (every store port has these two).
macro_rules! port_error_from_store_error {
    ($($port_error:ty),+ $(,)?) => {$(
        impl From<StoreError> for $port_error {
            fn from(err: StoreError) -> Self {
                if err.is_unavailable() {
                    Self::Unavailable(BoxError::from(err))
                } else {
                    Self::Storage(BoxError::from(err))
                }
            }
        }
    )+};
}

port_error_from_store_error!(
    LibraryRepoError,
    JobQueueError,
    earmark_core::ports::SettingsStoreError,
    earmark_core::ports::ScheduleStoreError,
    earmark_core::ports::WebhookStoreError,
    earmark_core::ports::LocalItemStoreError,
);
