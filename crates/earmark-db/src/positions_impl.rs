//! The library's position-sync queries (the `LibraryRepo` methods that keep listening
//! positions in step with Audible), written once and expanded for each backend as inherent
//! methods that `library_impl.rs` forwards to.

macro_rules! impl_position_queries {
    (
        store = $store:ty,
        write_txn = $write_txn:ident $(,)?
    ) => {
        impl $store {
            /// See `LibraryRepo::library_books`.
            pub(crate) async fn all_library_books(
                &self,
            ) -> Result<Vec<earmark_core::Book>, earmark_core::ports::LibraryRepoError> {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::BookRow;
                use $crate::schema::books;

                let mut conn = self.conn().await?;
                let rows = books::table
                    .filter(books::removed_at.is_null())
                    .order(books::asin.asc())
                    .select(BookRow::as_select())
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(rows
                    .into_iter()
                    .map(BookRow::into_book)
                    .collect::<Result<_, _>>()?)
            }

            /// See `LibraryRepo::adopt_progress`.
            pub(crate) async fn adopt_newer_progress(
                &self,
                asin: &earmark_core::Asin,
                progress: &earmark_core::Progress,
            ) -> Result<bool, earmark_core::ports::LibraryRepoError> {
                use diesel::{
                    BoolExpressionMethods, ExpressionMethods, OptionalExtension, QueryDsl,
                };
                use diesel_async::RunQueryDsl;
                use $crate::rows::ProgressChanges;
                use $crate::schema::books;
                use $crate::sql_types::DbTime;

                let played = DbTime::new(progress.last_played_at);
                let synced = progress.synced_at.map(DbTime::new);
                let mut conn = self.conn().await?;
                let outcome = conn
                    .$write_txn(async |c| {
                        let now = self.write_clock(c).await?;
                        let taken = diesel::update(
                            books::table.find(asin.as_str()).filter(
                                books::last_played_at
                                    .is_null()
                                    .or(books::last_played_at.lt(played)),
                            ),
                        )
                        .set((
                            ProgressChanges::of(progress, now),
                            books::progress_synced_at.eq(synced),
                            books::progress_sync_error.eq(None::<String>),
                        ))
                        .execute(c)
                        .await
                        .map_err($crate::error::StoreError::from)?;
                        if taken > 0 {
                            return Ok(Some(true));
                        }
                        let known = books::table
                            .find(asin.as_str())
                            .select(books::asin)
                            .first::<String>(c)
                            .await
                            .optional()
                            .map_err($crate::error::StoreError::from)?;
                        Ok::<_, $crate::error::StoreError>(known.map(|_| false))
                    })
                    .await?;
                outcome.ok_or_else(|| {
                    earmark_core::ports::LibraryRepoError::BookNotFound(asin.clone())
                })
            }

            /// See `LibraryRepo::record_position_sync`.
            pub(crate) async fn record_position_outcome(
                &self,
                asin: &earmark_core::Asin,
                outcome: Result<time::OffsetDateTime, String>,
            ) -> Result<(), earmark_core::ports::LibraryRepoError> {
                use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
                use diesel_async::RunQueryDsl;
                use $crate::schema::books;
                use $crate::sql_types::DbTime;

                let mut conn = self.conn().await?;
                let found = conn
                    .$write_txn(async |c| {
                        let stored: Option<(Option<DbTime>, Option<String>)> = books::table
                            .find(asin.as_str())
                            .select((books::progress_synced_at, books::progress_sync_error))
                            .first(c)
                            .await
                            .optional()
                            .map_err($crate::error::StoreError::from)?;
                        let Some((synced, error)) = stored else {
                            return Ok(false);
                        };
                        let (synced, new_error) = match &outcome {
                            Ok(at) => (synced.max(Some(DbTime::new(*at))), None),
                            Err(message) => (synced, Some(message.clone())),
                        };
                        let target = books::table.find(asin.as_str());
                        if new_error == error {
                            diesel::update(target)
                                .set(books::progress_synced_at.eq(synced))
                                .execute(c)
                                .await
                                .map_err($crate::error::StoreError::from)?;
                        } else {
                            // A new or cleared error is news for the change feed.
                            let now = self.write_clock(c).await?;
                            diesel::update(target)
                                .set((
                                    books::progress_synced_at.eq(synced),
                                    books::progress_sync_error.eq(new_error),
                                    books::updated_at.eq(now),
                                ))
                                .execute(c)
                                .await
                                .map_err($crate::error::StoreError::from)?;
                        }
                        Ok::<_, $crate::error::StoreError>(true)
                    })
                    .await?;
                if found {
                    Ok(())
                } else {
                    Err(earmark_core::ports::LibraryRepoError::BookNotFound(
                        asin.clone(),
                    ))
                }
            }

            /// See `LibraryRepo::licence_acr`.
            pub(crate) async fn stored_licence_acr(
                &self,
                asin: &earmark_core::Asin,
            ) -> Result<Option<String>, earmark_core::ports::LibraryRepoError> {
                use diesel::{OptionalExtension, QueryDsl};
                use diesel_async::RunQueryDsl;
                use $crate::schema::book_licences;

                let mut conn = self.conn().await?;
                Ok(book_licences::table
                    .find(asin.as_str())
                    .select(book_licences::acr)
                    .first::<String>(&mut *conn)
                    .await
                    .optional()
                    .map_err($crate::error::StoreError::from)?)
            }

            /// See `LibraryRepo::positions_to_push`.
            pub(crate) async fn unpushed_positions(
                &self,
            ) -> Result<Vec<earmark_core::Book>, earmark_core::ports::LibraryRepoError> {
                use diesel::{
                    BoolExpressionMethods, ExpressionMethods, QueryDsl, SelectableHelper,
                };
                use diesel_async::RunQueryDsl;
                use $crate::rows::BookRow;
                use $crate::schema::books;

                let mut conn = self.conn().await?;
                let rows = books::table
                    .filter(books::removed_at.is_null())
                    .filter(books::position_ms.is_not_null())
                    .filter(
                        books::progress_synced_at
                            .is_null()
                            .or(books::progress_synced_at.lt(books::last_played_at)),
                    )
                    .order(books::asin.asc())
                    .select(BookRow::as_select())
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(rows
                    .into_iter()
                    .map(BookRow::into_book)
                    .collect::<Result<_, _>>()?)
            }
        }
    };
}
pub(crate) use impl_position_queries;
