//! The port implementations, written once and expanded for each backend.
//!
//! Diesel checks queries against a concrete connection type, so code shared by PostgreSQL and
//! SQLite is either a thicket of trait bounds or a macro. This is the macro. What really
//! differs between the backends stays in `postgres.rs` and `sqlite.rs`, as inherent methods
//! each store provides under the same names:
//! - `conn()`: a pooled connection;
//! - `write_clock(c)`: inside a write transaction, take the change-feed lock and return the
//!   time to stamp on books;
//! - `read_watermark(c)`: inside a read transaction, wait out in-flight writers and return
//!   the watermark;
//! - and the name of the write-transaction method (`immediate_transaction` on SQLite, so the
//!   write lock is taken at BEGIN), and the row-locking clause of a job claim.

/// How many rows one statement touches at most, well under both backends' bind limits.
pub(crate) const CHUNK: usize = 500;

/// The message stored on jobs that start-up recovery fails.
pub(crate) fn interrupted_message(attempts: i32) -> String {
    format!(
        "interrupted: earmark stopped while this job was running, and it has used all its \
         {attempts} attempts; retry it with POST /jobs/{{id}}/retry"
    )
}

macro_rules! impl_ports {
    (
        store = $store:ty,
        backend = $backend:ty,
        conn = $conn:ty,
        write_txn = $write_txn:ident,
        claim_lock = { $($claim_lock:ident)* } $(,)?
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
                                    None if fresh.iter().any(|f| f.asin == record.asin.as_str()) => {
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
                            // Row by row: diesel-async cannot batch-insert on SQLite, and
                            // inside one transaction the difference is small.
                            for row in &fresh {
                                diesel::insert_into(books::table).values(row).execute(c).await?;
                            }
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
                        let gone: Vec<String> =
                            listed.into_iter().filter(|a| !present.contains(a)).collect();
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
                    None => Err(earmark_core::ports::LibraryRepoError::BookNotFound(asin.clone())),
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
                    None => Err(earmark_core::ports::LibraryRepoError::BookNotFound(asin.clone())),
                }
            }

            async fn changes_since(
                &self,
                since: Option<time::OffsetDateTime>,
                after: Option<earmark_core::ChangeCursor>,
                limit: u32,
            ) -> Result<earmark_core::ChangePage, earmark_core::ports::LibraryRepoError> {
                use diesel::{BoolExpressionMethods, ExpressionMethods, QueryDsl, SelectableHelper};
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
                Ok(earmark_core::ChangePage { books, next_cursor, next_since: watermark.get() })
            }

            async fn add_file(
                &self,
                file: earmark_core::NewStoredFile,
            ) -> Result<earmark_core::StoredFile, earmark_core::ports::LibraryRepoError> {
                use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
                use diesel::upsert::excluded;
                use diesel_async::{AsyncConnection, RunQueryDsl};
                use $crate::rows::FileRow;
                use $crate::schema::{books, files};
                use $crate::sql_types::DbTime;

                let asin = file.asin.clone();
                let row = FileRow::new_from(file, DbTime::now());
                let mut conn = self.conn().await?;
                let stored = conn
                    .transaction(async |c| {
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
                        diesel::insert_into(files::table)
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
                            .get_result(c)
                            .await
                            .map(Some)
                            .map_err($crate::error::StoreError::from)
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
                Ok(rows.into_iter().map(FileRow::into_file).collect::<Result<_, _>>()?)
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

        #[async_trait::async_trait]
        impl earmark_core::ports::JobQueue for $store {
            async fn enqueue(
                &self,
                job: earmark_core::NewJob,
            ) -> Result<earmark_core::ports::Enqueued, earmark_core::ports::JobQueueError> {
                use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::JobRow;
                use $crate::schema::jobs;
                use $crate::sql_types::DbTime;

                let active: Vec<&str> =
                    earmark_core::JobStatus::ACTIVE.iter().map(|s| s.as_str()).collect();
                let row = JobRow::queued(job, DbTime::now());
                let mut conn = self.conn().await?;
                // The partial unique index refuses a second active job for the same work; the
                // loop covers the existing job finishing between our insert and our lookup.
                for _ in 0..5 {
                    let inserted = diesel::insert_into(jobs::table)
                        .values(&row)
                        .on_conflict_do_nothing()
                        .execute(&mut *conn)
                        .await
                        .map_err($crate::error::StoreError::from)?;
                    if inserted == 1 {
                        return Ok(earmark_core::ports::Enqueued {
                            job: row.into_job()?,
                            created: true,
                        });
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
                    if let Some(found) = existing
                        .first(&mut *conn)
                        .await
                        .optional()
                        .map_err($crate::error::StoreError::from)?
                    {
                        return Ok(earmark_core::ports::Enqueued {
                            job: found.into_job()?,
                            created: false,
                        });
                    }
                }
                Err($crate::error::StoreError::Corrupt(
                    "the active-job index keeps refusing a job that no active job blocks".into(),
                )
                .into())
            }

            async fn get(
                &self,
                id: earmark_core::JobId,
            ) -> Result<earmark_core::Job, earmark_core::ports::JobQueueError> {
                let mut conn = self.conn().await?;
                match Self::job_row(&mut conn, id).await? {
                    Some(row) => Ok(row.into_job()?),
                    None => Err(earmark_core::ports::JobQueueError::NotFound(id)),
                }
            }

            async fn list(
                &self,
                filter: earmark_core::JobFilter,
            ) -> Result<earmark_core::ports::JobPage, earmark_core::ports::JobQueueError> {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::JobRow;
                use $crate::schema::jobs;

                let matching = || {
                    let mut query = jobs::table.into_boxed::<$backend>();
                    if !filter.statuses.is_empty() {
                        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
                        query = query.filter(jobs::status.eq_any(statuses));
                    }
                    if let Some(task_type) = filter.task_type {
                        query = query.filter(jobs::task_type.eq(task_type.as_str()));
                    }
                    if let Some(asin) = &filter.asin {
                        query = query.filter(jobs::asin.eq(asin.to_string()));
                    }
                    query
                };
                let mut conn = self.conn().await?;
                let total: i64 = matching()
                    .count()
                    .get_result(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                let rows = matching()
                    .select(JobRow::as_select())
                    .order((jobs::created_at.desc(), jobs::id.desc()))
                    .limit(i64::from(filter.limit.max(1)))
                    .offset(i64::from(filter.offset))
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(earmark_core::ports::JobPage {
                    items: rows.into_iter().map(JobRow::into_job).collect::<Result<_, _>>()?,
                    total: u64::try_from(total).unwrap_or(0),
                })
            }

            async fn claim_next(
                &self,
                task_type: earmark_core::TaskType,
            ) -> Result<Option<earmark_core::Job>, earmark_core::ports::JobQueueError> {
                use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::{JobChanges, JobRow};
                use $crate::schema::jobs;
                use $crate::sql_types::{DbId, DbTime};

                let queued = earmark_core::JobStatus::Queued.as_str();
                let mut conn = self.conn().await?;
                let claimed = conn
                    .$write_txn(async |c| {
                        let candidate: Option<DbId> = jobs::table
                            .filter(jobs::task_type.eq(task_type.as_str()))
                            .filter(jobs::status.eq(queued))
                            .order((jobs::created_at.asc(), jobs::id.asc()))
                            .select(jobs::id)
                            .limit(1)
                            $(.$claim_lock())*
                            .first(c)
                            .await
                            .optional()?;
                        let Some(id) = candidate else { return Ok(None) };
                        let now = DbTime::now();
                        diesel::update(jobs::table.find(id).filter(jobs::status.eq(queued)))
                            .set((
                                JobChanges {
                                    status: Some(earmark_core::JobStatus::Running.as_str().into()),
                                    started_at: Some(now),
                                    updated_at: Some(now),
                                    ..JobChanges::default()
                                },
                                jobs::attempts.eq(jobs::attempts + 1),
                            ))
                            .returning(JobRow::as_returning())
                            .get_result(c)
                            .await
                            .optional()
                            .map_err($crate::error::StoreError::from)
                    })
                    .await?;
                Ok(claimed.map(JobRow::into_job).transpose()?)
            }

            async fn update(
                &self,
                id: earmark_core::JobId,
                update: earmark_core::JobUpdate,
            ) -> Result<earmark_core::Job, earmark_core::ports::JobQueueError> {
                use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::JobRow;
                use $crate::schema::jobs;
                use $crate::sql_types::{DbId, DbTime};

                let mut conn = self.conn().await?;
                // Optimistic: the update applies only if the status is still the one checked.
                for _ in 0..10 {
                    let Some(current) = Self::job_row(&mut conn, id).await? else {
                        return Err(earmark_core::ports::JobQueueError::NotFound(id));
                    };
                    let from = current.job_status()?;
                    let changes = $crate::store_impl::job_changes(id, from, &update, DbTime::now())?;
                    let updated = diesel::update(
                        jobs::table.find(DbId(id.0)).filter(jobs::status.eq(from.as_str())),
                    )
                    .set(changes)
                    .returning(JobRow::as_returning())
                    .get_result(&mut *conn)
                    .await
                    .optional()
                    .map_err($crate::error::StoreError::from)?;
                    if let Some(row) = updated {
                        return Ok(row.into_job()?);
                    }
                }
                Err($crate::error::StoreError::Corrupt(format!(
                    "job {id} kept changing status while being updated"
                ))
                .into())
            }

            async fn counts(
                &self,
            ) -> Result<Vec<(earmark_core::TaskType, earmark_core::JobStatus, u64)>, earmark_core::ports::JobQueueError> {
                use diesel::QueryDsl;
                use diesel::dsl::count_star;
                use diesel_async::RunQueryDsl;
                use $crate::schema::jobs;

                let mut conn = self.conn().await?;
                let rows: Vec<(String, String, i64)> = jobs::table
                    .group_by((jobs::task_type, jobs::status))
                    .select((jobs::task_type, jobs::status, count_star()))
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                let mut counts = Vec::with_capacity(rows.len());
                for (task_type, status, n) in rows {
                    counts.push((
                        task_type.parse().map_err($crate::error::StoreError::corrupt)?,
                        status.parse().map_err($crate::error::StoreError::corrupt)?,
                        u64::try_from(n).unwrap_or(0),
                    ));
                }
                Ok(counts)
            }

            async fn promote_due(
                &self,
                now: time::OffsetDateTime,
            ) -> Result<Vec<earmark_core::Job>, earmark_core::ports::JobQueueError> {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use earmark_core::JobStatus;
                use $crate::rows::JobRow;
                use $crate::schema::jobs;
                use $crate::sql_types::DbTime;

                let now = DbTime::new(now);
                let mut conn = self.conn().await?;
                let rows: Vec<JobRow> = diesel::update(
                    jobs::table
                        .filter(jobs::status.eq(JobStatus::Pending.as_str()))
                        .filter(jobs::run_after.le(now)),
                )
                .set((
                    jobs::status.eq(JobStatus::Queued.as_str()),
                    jobs::run_after.eq(None::<DbTime>),
                    jobs::updated_at.eq(now),
                ))
                .returning(JobRow::as_returning())
                .get_results(&mut *conn)
                .await
                .map_err($crate::error::StoreError::from)?;
                Ok(rows.into_iter().map(JobRow::into_job).collect::<Result<_, _>>()?)
            }

            async fn delete_finished(
                &self,
                before: Option<time::OffsetDateTime>,
            ) -> Result<u64, earmark_core::ports::JobQueueError> {
                use diesel::ExpressionMethods;
                use diesel_async::RunQueryDsl;
                use earmark_core::JobStatus;
                use $crate::schema::jobs;
                use $crate::sql_types::DbTime;

                let finished: Vec<&str> = JobStatus::ALL
                    .iter()
                    .filter(|s| s.is_terminal())
                    .map(|s| s.as_str())
                    .collect();
                let mut conn = self.conn().await?;
                let mut query = diesel::delete(jobs::table).filter(jobs::status.eq_any(finished)).into_boxed::<$backend>();
                if let Some(before) = before {
                    query = query.filter(jobs::finished_at.lt(DbTime::new(before)));
                }
                let deleted = query.execute(&mut *conn).await.map_err($crate::error::StoreError::from)?;
                Ok(deleted as u64)
            }

            async fn recover_interrupted(
                &self,
                max_attempts: i32,
            ) -> Result<earmark_core::ports::RecoveryReport, earmark_core::ports::JobQueueError> {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use earmark_core::JobStatus;
                use $crate::rows::{JobChanges, JobRow};
                use $crate::schema::jobs;
                use $crate::sql_types::DbTime;

                let mut conn = self.conn().await?;
                let recovered = conn
                    .$write_txn(async |c| {
                        let now = DbTime::now();
                        let running: Vec<JobRow> = jobs::table
                            .filter(jobs::status.eq(JobStatus::Running.as_str()))
                            .select(JobRow::as_select())
                            .load(c)
                            .await?;
                        let mut out = Vec::with_capacity(running.len());
                        for row in running {
                            let retry = row.attempts < max_attempts;
                            let changes = if retry {
                                JobChanges {
                                    status: Some(JobStatus::Queued.as_str().into()),
                                    status_message: Some("re-queued after an interruption".into()),
                                    progress_percent: Some(0.0),
                                    updated_at: Some(now),
                                    ..JobChanges::default()
                                }
                            } else {
                                JobChanges {
                                    status: Some(JobStatus::Failed.as_str().into()),
                                    error: Some($crate::store_impl::interrupted_message(row.attempts)),
                                    finished_at: Some(now),
                                    updated_at: Some(now),
                                    ..JobChanges::default()
                                }
                            };
                            let row: JobRow = diesel::update(jobs::table.find(row.id))
                                .set(changes)
                                .returning(JobRow::as_returning())
                                .get_result(c)
                                .await?;
                            out.push((retry, row));
                        }
                        Ok::<_, $crate::error::StoreError>(out)
                    })
                    .await?;
                let mut report = earmark_core::ports::RecoveryReport::default();
                for (retry, row) in recovered {
                    let job = row.into_job()?;
                    if retry { report.requeued.push(job) } else { report.failed.push(job) }
                }
                Ok(report)
            }
        }

        impl $store {
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
pub(crate) use impl_ports;

/// The columns a [`earmark_core::JobUpdate`] changes on a job now `from`, or why it may not.
pub(crate) fn job_changes(
    id: earmark_core::JobId,
    from: earmark_core::JobStatus,
    update: &earmark_core::JobUpdate,
    now: crate::sql_types::DbTime,
) -> Result<crate::rows::JobChanges, earmark_core::ports::JobQueueError> {
    use crate::sql_types::DbTime;
    use earmark_core::JobStatus;

    let to = update.status.filter(|to| *to != from);
    if let Some(to) = to
        && !from.can_become(to)
    {
        return Err(earmark_core::ports::JobQueueError::InvalidTransition { id, from, to });
    }
    let finishing = to.is_some_and(JobStatus::is_terminal);
    let progress = if to == Some(JobStatus::Completed) {
        Some(100.0)
    } else {
        update.progress_percent.map(|p| p.clamp(0.0, 100.0))
    };
    Ok(crate::rows::JobChanges {
        status: to.map(|s| s.as_str().to_owned()),
        progress_percent: progress,
        status_message: update.status_message.clone(),
        error: update.error.clone(),
        log_file_path: update.log_file_path.clone(),
        run_after: update.run_after.map(|at| at.map(DbTime::new)),
        finished_at: finishing.then_some(now),
        updated_at: Some(now),
        ..crate::rows::JobChanges::default()
    })
}
