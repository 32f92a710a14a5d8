//! `GET /library`'s query string: read as text, then validated here, so that every bad value
//! gets a 422 naming the parameter and what it accepts.

use earmark_core::{
    Asin, BookQuery, BookSortKey, BookStatus, ChangeCursor, ContentType, ParentFilter,
    SeriesFilter, SortDirection,
};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::routes::wire::{rfc3339, upper_list};

/// Most books one page may carry.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Change-feed page size when none is asked for.
pub const DEFAULT_DELTA_LIMIT: u32 = 500;

/// Parameters of `GET /library`. The web client's spellings (`search`, `series_title`,
/// `sort_order`) are accepted beside earmark's (`q`, `series`, `sort_dir`); when both are
/// sent, earmark's wins.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LibraryParams {
    /// Words that must each appear in the title, subtitle, authors, narrators or series.
    pub q: Option<String>,
    /// Same as `q` (which wins when both are sent).
    pub search: Option<String>,
    /// Comma-separated statuses, e.g. `DOWNLOADED,COMPLETED`.
    #[param(inline, value_type = Option<crate::routes::wire::BookStatusList>)]
    pub status: Option<String>,
    /// Exact series title; `__none__` for books of no series.
    pub series: Option<String>,
    /// Same as `series` (which wins when both are sent).
    pub series_title: Option<String>,
    /// `audiobook` or `podcast`.
    #[param(inline, value_type = Option<crate::routes::wire::ContentTypeName>)]
    pub content_type: Option<String>,
    /// `true`: only books with a downloaded or converted file here; `false`: only books with
    /// neither.
    #[param(value_type = Option<bool>)]
    pub has_local: Option<String>,
    /// Part of an author's name.
    pub author: Option<String>,
    /// `title` (default), `author`, `narrator`, `series`, `runtime_length_min`,
    /// `release_date`, `purchase_date`, `created_at`, `updated_at`, `status`, `asin` or
    /// `position` (the default with `parent_asin`).
    #[param(inline, value_type = Option<crate::routes::wire::SortKeyName>)]
    pub sort_by: Option<String>,
    /// `asc` (default) or `desc`.
    #[param(inline, value_type = Option<crate::routes::wire::SortDirectionName>)]
    pub sort_dir: Option<String>,
    /// Same as `sort_dir` (which wins when both are sent).
    #[param(inline, value_type = Option<crate::routes::wire::SortDirectionName>)]
    pub sort_order: Option<String>,
    /// 1-based page (with `page_size`).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 4_294_967_295_i64)]
    pub page: Option<String>,
    /// Books per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub page_size: Option<String>,
    /// Books to skip (with `limit`), instead of `page`.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4_294_967_295_000_i64)]
    pub skip: Option<String>,
    /// Books to return, 1 to 1000; with `since`, changes per call (default 500).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// A podcast's or multi-part book's ASIN: list its episodes or parts, in their order
    /// (unless `sort_by` says otherwise). Without it, only top-level items are listed.
    #[param(value_type = Option<crate::routes::wire::AsinText>)]
    pub parent_asin: Option<String>,
    /// `true` to list books removed from the Audible library too.
    #[param(value_type = Option<bool>)]
    pub include_removed: Option<String>,
    /// RFC 3339 time: only books created, changed or removed since (tombstones included);
    /// the change feed takes no filter, sort or page parameter.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// With `since`: the `next_cursor` of the previous page.
    #[param(pattern = "^.+~[0-9A-Z]{10}$")]
    pub cursor: Option<String>,
}

/// What a valid query asks for.
#[derive(Debug, PartialEq)]
pub enum LibraryRequest {
    /// A filtered, ordered page.
    Browse {
        /// The repository query.
        query: BookQuery,
        /// The page size asked for.
        page_size: u32,
    },
    /// The change feed.
    Changes {
        /// From when.
        since: OffsetDateTime,
        /// Where the previous page ended.
        cursor: Option<ChangeCursor>,
        /// Changes per page.
        limit: u32,
    },
}

