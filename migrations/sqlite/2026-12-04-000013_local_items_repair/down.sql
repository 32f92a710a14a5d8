DROP TABLE local_items;
-- The jobs table keeps its wider CHECK: narrowing it would have to drop REPAIR jobs.
