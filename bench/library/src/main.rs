//! Library benchmark, on SQLite and on PostgreSQL in one run:
//!
//! 1. a generated 20,000-book library (Audible's item JSON, as the fake Audible API serves it)
//!    ingested through the SYNC job's own write path ([`LibrarySync::apply`]), against the
//!    reference of the database's own command-line client loading the same rows as plain
//!    multi-row INSERTs in one transaction;
//! 2. a re-sync of the same 20,000 in which 50 changed;
//! 3. the real `earmark` binary on that database under `wrk`: `GET /library?since=` returning
//!    those 50, and a 500-book page, against nginx serving the same bytes from files.
//!
//! Needs `wrk`, `nginx`, `sqlite3`, `psql` and a PostgreSQL (as the tests find it). Prints a
//! Markdown report. Usage: `earmark-bench-library [books] [seconds]` (defaults 20000, 10).
#![expect(clippy::expect_used, reason = "a benchmark fails loudly")]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use earmark_audible::record::book_record;
use earmark_core::library_sync::LibrarySync;
use earmark_core::ports::{JobContext, LibraryRepo, LibrarySource};
use earmark_core::testing::RecordingContext;
use earmark_core::{BookRecord, JobSpec, SyncParams};
use earmark_db::testing::TestDb;
use earmark_testkit::fake_audible::library_item;
use earmark_testkit::wrk::{latency_ms, requests_per_second};

const KEY: &str = "bench-key";
const CHANGES: usize = 50;
const EARMARK_PORT: u16 = 18091;
const NGINX_PORT: u16 = 18092;

/// No source: the benchmark hands records to [`LibrarySync::apply`] itself.
struct NoSource;

#[async_trait::async_trait]
impl LibrarySource for NoSource {
    async fn fetch_library(
        &self,
        _profile: Option<&str>,
        _ctx: &dyn JobContext,
    ) -> Result<Vec<BookRecord>, earmark_core::ports::LibrarySourceError> {
        Ok(Vec::new())
    }

    async fn fetch_children(
        &self,
        _profile: Option<&str>,
        _parents: &[BookRecord],
        _ctx: &dyn JobContext,
    ) -> Result<Vec<BookRecord>, earmark_core::ports::LibrarySourceError> {
        Ok(Vec::new())
    }
}

fn library(books: u32, changed: bool) -> Vec<BookRecord> {
    (1..=books)
        .map(|n| {
            let mut item = library_item(n);
            if changed && (n as usize).is_multiple_of(books as usize / CHANGES) {
                item["title"] = format!("Changed {n}").into();
            }
            book_record(item).expect("generated items are valid")
        })
        .collect()
}

fn sql_text(value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".into(), |v| format!("'{}'", v.replace('\'', "''")))
}

/// The same rows as plain SQL: multi-row INSERTs of 500 in one transaction.
fn insert_script(records: &[BookRecord]) -> String {
    let now = "2026-01-01T00:00:00.000000Z";
    let mut sql = String::from("BEGIN;\n");
    for chunk in records.chunks(500) {
        sql.push_str(
            "INSERT INTO books (asin, title, subtitle, author, narrator, series, \
             series_sequence, series_asin, runtime_min, cover_url, release_date, purchase_date, \
             metadata_json, status, created_at, updated_at) VALUES\n",
        );
        for (i, r) in chunk.iter().enumerate() {
            let _ = write!(
                sql,
                "{}({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 'NEW', '{now}', '{now}')",
                if i == 0 { "" } else { ",\n" },
                sql_text(Some(r.asin.as_str())),
                sql_text(Some(&r.title)),
                sql_text(r.subtitle.as_deref()),
                sql_text(r.author.as_deref()),
                sql_text(r.narrator.as_deref()),
                sql_text(r.series.as_deref()),
                sql_text(r.series_sequence.as_deref()),
                sql_text(r.series_asin.as_deref()),
                r.runtime_min
                    .map_or_else(|| "NULL".into(), |m| m.to_string()),
                sql_text(r.cover_url.as_deref()),
                sql_text(r.release_date.as_deref()),
                sql_text(r.purchase_date.as_deref()),
                sql_text(Some(&r.metadata_json.to_string())),
            );
        }
        sql.push_str(";\n");
    }
    sql.push_str("COMMIT;\n");
    sql
}

