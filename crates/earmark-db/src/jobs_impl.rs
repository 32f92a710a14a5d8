//! The `JobQueue` implementation, written once and expanded for each backend (see
//! `store_impl.rs` for what each backend provides).

/// The jobs a [`earmark_core::JobFilter`] selects (statuses, kind, book), as a boxed query
/// for `$backend`; paging and order are the caller's.
macro_rules! jobs_matching {
    ($backend:ty, $filter:expr) => {{
        use diesel::{ExpressionMethods, QueryDsl};
        use $crate::schema::jobs;

        let filter: &earmark_core::JobFilter = $filter;
        let mut query = jobs::table.into_boxed::<$backend>();
        if !filter.statuses.is_empty() {
            use diesel::BoolExpressionMethods;
            use earmark_core::JobStatus;
            // PAUSED is no stored status but `paused_at` on an active row; an active status
            // asked for means that status and not paused.
            let (active, ended): (Vec<&str>, Vec<&str>) = filter
                .statuses
                .iter()
                .filter(|s| **s != JobStatus::Paused)
                .map(|s| s.as_str())
                .partition(|s| JobStatus::ACTIVE.iter().any(|a| a.as_str() == *s));
            let held: Vec<&str> = if filter.statuses.contains(&JobStatus::Paused) {
                JobStatus::ACTIVE.iter().map(|s| s.as_str()).collect()
            } else {
                Vec::new()
            };
            query = query.filter(
                jobs::status
                    .eq_any(active)
                    .and(jobs::paused_at.is_null())
                    .or(jobs::status.eq_any(ended))
                    .or(jobs::paused_at.is_not_null().and(jobs::status.eq_any(held))),
            );
        }
        if let Some(task_type) = filter.task_type {
            query = query.filter(jobs::task_type.eq(task_type.as_str()));
        }
        if let Some(asin) = &filter.asin {
            query = query.filter(jobs::asin.eq(asin.to_string()));
        }
        query
    }};
}
pub(crate) use jobs_matching;

/// The page of jobs a [`earmark_core::JobFilter`] asks for, newest first, as a boxed query
/// for `$backend` selecting whole rows.
macro_rules! jobs_page {
    ($backend:ty, $filter:expr) => {{
        use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
        use $crate::schema::jobs;

        let filter: &earmark_core::JobFilter = $filter;
        $crate::jobs_impl::jobs_matching!($backend, filter)
            .select($crate::rows::JobRow::as_select())
            .order((jobs::created_at.desc(), jobs::id.desc()))
            .limit(i64::from(filter.limit.max(1)))
            .offset(i64::from(filter.offset))
    }};
}
pub(crate) use jobs_page;

