//! The writes the port implementations share, as inherent methods of each store: they run
//! on a connection the caller holds, so several of them can make up one transaction (a job's
//! change with its book's, its files and its follow-up jobs). Expanded per backend like the
//! port implementations (see `store_impl.rs`).

macro_rules! impl_store_writes {
    (
        store = $store:ty,
        backend = $backend:ty,
        conn = $conn:ty $(,)?
    ) => {
        impl $store {
            /// Inserts `job` as QUEUED, or finds the active job already responsible for the same
            /// work; `true` when it inserted.
            async fn insert_job(
                conn: &mut $conn,
                job: earmark_core::NewJob,
            ) -> Result<($crate::rows::JobRow, bool), $crate::error::StoreError> {
                use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::JobRow;
                use $crate::schema::jobs;
                use $crate::sql_types::DbTime;

                let active: Vec<&str> = earmark_core::JobStatus::ACTIVE
                    .iter()
                    .map(|s| s.as_str())
                    .collect();
                let row = JobRow::queued(job, DbTime::now());
                // The partial unique index refuses a second active job for the same work; the
                // loop covers the existing job finishing between our insert and our lookup.
                for _ in 0..5 {
                    let inserted = diesel::insert_into(jobs::table)
                        .values(&row)
                        .on_conflict_do_nothing()
                        .execute(&mut *conn)
                        .await?;
                    if inserted == 1 {
                        return Ok((row, true));
                    }
                    let mut existing = jobs::table
                        .filter(jobs::task_type.eq(&row.task_type))
                        .filter(jobs::status.eq_any(&active))
                        .select(JobRow::as_select())
                        .into_boxed::<$backend>();
                    existing = match &row.asin {
                        Some(asin) => existing.filter(jobs::asin.eq(asin.clone())),
                        None => existing.filter(jobs::asin.is_null()),
                    };
                    if let Some(found) = existing.first(&mut *conn).await.optional()? {
                        return Ok((found, false));
                    }
                }
                Err($crate::error::StoreError::Corrupt(
                    "the active-job index keeps refusing a job that no active job blocks".into(),
                ))
            }

            /// Applies `update` to job `id` if its status allows (the inner error otherwise).
            async fn change_job(
                conn: &mut $conn,
                id: earmark_core::JobId,
                update: &earmark_core::JobUpdate,
            ) -> Result<
                Result<$crate::rows::JobRow, earmark_core::ports::JobQueueError>,
                $crate::error::StoreError,
            > {
                use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::JobRow;
                use $crate::schema::jobs;
                use $crate::sql_types::{DbId, DbTime};

                // Optimistic: the update applies only if the status is still the one checked.
                for _ in 0..10 {
                    let Some(current) = Self::job_row(conn, id).await? else {
                        return Ok(Err(earmark_core::ports::JobQueueError::NotFound(id)));
                    };
                    let from = current.job_status()?;
                    let changes =
                        match $crate::store_impl::job_changes(id, from, update, DbTime::now()) {
                            Ok(changes) => changes,
                            Err(refused) => return Ok(Err(refused)),
                        };
                    let updated = diesel::update(
                        jobs::table
                            .find(DbId(id.0))
                            .filter(jobs::status.eq(from.as_str())),
                    )
                    .set(changes)
                    .returning(JobRow::as_returning())
                    .get_result(&mut *conn)
                    .await
                    .optional()?;
                    if let Some(row) = updated {
                        return Ok(Ok(row));
                    }
                }
                Err($crate::error::StoreError::Corrupt(format!(
                    "job {id} kept changing status while being updated"
                )))
            }

            /// Writes a job's change to its book inside the caller's write transaction: the
            /// book's local state (stamped by the change-feed clock), then its files. A book
            /// that no longer exists is left alone.
            async fn change_book(
                &self,
                conn: &mut $conn,
                change: earmark_core::ports::BookChange,
            ) -> Result<(), $crate::error::StoreError> {
                use diesel::{OptionalExtension, QueryDsl};
                use diesel_async::RunQueryDsl;
                use $crate::rows::{BookLocalChanges, FileRow};
                use $crate::schema::books;
                use $crate::sql_types::DbTime;

                let now = self.write_clock(conn).await?;
                let found = diesel::update(books::table.find(change.asin.as_str()))
                    .set(BookLocalChanges::from_update(change.update, now))
                    .returning(books::asin)
                    .get_result::<String>(&mut *conn)
                    .await
                    .optional()?;
                if found.is_none() {
                    return Ok(());
                }
                for file in change.files {
                    Self::upsert_file(conn, FileRow::new_from(file, DbTime::now())).await?;
                }
                if let Some(acr) = change.licence_acr {
                    Self::upsert_licence(conn, change.asin.as_str(), acr).await?;
                }
                Ok(())
            }

            /// Keeps `acr` as the book's licence `acr`, replacing an older one.
            pub(crate) async fn upsert_licence(
                conn: &mut $conn,
                asin: &str,
                acr: String,
            ) -> Result<(), $crate::error::StoreError> {
                use diesel::ExpressionMethods;
                use diesel::upsert::excluded;
                use diesel_async::RunQueryDsl;
                use $crate::schema::book_licences;
                use $crate::sql_types::DbTime;

                diesel::insert_into(book_licences::table)
                    .values((
                        book_licences::asin.eq(asin),
                        book_licences::acr.eq(acr),
                        book_licences::updated_at.eq(DbTime::now()),
                    ))
                    .on_conflict(book_licences::asin)
                    .do_update()
                    .set((
                        book_licences::acr.eq(excluded(book_licences::acr)),
                        book_licences::updated_at.eq(excluded(book_licences::updated_at)),
                    ))
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            /// Registers a file of an existing book; a row with the same path is replaced
            /// (same id, new book, kind, size and mime).
            async fn upsert_file(
                conn: &mut $conn,
                row: $crate::rows::FileRow,
            ) -> Result<$crate::rows::FileRow, $crate::error::StoreError> {
                use diesel::upsert::excluded;
                use diesel::{ExpressionMethods, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::FileRow;
                use $crate::schema::files;

                Ok(diesel::insert_into(files::table)
                    .values(&row)
                    .on_conflict(files::path)
                    .do_update()
                    .set((
                        files::asin.eq(excluded(files::asin)),
                        files::kind.eq(excluded(files::kind)),
                        files::size.eq(excluded(files::size)),
                        files::mime.eq(excluded(files::mime)),
                    ))
                    .returning(FileRow::as_returning())
                    .get_result(&mut *conn)
                    .await?)
            }

            async fn job_row(
                conn: &mut $conn,
                id: earmark_core::JobId,
            ) -> Result<Option<$crate::rows::JobRow>, $crate::error::StoreError> {
                use diesel::{OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::schema::jobs;

                Ok(jobs::table
                    .find($crate::sql_types::DbId(id.0))
                    .select($crate::rows::JobRow::as_select())
                    .first(conn)
                    .await
                    .optional()?)
            }
        }
    };
}
pub(crate) use impl_store_writes;