/// Seconds the backend's own client takes to run `script` against `url`.
fn reference_load(url: &str, script: &Path) -> f64 {
    let mut command = if url.starts_with("postgres") {
        let mut c = Command::new("psql");
        c.args(["-q", "-v", "ON_ERROR_STOP=1", url]);
        c
    } else {
        let mut c = Command::new("sqlite3");
        c.arg(url.strip_prefix("sqlite://").unwrap_or(url));
        c
    };
    let started = Instant::now();
    let status = command
        .stdin(std::fs::File::open(script).expect("script"))
        .stdout(Stdio::null())
        .status()
        .expect("sqlite3 / psql");
    assert!(status.success(), "reference load failed");
    started.elapsed().as_secs_f64()
}

/// `wrk` on `url` for `seconds` with one connection (one client: latency, not queueing):
/// (median ms, requests/s).
fn wrk(url: &str, seconds: u64, auth: bool) -> (f64, f64) {
    let mut args = vec![
        "-t1".to_owned(),
        "-c1".to_owned(),
        format!("-d{seconds}s"),
        "--latency".to_owned(),
    ];
    if auth {
        args.extend(["-H".to_owned(), format!("X-Api-Key: {KEY}")]);
    }
    args.push(url.to_owned());
    let out = Command::new("wrk").args(&args).output().expect("wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("Non-2xx"),
        "{url} answered errors under load:\n{text}"
    );
    (latency_ms(&text, "50%"), requests_per_second(&text))
}

fn curl(url: &str, to: &Path) {
    let status = Command::new("curl")
        .args(["-fsS", "-H", &format!("X-Api-Key: {KEY}"), "-o"])
        .arg(to)
        .arg(url)
        .status()
        .expect("curl");
    assert!(status.success(), "GET {url} failed");
}