fn invalid(name: &str, value: &str, expected: &str) -> ApiError {
    ApiError::Validation(format!("`{name}={value}` is not valid: {expected}"))
}

pub(super) fn number(
    name: &str,
    value: Option<&str>,
    min: u64,
    max: u64,
) -> Result<Option<u64>, ApiError> {
    value
        .map(|raw| match raw.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(invalid(
                name,
                raw,
                &format!("use a whole number from {min} to {max}"),
            )),
        })
        .transpose()
}

/// The value of `a`, else of its alias `b`.
fn either<'a>(a: &'a Option<String>, b: &'a Option<String>) -> Option<&'a str> {
    a.as_deref().or(b.as_deref())
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Parses a `next_cursor`: `<RFC 3339 time>~<ASIN>`.
pub fn parse_cursor(raw: &str) -> Result<ChangeCursor, ApiError> {
    let bad = || invalid("cursor", raw, "send back a `next_cursor` unchanged");
    let (at, asin) = raw.rsplit_once('~').ok_or_else(bad)?;
    Ok(ChangeCursor {
        updated_at: OffsetDateTime::parse(at, &Rfc3339).map_err(|_| bad())?,
        asin: Asin::parse(asin).map_err(|_| bad())?,
    })
}

/// `true`/`1` or `false`/`0`, when given.
fn boolean(name: &str, raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    match raw.map(str::trim) {
        None => Ok(None),
        Some("false" | "0") => Ok(Some(false)),
        Some("true" | "1") => Ok(Some(true)),
        Some(other) => Err(invalid(name, other, "use true or false")),
    }
}

/// The wire form of a cursor, see [`parse_cursor`].
pub fn format_cursor(cursor: &ChangeCursor) -> String {
    format!("{}~{}", rfc3339(cursor.updated_at), cursor.asin)
}

impl LibraryParams {
    /// Validates every parameter.
    ///
    /// # Errors
    /// [`ApiError::Validation`] naming the first bad parameter.
    pub fn parse(&self) -> Result<LibraryRequest, ApiError> {
        let text = either(&self.q, &self.search);
        let series = either(&self.series, &self.series_title);
        let direction = either(&self.sort_dir, &self.sort_order);
        let limit = number("limit", self.limit.as_deref(), 1, u64::from(MAX_PAGE_SIZE))?;

        if let Some(raw) = &self.since {
            let filtered = [
                ("q", text),
                ("status", self.status.as_deref()),
                ("series", series),
                ("author", self.author.as_deref()),
                ("content_type", self.content_type.as_deref()),
                ("parent_asin", self.parent_asin.as_deref()),
                ("has_local", self.has_local.as_deref()),
                ("sort_by", self.sort_by.as_deref()),
                ("sort_dir", direction),
                ("page", self.page.as_deref()),
                ("skip", self.skip.as_deref()),
            ];
            if let Some((name, _)) = filtered.iter().find(|(_, v)| v.is_some()) {
                return Err(ApiError::Validation(format!(
                    "`{name}` cannot be combined with `since`: the change feed returns every \
                     change in (updated_at, asin) order; filter on the client"
                )));
            }
            let since = OffsetDateTime::parse(raw.trim(), &Rfc3339).map_err(|_| {
                invalid(
                    "since",
                    raw,
                    "use an RFC 3339 time such as 2026-01-31T12:00:00Z (the `next_since` of \
                     the last call)",
                )
            })?;
            let page_size = number(
                "page_size",
                self.page_size.as_deref(),
                1,
                u64::from(MAX_PAGE_SIZE),
            )?;
            let limit = limit
                .or(page_size)
                .map_or(DEFAULT_DELTA_LIMIT, |n| n as u32);
            return Ok(LibraryRequest::Changes {
                since,
                cursor: self.cursor.as_deref().map(parse_cursor).transpose()?,
                limit,
            });
        }
        if self.cursor.is_some() {
            return Err(ApiError::Validation(
                "`cursor` pages the change feed: send it with the same `since`".into(),
            ));
        }

        let statuses = upper_list::<BookStatus>("status", self.status.as_deref())?;
        let parent = match self.parent_asin.as_deref().map(str::trim) {
            None => ParentFilter::TopLevel,
            Some(raw) => ParentFilter::ChildrenOf(Asin::parse(raw).map_err(|e| {
                invalid(
                    "parent_asin",
                    raw,
                    &format!("{e}; send a podcast's or multi-part book's ASIN"),
                )
            })?),
        };
        let default_sort = match parent {
            ParentFilter::ChildrenOf(_) => BookSortKey::Position,
            _ => BookSortKey::Title,
        };
        let sort = self
            .sort_by
            .as_deref()
            .map(|s| s.trim().to_ascii_lowercase().parse::<BookSortKey>())
            .transpose()
            .map_err(|e| ApiError::Validation(format!("sort_by: {e}")))?
            .unwrap_or(default_sort);
        let direction = direction
            .map(|s| s.trim().to_ascii_lowercase().parse::<SortDirection>())
            .transpose()
            .map_err(|e| ApiError::Validation(format!("sort_dir: {e}")))?
            .unwrap_or(SortDirection::Asc);
        let include_removed =
            boolean("include_removed", self.include_removed.as_deref())?.unwrap_or(false);
        let has_local = boolean("has_local", self.has_local.as_deref())?;
        let content_type = self
            .content_type
            .as_deref()
            .map(|c| c.trim().to_ascii_lowercase().parse::<ContentType>())
            .transpose()
            .map_err(|e| ApiError::Validation(format!("content_type: {e}")))?;
        let series = non_empty(series).map(|title| match title.as_str() {
            // The web client's "No Series" choice.
            "__none__" => SeriesFilter::Without,
            _ => SeriesFilter::Titled(title),
        });

        let page = number("page", self.page.as_deref(), 1, u64::from(u32::MAX))?;
        let page_size = number(
            "page_size",
            self.page_size.as_deref(),
            1,
            u64::from(MAX_PAGE_SIZE),
        )?;
        let skip = number("skip", self.skip.as_deref(), 0, u64::from(u32::MAX) * 1000)?;
        let (offset, page_size) = match (page, page_size, skip, limit) {
            (Some(_), _, Some(_), _) | (_, Some(_), _, Some(_)) => {
                return Err(ApiError::Validation(
                    "page with `page`/`page_size` or with `skip`/`limit`, not both".into(),
                ));
            }
            (_, _, skip, Some(limit)) => (skip.unwrap_or(0), limit as u32),
            (page, size, skip, None) => {
                let size = size.map_or(DEFAULT_PAGE_SIZE, |s| s as u32);
                let offset = match (page, skip) {
                    (_, Some(skip)) => skip,
                    (page, None) => (page.unwrap_or(1) - 1) * u64::from(size),
                };
                (offset, size)
            }
        };
        Ok(LibraryRequest::Browse {
            query: BookQuery {
                text: non_empty(text),
                statuses,
                series,
                content_type,
                parent,
                has_local,
                author: non_empty(self.author.as_deref()),
                include_removed,
                sort,
                direction,
                offset,
                limit: page_size,
            },
            page_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<LibraryRequest, ApiError> {
        let query: String = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let params = actix_web::web::Query::<LibraryParams>::from_query(&query).unwrap();
        params.parse()
    }

    fn browse(pairs: &[(&str, &str)]) -> BookQuery {
        match parse(pairs).unwrap() {
            LibraryRequest::Browse { query, .. } => query,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn top_level_items_unless_a_parent_is_named() {
        assert_eq!(browse(&[]).parent, ParentFilter::TopLevel);
        let q = browse(&[("parent_asin", "B0PODCAST1")]);
        assert_eq!(
            (q.parent, q.sort),
            (
                ParentFilter::ChildrenOf(Asin::parse("B0PODCAST1").unwrap()),
                BookSortKey::Position
            )
        );
        let q = browse(&[("parent_asin", "B0PODCAST1"), ("sort_by", "release_date")]);
        assert_eq!(q.sort, BookSortKey::ReleaseDate);
        assert!(parse(&[("parent_asin", "nope")]).is_err());
        assert!(
            parse(&[
                ("parent_asin", "B0PODCAST1"),
                ("since", "2026-01-01T00:00:00Z")
            ])
            .is_err()
        );
    }

    #[test]
    fn defaults_and_paging_by_page_or_by_skip() {
        let q = browse(&[]);
        assert_eq!((q.offset, q.limit, q.sort), (0, 50, BookSortKey::Title));
        let q = browse(&[("page", "3"), ("page_size", "20")]);
        assert_eq!((q.offset, q.limit), (40, 20));
        let q = browse(&[("skip", "7"), ("limit", "5")]);
        assert_eq!((q.offset, q.limit), (7, 5));
    }

    #[test]
    fn the_web_clients_spellings_are_understood() {
        let q = browse(&[
            ("search", "earthsea"),
            ("series_title", "Earthsea"),
            ("sort_by", "purchase_date"),
            ("sort_order", "desc"),
            ("status", "new,downloaded"),
        ]);
        assert_eq!(q.text.as_deref(), Some("earthsea"));
        assert_eq!(q.series, Some(SeriesFilter::Titled("Earthsea".into())));
        assert_eq!(
            (q.sort, q.direction),
            (BookSortKey::PurchaseDate, SortDirection::Desc)
        );
        assert_eq!(q.statuses, vec![BookStatus::New, BookStatus::Downloaded]);
        let q = browse(&[
            ("series", "__none__"),
            ("content_type", "podcast"),
            ("has_local", "true"),
        ]);
        assert_eq!(q.series, Some(SeriesFilter::Without));
        assert_eq!(q.content_type, Some(ContentType::Podcast));
        assert_eq!(q.has_local, Some(true));
        assert!(parse(&[("content_type", "film")]).is_err());
        assert!(parse(&[("has_local", "maybe")]).is_err());
    }

    #[test]
    fn earmarks_spelling_wins_over_the_web_clients() {
        let q = browse(&[
            ("q", "a"),
            ("search", "b"),
            ("series", "S"),
            ("series_title", "T"),
            ("sort_dir", "desc"),
            ("sort_order", "asc"),
        ]);
        assert_eq!(q.text.as_deref(), Some("a"));
        assert_eq!(q.series, Some(SeriesFilter::Titled("S".into())));
        assert_eq!(q.direction, SortDirection::Desc);
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (pairs, needle) in [
            (vec![("sort_by", "rating")], "sort_by"),
            (vec![("sort_dir", "up")], "sort_dir"),
            (vec![("status", "DONE")], "status"),
            (vec![("page", "0")], "page"),
            (vec![("page_size", "5000")], "page_size"),
            (vec![("limit", "x")], "limit"),
            (vec![("since", "yesterday")], "since"),
            (vec![("since", "2026-01-01T00:00:00Z"), ("q", "x")], "q"),
            (vec![("cursor", "x")], "cursor"),
            (
                vec![("since", "2026-01-01T00:00:00Z"), ("cursor", "nope")],
                "cursor",
            ),
            (vec![("page", "2"), ("skip", "3")], "skip"),
            (vec![("include_removed", "maybe")], "include_removed"),
        ] {
            let err = parse(&pairs).unwrap_err();
            assert!(
                matches!(&err, ApiError::Validation(m) if m.contains(needle)),
                "{pairs:?} -> {err}"
            );
        }
    }

    #[test]
    fn since_with_a_cursor_round_trips() {
        let cursor = ChangeCursor {
            updated_at: OffsetDateTime::parse("2026-11-24T10:00:00.123456Z", &Rfc3339).unwrap(),
            asin: Asin::parse("B000000042").unwrap(),
        };
        let wire = format_cursor(&cursor);
        match parse(&[
            ("since", "2026-11-24T09:00:00Z"),
            ("cursor", &wire),
            ("limit", "10"),
        ])
        .unwrap()
        {
            LibraryRequest::Changes {
                cursor: Some(c),
                limit,
                ..
            } => assert_eq!((c, limit), (cursor, 10)),
            other => panic!("{other:?}"),
        }
    }
}
