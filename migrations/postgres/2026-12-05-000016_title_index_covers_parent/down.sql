DROP INDEX books_by_title;
CREATE INDEX books_by_title ON books (lower(title), title, asin) WHERE removed_at IS NULL;
