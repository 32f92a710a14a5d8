#![doc = include_str!("../README.md")]
#![expect(clippy::unwrap_used, reason = "test suites fail by panicking")]

pub mod job_effects;
pub mod job_queue;
pub mod library_browse;
pub mod library_files;
pub mod library_positions;
pub mod library_repo;
pub mod local_items;
pub mod schedule_store;
pub mod settings_store;
pub mod webhook_store;

use std::sync::Arc;

use earmark_core::ports::{JobQueue, LibraryRepo};
use earmark_core::{Asin, BookRecord};

/// What a backend hands the suites: fresh, empty stores that live as long as the fixture.
pub trait Fixture: Send + Sync + 'static {
    /// The library repository under test.
    fn library(&self) -> Arc<dyn LibraryRepo>;
    /// The job queue under test.
    fn jobs(&self) -> Arc<dyn JobQueue>;
    /// The settings store under test.
    fn settings(&self) -> Arc<dyn earmark_core::ports::SettingsStore>;
    /// The automatic sync's schedule.
    fn schedule(&self) -> Arc<dyn earmark_core::ports::ScheduleStore>;
    /// Webhooks and their deliveries.
    fn webhooks(&self) -> Arc<dyn earmark_core::ports::WebhookStore>;
    /// Local items.
    fn local_items(&self) -> Arc<dyn earmark_core::ports::LocalItemStore>;
    /// Both, for suites whose operations span them.
    fn both(&self) -> (Arc<dyn LibraryRepo>, Arc<dyn JobQueue>) {
        (self.library(), self.jobs())
    }
}

/// The `n`th test ASIN: `B000000001`, `B000000002`, ...
pub fn asin(n: u32) -> Asin {
    Asin::parse(&format!("B{n:09}")).unwrap()
}

/// A plausible library record for [`asin`]`(n)`.
pub fn record(n: u32) -> BookRecord {
    BookRecord {
        asin: asin(n),
        title: format!("Book {n}"),
        subtitle: n.is_multiple_of(2).then(|| format!("Subtitle {n}")),
        author: Some("Ursula K. Le Guin, Someone Else".into()),
        narrator: Some("Rob Inglis".into()),
        series: n.is_multiple_of(3).then(|| "Earthsea".to_owned()),
        series_sequence: n.is_multiple_of(3).then(|| format!("{}", n / 3)),
        series_asin: n.is_multiple_of(3).then(|| "B000EARTHS".to_owned()),
        runtime_min: Some(600 + i32::try_from(n).unwrap()),
        cover_url: Some(format!(
            "https://m.media-amazon.com/images/I/{n}._SL500_.jpg"
        )),
        release_date: Some(format!("20{:02}-01-01", n % 100)),
        purchase_date: Some(format!("2024-02-{:02}T10:00:00Z", 1 + n % 28)),
        metadata_json: serde_json::json!({
            "asin": asin(n).to_string(),
            "title": format!("Book {n}"),
            "authors": "Ursula K. Le Guin, Someone Else",
            "rating": "-",
        }),
        parent: None,
    }
}

/// Expands one `#[tokio::test]` per listed suite function, each with a fresh fixture.
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_tests {
    ($setup:path, $module:ident, $getter:ident: $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(fixture) = $setup().await else { return };
                $crate::$module::$case($crate::Fixture::$getter(&fixture)).await;
            }
        )+
    };
}
