DROP INDEX books_listening;
ALTER TABLE books DROP COLUMN completed_at;
ALTER TABLE books DROP COLUMN last_played_at;
ALTER TABLE books DROP COLUMN is_finished;
ALTER TABLE books DROP COLUMN playback_speed;
ALTER TABLE books DROP COLUMN last_chapter_id;
ALTER TABLE books DROP COLUMN position_ms;
