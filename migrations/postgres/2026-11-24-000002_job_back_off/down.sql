DROP INDEX jobs_due;
ALTER TABLE jobs DROP COLUMN run_after;
