//! Both port contracts against the SQLite adapter, each test on its own database file.

use std::sync::Arc;

use earmark_core::ports::{JobQueue, LibraryRepo};
use earmark_db::testing::TestDb;

struct Sqlite(TestDb);

impl earmark_contract::Fixture for Sqlite {
    fn library(&self) -> Arc<dyn LibraryRepo> {
        self.0.db.library.clone()
    }
    fn jobs(&self) -> Arc<dyn JobQueue> {
        self.0.db.jobs.clone()
    }
    fn settings(&self) -> Arc<dyn earmark_core::ports::SettingsStore> {
        self.0.db.settings.clone()
    }
    fn schedule(&self) -> Arc<dyn earmark_core::ports::ScheduleStore> {
        self.0.db.schedule.clone()
    }
    fn webhooks(&self) -> Arc<dyn earmark_core::ports::WebhookStore> {
        self.0.db.webhooks.clone()
    }
    fn local_items(&self) -> Arc<dyn earmark_core::ports::LocalItemStore> {
        self.0.db.local_items.clone()
    }
}

async fn setup() -> Option<Sqlite> {
    Some(Sqlite(TestDb::sqlite().await))
}

earmark_contract::library_repo_contract!(setup);
earmark_contract::library_browse_contract!(setup);
earmark_contract::library_files_contract!(setup);
earmark_contract::library_positions_contract!(setup);
earmark_contract::job_queue_contract!(setup);
earmark_contract::job_effects_contract!(setup);
earmark_contract::settings_store_contract!(setup);
earmark_contract::schedule_store_contract!(setup);
earmark_contract::webhook_store_contract!(setup);
earmark_contract::local_item_store_contract!(setup);
