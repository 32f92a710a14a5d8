DROP INDEX books_content_type;
ALTER TABLE books DROP COLUMN content_type;
