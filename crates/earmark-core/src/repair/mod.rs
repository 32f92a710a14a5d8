//! Repair: bring what the database says about the library's files back in step with what is
//! on disk, after files were deleted, moved or copied behind earmark's back.
//!
//! A repair first takes a [`Survey`] (the books, their registered files, the local items and
//! the files found under `<data>/downloads` and `<data>/converted`), then works out a
//! [`RepairPlan`] from it without touching anything. The preview counts the plan; the REPAIR
//! job ([`RepairLibrary`]) carries it out, writing every action to its log.

mod apply;
mod plan;
mod preview;
mod survey;
#[cfg(test)]
mod tests;

pub use apply::RepairLibrary;
pub use plan::{Adopted, Duplicate, Moved, RepairPlan};
pub use preview::RepairPreview;
pub use survey::{Survey, SurveyError, SurveyPorts};

/// The extensions of the audio a conversion writes (and other tools write), lower case.
pub const CONVERTED_AUDIO: &[&str] = &["m4b", "m4a", "mp3", "flac", "opus", "ogg"];

/// The extensions of Audible's encrypted downloads, lower case.
pub const DOWNLOADED_AUDIO: &[&str] = &["aax", "aaxc"];

/// The lower-cased extension of `path`.
pub(crate) fn extension_of(path: &str) -> Option<String> {
    std::path::Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// The `Content-Type` of converted audio by its extension.
pub(crate) fn audio_mime(ext: &str) -> &'static str {
    ext.parse::<crate::domain::format::OutputFormat>()
        .map(crate::domain::format::OutputFormat::mime)
        .unwrap_or(if ext == "ogg" {
            "audio/ogg"
        } else {
            "application/octet-stream"
        })
}
