use super::*;
use crate::domain::file::Fingerprint;
use crate::testing::RecordingContext;

fn asin(text: &str) -> Asin {
    Asin::parse(text).unwrap()
}

fn placed(name: &str, kind: FileKind) -> OutputFile {
    OutputFile {
        kind,
        path: format!("/data/downloads/B0LEGACY01/{name}"),
        mime: "application/octet-stream".into(),
        fingerprint: Fingerprint {
            size: 1,
            modified_ns: 0,
            inode: 1,
        },
    }
}

/// What a completed download of `book` that placed `files` writes.
fn completed_with(
    book: &Asin,
    files: &[OutputFile],
    parts: &[Asin],
    acr: Option<&str>,
) -> JobEffects {
    let ctx = RecordingContext::new(
        JobSpec::Download(book.clone(), DownloadParams::default()),
        "/data/tmp/job.1",
    );
    completed(
        ctx.job(),
        book,
        &DownloadParams::default(),
        files,
        parts,
        acr.map(str::to_owned),
    )
}

#[test]
fn a_book_that_came_as_its_parts_registers_each_parts_files_for_the_part() {
    let book = asin("B0LEGACY01");
    let parts = [asin("B0LPART001"), asin("B0LPART002")];
    let files = [
        placed("B0LPART001-AAX_44_64.aaxc", FileKind::Aaxc),
        placed("B0LPART001-AAX_44_64.voucher", FileKind::Voucher),
        placed("B0LPART002-AAX_44_64.aaxc", FileKind::Aaxc),
        placed("B0LPART002-AAX_44_64.voucher", FileKind::Voucher),
        placed("B0LEGACY01-chapters.json", FileKind::Chapters),
        placed("B0LEGACY01_(500).jpg", FileKind::Cover),
    ];
    let effects = completed_with(&book, &files, &parts, Some("CR!BOOK"));

    let own = effects.book.unwrap();
    let names = |change: &BookChange| -> Vec<String> {
        change
            .files
            .iter()
            .map(|f| format!("{} {}", f.asin, f.path.rsplit('/').next().unwrap()))
            .collect()
    };
    assert_eq!(
        names(&own),
        [
            "B0LEGACY01 B0LEGACY01-chapters.json",
            "B0LEGACY01 B0LEGACY01_(500).jpg"
        ]
    );
    assert_eq!(own.update.local_path_aax, Some(Some(files[0].path.clone())));
    assert_eq!(
        own.update.local_path_voucher, None,
        "the parts' vouchers are theirs"
    );
    assert_eq!(
        own.update.local_path_cover,
        Some(Some(files[5].path.clone()))
    );
    assert_eq!(own.licence_acr.as_deref(), Some("CR!BOOK"));

    let [first, second] = effects.other_books.as_slice() else {
        panic!("{:?}", effects.other_books)
    };
    assert_eq!(
        names(first),
        [
            "B0LPART001 B0LPART001-AAX_44_64.aaxc",
            "B0LPART001 B0LPART001-AAX_44_64.voucher"
        ]
    );
    assert_eq!(first.update.status, Some(BookStatus::Downloaded));
    assert_eq!(
        second.update.local_path_voucher,
        Some(Some(files[3].path.clone()))
    );
}

#[test]
fn a_book_in_one_file_changes_no_other_book() {
    let book = asin("B0LEGACY01");
    let files = [
        placed("B0LEGACY01-AAX_44_64.aaxc", FileKind::Aaxc),
        placed("B0LEGACY01-AAX_44_64.voucher", FileKind::Voucher),
    ];
    let effects = completed_with(&book, &files, &[asin("B0LPART001")], None);
    assert!(effects.other_books.is_empty());
    let own = effects.book.unwrap();
    assert_eq!(own.files.len(), 2);
    assert_eq!(
        own.update.local_path_voucher,
        Some(Some(files[1].path.clone()))
    );
}

#[test]
fn a_part_is_downloaded_through_its_book_only() {
    let mut record = crate::testing::record("B0LPART002", "A Book In Parts, Part 2");
    record.metadata_json = serde_json::json!({"content_delivery_type": "AudioPart"});
    record.parent = Some(crate::domain::parenthood::ParentLink {
        asin: asin("B0LEGACY01"),
        position: 2,
    });
    let part = crate::testing::book(record.clone());
    let refused = parts::part_refused(&record.asin, &part).unwrap();
    assert!(
        refused
            .message
            .contains("is part 2 of the book B0LEGACY01: download the book"),
        "{refused}"
    );
    let mut episode = record;
    episode.metadata_json = serde_json::json!({"content_delivery_type": "PodcastEpisode"});
    assert!(parts::part_refused(&episode.asin, &crate::testing::book(episode.clone())).is_none());
}
