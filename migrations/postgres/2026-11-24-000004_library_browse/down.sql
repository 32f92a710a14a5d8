DROP INDEX books_by_title;
DROP INDEX books_by_series;
ALTER TABLE books
    ALTER COLUMN title TYPE TEXT COLLATE "default",
    ALTER COLUMN author TYPE TEXT COLLATE "default",
    ALTER COLUMN narrator TYPE TEXT COLLATE "default",
    ALTER COLUMN series TYPE TEXT COLLATE "default",
    ALTER COLUMN series_sequence TYPE TEXT COLLATE "default";
ALTER TABLE books DROP COLUMN purchase_date;
ALTER TABLE books DROP COLUMN release_date;
ALTER TABLE books DROP COLUMN series_asin;
