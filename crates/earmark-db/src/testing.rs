//! A fresh database per test, on either backend, in the manner of crates.io's test databases.
//!
//! PostgreSQL is found at `TEST_DATABASE_URL`, else at a `postgres://` `DATABASE_URL`, else at
//! `postgres://postgres@127.0.0.1:5432/postgres`. Each test gets its own database, created and
//! migrated for it and dropped when the [`TestDb`] is. When no server answers, tests are skipped
//! with a message, except under `CI=true`, where a missing PostgreSQL fails the test.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{Database, PoolSettings, connect};

/// The server tried when no URL is configured.
pub const DEFAULT_TEST_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for one test.
pub struct TestDb {
    /// The open database.
    pub db: Database,
    /// Its URL (a SQLite path or a PostgreSQL URL), for opening it a second time.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteDir(#[expect(dead_code, reason = "held for its Drop")] tempfile::TempDir),
    PgDatabase { admin_url: String, name: String },
}

/// The PostgreSQL server tests should use.
pub fn postgres_base_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .or_else(|| {
            std::env::var("DATABASE_URL")
                .ok()
                .filter(|u| u.starts_with("postgres"))
        })
        .unwrap_or_else(|| DEFAULT_TEST_POSTGRES.to_owned())
}

/// Whether this run is CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map(|i| authority_start + i);
    let root = path_start.map_or(base, |i| &base[..i]);
    match query {
        Some(query) => format!("{root}/{name}?{query}"),
        None => format!("{root}/{name}"),
    }
}

impl TestDb {
    /// A migrated SQLite database in a fresh temporary directory.
    ///
    /// # Panics
    /// When the temporary directory or the database cannot be created (a broken test machine).
    #[expect(
        clippy::expect_used,
        reason = "test support: failing loudly is the point"
    )]
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("earmark.db").display().to_string();
        let db = connect(&path, &PoolSettings::default())
            .await
            .expect("open a SQLite test database");
        Self {
            db,
            url: path,
            cleanup: Cleanup::SqliteDir(dir),
        }
    }

    /// A freshly created and migrated PostgreSQL database, or `None` (with a message on stderr)
    /// when no server answers and this is not CI.
    ///
    /// # Panics
    /// Under `CI=true` when no server answers; whenever the database cannot be created.
    #[expect(
        clippy::expect_used,
        clippy::panic,
        reason = "test support: failing loudly is the point"
    )]
    pub async fn postgres() -> Option<Self> {
        let admin_url = postgres_base_url();
        let mut admin = match tokio::time::timeout(
            Duration::from_secs(10),
            AsyncPgConnection::establish(&admin_url),
        )
        .await
        {
            Ok(Ok(conn)) => conn,
            outcome => {
                let why = match outcome {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_owned(),
                };
                if in_ci() {
                    panic!(
                        "CI=true and no PostgreSQL at {admin_url} ({why}): PostgreSQL tests are \
                         never skipped in CI. Start one (the justfile's `postgres` recipe does) or \
                         set TEST_DATABASE_URL."
                    );
                }
                eprintln!("skipping PostgreSQL test: no server at {admin_url} ({why})");
                return None;
            }
        };
        let name = format!("earmark_test_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .expect("create a PostgreSQL test database");
        let url = with_database(&admin_url, &name);
        let db = connect(&url, &PoolSettings::default())
            .await
            .expect("migrate the PostgreSQL test database");
        Some(Self {
            db,
            url,
            cleanup: Cleanup::PgDatabase { admin_url, name },
        })
    }
}

impl TestDb {
    /// Runs `sql` (one or more statements) on the database as it is, outside the ports: for
    /// tests that need rows the ports would never write, such as rows in an older format.
    ///
    /// # Panics
    /// When the statements fail.
    #[expect(
        clippy::expect_used,
        reason = "test support: failing loudly is the point"
    )]
    pub async fn execute(&self, sql: &str) {
        use diesel_async::SimpleAsyncConnection;

        match &self.cleanup {
            Cleanup::PgDatabase { .. } => {
                let mut conn = AsyncPgConnection::establish(&self.url)
                    .await
                    .expect("connect to the test database");
                conn.batch_execute(sql).await.expect("run the statements");
            }
            Cleanup::SqliteDir(_) => {
                use diesel::Connection;
                use diesel::connection::SimpleConnection;

                let (url, sql) = (self.url.clone(), sql.to_owned());
                tokio::task::spawn_blocking(move || {
                    let mut conn =
                        diesel::SqliteConnection::establish(&url).expect("open the test database");
                    conn.batch_execute(&format!("PRAGMA busy_timeout = 15000; {sql}"))
                        .expect("run the statements");
                })
                .await
                .expect("the statements ran");
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Cleanup::PgDatabase { admin_url, name } = &self.cleanup else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop runs inside the test's runtime, which may not block: drop the database from a
        // thread with its own runtime. FORCE ends the pool's still-open connections.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let mut admin = AsyncPgConnection::establish(&admin_url).await.ok()?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!(
                "could not drop a PostgreSQL test database; `just clean-test-dbs` removes leftovers"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t2"),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "t3"),
            "postgres://h:5432/t3"
        );
    }
}
