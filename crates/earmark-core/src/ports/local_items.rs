//! Where local items (audio files that belong to no book) are kept.

use async_trait::async_trait;
use uuid::Uuid;

use super::BoxError;
use crate::domain::local_item::{LocalItem, LocalItemPage, LocalItemQuery, NewLocalItem};

/// Why a local-item operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LocalItemStoreError {
    /// No local item has this id.
    #[error("no local item with id {0}")]
    NotFound(Uuid),
    /// The store cannot be reached right now; retry later.
    #[error("the library database is unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Anything else the store reported.
    #[error("the library database failed: {0}")]
    Storage(#[source] BoxError),
}

/// The local items of the library.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait LocalItemStore: Send + Sync {
    /// Registers an item. Registering a path again updates that item (same id, new title,
    /// authors, format, size and `updated_at`) and returns it.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn add_local_item(&self, item: NewLocalItem) -> Result<LocalItem, LocalItemStoreError>;

    /// A page of items, ordered by title then id.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn list_local_items(
        &self,
        query: LocalItemQuery,
    ) -> Result<LocalItemPage, LocalItemStoreError>;

    /// One item.
    ///
    /// # Errors
    /// MUST return `NotFound` when no item has this id.
    async fn get_local_item(&self, id: Uuid) -> Result<LocalItem, LocalItemStoreError>;

    /// Every item, in path order: what a repair compares with the disk.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn all_local_items(&self) -> Result<Vec<LocalItem>, LocalItemStoreError>;

    /// Forgets an item (its file is not touched); forgetting an unknown id changes nothing.
    ///
    /// # Errors
    /// `Unavailable` or `Storage`.
    async fn remove_local_item(&self, id: Uuid) -> Result<(), LocalItemStoreError>;
}
