//! The `SettingsStore` implementation, written once and expanded for each backend: one row
//! (`id = 1`) holding the settings as JSON.

macro_rules! impl_settings_store {
    (store = $store:ty $(,)?) => {
        #[async_trait::async_trait]
        impl earmark_core::ports::SettingsStore for $store {
            async fn load(
                &self,
            ) -> Result<earmark_core::Settings, earmark_core::ports::SettingsStoreError> {
                use diesel::{OptionalExtension, QueryDsl};
                use diesel_async::RunQueryDsl;
                use $crate::schema::settings;

                let mut conn = self.conn().await?;
                let body: Option<String> = settings::table
                    .find(1)
                    .select(settings::body)
                    .first(&mut *conn)
                    .await
                    .optional()
                    .map_err($crate::error::StoreError::from)?;
                let Some(body) = body else {
                    return Ok(earmark_core::Settings::default());
                };
                let stored = serde_json::from_str::<earmark_core::Settings>(&body)
                    .map_err(|e| e.to_string())
                    .and_then(|s| s.check().map(|()| s).map_err(|e| e.to_string()));
                match stored {
                    Ok(settings) => Ok(settings),
                    Err(why) => {
                        tracing::warn!(%why, "the saved settings cannot be read; using the defaults");
                        Ok(earmark_core::Settings::default())
                    }
                }
            }

            async fn save(
                &self,
                value: &earmark_core::Settings,
            ) -> Result<(), earmark_core::ports::SettingsStoreError> {
                use diesel::{ExpressionMethods, upsert::excluded};
                use diesel_async::RunQueryDsl;
                use $crate::schema::settings;

                let body = serde_json::to_string(value).map_err($crate::error::StoreError::corrupt)?;
                let mut conn = self.conn().await?;
                diesel::insert_into(settings::table)
                    .values((settings::id.eq(1), settings::body.eq(body)))
                    .on_conflict(settings::id)
                    .do_update()
                    .set(settings::body.eq(excluded(settings::body)))
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::error::StoreError::from)?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_settings_store;
