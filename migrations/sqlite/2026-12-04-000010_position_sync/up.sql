-- Keeping listening positions in step with Audible: the `last_played_at` Audible is known to
-- hold (NULL: never in step) and why the last attempt to bring it in step failed.
ALTER TABLE books ADD COLUMN progress_synced_at TEXT;
ALTER TABLE books ADD COLUMN progress_sync_error TEXT;

-- The `acr` of each book's Audible licence, which Audible's position writes name: kept from a
-- download's licence, or from one asked for when a position is first pushed. Apart from
-- `books` because only those writes read it.
CREATE TABLE book_licences (
    asin TEXT PRIMARY KEY NOT NULL,
    acr TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
