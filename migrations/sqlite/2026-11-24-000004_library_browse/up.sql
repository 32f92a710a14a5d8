-- What the library browser filters and sorts by, kept in columns so that a 20k-book library
-- pages and groups without parsing metadata_json. Dates are Audible's own ISO strings, so
-- text order is time order.
ALTER TABLE books ADD COLUMN series_asin TEXT;
ALTER TABLE books ADD COLUMN release_date TEXT;
ALTER TABLE books ADD COLUMN purchase_date TEXT;
CREATE INDEX books_by_series ON books (series);
CREATE INDEX books_by_title ON books (title, asin);
