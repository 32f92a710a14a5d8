//! The `LocalItemStore` implementation, written once and expanded for each backend.

macro_rules! impl_local_item_store {
    (
        store = $store:ty,
        backend = $backend:ty $(,)?
    ) => {
        #[async_trait::async_trait]
        impl earmark_core::ports::LocalItemStore for $store {
            async fn add_local_item(
                &self,
                item: earmark_core::domain::local_item::NewLocalItem,
            ) -> Result<
                earmark_core::domain::local_item::LocalItem,
                earmark_core::ports::LocalItemStoreError,
            > {
                use diesel::upsert::excluded;
                use diesel::{ExpressionMethods, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::local_item_rows::LocalItemRow;
                use $crate::schema::local_items;
                use $crate::sql_types::DbTime;

                let row = LocalItemRow::new_from(item, DbTime::now());
                let mut conn = self.conn().await?;
                let stored = diesel::insert_into(local_items::table)
                    .values(&row)
                    .on_conflict(local_items::path)
                    .do_update()
                    .set((
                        local_items::asin.eq(excluded(local_items::asin)),
                        local_items::title.eq(excluded(local_items::title)),
                        local_items::authors.eq(excluded(local_items::authors)),
                        local_items::format.eq(excluded(local_items::format)),
                        local_items::size.eq(excluded(local_items::size)),
                        local_items::mime.eq(excluded(local_items::mime)),
                        local_items::updated_at.eq(excluded(local_items::updated_at)),
                    ))
                    .returning(LocalItemRow::as_returning())
                    .get_result(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(stored.into_item()?)
            }

            async fn list_local_items(
                &self,
                query: earmark_core::domain::local_item::LocalItemQuery,
            ) -> Result<
                earmark_core::domain::local_item::LocalItemPage,
                earmark_core::ports::LocalItemStoreError,
            > {
                use diesel::{
                    BoolExpressionMethods, EscapeExpressionMethods, ExpressionMethods,
                    NullableExpressionMethods, QueryDsl, SelectableHelper, TextExpressionMethods,
                };
                use diesel_async::RunQueryDsl;
                use $crate::library_browse::{contains_pattern, lower};
                use $crate::local_item_rows::LocalItemRow;
                use $crate::schema::local_items;

                let matching = || {
                    let mut q = local_items::table.into_boxed::<$backend>();
                    for word in query.search.iter().flat_map(|s| s.split_whitespace()) {
                        let p = contains_pattern(word);
                        q = q.filter(
                            lower(local_items::title.nullable())
                                .like(p.clone())
                                .escape('\\')
                                .or(lower(local_items::authors).like(p).escape('\\')),
                        );
                    }
                    q
                };
                let page_size = i64::from(query.page_size.max(1));
                let offset = i64::from(query.page.max(1) - 1).saturating_mul(page_size);
                let mut conn = self.conn().await?;
                let total: i64 = matching()
                    .count()
                    .get_result(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                let rows = matching()
                    .order((local_items::title.asc(), local_items::id.asc()))
                    .limit(page_size)
                    .offset(offset)
                    .select(LocalItemRow::as_select())
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(earmark_core::domain::local_item::LocalItemPage {
                    items: rows
                        .into_iter()
                        .map(LocalItemRow::into_item)
                        .collect::<Result<_, _>>()?,
                    total: u64::try_from(total).unwrap_or(0),
                })
            }

            async fn get_local_item(
                &self,
                id: uuid::Uuid,
            ) -> Result<
                earmark_core::domain::local_item::LocalItem,
                earmark_core::ports::LocalItemStoreError,
            > {
                use diesel::{OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::local_item_rows::LocalItemRow;
                use $crate::schema::local_items;
                use $crate::sql_types::DbId;

                let mut conn = self.conn().await?;
                let row = local_items::table
                    .find(DbId(id))
                    .select(LocalItemRow::as_select())
                    .first(&mut *conn)
                    .await
                    .optional()
                    .map_err($crate::error::StoreError::from)?;
                match row {
                    Some(row) => Ok(row.into_item()?),
                    None => Err(earmark_core::ports::LocalItemStoreError::NotFound(id)),
                }
            }

            async fn all_local_items(
                &self,
            ) -> Result<
                Vec<earmark_core::domain::local_item::LocalItem>,
                earmark_core::ports::LocalItemStoreError,
            > {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::local_item_rows::LocalItemRow;
                use $crate::schema::local_items;

                let mut conn = self.conn().await?;
                let rows = local_items::table
                    .order(local_items::path.asc())
                    .select(LocalItemRow::as_select())
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(rows
                    .into_iter()
                    .map(LocalItemRow::into_item)
                    .collect::<Result<_, _>>()?)
            }

            async fn remove_local_item(
                &self,
                id: uuid::Uuid,
            ) -> Result<(), earmark_core::ports::LocalItemStoreError> {
                use diesel::QueryDsl;
                use diesel_async::RunQueryDsl;
                use $crate::schema::local_items;
                use $crate::sql_types::DbId;

                let mut conn = self.conn().await?;
                diesel::delete(local_items::table.find(DbId(id)))
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_local_item_store;
