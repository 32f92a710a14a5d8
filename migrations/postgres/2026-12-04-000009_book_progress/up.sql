-- Where the person stopped listening (NULL position: never played). On the book's row, so a
-- change moves the book in the change feed like any other.
ALTER TABLE books ADD COLUMN position_ms BIGINT;
ALTER TABLE books ADD COLUMN last_chapter_id TEXT;
ALTER TABLE books ADD COLUMN playback_speed DOUBLE PRECISION;
ALTER TABLE books ADD COLUMN is_finished BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE books ADD COLUMN last_played_at TIMESTAMPTZ;
ALTER TABLE books ADD COLUMN completed_at TIMESTAMPTZ;
CREATE INDEX books_listening ON books (last_played_at);
