use time::OffsetDateTime;

use super::*;
use crate::domain::asin::Asin;
use crate::domain::book::{Book, BookStatus};
use crate::domain::file::{FileKind, StoredFile};
use crate::domain::format::OutputFormat;
use crate::ports::DiskFile;

const D: &str = "/data/downloads";
const C: &str = "/data/converted";

fn asin(n: u32) -> Asin {
    Asin::parse(&format!("B{n:09}")).unwrap()
}

/// Book `n`, downloaded (its AAXC at `D/<asin>/<asin>.aaxc`) and converted to `C/Book n.m4b`.
fn book(n: u32) -> Book {
    Book {
        status: BookStatus::Completed,
        local_path_aax: Some(aaxc_path(n)),
        local_path_converted: Some(m4b_path(n)),
        conversion_format: Some(OutputFormat::M4b),
        ..crate::testing::book(crate::testing::record(
            asin(n).as_str(),
            &format!("Book {n}"),
        ))
    }
}

fn aaxc_path(n: u32) -> String {
    format!("{D}/{0}/{0}.aaxc", asin(n))
}

fn m4b_path(n: u32) -> String {
    format!("{C}/Book {n}.m4b")
}

fn row(n: u32, kind: FileKind, path: &str, size: i64) -> StoredFile {
    StoredFile {
        id: uuid::Uuid::now_v7(),
        asin: asin(n),
        kind,
        path: path.into(),
        size,
        mime: "audio/mp4".into(),
        created_at: OffsetDateTime::now_utc(),
    }
}

fn disk(path: &str, size: u64) -> DiskFile {
    DiskFile {
        path: path.into(),
        size,
        inode: size,
    }
}

/// Books 1 and 2, each downloaded and converted, everything where the database says.
fn in_step() -> Survey {
    let mut survey = Survey::default();
    for n in [1, 2] {
        survey.books.push(book(n));
        let (aaxc, m4b) = (1000 + i64::from(n), 500 + i64::from(n));
        survey
            .files
            .push(row(n, FileKind::Aaxc, &aaxc_path(n), aaxc));
        survey
            .files
            .push(row(n, FileKind::Converted, &m4b_path(n), m4b));
        survey.downloads.push(disk(&aaxc_path(n), aaxc as u64));
        survey.converted.push(disk(&m4b_path(n), m4b as u64));
    }
    survey
}

#[test]
fn a_library_in_step_needs_nothing() {
    let survey = in_step();
    let plan = RepairPlan::of(&survey);
    assert!(plan.is_empty(), "{plan:?}");
    let preview = RepairPreview::of(&survey, &plan, OffsetDateTime::UNIX_EPOCH);
    assert_eq!(
        (
            preview.remote_total,
            preview.downloaded_total,
            preview.converted_total,
            preview.converted_of_downloaded,
            preview.converted_m4b_files_on_disk_total,
            preview.converted_m4b_titles_on_disk_total,
            preview.converted_m4b_in_audiobook_dir_total,
            preview.downloaded_on_disk_remote_total,
            preview.missing_files + preview.orphan_conversions + preview.duplicate_conversions,
        ),
        (2, 2, 2, 2, 2, 2, 2, 2, 0)
    );
}

#[test]
fn a_deleted_conversion_is_forgotten_and_its_book_is_downloaded_again() {
    let mut survey = in_step();
    survey.converted.retain(|f| f.path != m4b_path(1));
    let plan = RepairPlan::of(&survey);
    assert_eq!(plan.missing.len(), 1);
    assert_eq!(plan.missing[0].path, m4b_path(1));
    assert_eq!(plan.books.len(), 1, "{:?}", plan.books);
    let (which, update) = &plan.books[0];
    assert_eq!(which, &asin(1));
    assert_eq!(update.status, Some(BookStatus::Downloaded));
    assert_eq!(update.local_path_converted, Some(None));
    assert_eq!(update.conversion_format, Some(None));
    let preview = RepairPreview::of(&survey, &plan, OffsetDateTime::UNIX_EPOCH);
    assert_eq!((preview.missing_files, preview.converted_total), (1, 1));
    assert_eq!(preview.converted_db_total, 2, "the database still says so");
}

