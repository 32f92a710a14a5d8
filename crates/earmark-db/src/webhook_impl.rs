//! The `WebhookStore` implementation, written once and expanded for each backend.

macro_rules! impl_webhook_store {
    (
        store = $store:ty,
        write_txn = $write_txn:ident $(,)?
    ) => {
        #[async_trait::async_trait]
        impl earmark_core::ports::WebhookStore for $store {
            async fn create(
                &self,
                webhook: earmark_core::domain::webhook::NewWebhook,
            ) -> Result<
                earmark_core::domain::webhook::Webhook,
                earmark_core::ports::WebhookStoreError,
            > {
                use diesel_async::RunQueryDsl;
                use $crate::schema::webhooks;
                use $crate::webhook_rows::{WebhookRow, events_column};

                let row = WebhookRow {
                    id: $crate::sql_types::DbId(uuid::Uuid::new_v4()),
                    url: webhook.url.as_str().to_owned(),
                    secret: webhook
                        .secret
                        .as_ref()
                        .map(|s| String::from_utf8_lossy(s.expose()).into_owned()),
                    events: events_column(&webhook.events),
                    created_at: $crate::sql_types::DbTime::now(),
                };
                let mut conn = self.conn().await?;
                diesel::insert_into(webhooks::table)
                    .values(&row)
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(row.into_webhook()?)
            }

            async fn list(
                &self,
            ) -> Result<
                Vec<earmark_core::domain::webhook::Webhook>,
                earmark_core::ports::WebhookStoreError,
            > {
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::schema::webhooks;
                use $crate::webhook_rows::WebhookRow;

                let mut conn = self.conn().await?;
                let rows: Vec<WebhookRow> = webhooks::table
                    .order((webhooks::created_at.asc(), webhooks::id.asc()))
                    .select(WebhookRow::as_select())
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(rows
                    .into_iter()
                    .map(WebhookRow::into_webhook)
                    .collect::<Result<_, _>>()?)
            }

            async fn delete(
                &self,
                id: uuid::Uuid,
            ) -> Result<(), earmark_core::ports::WebhookStoreError> {
                use diesel::{ExpressionMethods, QueryDsl};
                use diesel_async::RunQueryDsl;
                use $crate::schema::{webhook_deliveries, webhooks};

                let key = $crate::sql_types::DbId(id);
                let mut conn = self.conn().await?;
                let removed = conn
                    .$write_txn(async |c| {
                        diesel::delete(
                            webhook_deliveries::table
                                .filter(webhook_deliveries::webhook_id.eq(key)),
                        )
                        .execute(c)
                        .await?;
                        diesel::delete(webhooks::table.find(key)).execute(c).await
                    })
                    .await
                    .map_err($crate::error::StoreError::from)?;
                if removed == 0 {
                    return Err(earmark_core::ports::WebhookStoreError::NotFound(id));
                }
                Ok(())
            }

            async fn deliveries(
                &self,
                id: uuid::Uuid,
                limit: u32,
            ) -> Result<
                Vec<earmark_core::domain::webhook::Delivery>,
                earmark_core::ports::WebhookStoreError,
            > {
                use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::schema::{webhook_deliveries, webhooks};
                use $crate::webhook_rows::DeliveryRow;

                let key = $crate::sql_types::DbId(id);
                let mut conn = self.conn().await?;
                let known = webhooks::table
                    .find(key)
                    .select(webhooks::id)
                    .first::<$crate::sql_types::DbId>(&mut *conn)
                    .await
                    .optional()
                    .map_err($crate::error::StoreError::from)?;
                if known.is_none() {
                    return Err(earmark_core::ports::WebhookStoreError::NotFound(id));
                }
                let rows: Vec<DeliveryRow> = webhook_deliveries::table
                    .filter(webhook_deliveries::webhook_id.eq(key))
                    .order(webhook_deliveries::seq.desc())
                    .limit(i64::from(limit))
                    .select(DeliveryRow::as_select())
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(rows
                    .into_iter()
                    .map(DeliveryRow::into_delivery)
                    .collect::<Result<_, _>>()?)
            }

            async fn record(
                &self,
                notifications: &[earmark_core::domain::webhook::Notification],
            ) -> Result<u64, earmark_core::ports::WebhookStoreError> {
                use diesel::QueryDsl;
                use diesel_async::RunQueryDsl;
                use $crate::schema::{webhook_deliveries, webhooks};
                use $crate::sql_types::{DbId, DbTime};
                use $crate::webhook_rows::{NewDeliveryRow, asks_for};

                if notifications.is_empty() {
                    return Ok(0);
                }
                let now = DbTime::now();
                // The webhooks are read in the transaction that writes their deliveries; a
                // webhook deleted meanwhile on PostgreSQL (read committed) fails the insert's
                // reference, and the next try reads the webhooks again.
                let mut conn = self.conn().await?;
                let mut tries = 0;
                let written = loop {
                    tries += 1;
                    let attempt = conn
                        .$write_txn(async |c| {
                            let hooks: Vec<(DbId, String)> = webhooks::table
                                .select((webhooks::id, webhooks::events))
                                .load(c)
                                .await?;
                            // In the order given, notification by notification: `seq` keeps it.
                            let rows: Vec<NewDeliveryRow> = notifications
                                .iter()
                                .flat_map(|n| {
                                    let body = n.body();
                                    hooks
                                        .iter()
                                        .filter(move |(_, events)| asks_for(events, n.event))
                                        .map(move |(hook, _)| NewDeliveryRow {
                                            id: DbId(uuid::Uuid::new_v4()),
                                            webhook_id: *hook,
                                            event: n.event.as_str().to_owned(),
                                            notification_id: DbId(n.id),
                                            body: body.clone(),
                                            status:
                                                earmark_core::domain::webhook::DeliveryStatus::Pending
                                                    .as_str()
                                                    .to_owned(),
                                            attempts: 0,
                                            created_at: now,
                                            next_attempt_at: Some(now),
                                        })
                                })
                                .collect();
                            let mut written = 0;
                            // One insert per row: SQLite's multi-row insert is not in Diesel's
                            // portable subset, and the rows must keep their order.
                            for row in &rows {
                                written += diesel::insert_into(webhook_deliveries::table)
                                    .values(row)
                                    .execute(c)
                                    .await?;
                            }
                            Ok::<_, diesel::result::Error>(written)
                        })
                        .await;
                    match attempt {
                        Err(diesel::result::Error::DatabaseError(
                            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                            _,
                        )) if tries < 3 => continue,
                        other => break other.map_err($crate::error::StoreError::from)?,
                    }
                };
                Ok(written as u64)
            }

            async fn due(
                &self,
                now: time::OffsetDateTime,
            ) -> Result<earmark_core::ports::DueDeliveries, earmark_core::ports::WebhookStoreError>
            {
                use diesel::dsl::min;
                use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::schema::{webhook_deliveries, webhooks};
                use $crate::sql_types::DbId;
                use $crate::webhook_rows::DeliveryRow;

                let pending = earmark_core::domain::webhook::DeliveryStatus::Pending.as_str();
                let mut conn = self.conn().await?;
                let heads: Vec<(DbId, Option<i64>)> = webhook_deliveries::table
                    .filter(webhook_deliveries::status.eq(pending))
                    .group_by(webhook_deliveries::webhook_id)
                    .select((webhook_deliveries::webhook_id, min(webhook_deliveries::seq)))
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                let seqs: Vec<i64> = heads.into_iter().filter_map(|(_, seq)| seq).collect();
                let mut due = earmark_core::ports::DueDeliveries::default();
                if seqs.is_empty() {
                    return Ok(due);
                }
                let rows: Vec<(DeliveryRow, String, Option<String>)> = webhook_deliveries::table
                    .inner_join(webhooks::table)
                    .filter(webhook_deliveries::seq.eq_any(&seqs))
                    .order(webhook_deliveries::seq.asc())
                    .select((DeliveryRow::as_select(), webhooks::url, webhooks::secret))
                    .load(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                for (row, url, secret) in rows {
                    let delivery = row.into_delivery()?;
                    let at = delivery.next_attempt_at.unwrap_or(now);
                    if at <= now {
                        due.ready.push(earmark_core::domain::webhook::DueDelivery {
                            delivery,
                            url,
                            secret: secret.and_then(|s| {
                                earmark_core::domain::webhook::WebhookSecret::new(s).ok()
                            }),
                        });
                    } else {
                        due.next_at = Some(due.next_at.map_or(at, |next| next.min(at)));
                    }
                }
                Ok(due)
            }

            async fn record_attempt(
                &self,
                delivery: uuid::Uuid,
                at: time::OffsetDateTime,
                outcome: earmark_core::domain::webhook::AttemptOutcome,
            ) -> Result<(), earmark_core::ports::WebhookStoreError> {
                use diesel::{ExpressionMethods, QueryDsl};
                use diesel_async::RunQueryDsl;
                use earmark_core::domain::webhook::{AttemptOutcome as O, DeliveryStatus as S};
                use $crate::schema::webhook_deliveries as d;
                use $crate::sql_types::{DbId, DbTime};

                let (status, code, error, next) = match outcome {
                    O::Delivered { status } => (S::Delivered, Some(status), None, None),
                    O::Retry {
                        status,
                        error,
                        next_at,
                    } => (S::Pending, status, Some(error), Some(DbTime::new(next_at))),
                    O::GaveUp { status, error } => (S::Failed, status, Some(error), None),
                };
                let mut conn = self.conn().await?;
                diesel::update(d::table.filter(d::id.eq(DbId(delivery))))
                    .set((
                        d::status.eq(status.as_str()),
                        d::attempts.eq(d::attempts + 1),
                        d::last_attempt_at.eq(Some(DbTime::new(at))),
                        d::next_attempt_at.eq(next),
                        d::response_status.eq(code.map(i32::from)),
                        d::error.eq(error),
                    ))
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_webhook_store;
