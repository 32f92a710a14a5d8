//! Browsing the library (filtered, ordered pages and the series summary), written once and
//! expanded for each backend as inherent methods the `LibraryRepo` impl delegates to.

diesel::define_sql_function! {
    /// SQL `lower()`: both backends have it; used for case-insensitive matching.
    fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

diesel::define_sql_function! {
    /// SQL `length()` of a text, to order series positions "2" before "10".
    fn length(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Integer>;
}

/// A `LIKE` pattern matching `needle` anywhere, lower-cased, with `\` escaping `%` and `_`.
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for ch in needle.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// Applies a [`earmark_core::BookQuery`]'s filters to a boxed `books` query.
macro_rules! filter_books {
    ($query:expr, $q:expr) => {{
        use diesel::{
            BoolExpressionMethods, EscapeExpressionMethods, ExpressionMethods,
            NullableExpressionMethods, TextExpressionMethods,
        };
        use $crate::library_browse::{contains_pattern, lower};
        use $crate::schema::books;

        let q: &earmark_core::BookQuery = $q;
        let mut query = $query;
        if !q.include_removed {
            query = query.filter(books::removed_at.is_null());
        }
        if !q.statuses.is_empty() {
            let statuses: Vec<&str> = q.statuses.iter().map(|s| s.as_str()).collect();
            query = query.filter(books::status.eq_any(statuses));
        }
        match &q.series {
            Some(earmark_core::SeriesFilter::Titled(series)) => {
                query = query.filter(books::series.eq(series.clone()));
            }
            Some(earmark_core::SeriesFilter::Without) => {
                query = query.filter(books::series.is_null());
            }
            None => {}
        }
        if let Some(content_type) = q.content_type {
            query = query.filter(books::content_type.eq(content_type.as_str()));
        }
        match &q.parent {
            earmark_core::ParentFilter::TopLevel => {
                query = query.filter(books::parent_asin.is_null());
            }
            earmark_core::ParentFilter::ChildrenOf(parent) => {
                query = query.filter(books::parent_asin.eq(parent.as_str().to_owned()));
            }
            earmark_core::ParentFilter::Any => {}
        }
        match q.has_local {
            Some(true) => {
                query = query.filter(
                    books::local_path_aax
                        .is_not_null()
                        .or(books::local_path_converted.is_not_null()),
                );
            }
            Some(false) => {
                query = query.filter(
                    books::local_path_aax
                        .is_null()
                        .and(books::local_path_converted.is_null()),
                );
            }
            None => {}
        }
        if let Some(author) = &q.author {
            query = query.filter(
                lower(books::author)
                    .like(contains_pattern(author))
                    .escape('\\'),
            );
        }
        for word in q.text.iter().flat_map(|t| t.split_whitespace()) {
            let p = contains_pattern(word);
            query = query.filter(
                lower(books::title.nullable())
                    .like(p.clone())
                    .escape('\\')
                    .or(lower(books::subtitle).like(p.clone()).escape('\\'))
                    .or(lower(books::author).like(p.clone()).escape('\\'))
                    .or(lower(books::narrator).like(p.clone()).escape('\\'))
                    .or(lower(books::series).like(p).escape('\\')),
            );
        }
        query
    }};
}
pub(crate) use filter_books;

/// Orders a boxed `books` query by a sort key and direction: text case-insensitively (then
/// by bytes), missing values last in either direction on both backends, and the ASIN breaks
/// ties so pages never overlap.
macro_rules! order_books {
    ($query:expr, $sort:expr, $dir:expr) => {{
        use diesel::{ExpressionMethods, QueryDsl};
        use earmark_core::{BookSortKey as K, SortDirection};
        use diesel::NullableExpressionMethods;
        use $crate::library_browse::{length, lower};
        use $crate::schema::books;

        let query = $query;
        macro_rules! by {
            ($col:expr) => {
                match $dir {
                    SortDirection::Asc => query.order(($col.asc(), books::asin.asc())),
                    SortDirection::Desc => query.order(($col.desc(), books::asin.desc())),
                }
            };
            (text $col:expr) => {
                match $dir {
                    SortDirection::Asc => query.order((
                        $col.is_null().asc(),
                        lower($col).asc(),
                        $col.asc(),
                        books::asin.asc(),
                    )),
                    SortDirection::Desc => query.order((
                        $col.is_null().asc(),
                        lower($col).desc(),
                        $col.desc(),
                        books::asin.desc(),
                    )),
                }
            };
            (nullable $col:expr) => {
                match $dir {
                    SortDirection::Asc => {
                        query.order(($col.is_null().asc(), $col.asc(), books::asin.asc()))
                    }
                    SortDirection::Desc => {
                        query.order(($col.is_null().asc(), $col.desc(), books::asin.desc()))
                    }
                }
            };
        }
        match $sort {
            K::Title => match $dir {
                // Matches the `books_by_title` index; title is never NULL.
                SortDirection::Asc => query.order((
                    lower(books::title.nullable()).asc(),
                    books::title.asc(),
                    books::asin.asc(),
                )),
                SortDirection::Desc => query.order((
                    lower(books::title.nullable()).desc(),
                    books::title.desc(),
                    books::asin.desc(),
                )),
            },
            K::Author => by!(text books::author),
            K::Narrator => by!(text books::narrator),
            K::Series => match $dir {
                SortDirection::Asc => query.order((
                    books::series.is_null().asc(),
                    lower(books::series).asc(),
                    books::series.asc(),
                    length(books::series_sequence).asc(),
                    books::series_sequence.asc(),
                    books::asin.asc(),
                )),
                SortDirection::Desc => query.order((
                    books::series.is_null().asc(),
                    lower(books::series).desc(),
                    books::series.desc(),
                    length(books::series_sequence).desc(),
                    books::series_sequence.desc(),
                    books::asin.desc(),
                )),
            },
            K::RuntimeLengthMin => by!(nullable books::runtime_min),
            K::ReleaseDate => by!(nullable books::release_date),
            K::PurchaseDate => by!(nullable books::purchase_date),
            K::CreatedAt => by!(books::created_at),
            K::UpdatedAt => by!(books::updated_at),
            K::Status => by!(books::status),
            K::Position => by!(nullable books::parent_position),
            K::Asin => match $dir {
                SortDirection::Asc => query.order(books::asin.asc()),
                SortDirection::Desc => query.order(books::asin.desc()),
            },
        }
    }};
}
pub(crate) use order_books;

/// Expands `browse_books` and `browse_series` for a store.
macro_rules! impl_library_browse {
    (store = $store:ty, backend = $backend:ty $(,)?) => {
        impl $store {
            /// See `LibraryRepo::known_asins`.
            async fn asins_in_library(
                &self,
                asins: &[earmark_core::Asin],
            ) -> Result<Vec<earmark_core::Asin>, $crate::error::StoreError> {
                use diesel::{ExpressionMethods, QueryDsl};
                use diesel_async::RunQueryDsl;
                use $crate::schema::books;

                let mut conn = self.conn().await?;
                let mut known = std::collections::HashSet::new();
                for chunk in asins.chunks($crate::store_impl::CHUNK) {
                    let wanted: Vec<&str> = chunk.iter().map(earmark_core::Asin::as_str).collect();
                    let found: Vec<String> = books::table
                        .filter(books::asin.eq_any(&wanted))
                        .filter(books::removed_at.is_null())
                        .select(books::asin)
                        .load(&mut *conn)
                        .await?;
                    known.extend(found);
                }
                Ok(asins
                    .iter()
                    .filter(|a| known.contains(a.as_str()))
                    .cloned()
                    .collect())
            }

            /// See `LibraryRepo::count_children`.
            async fn children_counts(
                &self,
                parents: &[earmark_core::Asin],
            ) -> Result<Vec<(earmark_core::Asin, u64)>, $crate::error::StoreError> {
                use diesel::dsl::count_star;
                use diesel::{ExpressionMethods, QueryDsl};
                use diesel_async::RunQueryDsl;
                use $crate::schema::books;

                let mut conn = self.conn().await?;
                let mut counts = Vec::new();
                for chunk in parents.chunks($crate::store_impl::CHUNK) {
                    let wanted: Vec<&str> = chunk.iter().map(earmark_core::Asin::as_str).collect();
                    let found: Vec<(Option<String>, i64)> = books::table
                        .filter(books::parent_asin.eq_any(&wanted))
                        .filter(books::removed_at.is_null())
                        .group_by(books::parent_asin)
                        .select((books::parent_asin, count_star()))
                        .load(&mut *conn)
                        .await?;
                    for (parent, count) in found {
                        let Some(parent) = parent else { continue };
                        let parent = earmark_core::Asin::parse(&parent)
                            .map_err($crate::error::StoreError::corrupt)?;
                        counts.push((parent, u64::try_from(count).unwrap_or(0)));
                    }
                }
                Ok(counts)
            }

            async fn browse_books(
                &self,
                q: earmark_core::BookQuery,
            ) -> Result<earmark_core::BookPage, $crate::error::StoreError> {
                use diesel::{QueryDsl, SelectableHelper};
                use diesel_async::RunQueryDsl;
                use $crate::library_browse::{filter_books, order_books};
                use $crate::rows::BookRow;

                let mut conn = self.conn().await?;
                let total: i64 = filter_books!(books::table.into_boxed::<$backend>(), &q)
                    .count()
                    .get_result(&mut *conn)
                    .await?;
                let page = filter_books!(books::table.into_boxed::<$backend>(), &q)
                    .select(BookRow::as_select());
                let rows: Vec<BookRow> = order_books!(page, q.sort, q.direction)
                    .offset(i64::try_from(q.offset).unwrap_or(i64::MAX))
                    .limit(i64::from(q.limit))
                    .load(&mut *conn)
                    .await?;
                Ok(earmark_core::BookPage {
                    books: rows
                        .into_iter()
                        .map(BookRow::into_book)
                        .collect::<Result<_, _>>()?,
                    total: u64::try_from(total).unwrap_or(0),
                })
            }

            async fn browse_series(
                &self,
            ) -> Result<earmark_core::SeriesSummary, $crate::error::StoreError> {
                use diesel::dsl::{count_star, min};
                use diesel::{ExpressionMethods, QueryDsl};
                use diesel_async::RunQueryDsl;
                use $crate::schema::books;

                let mut conn = self.conn().await?;
                let groups: Vec<(Option<String>, Option<String>, i64)> = books::table
                    .filter(books::removed_at.is_null())
                    .group_by(books::series)
                    .select((books::series, min(books::series_asin), count_star()))
                    .order(books::series.asc())
                    .load(&mut *conn)
                    .await?;
                let mut summary = earmark_core::SeriesSummary {
                    items: Vec::with_capacity(groups.len()),
                    no_series_count: 0,
                };
                for (title, asin, count) in groups {
                    let count = u64::try_from(count).unwrap_or(0);
                    match title {
                        Some(title) => {
                            summary
                                .items
                                .push(earmark_core::SeriesCount { title, asin, count })
                        }
                        None => summary.no_series_count = count,
                    }
                }
                Ok(summary)
            }
        }
    };
}
pub(crate) use impl_library_browse;

#[cfg(test)]
mod tests {
    use diesel::sql_types::Text;
    use diesel::sqlite::Sqlite;
    use diesel::{Connection, QueryDsl, QueryableByName, RunQueryDsl, SelectableHelper};
    use earmark_core::{BookQuery, BookSortKey, SortDirection};

    use crate::rows::BookRow;

    #[derive(QueryableByName)]
    struct PlanStep {
        #[diesel(sql_type = Text)]
        detail: String,
    }

    /// A database migrated as earmark migrates it, and a connection to it. Without `ANALYZE`
    /// statistics (earmark never runs it) SQLite's plans do not depend on the rows, so an
    /// empty database plans as a library of 20,000 books does.
    fn migrated() -> (tempfile::TempDir, diesel::SqliteConnection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.db");
        let path = path.to_str().unwrap();
        crate::sqlite::migrate(path).unwrap();
        let conn = diesel::SqliteConnection::establish(path).unwrap();
        (dir, conn)
    }

    /// SQLite's plan for `sql`, each step's description on a line.
    fn plan(conn: &mut diesel::SqliteConnection, sql: &str) -> String {
        diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<PlanStep>(conn)
            .unwrap()
            .into_iter()
            .map(|step| step.detail)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The SQL diesel sends for `query`, its binds written in (they are numbers here).
    fn sql_of<Q>(query: &Q, binds: &[i64]) -> String
    where
        Q: diesel::query_builder::QueryFragment<Sqlite>,
    {
        let shown = diesel::debug_query::<Sqlite, _>(query).to_string();
        let sql = shown.split(" -- binds:").next().unwrap();
        binds.iter().fold(sql.to_owned(), |sql, bind| {
            sql.replacen('?', &bind.to_string(), 1)
        })
    }

    // The library's default listing (top-level books by title) was twice as slow once books
    // had parents: counting them left the index for every row (see migration 000016).
    #[test]
    fn the_default_listing_is_counted_and_paged_off_the_title_index() {
        let q = BookQuery::default();
        assert_eq!(
            (q.sort, q.direction),
            (BookSortKey::Title, SortDirection::Asc)
        );

        let (_dir, mut conn) = migrated();
        let count = filter_books!(books::table.into_boxed::<Sqlite>(), &q).count();
        let counted = plan(&mut conn, &sql_of(&count, &[]));
        assert!(
            counted.contains("COVERING INDEX books_by_title"),
            "the count reads rows:\n{counted}"
        );

        let page =
            filter_books!(books::table.into_boxed::<Sqlite>(), &q).select(BookRow::as_select());
        let page = order_books!(page, q.sort, q.direction).limit(500).offset(0);
        let paged = plan(&mut conn, &sql_of(&page, &[500, 0]));
        assert!(
            paged.contains("INDEX books_by_title") && !paged.contains("TEMP B-TREE"),
            "the page sorts instead of walking the index:\n{paged}"
        );
    }
}
