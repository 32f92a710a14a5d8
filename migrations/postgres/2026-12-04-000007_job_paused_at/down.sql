ALTER TABLE jobs DROP COLUMN paused_at;
