//! Where outputs go inside the out dir, named as AAXtoMP3 names them by default.

use std::path::PathBuf;

use earmark_core::ports::{BookTags, ConversionRequest};
use earmark_core::{NamingScheme, safe_file_name, safe_relative_path};

/// A naming variable's value for `tags` (and a chapter, when naming one).
fn value(tags: &BookTags, chapter: Option<(&str, usize, usize)>, name: &str) -> String {
    let title = tags.title.replace(" (Unabridged)", "");
    match name {
        "title" | "album" => title,
        "artist" | "album_artist" => tags.author.clone(),
        "album_date" => tags.year.clone(),
        "genre" => tags.genre.clone(),
        "narrator" => tags.narrator.clone(),
        "series" => tags.series.clone(),
        "series_sequence" => tags.series_sequence.clone(),
        "chapter" => chapter.map(|c| c.0.to_owned()).unwrap_or_default(),
        "chapternum" => chapter.map(|c| c.1.to_string()).unwrap_or_default(),
        "chaptercount" => chapter.map(|c| c.2.to_string()).unwrap_or_default(),
        _ => String::new(),
    }
}

fn scheme_or(default: &str, scheme: Option<&NamingScheme>, chapter: bool) -> NamingScheme {
    scheme.cloned().unwrap_or_else(|| {
        NamingScheme::parse(default, chapter)
            .unwrap_or_else(|_| unreachable!("the default schemes are valid"))
    })
}

/// The output directory (relative) and the file stem of a single-file output.
pub fn book_paths(request: &ConversionRequest) -> (PathBuf, String) {
    let tags = &request.tags;
    let dir = scheme_or("$genre/$artist/$title", request.dir_scheme.as_ref(), false)
        .render(|n| value(tags, None, n));
    let file =
        scheme_or("$title", request.file_scheme.as_ref(), false).render(|n| value(tags, None, n));
    (safe_relative_path(&dir), safe_file_name(&file))
}

/// The file stem of chapter `number` (from 1) of `count`.
pub fn chapter_stem(
    request: &ConversionRequest,
    title: &str,
    number: usize,
    count: usize,
) -> String {
    let tags = &request.tags;
    let rendered = match &request.chapter_scheme {
        Some(scheme) => scheme.render(|n| value(tags, Some((title, number, count)), n)),
        None => {
            let width = count.to_string().len();
            format!("{}-{number:0width$} {title}", value(tags, None, "title"))
        }
    };
    safe_file_name(&rendered.replace('/', ""))
}
