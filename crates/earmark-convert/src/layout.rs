//! Where outputs go inside the out dir, named as AAXtoMP3 names them by default.

use std::path::PathBuf;

use earmark_core::ports::ConversionRequest;
use earmark_core::safe_file_name;

/// The output directory (relative) and the file stem of a single-file output.
pub fn book_paths(request: &ConversionRequest) -> (PathBuf, String) {
    request
        .tags
        .book_paths(request.dir_scheme.as_ref(), request.file_scheme.as_ref())
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
        Some(scheme) => scheme.render(|n| tags.value(Some((title, number, count)), n)),
        None => {
            let width = count.to_string().len();
            format!("{}-{number:0width$} {title}", tags.value(None, "title"))
        }
    };
    safe_file_name(&rendered.replace('/', ""))
}
