-- Local items: audio files in the data directory that belong to no book.
CREATE TABLE local_items (
    id         TEXT PRIMARY KEY NOT NULL,
    asin       TEXT,
    title      TEXT NOT NULL,
    authors    TEXT,
    path       TEXT NOT NULL UNIQUE,
    format     TEXT,
    size       BIGINT NOT NULL,
    mime       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX local_items_by_title ON local_items (title, id);

-- Jobs gain the REPAIR kind (and IMPORT, so that adding it needs no second rebuild). SQLite
-- cannot change a CHECK in place: the table is rebuilt, every row kept. The new table refers
-- to itself by its new name, so that dropping the old one sets no reference to NULL; the
-- rename points it back at `jobs`.
CREATE TABLE jobs_rebuilt (
    id               TEXT PRIMARY KEY NOT NULL,
    task_type        TEXT NOT NULL
        CHECK (task_type IN ('SYNC', 'DOWNLOAD', 'CONVERT', 'REPAIR', 'IMPORT')),
    asin             TEXT,
    params           TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL
        CHECK (status IN ('PENDING', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    progress_percent DOUBLE PRECISION NOT NULL DEFAULT 0,
    status_message   TEXT,
    log_file_path    TEXT,
    error            TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    original_job_id  TEXT REFERENCES jobs_rebuilt (id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    updated_at       TEXT NOT NULL,
    run_after        TEXT,
    outputs          TEXT NOT NULL DEFAULT '[]',
    paused_at        TEXT
);
INSERT INTO jobs_rebuilt (id, task_type, asin, params, status, progress_percent, status_message,
    log_file_path, error, attempts, original_job_id, created_at, started_at, finished_at,
    updated_at, run_after, outputs, paused_at)
SELECT id, task_type, asin, params, status, progress_percent, status_message, log_file_path,
    error, attempts, original_job_id, created_at, started_at, finished_at, updated_at,
    run_after, outputs, paused_at
FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_rebuilt RENAME TO jobs;
CREATE UNIQUE INDEX jobs_one_active_per_work ON jobs (task_type, coalesce(asin, ''))
    WHERE status IN ('PENDING', 'QUEUED', 'RUNNING');
CREATE INDEX jobs_claim ON jobs (task_type, status, created_at);
CREATE INDEX jobs_by_book ON jobs (asin, created_at);
CREATE INDEX jobs_due ON jobs (status, run_after);
CREATE INDEX jobs_newest_first ON jobs (created_at, id);
