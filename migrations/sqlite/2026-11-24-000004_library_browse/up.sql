-- What the library browser filters and sorts by, kept in columns so that a 20k-book library
-- pages and groups without parsing metadata_json. Dates are Audible's own ISO strings, so
-- text order is time order.
ALTER TABLE books ADD COLUMN series_asin TEXT;
ALTER TABLE books ADD COLUMN release_date TEXT;
ALTER TABLE books ADD COLUMN purchase_date TEXT;
CREATE INDEX books_by_series ON books (series);
-- The default order of a library page (title, case-insensitively) of the books still listed:
-- a 500-book page is read off this index instead of sorting every row.
CREATE INDEX books_by_title ON books (lower(title), title, asin) WHERE removed_at IS NULL;
