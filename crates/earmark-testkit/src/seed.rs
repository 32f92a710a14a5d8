//! Putting a downloaded book into a stopped or running earmark's library, the way a finished
//! download leaves it: files under `<data>/downloads/<ASIN>/`, one `files` row each, the
//! book's local paths set and its status DOWNLOADED.

use std::path::Path;

use earmark_core::{BookRecord, BookStatus, BookUpdate, FileKind, NewStoredFile};
use earmark_fixtures::{DownloadedBook, SyntheticBook, downloaded_book};

/// A library record of `asin` titled `title`, by one author, a minute long, with nothing else
/// Audible would say.
pub fn record(asin: &str, title: &str) -> BookRecord {
    BookRecord {
        asin: earmark_core::Asin::parse(asin).unwrap(),
        title: title.into(),
        subtitle: None,
        author: Some("Ada Fixture".into()),
        narrator: None,
        series: None,
        series_sequence: None,
        series_asin: None,
        runtime_min: Some(1),
        cover_url: None,
        release_date: None,
        purchase_date: None,
        metadata_json: serde_json::json!({"asin": asin, "title": title}),
        parent: None,
    }
}

/// Seeds `record` as downloaded (AAXC with voucher, or AAX) with `book`'s audio, into the
/// SQLite library of the data directory `data` (the embedded default).
pub fn downloaded(
    data: &Path,
    record: BookRecord,
    book: &SyntheticBook,
    aaxc: bool,
) -> DownloadedBook {
    let db_url = data.join("library/earmark.db").display().to_string();
    downloaded_into(&db_url, data, record, book, aaxc)
}

/// Seeds `record` as downloaded into the database at `db_url` (created and migrated if it is
/// not yet), its files under the data directory `data`.
pub fn downloaded_into(
    db_url: &str,
    data: &Path,
    record: BookRecord,
    book: &SyntheticBook,
    aaxc: bool,
) -> DownloadedBook {
    let asin = record.asin.clone();
    let dir = data.join("downloads").join(asin.as_str());
    let render = data.join("fixture-render");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&render).unwrap();
    let files = downloaded_book(Path::new("ffmpeg"), &render, asin.as_str(), book, aaxc).unwrap();
    // Move the downloaded files next to each other in the downloads dir, as audible-cli does.
    let moved = |from: &Path| {
        let to = dir.join(from.file_name().unwrap());
        std::fs::rename(from, &to).unwrap();
        to
    };
    let placed = DownloadedBook {
        audio: moved(&files.audio),
        voucher: files.voucher.as_deref().map(moved),
        chapters: moved(&files.chapters),
        cover: moved(&files.cover),
        plain: files.plain.clone(),
    };
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = earmark_db::connect(db_url, &earmark_db::PoolSettings::default())
            .await
            .unwrap();
        db.library.upsert_books(vec![record]).await.unwrap();
        let mut rows = vec![
            (
                if aaxc { FileKind::Aaxc } else { FileKind::Aax },
                &placed.audio,
                "audio/vnd.audible.aax",
            ),
            (FileKind::Chapters, &placed.chapters, "application/json"),
            (FileKind::Cover, &placed.cover, "image/jpeg"),
        ];
        if let Some(voucher) = &placed.voucher {
            rows.push((FileKind::Voucher, voucher, "application/json"));
        }
        for (kind, path, mime) in rows {
            let size = i64::try_from(std::fs::metadata(path).unwrap().len()).unwrap();
            db.library
                .add_file(NewStoredFile {
                    asin: asin.clone(),
                    kind,
                    path: path.display().to_string(),
                    size,
                    mime: mime.into(),
                })
                .await
                .unwrap();
        }
        let update = BookUpdate {
            status: Some(BookStatus::Downloaded),
            local_path_aax: Some(Some(placed.audio.display().to_string())),
            local_path_voucher: Some(placed.voucher.as_ref().map(|v| v.display().to_string())),
            local_path_cover: Some(Some(placed.cover.display().to_string())),
            ..BookUpdate::default()
        };
        db.library.update_book(&asin, update).await.unwrap();
    });
    placed
}

/// Seeds `record` as converted into the database at `db_url` (created and migrated if it is
/// not yet): `book` rendered by ffmpeg as an m4a (AAC, chapters) under
/// `<data>/converted/<title>/`, registered as the book's converted file, status COMPLETED.
/// Returns the file's path.
pub fn converted_into(
    db_url: &str,
    data: &Path,
    record: BookRecord,
    book: &SyntheticBook,
) -> std::path::PathBuf {
    let asin = record.asin.clone();
    let render = data.join("fixture-render").join(asin.as_str());
    std::fs::create_dir_all(&render).unwrap();
    let plain = book.render(Path::new("ffmpeg"), &render).unwrap();
    let dir = data.join("converted").join(&record.title);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.m4a", record.title));
    std::fs::rename(&plain, &path).unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = earmark_db::connect(db_url, &earmark_db::PoolSettings::default())
            .await
            .unwrap();
        db.library.upsert_books(vec![record]).await.unwrap();
        let size = i64::try_from(std::fs::metadata(&path).unwrap().len()).unwrap();
        db.library
            .add_file(NewStoredFile {
                asin: asin.clone(),
                kind: FileKind::Converted,
                path: path.display().to_string(),
                size,
                mime: "audio/mp4".into(),
            })
            .await
            .unwrap();
        let update = BookUpdate {
            status: Some(BookStatus::Completed),
            local_path_converted: Some(Some(path.display().to_string())),
            conversion_format: Some(Some(earmark_core::OutputFormat::M4a)),
            ..BookUpdate::default()
        };
        db.library.update_book(&asin, update).await.unwrap();
    });
    path
}

/// A data directory `<cwd>/data` whose SQLite library holds a downloaded AAXC (`B0DOWNLOAD`)
/// and a converted m4a (`B0CONVERTD`), a second long each. Returns the data directory.
pub fn small_library(cwd: &Path) -> std::path::PathBuf {
    let data = cwd.join("data");
    std::fs::create_dir_all(data.join("library")).unwrap();
    let data = data.canonicalize().unwrap();
    let db_url = data.join("library/earmark.db").display().to_string();
    let book = SyntheticBook::short(1);
    downloaded_into(
        &db_url,
        &data,
        record("B0DOWNLOAD", "Downloaded"),
        &book,
        true,
    );
    converted_into(&db_url, &data, record("B0CONVERTD", "Converted"), &book);
    data
}
