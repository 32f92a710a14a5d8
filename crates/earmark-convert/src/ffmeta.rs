//! ffmpeg's metadata file format: how tags and chapter marks are handed to ffmpeg without
//! putting them on a command line.

use std::fmt::Write as _;

use earmark_core::Chapter;

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '=' | ';' | '#' | '\\' | '\n') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An ffmetadata document: the tags, and the chapters when given.
pub(crate) fn ffmetadata(tags: &[(&str, String)], chapters: &[Chapter]) -> String {
    let mut doc = String::from(";FFMETADATA1\n");
    for (key, value) in tags.iter().filter(|(_, v)| !v.is_empty()) {
        let _ = writeln!(doc, "{key}={}", escape(value));
    }
    for chapter in chapters {
        let _ = write!(
            doc,
            "[CHAPTER]\nTIMEBASE=1/1000\nSTART={}\nEND={}\ntitle={}\n",
            chapter.start_offset_ms,
            chapter.start_offset_ms + chapter.length_ms,
            escape(&chapter.title)
        );
    }
    doc
}
