//! Chapters of a book, as players need them: a flat list with offsets.

use serde::{Deserialize, Serialize};

/// One chapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chapter {
    /// Its title as Audible gives it.
    pub title: String,
    /// Where it starts, from the start of the book.
    pub start_offset_ms: u64,
    /// How long it is.
    pub length_ms: u64,
}

/// Why a chapter document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an audible-cli chapter file: {0}")]
pub struct ChapterFileError(String);

/// The chapters in audible-cli's `<ASIN>-chapters.json` (the content-metadata response,
/// `content_metadata.chapter_info.chapters`), flattened depth first: Audible nests parts and
/// their chapters ("Tree" style); a player wants every entry in playing order.
///
/// # Errors
/// [`ChapterFileError`] when the document has no chapter list or an entry lacks its numbers.
pub fn chapters_from_audible(
    document: &serde_json::Value,
) -> Result<Vec<Chapter>, ChapterFileError> {
    let list = document
        .pointer("/content_metadata/chapter_info/chapters")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| ChapterFileError("no content_metadata.chapter_info.chapters list".into()))?;
    let mut out = Vec::new();
    flatten(list, &mut out)?;
    out.sort_by_key(|c| c.start_offset_ms);
    Ok(out)
}

fn flatten(list: &[serde_json::Value], out: &mut Vec<Chapter>) -> Result<(), ChapterFileError> {
    for entry in list {
        let number = |key: &str| {
            entry
                .get(key)
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| ChapterFileError(format!("a chapter without `{key}`")))
        };
        out.push(Chapter {
            title: entry
                .get("title")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            start_offset_ms: number("start_offset_ms")?,
            length_ms: number("length_ms")?,
        });
        if let Some(children) = entry.get("chapters").and_then(serde_json::Value::as_array) {
            flatten(children, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_parts_flatten_in_playing_order() {
        let doc = serde_json::json!({"content_metadata": {"chapter_info": {"chapters": [
            {"title": "Opening Credits", "start_offset_ms": 0, "start_offset_sec": 0, "length_ms": 15000},
            {"title": "Part One", "start_offset_ms": 15000, "length_ms": 2000, "chapters": [
                {"title": "Chapter 1", "start_offset_ms": 17000, "length_ms": 600000},
                {"title": "Chapter 2", "start_offset_ms": 617000, "length_ms": 500000}
            ]},
            {"title": "End Credits", "start_offset_ms": 1117000, "length_ms": 30000}
        ]}}});
        let titles: Vec<_> = chapters_from_audible(&doc)
            .unwrap()
            .into_iter()
            .map(|c| (c.title, c.start_offset_ms))
            .collect();
        assert_eq!(
            titles,
            vec![
                ("Opening Credits".into(), 0),
                ("Part One".into(), 15000),
                ("Chapter 1".into(), 17000),
                ("Chapter 2".into(), 617000),
                ("End Credits".into(), 1117000),
            ]
        );
    }

    #[test]
    fn documents_without_chapters_are_refused() {
        assert!(chapters_from_audible(&serde_json::json!({"content_metadata": {}})).is_err());
        let missing = serde_json::json!({"content_metadata": {"chapter_info": {"chapters": [{"title": "x"}]}}});
        assert!(
            chapters_from_audible(&missing)
                .unwrap_err()
                .to_string()
                .contains("start_offset_ms")
        );
    }
}
