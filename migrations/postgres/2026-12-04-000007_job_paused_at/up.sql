-- When the person paused the job; NULL while it is not paused. A paused job keeps its
-- status (QUEUED, PENDING or RUNNING): what it resumes to. The queue never claims it.
ALTER TABLE jobs ADD COLUMN paused_at TIMESTAMPTZ;
