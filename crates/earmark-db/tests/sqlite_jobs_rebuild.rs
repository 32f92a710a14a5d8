//! The SQLite migration that widens the jobs' kinds rebuilds the table: every row and every
//! column survives it, a retry's link to its original included, and the queue's one-active-job
//! rule still holds afterwards.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text};
use diesel_migrations::{FileBasedMigrations, MigrationHarness};

/// Migrations before the rebuild.
const BEFORE_REBUILD: usize = 12;

#[derive(QueryableByName, Debug, PartialEq)]
struct Row {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    task_type: String,
    #[diesel(sql_type = Nullable<Text>)]
    original_job_id: Option<String>,
    #[diesel(sql_type = Text)]
    outputs: String,
    #[diesel(sql_type = Nullable<Text>)]
    paused_at: Option<String>,
    #[diesel(sql_type = Integer)]
    attempts: i32,
}

#[test]
fn jobs_survive_the_rebuild_with_their_links() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("earmark.db");
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    conn.batch_execute("PRAGMA foreign_keys = ON;").unwrap();
    let migrations = FileBasedMigrations::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/sqlite"
    ))
    .unwrap();
    for _ in 0..BEFORE_REBUILD {
        conn.run_next_migration(migrations.clone()).unwrap();
    }
    conn.batch_execute(
        "INSERT INTO jobs (id, task_type, asin, status, attempts, created_at, updated_at, outputs, paused_at)
         VALUES ('a', 'DOWNLOAD', 'B000000001', 'FAILED', 3, '2026-01-01T00:00:00.000000Z',
                 '2026-01-01T00:00:00.000000Z', '[{\"x\":1}]', NULL);
         INSERT INTO jobs (id, task_type, asin, status, attempts, original_job_id, created_at, updated_at, paused_at)
         VALUES ('b', 'DOWNLOAD', 'B000000001', 'QUEUED', 0, 'a', '2026-01-02T00:00:00.000000Z',
                 '2026-01-02T00:00:00.000000Z', '2026-01-02T00:00:01.000000Z');",
    )
    .unwrap();
    conn.run_pending_migrations(migrations).unwrap();

    let rows: Vec<Row> = diesel::sql_query(
        "SELECT id, task_type, original_job_id, outputs, paused_at, attempts FROM jobs ORDER BY id",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(
        rows,
        vec![
            Row {
                id: "a".into(),
                task_type: "DOWNLOAD".into(),
                original_job_id: None,
                outputs: "[{\"x\":1}]".into(),
                paused_at: None,
                attempts: 3,
            },
            Row {
                id: "b".into(),
                task_type: "DOWNLOAD".into(),
                original_job_id: Some("a".into()),
                outputs: "[]".into(),
                paused_at: Some("2026-01-02T00:00:01.000000Z".into()),
                attempts: 0,
            },
        ]
    );
    // The new kind is accepted, an unknown one is not, and one active job per work holds.
    let insert = |id: &str, task_type: &str| {
        format!(
            "INSERT INTO jobs (id, task_type, status, created_at, updated_at)
             VALUES ('{id}', '{task_type}', 'QUEUED', '2026-01-03T00:00:00.000000Z',
                     '2026-01-03T00:00:00.000000Z');"
        )
    };
    conn.batch_execute(&insert("c", "REPAIR")).unwrap();
    assert!(conn.batch_execute(&insert("d", "REPAIR")).is_err());
    assert!(conn.batch_execute(&insert("e", "DANCE")).is_err());
    // The retry's link still points at the rebuilt table: deleting the original clears it.
    conn.batch_execute("DELETE FROM jobs WHERE id = 'a';")
        .unwrap();
    let left: Vec<Row> = diesel::sql_query(
        "SELECT id, task_type, original_job_id, outputs, paused_at, attempts FROM jobs WHERE id = 'b'",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(left[0].original_job_id, None);
}
