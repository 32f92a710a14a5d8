-- The library's default listing is its top-level books (parent_asin IS NULL) by title. With
-- parent_asin outside books_by_title, counting them visited every row of the table, and on
-- SQLite parent_asin, added last, sits after the large metadata_json: each row's overflow
-- pages were read to reach it (a 500-book page of 20,000 books took 24 ms, 9 ms before books
-- had parents). Carried in the index, the page skips children without leaving it; and with
-- removed_at too (always NULL here, but SQLite counts an index as covering only when it holds
-- every column the query names) the count reads the index alone.
DROP INDEX books_by_title;
CREATE INDEX books_by_title ON books (lower(title), title, asin, parent_asin, removed_at)
    WHERE removed_at IS NULL;
