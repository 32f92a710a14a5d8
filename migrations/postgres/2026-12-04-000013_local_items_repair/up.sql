-- Local items: audio files in the data directory that belong to no book.
CREATE TABLE local_items (
    id         UUID PRIMARY KEY,
    asin       TEXT,
    title      TEXT NOT NULL,
    authors    TEXT,
    path       TEXT NOT NULL UNIQUE,
    format     TEXT,
    size       BIGINT NOT NULL,
    mime       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX local_items_by_title ON local_items (title, id);

-- Jobs gain the REPAIR kind (and IMPORT, so that adding it needs no second change).
ALTER TABLE jobs DROP CONSTRAINT jobs_task_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_task_type_check
    CHECK (task_type IN ('SYNC', 'DOWNLOAD', 'CONVERT', 'REPAIR', 'IMPORT'));
