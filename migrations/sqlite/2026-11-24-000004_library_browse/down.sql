DROP INDEX books_by_title;
DROP INDEX books_by_series;
ALTER TABLE books DROP COLUMN purchase_date;
ALTER TABLE books DROP COLUMN release_date;
ALTER TABLE books DROP COLUMN series_asin;
