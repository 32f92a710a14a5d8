-- When a PENDING job (a failed attempt backing off) may be queued again.
ALTER TABLE jobs ADD COLUMN run_after TIMESTAMPTZ;
CREATE INDEX jobs_due ON jobs (status, run_after);
