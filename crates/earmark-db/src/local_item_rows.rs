//! Rows of `local_items`, and their domain values.

use diesel::prelude::*;
use earmark_core::Asin;
use earmark_core::domain::local_item::{LocalItem, NewLocalItem};

use crate::error::StoreError;
use crate::schema::local_items;
use crate::sql_types::{DbId, DbTime};

/// A `local_items` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = local_items, treat_none_as_default_value = false)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct LocalItemRow {
    pub id: DbId,
    pub asin: Option<String>,
    pub title: String,
    pub authors: Option<String>,
    pub path: String,
    pub format: Option<String>,
    pub size: i64,
    pub mime: String,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

impl LocalItemRow {
    /// A new row for `item` with a fresh id.
    pub(crate) fn new_from(item: NewLocalItem, now: DbTime) -> Self {
        Self {
            id: DbId(uuid::Uuid::now_v7()),
            asin: item.asin.map(|a| a.to_string()),
            title: item.title,
            authors: item.authors,
            path: item.path,
            format: item.format,
            size: item.size,
            mime: item.mime,
            created_at: now,
            updated_at: now,
        }
    }

    /// The domain item.
    pub(crate) fn into_item(self) -> Result<LocalItem, StoreError> {
        Ok(LocalItem {
            id: self.id.0,
            asin: self
                .asin
                .as_deref()
                .map(Asin::parse)
                .transpose()
                .map_err(StoreError::corrupt)?,
            title: self.title,
            authors: self.authors,
            path: self.path,
            format: self.format,
            size: self.size,
            mime: self.mime,
            created_at: self.created_at.get(),
            updated_at: self.updated_at.get(),
        })
    }
}
