-- Only children need this index. Covering top-level items too (parent_asin IS NULL, nearly
-- every row) let SQLite's planner, which has no statistics, pick it for the library's
-- top-level listing and sort every book instead of walking books_by_title in order (a page of
-- 500 of 20,000 books went from 9 ms to 48 ms). `parent_asin = ?` implies NOT NULL, so the
-- children's queries still use it.
DROP INDEX books_by_parent;
CREATE INDEX books_by_parent ON books (parent_asin, parent_position, asin)
    WHERE parent_asin IS NOT NULL;
