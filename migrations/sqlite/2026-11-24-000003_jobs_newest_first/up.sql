-- Job listings are newest first; without this index every page sorts the whole table.
CREATE INDEX jobs_newest_first ON jobs (created_at, id);
