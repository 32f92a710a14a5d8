//! One item of Audible's `1.0/library` answer as a [`BookRecord`].
//!
//! The item is kept whole in `metadata_json`; the columns earmark filters and sorts by are
//! read from it here. Audible omits keys it has no value for and sends `null` for others, so
//! every field but `asin` and `title` is optional.

use earmark_core::{Asin, BookRecord};
use serde_json::Value;

/// Why an item was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedItem(pub String);

fn text(item: &Value, key: &str) -> Option<String> {
    item.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The `name`s of a list of people, `", "`-joined as audible-cli's export does.
fn names(item: &Value, key: &str) -> Option<String> {
    let joined = item
        .get(key)?
        .as_array()?
        .iter()
        .filter_map(|p| p.get("name").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(", ");
    (!joined.is_empty()).then_some(joined)
}

/// The URL of the largest image in `product_images` (keys are pixel sizes).
fn largest_image(item: &Value) -> Option<String> {
    item.get("product_images")?
        .as_object()?
        .iter()
        .filter_map(|(size, url)| Some((size.parse::<u32>().ok()?, url.as_str()?)))
        .max_by_key(|(size, _)| *size)
        .map(|(_, url)| url.to_owned())
}

/// A series position as text: Audible sends strings ("1.5"), sometimes numbers.
fn sequence(series: &Value) -> Option<String> {
    match series.get("sequence")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The record for one library item, or why it cannot be one (no valid ASIN or no title).
///
/// # Errors
/// [`SkippedItem`] naming the problem, for the sync's log.
pub fn book_record(item: Value) -> Result<BookRecord, SkippedItem> {
    let raw_asin = item.get("asin").and_then(Value::as_str).unwrap_or_default();
    let asin = Asin::parse(raw_asin)
        .map_err(|e| SkippedItem(format!("item with ASIN {raw_asin:?} skipped: {e}")))?;
    let title = text(&item, "title")
        .ok_or_else(|| SkippedItem(format!("item {asin} skipped: it has no title")))?;
    let first_series = item
        .get("series")
        .and_then(Value::as_array)
        .and_then(|s| s.first());
    Ok(BookRecord {
        asin,
        title,
        subtitle: text(&item, "subtitle"),
        author: names(&item, "authors"),
        narrator: names(&item, "narrators"),
        series: first_series.and_then(|s| text(s, "title")),
        series_sequence: first_series.and_then(sequence),
        series_asin: first_series.and_then(|s| text(s, "asin")),
        runtime_min: item
            .get("runtime_length_min")
            .and_then(Value::as_i64)
            .and_then(|m| i32::try_from(m).ok()),
        cover_url: largest_image(&item),
        release_date: text(&item, "release_date"),
        purchase_date: text(&item, "purchase_date").or_else(|| {
            item.get("library_status")
                .and_then(|s| text(s, "date_added"))
        }),
        metadata_json: item,
        parent: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_full_item_fills_every_column_and_is_kept_whole() {
        let item = json!({
            "asin": "B002V5D7RU",
            "title": "A Wizard of Earthsea",
            "subtitle": "Earthsea Cycle, Book 1",
            "authors": [{"asin": "B000AP9A6K", "name": "Ursula K. Le Guin"}, {"name": "X"}],
            "narrators": [{"name": "Rob Inglis"}],
            "series": [
                {"asin": "B00SERIES1", "sequence": "1", "title": "Earthsea Cycle"},
                {"asin": "B00SERIES2", "sequence": "3", "title": "Other"}
            ],
            "runtime_length_min": 450,
            "product_images": {"252": "https://x/252.jpg", "1215": "https://x/1215.jpg", "500": "https://x/500.jpg"},
            "release_date": "2010-09-14",
            "purchase_date": "2014-06-03T16:12:22.012Z",
        });
        let r = book_record(item.clone()).unwrap();
        assert_eq!(r.asin.as_str(), "B002V5D7RU");
        assert_eq!(r.subtitle.as_deref(), Some("Earthsea Cycle, Book 1"));
        assert_eq!(r.author.as_deref(), Some("Ursula K. Le Guin, X"));
        assert_eq!(r.narrator.as_deref(), Some("Rob Inglis"));
        assert_eq!(r.series.as_deref(), Some("Earthsea Cycle"));
        assert_eq!(r.series_sequence.as_deref(), Some("1"));
        assert_eq!(r.series_asin.as_deref(), Some("B00SERIES1"));
        assert_eq!(r.runtime_min, Some(450));
        assert_eq!(r.cover_url.as_deref(), Some("https://x/1215.jpg"));
        assert_eq!(r.release_date.as_deref(), Some("2010-09-14"));
        assert_eq!(r.purchase_date.as_deref(), Some("2014-06-03T16:12:22.012Z"));
        assert_eq!(r.metadata_json, item);
    }

    #[test]
    fn missing_and_null_fields_are_none() {
        let r = book_record(json!({
            "asin": "B000000001", "title": "T", "subtitle": null, "authors": [],
            "series": null, "product_images": {}, "runtime_length_min": null,
            "library_status": {"date_added": "2020-01-01T00:00:00Z"},
        }))
        .unwrap();
        assert_eq!(
            (r.subtitle, r.author, r.series, r.cover_url, r.runtime_min),
            (None, None, None, None, None)
        );
        assert_eq!(r.purchase_date.as_deref(), Some("2020-01-01T00:00:00Z"));
    }

    #[test]
    fn numeric_series_positions_become_text() {
        let r = book_record(json!({"asin": "B000000001", "title": "T",
            "series": [{"title": "S", "sequence": 2.5}]}))
        .unwrap();
        assert_eq!(r.series_sequence.as_deref(), Some("2.5"));
    }

    #[test]
    fn items_without_a_valid_asin_or_title_are_skipped_with_a_reason() {
        let bad_asin = book_record(json!({"asin": "nope", "title": "T"})).unwrap_err();
        assert!(bad_asin.0.contains("\"nope\""), "{bad_asin:?}");
        let no_title = book_record(json!({"asin": "B000000001", "title": " "})).unwrap_err();
        assert!(no_title.0.contains("no title"), "{no_title:?}");
    }
}
