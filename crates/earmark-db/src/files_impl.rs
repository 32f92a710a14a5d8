//! The library's whole-store file queries (the `LibraryRepo` methods a repair uses), written
//! once and expanded for each backend as inherent methods that `library_impl.rs` forwards to.

macro_rules! impl_file_queries {
    (
        store = $store:ty,
        write_txn = $write_txn:ident $(,)?
    ) => {
        impl $store {
            /// See `LibraryRepo::all_files`.
            pub(crate) async fn every_file(
                &self,
            ) -> Result<Vec<earmark_core::StoredFile>, earmark_core::ports::LibraryRepoError> {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::FileRow;
                use $crate::schema::files;

                let mut conn = self.conn().await?;
                let rows = files::table
                    .order(files::path.asc())
                    .select(FileRow::as_select())
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(rows
                    .into_iter()
                    .map(FileRow::into_file)
                    .collect::<Result<_, _>>()?)
            }

            /// See `LibraryRepo::move_file`.
            pub(crate) async fn repoint_file(
                &self,
                id: uuid::Uuid,
                path: String,
                size: i64,
            ) -> Result<earmark_core::StoredFile, earmark_core::ports::LibraryRepoError> {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::FileRow;
                use $crate::schema::{books, files};
                use $crate::sql_types::DbId;

                let mut conn = self.conn().await?;
                let moved = conn
                    .$write_txn(async |c| {
                        let now = self.write_clock(c).await?;
                        let row: Option<FileRow> = diesel::update(files::table.find(DbId(id)))
                            .set((files::path.eq(path), files::size.eq(size)))
                            .returning(FileRow::as_returning())
                            .get_results(c)
                            .await?
                            .into_iter()
                            .next();
                        if let Some(row) = &row {
                            diesel::update(books::table.find(row.asin.as_str()))
                                .set(books::updated_at.eq(now))
                                .execute(c)
                                .await?;
                        }
                        Ok::<_, $crate::error::StoreError>(row)
                    })
                    .await?;
                match moved {
                    Some(row) => Ok(row.into_file()?),
                    None => Err(earmark_core::ports::LibraryRepoError::FileNotFound(id)),
                }
            }

            /// See `LibraryRepo::forget_file`.
            pub(crate) async fn unregister_file(
                &self,
                id: uuid::Uuid,
            ) -> Result<(), earmark_core::ports::LibraryRepoError> {
                use diesel::{ExpressionMethods, QueryDsl};
                use diesel_async::RunQueryDsl;
                use $crate::schema::{books, files};
                use $crate::sql_types::DbId;

                let mut conn = self.conn().await?;
                conn.$write_txn(async |c| {
                    let now = self.write_clock(c).await?;
                    let asins: Vec<String> = diesel::delete(files::table.find(DbId(id)))
                        .returning(files::asin)
                        .get_results(c)
                        .await?;
                    for asin in asins {
                        diesel::update(books::table.find(asin))
                            .set(books::updated_at.eq(now))
                            .execute(c)
                            .await?;
                    }
                    Ok::<_, $crate::error::StoreError>(())
                })
                .await?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_file_queries;