#[test]
fn a_moved_file_is_followed_and_nothing_else_changes_but_the_path() {
    let mut survey = in_step();
    survey.converted.retain(|f| f.path != m4b_path(2));
    let new_home = format!("{C}/Someone/Book 2.m4b");
    survey.converted.push(disk(&new_home, 502));
    let plan = RepairPlan::of(&survey);
    assert_eq!(plan.moved.len(), 1, "{plan:?}");
    assert_eq!(plan.moved[0].to.path, new_home);
    assert!(plan.missing.is_empty() && plan.new_local_items.is_empty());
    let (_, update) = &plan.books[0];
    assert_eq!(update.local_path_converted, Some(Some(new_home)));
    assert_eq!(update.status, None, "still completed");
    let preview = RepairPreview::of(&survey, &plan, OffsetDateTime::UNIX_EPOCH);
    assert_eq!(preview.misplaced_files_count, 1);
    assert_eq!(preview.converted_m4b_in_audiobook_dir_total, 2);
}

#[test]
fn copies_asins_and_strangers_are_told_apart() {
    let mut survey = in_step();
    // A copy of book 1's output, a book-3 file named by its ASIN, and a stranger.
    survey
        .converted
        .push(disk(&format!("{C}/Book 1 (copy).m4b"), 501));
    let mut three = book(3);
    three.status = BookStatus::New;
    three.local_path_aax = None;
    three.local_path_converted = None;
    three.conversion_format = None;
    survey.books.push(three);
    let adopted = format!("{C}/Libation/Book Three [{}].m4b", asin(3));
    survey.converted.push(disk(&adopted, 777));
    survey
        .converted
        .push(disk(&format!("{C}/Other/Stranger.mp3"), 42));
    survey
        .converted
        .push(disk(&format!("{C}/Other/cover.jpg"), 43));
    // What a running conversion is putting in place is nobody's business yet.
    survey
        .converted
        .push(disk(&format!("{C}/Book 2 again.m4b"), 9));
    survey.in_flight.insert(format!("{C}/Book 2 again.m4b"));

    let plan = RepairPlan::of(&survey);
    assert_eq!(plan.duplicates.len(), 1, "{plan:?}");
    assert_eq!(plan.duplicates[0].of, m4b_path(1));
    assert_eq!(plan.adopted.len(), 1);
    assert_eq!(
        (&plan.adopted[0].asin, plan.adopted[0].kind),
        (&asin(3), FileKind::Converted)
    );
    assert_eq!(plan.new_local_items.len(), 1);
    assert_eq!(plan.new_local_items[0].title, "Stranger");
    assert_eq!(plan.new_local_items[0].format.as_deref(), Some("mp3"));
    assert_eq!(plan.books.len(), 1);
    assert_eq!(plan.books[0].1.status, Some(BookStatus::Completed));
    assert_eq!(plan.books[0].1.local_path_converted, Some(Some(adopted)));
    let preview = RepairPreview::of(&survey, &plan, OffsetDateTime::UNIX_EPOCH);
    assert_eq!(
        (preview.orphan_conversions, preview.duplicate_conversions),
        (2, 1)
    );
}

#[test]
fn books_being_worked_on_are_left_to_their_jobs_and_failures_stay_on_show() {
    let mut survey = in_step();
    survey.books[0].status = BookStatus::Converting;
    survey.books[1].status = BookStatus::Failed;
    let plan = RepairPlan::of(&survey);
    assert!(plan.books.is_empty(), "{:?}", plan.books);
    // Once its files change, a failed book says what it has.
    survey.converted.retain(|f| f.path != m4b_path(2));
    let plan = RepairPlan::of(&survey);
    assert_eq!(plan.books.len(), 1);
    assert_eq!(plan.books[0].1.status, Some(BookStatus::Downloaded));
    assert_eq!(plan.books[0].1.error_message, Some(None));
}

#[test]
fn a_local_item_whose_file_is_gone_is_forgotten() {
    let mut survey = in_step();
    survey
        .local_items
        .push(crate::domain::local_item::LocalItem {
            id: uuid::Uuid::now_v7(),
            asin: None,
            title: "Gone".into(),
            authors: None,
            path: format!("{C}/Gone.mp3"),
            format: Some("mp3".into()),
            size: 1,
            mime: "audio/mpeg".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        });
    let plan = RepairPlan::of(&survey);
    assert_eq!(plan.gone_local_items.len(), 1);
    assert!(plan.new_local_items.is_empty());
}
