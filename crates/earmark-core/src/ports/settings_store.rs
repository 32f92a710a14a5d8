//! Where the person's settings are kept.

use async_trait::async_trait;

use super::BoxError;
use crate::domain::settings::Settings;

/// Why the settings could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsStoreError {
    /// The store cannot be reached right now; retry later.
    #[error("the settings database is unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Anything else the store reported.
    #[error("the settings database failed: {0}")]
    Storage(#[source] BoxError),
}

/// The settings, one document for the whole installation.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The saved settings; the defaults when none were saved or what was saved no longer
    /// passes the checks (a setting missing from them takes its default).
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn load(&self) -> Result<Settings, SettingsStoreError>;

    /// Saves `settings` whole, replacing what was saved, durably before it returns.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`; on error what was saved before stays.
    async fn save(&self, settings: &Settings) -> Result<(), SettingsStoreError>;
}
