DROP INDEX books_by_parent;
ALTER TABLE books DROP COLUMN parent_position;
ALTER TABLE books DROP COLUMN parent_asin;
