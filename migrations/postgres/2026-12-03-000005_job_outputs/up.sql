-- The files a job's attempt recorded just before moving them under their final names (JSON
-- list), so that the next attempt after a crash recognises them as its own.
ALTER TABLE jobs ADD COLUMN outputs TEXT NOT NULL DEFAULT '[]';
