//! The `ScheduleStore` implementation, written once and expanded for each backend: one row
//! (`id = 1`) holding the next automatic sync's time.

macro_rules! impl_schedule_store {
    (store = $store:ty $(,)?) => {
        #[async_trait::async_trait]
        impl earmark_core::ports::ScheduleStore for $store {
            async fn next_sync_at(
                &self,
            ) -> Result<Option<time::OffsetDateTime>, earmark_core::ports::ScheduleStoreError> {
                use diesel::{OptionalExtension, QueryDsl};
                use diesel_async::RunQueryDsl;
                use $crate::schema::schedule;

                let mut conn = self.conn().await?;
                let at: Option<Option<$crate::sql_types::DbTime>> = schedule::table
                    .find(1)
                    .select(schedule::next_sync_at)
                    .first(&mut *conn)
                    .await
                    .optional()
                    .map_err($crate::error::StoreError::from)?;
                Ok(at.flatten().map($crate::sql_types::DbTime::get))
            }

            async fn set_next_sync_at(
                &self,
                at: Option<time::OffsetDateTime>,
            ) -> Result<(), earmark_core::ports::ScheduleStoreError> {
                use diesel::{ExpressionMethods, upsert::excluded};
                use diesel_async::RunQueryDsl;
                use $crate::schema::schedule;

                let at = at.map($crate::sql_types::DbTime::new);
                let mut conn = self.conn().await?;
                diesel::insert_into(schedule::table)
                    .values((schedule::id.eq(1), schedule::next_sync_at.eq(at)))
                    .on_conflict(schedule::id)
                    .do_update()
                    .set(schedule::next_sync_at.eq(excluded(schedule::next_sync_at)))
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_schedule_store;
