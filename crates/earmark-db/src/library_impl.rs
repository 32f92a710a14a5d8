//! The `LibraryRepo` implementation, written once and expanded for each backend (see
//! `store_impl.rs` for what each backend provides).

macro_rules! impl_library_repo {
    (
        store = $store:ty,
        backend = $backend:ty,
        write_txn = $write_txn:ident $(,)?
    ) => {
        #[async_trait::async_trait]
        impl earmark_core::ports::LibraryRepo for $store {
            async fn upsert_books(
                &self,
                records: Vec<earmark_core::BookRecord>,
            ) -> Result<earmark_core::UpsertSummary, earmark_core::ports::LibraryRepoError> {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::{BookRecordChanges, BookRow};
                use $crate::schema::books;

                let mut conn = self.conn().await?;
                let summary = conn
                    .$write_txn(async |c| {
                        let now = self.write_clock(c).await?;
                        let mut summary = earmark_core::UpsertSummary::default();
                        for chunk in records.chunks($crate::store_impl::CHUNK) {
                            let asins: Vec<&str> = chunk.iter().map(|r| r.asin.as_str()).collect();
                            let stored: std::collections::HashMap<String, BookRow> = books::table
                                .filter(books::asin.eq_any(&asins))
                                .select(BookRow::as_select())
                                .load(c)
                                .await?
                                .into_iter()
                                .map(|row| (row.asin.clone(), row))
                                .collect();
                            let mut fresh: Vec<BookRow> = Vec::new();
                            for record in chunk {
                                match stored.get(record.asin.as_str()) {
                                    // A batch may name a book twice; the first sighting wins.
                                    None if fresh
                                        .iter()
                                        .any(|f| f.asin == record.asin.as_str()) =>
                                    {
                                        summary.unchanged += 1
                                    }
                                    None => fresh.push(BookRow::new_from(record, now)),
                                    Some(row) if row.is_current(record) => summary.unchanged += 1,
                                    Some(_) => {
                                        diesel::update(books::table.find(record.asin.as_str()))
                                            .set(BookRecordChanges::from_record(record, now))
                                            .execute(c)
                                            .await?;
                                        summary.updated += 1;
                                    }
                                }
                            }
                            self.insert_books(c, &fresh).await?;
                            summary.inserted += fresh.len() as u64;
                        }
                        Ok::<_, $crate::error::StoreError>(summary)
                    })
                    .await?;
                Ok(summary)
            }

            async fn mark_removed_except(
                &self,
                present: Vec<earmark_core::Asin>,
            ) -> Result<u64, earmark_core::ports::LibraryRepoError> {
                use diesel::{ExpressionMethods, QueryDsl};
                use diesel_async::RunQueryDsl;
                use $crate::schema::books;

                let present: std::collections::HashSet<String> =
                    present.into_iter().map(|a| a.to_string()).collect();
                let mut conn = self.conn().await?;
                let marked = conn
                    .$write_txn(async |c| {
                        let now = self.write_clock(c).await?;
                        let listed: Vec<String> = books::table
                            .filter(books::removed_at.is_null())
                            .select(books::asin)
                            .load(c)
                            .await?;
                        let gone: Vec<String> = listed
                            .into_iter()
                            .filter(|a| !present.contains(a))
                            .collect();
                        let mut marked = 0u64;
                        for chunk in gone.chunks($crate::store_impl::CHUNK) {
                            marked += diesel::update(books::table.filter(books::asin.eq_any(chunk)))
                                .set((books::removed_at.eq(Some(now)), books::updated_at.eq(now)))
                                .execute(c)
                                .await? as u64;
                        }
                        Ok::<_, $crate::error::StoreError>(marked)
                    })
                    .await?;
                Ok(marked)
            }

            async fn get_book(
                &self,
                asin: &earmark_core::Asin,
            ) -> Result<earmark_core::Book, earmark_core::ports::LibraryRepoError> {
                use diesel::{OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::BookRow;
                use $crate::schema::books;

                let mut conn = self.conn().await?;
                let row = books::table
                    .find(asin.as_str())
                    .select(BookRow::as_select())
                    .first(&mut *conn)
                    .await
                    .optional()
                    .map_err($crate::error::StoreError::from)?;
                match row {
                    Some(row) => Ok(row.into_book()?),
                    None => Err(earmark_core::ports::LibraryRepoError::BookNotFound(
                        asin.clone(),
                    )),
                }
            }

            async fn update_book(
                &self,
                asin: &earmark_core::Asin,
                update: earmark_core::BookUpdate,
            ) -> Result<earmark_core::Book, earmark_core::ports::LibraryRepoError> {
                use diesel::{OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::{BookLocalChanges, BookRow};
                use $crate::schema::books;

                let mut conn = self.conn().await?;
                let row = conn
                    .$write_txn(async |c| {
                        let now = self.write_clock(c).await?;
                        diesel::update(books::table.find(asin.as_str()))
                            .set(BookLocalChanges::from_update(update, now))
                            .returning(BookRow::as_returning())
                            .get_result(c)
                            .await
                            .optional()
                            .map_err($crate::error::StoreError::from)
                    })
                    .await?;
                match row {
                    Some(row) => Ok(row.into_book()?),
                    None => Err(earmark_core::ports::LibraryRepoError::BookNotFound(
                        asin.clone(),
                    )),
                }
            }

            async fn changes_since(
                &self,
                since: Option<time::OffsetDateTime>,
                after: Option<earmark_core::ChangeCursor>,
                limit: u32,
            ) -> Result<earmark_core::ChangePage, earmark_core::ports::LibraryRepoError> {
                use diesel::{
                    BoolExpressionMethods, ExpressionMethods, QueryDsl, SelectableHelper,
                };
                use diesel_async::RunQueryDsl;
                use $crate::rows::BookRow;
                use $crate::schema::books;
                use $crate::sql_types::DbTime;

                let limit = limit.max(1);
                let mut conn = self.conn().await?;
                let (watermark, mut rows) = conn
                    .$write_txn(async |c| {
                        let watermark = self.read_watermark(c).await?;
                        let mut query = books::table
                            .select(BookRow::as_select())
                            .order((books::updated_at.asc(), books::asin.asc()))
                            .limit(i64::from(limit) + 1)
                            .into_boxed::<$backend>();
                        if let Some(since) = since {
                            query = query.filter(books::updated_at.ge(DbTime::new(since)));
                        }
                        if let Some(after) = &after {
                            let at = DbTime::new(after.updated_at);
                            query = query.filter(
                                books::updated_at.gt(at).or(books::updated_at
                                    .eq(at)
                                    .and(books::asin.gt(after.asin.as_str().to_owned()))),
                            );
                        }
                        let rows = query.load(c).await?;
                        Ok::<_, $crate::error::StoreError>((watermark, rows))
                    })
                    .await?;
                let more = rows.len() > limit as usize;
                rows.truncate(limit as usize);
                let books = rows
                    .into_iter()
                    .map(BookRow::into_book)
                    .collect::<Result<Vec<_>, _>>()?;
                let next_cursor = match books.last() {
                    Some(last) if more => Some(earmark_core::ChangeCursor {
                        updated_at: last.updated_at,
                        asin: last.record.asin.clone(),
                    }),
                    _ => None,
                };
                Ok(earmark_core::ChangePage {
                    books,
                    next_cursor,
                    next_since: watermark.get(),
                })
            }

            async fn list_books(
                &self,
                query: earmark_core::BookQuery,
            ) -> Result<earmark_core::BookPage, earmark_core::ports::LibraryRepoError> {
                Ok(self.browse_books(query).await?)
            }

            async fn series_summary(
                &self,
            ) -> Result<earmark_core::SeriesSummary, earmark_core::ports::LibraryRepoError> {
                Ok(self.browse_series().await?)
            }

            async fn add_file(
                &self,
                file: earmark_core::NewStoredFile,
            ) -> Result<earmark_core::StoredFile, earmark_core::ports::LibraryRepoError> {
                use diesel::{OptionalExtension, QueryDsl};
                use diesel_async::RunQueryDsl;
                use $crate::rows::FileRow;
                use $crate::schema::books;
                use $crate::sql_types::DbTime;

                let asin = file.asin.clone();
                let row = FileRow::new_from(file, DbTime::now());
                let mut conn = self.conn().await?;
                let stored = conn
                    // Read, then write: on SQLite the write lock must be taken at BEGIN, or the
                    // upgrade fails at once (no busy wait) when another writer went first.
                    .$write_txn(async |c| {
                        let exists = books::table
                            .find(row.asin.as_str())
                            .select(books::asin)
                            .first::<String>(c)
                            .await
                            .optional()?
                            .is_some();
                        if !exists {
                            return Ok(None);
                        }
                        Self::upsert_file(c, row).await.map(Some)
                    })
                    .await?;
                match stored {
                    Some(row) => Ok(row.into_file()?),
                    None => Err(earmark_core::ports::LibraryRepoError::BookNotFound(asin)),
                }
            }

            async fn files_of(
                &self,
                asin: &earmark_core::Asin,
            ) -> Result<Vec<earmark_core::StoredFile>, earmark_core::ports::LibraryRepoError> {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::FileRow;
                use $crate::schema::files;

                let mut conn = self.conn().await?;
                let rows = files::table
                    .filter(files::asin.eq(asin.as_str()))
                    .order((files::created_at.asc(), files::id.asc()))
                    .select(FileRow::as_select())
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(rows
                    .into_iter()
                    .map(FileRow::into_file)
                    .collect::<Result<_, _>>()?)
            }

            async fn get_file(
                &self,
                id: uuid::Uuid,
            ) -> Result<earmark_core::StoredFile, earmark_core::ports::LibraryRepoError> {
                use diesel::{OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::FileRow;
                use $crate::schema::files;
                use $crate::sql_types::DbId;

                let mut conn = self.conn().await?;
                let row = files::table
                    .find(DbId(id))
                    .select(FileRow::as_select())
                    .first(&mut *conn)
                    .await
                    .optional()
                    .map_err($crate::error::StoreError::from)?;
                match row {
                    Some(row) => Ok(row.into_file()?),
                    None => Err(earmark_core::ports::LibraryRepoError::FileNotFound(id)),
                }
            }

            async fn all_files(
                &self,
            ) -> Result<Vec<earmark_core::StoredFile>, earmark_core::ports::LibraryRepoError> {
                self.every_file().await
            }

            async fn move_file(
                &self,
                id: uuid::Uuid,
                path: String,
                size: i64,
            ) -> Result<earmark_core::StoredFile, earmark_core::ports::LibraryRepoError> {
                self.repoint_file(id, path, size).await
            }

            async fn forget_file(
                &self,
                id: uuid::Uuid,
            ) -> Result<(), earmark_core::ports::LibraryRepoError> {
                self.unregister_file(id).await
            }

            async fn remove_book(
                &self,
                asin: &earmark_core::Asin,
                forget_files: bool,
            ) -> Result<earmark_core::ports::RemovedBook, earmark_core::ports::LibraryRepoError>
            {
                use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::{BookLocalChanges, BookRow, FileRow};
                use $crate::schema::{books, files};

                let mut conn = self.conn().await?;
                let removed = conn
                    .$write_txn(async |c| {
                        let now = self.write_clock(c).await?;
                        let Some(row) = books::table
                            .find(asin.as_str())
                            .select(BookRow::as_select())
                            .first(c)
                            .await
                            .optional()?
                        else {
                            return Ok(None);
                        };
                        diesel::update(books::table.find(asin.as_str()))
                            .set((
                                books::removed_at.eq(Some(row.removed_at.unwrap_or(now))),
                                books::updated_at.eq(now),
                            ))
                            .execute(c)
                            .await?;
                        let mut forgotten = Vec::new();
                        if forget_files {
                            forgotten = files::table
                                .filter(files::asin.eq(asin.as_str()))
                                .order((files::created_at.asc(), files::id.asc()))
                                .select(FileRow::as_select())
                                .load(c)
                                .await?;
                            diesel::delete(files::table.filter(files::asin.eq(asin.as_str())))
                                .execute(c)
                                .await?;
                            let cleared = earmark_core::BookUpdate {
                                status: Some(earmark_core::BookStatus::New),
                                local_path_aax: Some(None),
                                local_path_voucher: Some(None),
                                local_path_cover: Some(None),
                                local_path_converted: Some(None),
                                conversion_format: Some(None),
                                error_message: Some(None),
                            };
                            diesel::update(books::table.find(asin.as_str()))
                                .set(BookLocalChanges::from_update(cleared, now))
                                .execute(c)
                                .await?;
                        }
                        let row = books::table
                            .find(asin.as_str())
                            .select(BookRow::as_select())
                            .first(c)
                            .await?;
                        Ok::<_, $crate::error::StoreError>(Some((row, forgotten)))
                    })
                    .await?;
                let Some((row, forgotten)) = removed else {
                    return Err(earmark_core::ports::LibraryRepoError::BookNotFound(
                        asin.clone(),
                    ));
                };
                Ok(earmark_core::ports::RemovedBook {
                    book: row.into_book()?,
                    forgotten: forgotten
                        .into_iter()
                        .map(FileRow::into_file)
                        .collect::<Result<_, _>>()?,
                })
            }

            async fn incomplete_downloads(
                &self,
            ) -> Result<Vec<earmark_core::Book>, earmark_core::ports::LibraryRepoError> {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::BookRow;
                use $crate::schema::{books, files};

                let mut conn = self.conn().await?;
                let rows = books::table
                    .filter(books::removed_at.is_null())
                    .filter(books::local_path_aax.is_null())
                    .filter(books::local_path_converted.is_null())
                    .filter(diesel::dsl::exists(
                        files::table.filter(files::asin.eq(books::asin)),
                    ))
                    .order((books::updated_at.asc(), books::asin.asc()))
                    .select(BookRow::as_select())
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(rows
                    .into_iter()
                    .map(BookRow::into_book)
                    .collect::<Result<_, _>>()?)
            }

            async fn save_progress(
                &self,
                asin: &earmark_core::Asin,
                progress: &earmark_core::Progress,
            ) -> Result<earmark_core::Book, earmark_core::ports::LibraryRepoError> {
                use diesel::{OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::{BookRow, ProgressChanges};
                use $crate::schema::books;

                let mut conn = self.conn().await?;
                let row = conn
                    .$write_txn(async |c| {
                        let now = self.write_clock(c).await?;
                        diesel::update(books::table.find(asin.as_str()))
                            .set(ProgressChanges::of(progress, now))
                            .returning(BookRow::as_returning())
                            .get_result(c)
                            .await
                            .optional()
                            .map_err($crate::error::StoreError::from)
                    })
                    .await?;
                match row {
                    Some(row) => Ok(row.into_book()?),
                    None => Err(earmark_core::ports::LibraryRepoError::BookNotFound(
                        asin.clone(),
                    )),
                }
            }

            async fn listening(
                &self,
                limit: u32,
            ) -> Result<Vec<earmark_core::Book>, earmark_core::ports::LibraryRepoError> {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::BookRow;
                use $crate::schema::books;

                let mut conn = self.conn().await?;
                let rows = books::table
                    .filter(books::removed_at.is_null())
                    .filter(books::position_ms.is_not_null())
                    .filter(books::is_finished.eq(false))
                    .order((books::last_played_at.desc(), books::asin.asc()))
                    .limit(i64::from(limit.max(1)))
                    .select(BookRow::as_select())
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(rows
                    .into_iter()
                    .map(BookRow::into_book)
                    .collect::<Result<_, _>>()?)
            }

            async fn known_asins(
                &self,
                asins: &[earmark_core::Asin],
            ) -> Result<Vec<earmark_core::Asin>, earmark_core::ports::LibraryRepoError> {
                Ok(self.asins_in_library(asins).await?)
            }

            async fn count_children(
                &self,
                parents: &[earmark_core::Asin],
            ) -> Result<Vec<(earmark_core::Asin, u64)>, earmark_core::ports::LibraryRepoError> {
                Ok(self.children_counts(parents).await?)
            }

            async fn library_books(
                &self,
            ) -> Result<Vec<earmark_core::Book>, earmark_core::ports::LibraryRepoError> {
                self.all_library_books().await
            }

            async fn adopt_progress(
                &self,
                asin: &earmark_core::Asin,
                progress: &earmark_core::Progress,
            ) -> Result<bool, earmark_core::ports::LibraryRepoError> {
                self.adopt_newer_progress(asin, progress).await
            }

            async fn record_position_sync(
                &self,
                asin: &earmark_core::Asin,
                outcome: Result<time::OffsetDateTime, String>,
            ) -> Result<(), earmark_core::ports::LibraryRepoError> {
                self.record_position_outcome(asin, outcome).await
            }

            async fn licence_acr(
                &self,
                asin: &earmark_core::Asin,
            ) -> Result<Option<String>, earmark_core::ports::LibraryRepoError> {
                self.stored_licence_acr(asin).await
            }

            async fn save_licence_acr(
                &self,
                asin: &earmark_core::Asin,
                acr: &str,
            ) -> Result<(), earmark_core::ports::LibraryRepoError> {
                let mut conn = self.conn().await?;
                Self::upsert_licence(&mut conn, asin.as_str(), acr.to_owned()).await?;
                Ok(())
            }

            async fn positions_to_push(
                &self,
            ) -> Result<Vec<earmark_core::Book>, earmark_core::ports::LibraryRepoError> {
                self.unpushed_positions().await
            }

            async fn ping(&self) -> Result<(), earmark_core::ports::LibraryRepoError> {
                use diesel_async::RunQueryDsl;

                let mut conn = self.conn().await?;
                diesel::sql_query("SELECT 1")
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_library_repo;
