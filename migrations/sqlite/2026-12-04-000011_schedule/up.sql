-- The automatic sync's next run time (NULL: none scheduled), kept so that a restart neither
-- skips nor doubles a run. One row for the installation.
CREATE TABLE schedule (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    next_sync_at TEXT
);
