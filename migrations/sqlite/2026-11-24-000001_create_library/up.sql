-- Times are TEXT in one fixed format (YYYY-MM-DDTHH:MM:SS.ffffffZ) so that text order is
-- time order; ids are TEXT UUIDs. See crates/earmark-db/src/sql_types.rs.
CREATE TABLE books (
    asin                 TEXT PRIMARY KEY NOT NULL CHECK (length(asin) = 10),
    title                TEXT NOT NULL,
    subtitle             TEXT,
    author               TEXT,
    narrator             TEXT,
    series               TEXT,
    series_sequence      TEXT,
    runtime_min          INTEGER,
    cover_url            TEXT,
    metadata_json        TEXT NOT NULL DEFAULT '{}',
    status               TEXT NOT NULL DEFAULT 'NEW'
        CHECK (status IN ('NEW', 'DOWNLOADING', 'DOWNLOADED', 'CONVERTING', 'COMPLETED', 'FAILED')),
    local_path_aax       TEXT,
    local_path_voucher   TEXT,
    local_path_cover     TEXT,
    local_path_converted TEXT,
    conversion_format    TEXT CHECK (conversion_format IN ('mp3', 'm4a', 'm4b', 'flac', 'opus')),
    error_message        TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    removed_at           TEXT
);
CREATE INDEX books_change_feed ON books (updated_at, asin);

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY NOT NULL,
    task_type        TEXT NOT NULL CHECK (task_type IN ('SYNC', 'DOWNLOAD', 'CONVERT')),
    asin             TEXT,
    params           TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL
        CHECK (status IN ('PENDING', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    progress_percent DOUBLE PRECISION NOT NULL DEFAULT 0,
    status_message   TEXT,
    log_file_path    TEXT,
    error            TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    original_job_id  TEXT REFERENCES jobs (id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    updated_at       TEXT NOT NULL
);
-- The queue's invariant: at most one unfinished job per kind of work and book.
CREATE UNIQUE INDEX jobs_one_active_per_work ON jobs (task_type, coalesce(asin, ''))
    WHERE status IN ('PENDING', 'QUEUED', 'RUNNING');
CREATE INDEX jobs_claim ON jobs (task_type, status, created_at);
CREATE INDEX jobs_by_book ON jobs (asin, created_at);

CREATE TABLE files (
    id         TEXT PRIMARY KEY NOT NULL,
    asin       TEXT NOT NULL REFERENCES books (asin) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    path       TEXT NOT NULL UNIQUE,
    size       BIGINT NOT NULL,
    mime       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX files_by_book ON files (asin, created_at);
