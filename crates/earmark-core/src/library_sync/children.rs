//! The episodes of podcasts and the parts of multi-part books, read for a sync.
//!
//! A parent's children come from requests of their own (one or more pages per parent), so
//! they are read again only when the list may have changed: when the parent's record names its
//! children (`relationships`) and they are exactly the ones stored, the stored children stay
//! as they are. A parent that names none is always read.

use std::collections::HashSet;

use crate::domain::asin::Asin;
use crate::domain::book::BookRecord;
use crate::domain::parenthood::{ItemKind, listed_children};
use crate::download::children_of;
use crate::ports::{JobContext, JobFailure, LibraryRepo, LibrarySource};

/// What a sync learned about the library's children.
#[derive(Debug, Default)]
pub(super) struct Children {
    /// The children read from Audible, to upsert.
    pub(super) read: Vec<BookRecord>,
    /// The stored children of parents whose list is unchanged: still in the library.
    pub(super) kept: Vec<Asin>,
    /// How many parents were read.
    pub(super) parents_read: usize,
    /// How many parents were left as stored.
    pub(super) parents_kept: usize,
}

/// The stored children (not removed) of `parent`.
async fn stored_children(repo: &dyn LibraryRepo, parent: &Asin) -> Result<Vec<Asin>, JobFailure> {
    Ok(children_of(repo, parent)
        .await
        .map_err(super::saving_failed)?
        .into_iter()
        .map(|b| b.record.asin)
        .collect())
}

/// Reads the children of the parents among `top` (the library's top-level records) whose
/// list may have changed, and keeps the stored children of the others.
///
/// # Errors
/// The source's failure (nothing is written then), or the repository's.
pub(super) async fn read_children(
    source: &dyn LibrarySource,
    repo: &dyn LibraryRepo,
    profile: Option<&str>,
    top: &[BookRecord],
    ctx: &dyn JobContext,
) -> Result<Children, JobFailure> {
    let mut children = Children::default();
    let mut to_read = Vec::new();
    for parent in top
        .iter()
        .filter(|r| ItemKind::of_item(&r.metadata_json).is_parent())
    {
        let listed: HashSet<Asin> = listed_children(&parent.metadata_json).into_iter().collect();
        let stored = stored_children(repo, &parent.asin).await?;
        if !listed.is_empty() && stored.iter().collect::<HashSet<_>>() == listed.iter().collect() {
            children.kept.extend(stored);
            children.parents_kept += 1;
        } else {
            to_read.push(parent.clone());
        }
    }
    if !to_read.is_empty() {
        ctx.progress(
            50.0,
            Some(&format!(
                "reading the episodes and parts of {} podcasts and multi-part books",
                to_read.len()
            )),
        );
        children.read = source
            .fetch_children(profile, &to_read, ctx)
            .await
            .map_err(|e| super::failure_of(&e))?;
        children.parents_read = to_read.len();
    }
    if children.parents_read + children.parents_kept > 0 {
        ctx.log(&format!(
            "{} episodes and parts read from {} parents; {} parents unchanged ({} episodes and \
             parts kept)",
            children.read.len(),
            children.parents_read,
            children.parents_kept,
            children.kept.len()
        ));
    }
    Ok(children)
}
