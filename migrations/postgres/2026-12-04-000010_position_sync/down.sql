DROP TABLE book_licences;
ALTER TABLE books DROP COLUMN progress_sync_error;
ALTER TABLE books DROP COLUMN progress_synced_at;
