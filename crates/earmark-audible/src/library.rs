//! The [`LibrarySource`] through `audible api 1.0/library`, paged until a short page; the
//! episodes and parts of a podcast or multi-part book through the same request with
//! `parent_asin=<parent>`, as audible-cli's `LibraryItem.get_child_items` asks for them.
//!
//! `library export` would flatten the items (authors to one string, only the first series,
//! one cover size); the API answer keeps author ASINs, every series, every cover size and the
//! available codecs, which the Book shape and later downloads need.

use std::collections::HashSet;

use async_trait::async_trait;
use earmark_core::domain::parenthood::position_under;
use earmark_core::ports::{JobContext, LibrarySource, LibrarySourceError};
use earmark_core::{Asin, BookRecord, ParentLink};
use futures_util::StreamExt;
use serde_json::Value;

use crate::cli::{AudibleCli, classify_failure};
use crate::record::book_record;

/// The most items Audible returns per page.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The response groups asked for: those audible-cli's own `library export` asks for.
const RESPONSE_GROUPS: &str = "contributors,media,price,product_attrs,product_desc,\
product_extended_attrs,product_plan_details,product_plans,rating,sample,sku,series,reviews,\
ws4v,origin,relationships,review_attrs,categories,badge_types,category_ladders,\
claim_code_url,is_downloaded,is_finished,is_returnable,origin_asin,pdf_url,percent_complete,\
provided_review";

/// Cover sizes asked for, in pixels.
const IMAGE_SIZES: &str = "252,500,1215";

/// A safety stop: no real library has this many pages.
const MAX_PAGES: u32 = 10_000;

/// How many parents' children are read at once: each is an audible-cli process.
const PARENTS_AT_ONCE: usize = 3;

/// The person's Audible library, read with audible-cli.
#[derive(Debug, Clone)]
pub struct AudibleLibrary {
    cli: AudibleCli,
    page_size: u32,
}

impl AudibleLibrary {
    /// Reads through `cli`, [`MAX_PAGE_SIZE`] items per page.
    pub fn new(cli: AudibleCli) -> Self {
        Self {
            cli,
            page_size: MAX_PAGE_SIZE,
        }
    }

    /// The same with smaller pages (1 to [`MAX_PAGE_SIZE`]).
    #[must_use]
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    /// One page's items (of `parent`'s children, when given), as audible-cli wrote them to a
    /// file in the job's work dir.
    async fn page(
        &self,
        profile: Option<&str>,
        parent: Option<&Asin>,
        page: u32,
        ctx: &dyn JobContext,
    ) -> Result<Vec<Value>, LibrarySourceError> {
        let out = ctx.work_dir().join(match parent {
            None => format!("library-page-{page}.json"),
            Some(parent) => format!("library-{parent}-page-{page}.json"),
        });
        let mut args: Vec<std::ffi::OsString> = vec!["api".into(), "1.0/library".into()];
        if let Some(parent) = parent {
            args.extend(["-p".into(), format!("parent_asin={parent}").into()]);
        }
        let spec = self.cli.spec(
            profile,
            args.into_iter().chain([
                "-p".into(),
                format!("num_results={}", self.page_size).into(),
                "-p".into(),
                format!("page={page}").into(),
                "-p".into(),
                format!("response_groups={RESPONSE_GROUPS}").into(),
                "-p".into(),
                format!("image_sizes={IMAGE_SIZES}").into(),
                // Oldest purchase first: a book bought while paging lands on the last page
                // instead of pushing every later page one item down.
                "-p".into(),
                "sort_by=PurchaseDate".into(),
                "-o".into(),
                out.clone().into_os_string(),
            ]),
        );
        let finished = self.cli.run(&spec, ctx).await?;
        if !finished.success {
            return Err(classify_failure(profile, &finished));
        }
        let raw = tokio::fs::read(&out).await.map_err(|e| {
            LibrarySourceError::Malformed(format!("page {page}: no output file ({e})"))
        })?;
        let mut answer: Value = serde_json::from_slice(&raw)
            .map_err(|e| LibrarySourceError::Malformed(format!("page {page}: {e}")))?;
        match answer.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(LibrarySourceError::Malformed(format!(
                "page {page} has no `items` list"
            ))),
        }
    }

    /// Every child of `parent`, in Audible's order, each linked to it.
    async fn children_of(
        &self,
        profile: Option<&str>,
        parent: &Asin,
        ctx: &dyn JobContext,
    ) -> Result<Vec<BookRecord>, LibrarySourceError> {
        let mut records = Vec::new();
        let mut seen = HashSet::new();
        for page in 1..=MAX_PAGES {
            let items = self.page(profile, Some(parent), page, ctx).await?;
            let count = items.len();
            for item in items {
                let listed_at = position_under(&item, parent);
                match book_record(item) {
                    Ok(mut record) if seen.insert(record.asin.clone()) => {
                        let position = listed_at.unwrap_or_else(|| {
                            u32::try_from(records.len() + 1).unwrap_or(u32::MAX)
                        });
                        record.parent = Some(ParentLink {
                            asin: parent.clone(),
                            position,
                        });
                        records.push(record);
                    }
                    Ok(_) => {}
                    Err(skipped) => ctx.log(&skipped.0),
                }
            }
            if count < self.page_size as usize {
                return Ok(records);
            }
        }
        Err(LibrarySourceError::Malformed(format!(
            "{parent} has more than {MAX_PAGES} pages of {} children",
            self.page_size
        )))
    }
}

#[async_trait]
impl LibrarySource for AudibleLibrary {
    async fn fetch_library(
        &self,
        profile: Option<&str>,
        ctx: &dyn JobContext,
    ) -> Result<Vec<BookRecord>, LibrarySourceError> {
        if !self.cli.has_config() {
            return Err(LibrarySourceError::NoProfile(profile.map(str::to_owned)));
        }
        let mut records = Vec::new();
        let mut seen = HashSet::new();
        for page in 1..=MAX_PAGES {
            let items = self.page(profile, None, page, ctx).await?;
            let count = items.len();
            for item in items {
                match book_record(item) {
                    Ok(record) if seen.insert(record.asin.clone()) => records.push(record),
                    Ok(_) => {}
                    Err(skipped) => ctx.log(&skipped.0),
                }
            }
            // The total is unknown until a short page: approach half-way asymptotically.
            let fetched = records.len();
            ctx.progress(
                50.0 * (1.0 - 1.0 / f64::from(page + 1)),
                Some(&format!("fetched {fetched} books ({page} pages)")),
            );
            if count < self.page_size as usize {
                return Ok(records);
            }
        }
        Err(LibrarySourceError::Malformed(format!(
            "more than {MAX_PAGES} pages of {} items",
            self.page_size
        )))
    }

    async fn fetch_children(
        &self,
        profile: Option<&str>,
        parents: &[BookRecord],
        ctx: &dyn JobContext,
    ) -> Result<Vec<BookRecord>, LibrarySourceError> {
        let total = parents.len();
        let mut done = 0usize;
        let mut children = Vec::new();
        let asins: Vec<Asin> = parents.iter().map(|p| p.asin.clone()).collect();
        let mut reads = futures_util::stream::iter(asins)
            .map(|parent| async move { self.children_of(profile, &parent, ctx).await })
            .buffered(PARENTS_AT_ONCE);
        while let Some(read) = reads.next().await {
            children.extend(read?);
            done += 1;
            ctx.progress(
                50.0,
                Some(&format!(
                    "read the episodes and parts of {done} of {total} podcasts and multi-part books"
                )),
            );
        }
        Ok(children)
    }
}