/// A child process stopped when dropped: SIGTERM (nginx's master then stops its workers),
/// and SIGKILL if it is still there after a second.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        for _ in 0..20 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn start_earmark(url: &str, data: &Path) -> Killed {
    let child = Command::new(root().join("target/release/earmark"))
        .env("DATABASE_URL", url)
        .env("EARMARK__DATA_DIR", data)
        .env("EARMARK__SERVER__BIND", format!("127.0.0.1:{EARMARK_PORT}"))
        .env("EARMARK__AUTH__API_KEY", KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("target/release/earmark (cargo build --release --bin earmark)");
    let guard = Killed(child);
    for _ in 0..100 {
        let up = Command::new("curl")
            .args(["-fs", "-o", "/dev/null"])
            .arg(format!("http://127.0.0.1:{EARMARK_PORT}/healthz"))
            .status()
            .is_ok_and(|s| s.success());
        if up {
            return guard;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("earmark did not come up");
}

fn start_nginx(work: &Path, root_dir: &Path) -> Killed {
    let template = std::fs::read_to_string(root().join("bench/stream/nginx.conf.template"))
        .expect("nginx template");
    let conf = template
        .replace("@WORK@", &work.display().to_string())
        .replace("@PORT@", &NGINX_PORT.to_string())
        .replace("@ROOT@", &root_dir.display().to_string())
        .replace("worker_processes 2;", "worker_processes 2;\ndaemon off;");
    std::fs::create_dir_all(work.join("tmp")).expect("nginx tmp");
    let conf_path = work.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("nginx.conf");
    let nginx = if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    };
    let child = Command::new(nginx)
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(work)
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx");
    std::thread::sleep(Duration::from_millis(500));
    Killed(child)
}

struct Row {
    backend: &'static str,
    ingest_s: f64,
    reference_s: f64,
    resync_s: f64,
    delta: (f64, f64),
    delta_ref: (f64, f64),
    page: (f64, f64),
    page_ref: (f64, f64),
    delta_bytes: u64,
    page_bytes: u64,
}

async fn measure(
    backend: &'static str,
    db: TestDb,
    reference: TestDb,
    books: u32,
    seconds: u64,
) -> Row {
    let repo: Arc<dyn LibraryRepo> = db.db.library.clone();
    let sync = LibrarySync::new(Arc::new(NoSource), repo.clone());
    let ctx = RecordingContext::new(JobSpec::Sync(SyncParams::default()), "/nonexistent");

    let first = library(books, false);
    let work = tempfile::tempdir().expect("tempdir");
    let script = work.path().join("reference.sql");
    std::fs::write(&script, insert_script(&first)).expect("script");
    let reference_s = reference_load(&reference.url, &script);

    let started = Instant::now();
    let report = sync.apply(first, &ctx).await.expect("ingest");
    let ingest_s = started.elapsed().as_secs_f64();
    assert_eq!(report.upserted.inserted, u64::from(books));

    let since = repo
        .changes_since(None, None, 1)
        .await
        .expect("watermark")
        .next_since;
    let started = Instant::now();
    let report = sync
        .apply(library(books, true), &ctx)
        .await
        .expect("re-sync");
    let resync_s = started.elapsed().as_secs_f64();
    assert_eq!(report.upserted.updated, CHANGES as u64, "{report}");

    if db.url.starts_with("postgres") {
        // What autovacuum does within a minute of a 20k-row load: without the visibility
        // map, counting the listed books falls back to a heap scan (about +5 ms a page).
        let status = Command::new("psql")
            .args(["-q", &db.url, "-c", "VACUUM ANALYZE books"])
            .status()
            .expect("psql");
        assert!(status.success(), "VACUUM failed");
    }
    let data = work.path().join("data");
    let _earmark = start_earmark(&db.url, &data);
    let static_dir = work.path().join("static");
    std::fs::create_dir_all(&static_dir).expect("static dir");
    let since = since
        .format(&time::format_description::well_known::Rfc3339)
        .expect("rfc3339");
    let delta_url = format!("http://127.0.0.1:{EARMARK_PORT}/library?since={since}");
    let page_url = format!("http://127.0.0.1:{EARMARK_PORT}/library?page_size=500");
    curl(&delta_url, &static_dir.join("delta.json"));
    curl(&page_url, &static_dir.join("page.json"));
    let delta_body: serde_json::Value =
        serde_json::from_slice(&std::fs::read(static_dir.join("delta.json")).expect("delta"))
            .expect("delta JSON");
    assert_eq!(
        delta_body["items"].as_array().map(Vec::len),
        Some(CHANGES),
        "the delta carries the changed books"
    );
    let _nginx = start_nginx(&work.path().join("nginx"), &static_dir);
    let delta = wrk(&delta_url, seconds, true);
    let delta_ref = wrk(
        &format!("http://127.0.0.1:{NGINX_PORT}/delta.json"),
        seconds,
        false,
    );
    let page = wrk(&page_url, seconds, true);
    let page_ref = wrk(
        &format!("http://127.0.0.1:{NGINX_PORT}/page.json"),
        seconds,
        false,
    );
    let size = |name: &str| {
        std::fs::metadata(static_dir.join(name))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    drop(reference);
    Row {
        backend,
        ingest_s,
        reference_s,
        resync_s,
        delta,
        delta_ref,
        page,
        page_ref,
        delta_bytes: size("delta.json"),
        page_bytes: size("page.json"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let books: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);

    let mut rows = vec![
        measure(
            "SQLite",
            TestDb::sqlite().await,
            TestDb::sqlite().await,
            books,
            seconds,
        )
        .await,
    ];
    match (TestDb::postgres().await, TestDb::postgres().await) {
        (Some(db), Some(reference)) => {
            rows.push(measure("PostgreSQL", db, reference, books, seconds).await);
        }
        _ => eprintln!("no PostgreSQL: its row is missing"),
    }

    println!(
        "| backend | ingest {books} books (s) | reference: CLI bulk INSERT (s) | ingest / reference | re-sync, {CHANGES} changed (s) | `?since=` median ms (nginx) | 500-book page median ms (nginx) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | **{:.2}** | {:.2} | {:.1}× | **{:.2}** | **{:.2}** ({:.2}; {} KiB, {:.0} req/s vs {:.0}) | **{:.2}** ({:.2}; {} KiB, {:.0} req/s vs {:.0}) |",
            r.backend,
            r.ingest_s,
            r.reference_s,
            r.ingest_s / r.reference_s,
            r.resync_s,
            r.delta.0,
            r.delta_ref.0,
            r.delta_bytes / 1024,
            r.delta.1,
            r.delta_ref.1,
            r.page.0,
            r.page_ref.0,
            r.page_bytes / 1024,
            r.page.1,
            r.page_ref.1,
        );
    }
}