macro_rules! impl_job_queue {
    (
        store = $store:ty,
        backend = $backend:ty,
        conn = $conn:ty,
        write_txn = $write_txn:ident,
        claim_lock = { $($claim_lock:ident)* } $(,)?
    ) => {
        #[async_trait::async_trait]
        impl earmark_core::ports::JobQueue for $store {
            async fn enqueue(
                &self,
                job: earmark_core::NewJob,
            ) -> Result<earmark_core::ports::Enqueued, earmark_core::ports::JobQueueError> {
                let mut conn = self.conn().await?;
                let (row, created) = Self::insert_job(&mut conn, job).await?;
                Ok(earmark_core::ports::Enqueued {
                    job: row.into_job()?,
                    created,
                })
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
                use $crate::rows::JobRow;

                let (total, rows) = self.job_page(filter).await?;
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
                            .filter(jobs::paused_at.is_null())
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
                let mut conn = self.conn().await?;
                Ok(Self::change_job(&mut conn, id, &update).await??.into_job()?)
            }

            async fn apply(
                &self,
                id: earmark_core::JobId,
                update: earmark_core::JobUpdate,
                effects: earmark_core::ports::JobEffects,
            ) -> Result<earmark_core::ports::Applied, earmark_core::ports::JobQueueError> {
                use $crate::rows::JobRow;

                let mut conn = self.conn().await?;
                let outcome = conn
                    .$write_txn(async |c| {
                        let job = match Self::change_job(c, id, &update).await? {
                            Ok(job) => job,
                            // Nothing is written yet: the transaction commits empty.
                            Err(refused) => return Ok(Err(refused)),
                        };
                        for book in effects.book.into_iter().chain(effects.other_books) {
                            self.change_book(c, book).await?;
                        }
                        let mut follow_ups = Vec::with_capacity(effects.follow_ups.len());
                        for next in effects.follow_ups {
                            follow_ups.push(Self::insert_job(c, next).await?);
                        }
                        Ok::<_, $crate::error::StoreError>(Ok((job, follow_ups)))
                    })
                    .await?;
                let (job, follow_ups) = outcome?;
                Ok(earmark_core::ports::Applied {
                    job: job.into_job()?,
                    follow_ups: follow_ups
                        .into_iter()
                        .map(|(row, created): (JobRow, bool)| {
                            Ok(earmark_core::ports::Enqueued { job: row.into_job()?, created })
                        })
                        .collect::<Result<_, $crate::error::StoreError>>()?,
                })
            }

            async fn set_paused(
                &self,
                id: earmark_core::JobId,
                paused: bool,
            ) -> Result<earmark_core::Job, earmark_core::ports::JobQueueError> {
                use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::JobRow;
                use $crate::schema::jobs;
                use $crate::sql_types::{DbId, DbTime};

                let mut conn = self.conn().await?;
                let outcome = conn
                    .$write_txn(async |c| {
                        let Some(row) = jobs::table
                            .find(DbId(id.0))
                            .select(JobRow::as_select())
                            .first(c)
                            .await
                            .optional()?
                        else {
                            return Ok(Err(earmark_core::ports::JobQueueError::NotFound(id)));
                        };
                        let status = row.job_status()?;
                        if status.is_terminal() {
                            let to = if paused { earmark_core::JobStatus::Paused } else { status };
                            return Ok(Err(earmark_core::ports::JobQueueError::InvalidTransition {
                                id,
                                from: status,
                                to,
                            }));
                        }
                        if row.paused_at.is_some() == paused {
                            return Ok(Ok(row));
                        }
                        let now = DbTime::now();
                        let row = diesel::update(jobs::table.find(DbId(id.0)))
                            .set((
                                jobs::paused_at.eq(paused.then_some(now)),
                                jobs::updated_at.eq(now),
                            ))
                            .returning(JobRow::as_returning())
                            .get_result(c)
                            .await?;
                        Ok::<_, $crate::error::StoreError>(Ok(row))
                    })
                    .await?;
                Ok(outcome?.into_job()?)
            }

            async fn record_outputs(
                &self,
                id: earmark_core::JobId,
                outputs: Vec<earmark_core::OutputFile>,
            ) -> Result<(), earmark_core::ports::JobQueueError> {
                use diesel::{ExpressionMethods, QueryDsl};
                use diesel_async::RunQueryDsl;
                use $crate::schema::jobs;
                use $crate::sql_types::DbId;

                let record = serde_json::to_string(&outputs).map_err($crate::error::StoreError::corrupt)?;
                let mut conn = self.conn().await?;
                let changed = diesel::update(jobs::table.find(DbId(id.0)))
                    .set(jobs::outputs.eq(record))
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                if changed == 0 {
                    return Err(earmark_core::ports::JobQueueError::NotFound(id));
                }
                Ok(())
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
                which: earmark_core::ports::FinishedJobs,
            ) -> Result<Vec<earmark_core::Job>, earmark_core::ports::JobQueueError> {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::rows::JobRow;
                use $crate::schema::jobs;
                use $crate::sql_types::DbTime;

                let finished: Vec<&str> = earmark_core::JobStatus::ALL
                    .iter()
                    .filter(|s| s.is_terminal())
                    .filter(|s| which.statuses.is_empty() || which.statuses.contains(s))
                    .map(|s| s.as_str())
                    .collect();
                // Far in the future when unset: one statement serves both cases.
                let before = which
                    .before
                    .unwrap_or(time::OffsetDateTime::now_utc() + time::Duration::days(36_500));
                let mut conn = self.conn().await?;
                // In batches, each its own statement: a history of 100,000 jobs must not hold
                // the write lock (SQLite's one) while the engine waits to record progress.
                let mut deleted = Vec::new();
                loop {
                    let ids: Vec<$crate::sql_types::DbId> = jobs::table
                        .filter(jobs::status.eq_any(&finished))
                        .filter(jobs::finished_at.lt(DbTime::new(before)))
                        .select(jobs::id)
                        .limit($crate::store_impl::DELETE_BATCH)
                        .load(&mut *conn)
                        .await
                        .map_err($crate::error::StoreError::from)?;
                    if ids.is_empty() {
                        break;
                    }
                    let batch = ids.len();
                    // Still finished: a job cannot leave a terminal status.
                    let rows: Vec<JobRow> = diesel::delete(
                        jobs::table
                            .filter(jobs::id.eq_any(ids))
                            .filter(jobs::status.eq_any(&finished)),
                    )
                    .returning(JobRow::as_returning())
                    .get_results(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                    for row in rows {
                        deleted.push(row.into_job()?);
                    }
                    if (batch as i64) < $crate::store_impl::DELETE_BATCH {
                        break;
                    }
                }
                Ok(deleted)
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
    };
}
pub(crate) use impl_job_queue;
