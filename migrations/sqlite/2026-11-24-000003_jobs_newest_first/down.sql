DROP INDEX jobs_newest_first;
