//! What a sync queues for the books that appeared in it.

use std::collections::HashSet;

use crate::domain::asin::Asin;
use crate::domain::book::BookRecord;
use crate::domain::job::NewJob;
use crate::domain::job_spec::{ConvertOptions, ConvertOptionsError, DownloadParams, JobSpec};
use crate::domain::parenthood::{ItemKind, is_audio_part};
use crate::domain::settings::Settings;

/// The downloads `settings` ask for the books in `new` (found by a sync of `profile`, not in
/// the library before), each with the saved conversion chained when `auto_convert` is on;
/// none when `auto_download_new` is off.
///
/// They are ordinary downloads: they wait in the download lane, under the daily limit and
/// the throttling back-off, like the ones a person asks for.
///
/// # Errors
/// The saved conversion defaults no longer make a conversion (a naming scheme refused).
pub fn downloads_for(
    new: &[Asin],
    profile: Option<&str>,
    settings: &Settings,
) -> Result<Vec<NewJob>, ConvertOptionsError> {
    if !settings.auto_download_new || new.is_empty() {
        return Ok(Vec::new());
    }
    let convert = if settings.auto_convert {
        Some(settings.fill(ConvertOptions::default()).try_into()?)
    } else {
        None
    };
    Ok(new
        .iter()
        .map(|asin| {
            JobSpec::Download(
                asin.clone(),
                DownloadParams {
                    force: false,
                    profile: profile.map(str::to_owned),
                    convert: convert.clone(),
                    cover_size: settings.cover_size.parse().ok(),
                    ..DownloadParams::default()
                },
            )
            .into()
        })
        .collect())
}

/// Of the items a sync `added`, those to download: books and new episodes of known podcasts.
/// A podcast and a multi-part book's parts are not downloads of their own (a podcast has no
/// audio; a part comes with its book's download), and the episodes of a podcast that is new
/// itself are its back catalogue, not new releases.
pub fn worth_downloading(added: &[BookRecord]) -> Vec<Asin> {
    let new_parents: HashSet<&Asin> = added
        .iter()
        .filter(|r| ItemKind::of_item(&r.metadata_json) == ItemKind::Podcast)
        .map(|r| &r.asin)
        .collect();
    added
        .iter()
        .filter(|r| ItemKind::of_item(&r.metadata_json) != ItemKind::Podcast)
        .filter(|r| match &r.parent {
            None => true,
            Some(parent) => !new_parents.contains(&parent.asin) && !is_audio_part(&r.metadata_json),
        })
        .map(|r| r.asin.clone())
        .collect()
}

/// The books of a fetched library that were not in the library before, in the fetch's
/// order; none on a first sync (when the library held none of them), whose books are the
/// library as it stands, not purchases to download.
pub fn new_books(fetched: &[Asin], known_before: &[Asin]) -> Vec<Asin> {
    if known_before.is_empty() {
        return Vec::new();
    }
    let known: std::collections::HashSet<&Asin> = known_before.iter().collect();
    let mut seen = std::collections::HashSet::new();
    fetched
        .iter()
        .filter(|asin| !known.contains(asin) && seen.insert(*asin))
        .cloned()
        .collect()
}
