//! Repair preview benchmark on SQLite: a generated library of `books` books, each downloaded
//! (an AAXC under `downloads/<ASIN>/`) and converted (an m4b under `converted/<author>/`),
//! with 1 % of the outputs deleted, 1 % moved, 1 % copied and 50 files of no book added.
//! The preview (survey of the database and the disk, plan, counts: exactly what
//! `GET /library/repair/preview` runs, on the same adapters) is timed `runs` times, against the
//! reference of `find` listing the same two folders with sizes and inodes plus `sqlite3`
//! reading every `books` and `files` row, timed in the same run.
//!
//! Usage: `earmark-bench-repair [books] [runs]` (defaults 5000, 10). Prints a Markdown report.
#![expect(clippy::expect_used, reason = "a benchmark fails loudly")]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use earmark_audible::record::book_record;
use earmark_core::ports::JobQueue;
use earmark_core::repair::{RepairPlan, RepairPreview, Survey, SurveyPorts};
use earmark_core::{BookStatus, BookUpdate, FileKind, NewStoredFile, OutputFormat};
use earmark_testkit::fake_audible::library_item;

/// A file of `len` bytes at `path`, its folder made.
fn write(path: &Path, len: usize) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("folder");
    std::fs::write(path, vec![7u8; len]).expect("file");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn seed(db: &earmark_db::Database, data: &Path, books: u32) {
    let records: Vec<_> = (1..=books)
        .map(|n| book_record(library_item(n)).expect("generated items are valid"))
        .collect();
    db.library
        .upsert_books(records.clone())
        .await
        .expect("books");
    for (i, record) in records.iter().enumerate() {
        let asin = record.asin.as_str();
        let aaxc = data.join(format!("downloads/{asin}/{asin}-AAX_44_128.aaxc"));
        let m4b = data.join(format!("converted/Author {}/{}.m4b", i % 300, record.title));
        // Sizes differ per book, as real audio does.
        write(&aaxc, 1000 + i);
        write(&m4b, 500 + i);
        for (kind, path, mime) in [
            (FileKind::Aaxc, &aaxc, "audio/vnd.audible.aax"),
            (FileKind::Converted, &m4b, "audio/mp4"),
        ] {
            let size =
                i64::try_from(std::fs::metadata(path).expect("written").len()).expect("small");
            db.library
                .add_file(NewStoredFile {
                    asin: record.asin.clone(),
                    kind,
                    path: path.display().to_string(),
                    size,
                    mime: mime.into(),
                })
                .await
                .expect("file row");
        }
        db.library
            .update_book(
                &record.asin,
                BookUpdate {
                    status: Some(BookStatus::Completed),
                    local_path_aax: Some(Some(aaxc.display().to_string())),
                    local_path_converted: Some(Some(m4b.display().to_string())),
                    conversion_format: Some(Some(OutputFormat::M4b)),
                    ..BookUpdate::default()
                },
            )
            .await
            .expect("book");
        // The drift: 1 % deleted, 1 % moved, 1 % copied.
        match i % 100 {
            0 => std::fs::remove_file(&m4b).expect("delete"),
            1 => {
                let to = data.join(format!("converted/Moved/{}.m4b", record.title));
                std::fs::create_dir_all(to.parent().expect("a parent")).expect("folder");
                std::fs::rename(&m4b, to).expect("move");
            }
            2 => {
                let to = data.join(format!("converted/Copies/{} (1).m4b", record.title));
                std::fs::create_dir_all(to.parent().expect("a parent")).expect("folder");
                std::fs::copy(&m4b, to).expect("copy");
            }
            _ => {}
        }
    }
    for n in 0..50 {
        write(
            &data.join(format!("converted/Strangers/Stranger {n}.mp3")),
            77 + n,
        );
    }
}

fn reference(data: &Path, db_file: &Path) -> Duration {
    let started = Instant::now();
    let found = Command::new("find")
        .arg(data.join("downloads"))
        .arg(data.join("converted"))
        .args(["-type", "f", "-printf", "%s %i %p\n"])
        .output()
        .expect("find");
    assert!(found.status.success());
    let rows = Command::new("sqlite3")
        .arg(db_file)
        .arg("SELECT * FROM books; SELECT * FROM files;")
        .output()
        .expect("sqlite3");
    assert!(rows.status.success());
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let books: u32 = args.next().map_or(5000, |a| a.parse().expect("books"));
    let runs: usize = args.next().map_or(10, |a| a.parse().expect("runs"));
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("data");
    std::fs::create_dir_all(data.join("library")).expect("data dir");
    let db_file = data.join("library/earmark.db");
    let db = earmark_db::connect(
        &db_file.display().to_string(),
        &earmark_db::PoolSettings::default(),
    )
    .await
    .expect("database");
    let seeding = Instant::now();
    seed(&db, &data, books).await;
    eprintln!(
        "seeded {books} books in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let jobs: Arc<dyn JobQueue> = db.jobs.clone();
    let ports = SurveyPorts {
        library: db.library.clone(),
        local_items: db.local_items.clone(),
        disk: Arc::new(earmark_disk::FsLibraryDisk::new(&data)),
        jobs,
    };
    let (mut previews, mut references) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let survey = Survey::take(&ports).await.expect("survey");
        let plan = RepairPlan::of(&survey);
        let preview = RepairPreview::of(&survey, &plan, time::OffsetDateTime::now_utc());
        previews.push(started.elapsed());
        last = Some(preview);
        references.push(reference(&data, &db_file));
    }
    let preview = last.expect("at least one run");
    let (p, r) = (median(previews), median(references));
    println!(
        "| books | files on disk | preview median ms | reference median ms (find + sqlite3) | preview / reference |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {books} | {} | **{:.0}** | {:.0} | {:.1}× |",
        preview.downloaded_on_disk_total + preview.converted_m4b_files_on_disk_total + 50,
        ms(p),
        ms(r),
        ms(p) / ms(r)
    );
    println!(
        "\nThe preview found: {} missing, {} moved, {} copies, {} orphans (of {} books).",
        preview.missing_files,
        preview.misplaced_files_count,
        preview.duplicate_conversions,
        preview.orphan_conversions,
        preview.remote_total
    );
}
