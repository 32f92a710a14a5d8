DROP INDEX books_by_parent;
CREATE INDEX books_by_parent ON books (parent_asin, parent_position, asin);
