//! The `SettingsStore` contract: defaults until saved, saved whole, read back as saved.

use std::sync::Arc;

use earmark_core::ports::SettingsStore;
use earmark_core::{OutputFormat, Settings};

/// Runs the settings contract against `$setup`'s fixtures.
#[macro_export]
macro_rules! settings_store_contract {
    ($setup:path) => {
        $crate::__contract_tests!(
            $setup, settings_store, settings:
            settings_are_the_defaults_until_saved_then_what_was_saved,
        );
    };
}

/// A fresh store answers the defaults; a save replaces the whole document and a second save
/// replaces the first.
pub async fn settings_are_the_defaults_until_saved_then_what_was_saved(
    store: Arc<dyn SettingsStore>,
) {
    assert_eq!(store.load().await.unwrap(), Settings::default());
    let first = Settings {
        output_format: OutputFormat::Mp3,
        compression_mp3: 2,
        dir_naming_scheme: "$artist/$series".into(),
        ..Settings::default()
    };
    store.save(&first).await.unwrap();
    assert_eq!(store.load().await.unwrap(), first);
    let second = Settings {
        auto_retry: false,
        ..first.clone()
    };
    store.save(&second).await.unwrap();
    assert_eq!(store.load().await.unwrap(), second);
}
