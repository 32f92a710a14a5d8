-- Podcasts and multi-part books: an episode or part names its parent and its place among the
-- parent's children (items synced before have none: they are all top-level).
ALTER TABLE books ADD COLUMN parent_asin TEXT;
ALTER TABLE books ADD COLUMN parent_position INTEGER;
-- The library lists top-level items, and a parent's children in order.
CREATE INDEX books_by_parent ON books (parent_asin, parent_position, asin);
