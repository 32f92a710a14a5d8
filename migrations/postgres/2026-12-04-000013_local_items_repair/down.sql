DROP TABLE local_items;
ALTER TABLE jobs DROP CONSTRAINT jobs_task_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_task_type_check
    CHECK (task_type IN ('SYNC', 'DOWNLOAD', 'CONVERT'));
