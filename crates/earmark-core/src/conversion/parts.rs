//! The input of a book Audible handed out in parts: each part's audio and key, in order, from
//! the files its download registered for the part.

use std::path::PathBuf;

use crate::domain::book::Book;
use crate::domain::file::{FileKind, StoredFile};
use crate::domain::parenthood::ItemKind;
use crate::download::parts_of;
use crate::ports::{ConversionInput, JobFailure, LibraryRepo};

/// The newest registered file of `kinds` among `files`.
fn newest<'a>(files: &'a [StoredFile], kinds: &[FileKind]) -> Option<&'a StoredFile> {
    files
        .iter()
        .filter(|f| kinds.contains(&f.kind))
        .max_by_key(|f| f.created_at)
}

/// `book`'s parts as conversion inputs with their total size, when it is a book sold in parts
/// whose download came as parts (`own_files` hold no audio of the book itself); `None` for
/// any other book. A part without downloaded audio refuses the conversion, naming the part.
///
/// # Errors
/// A missing part, or the repository's error.
pub(super) async fn parts_input(
    repo: &dyn LibraryRepo,
    book: &Book,
    own_files: &[StoredFile],
) -> Result<Option<(Vec<ConversionInput>, u64)>, JobFailure> {
    let asin = &book.record.asin;
    if ItemKind::of_item(&book.record.metadata_json) != ItemKind::MultiPartBook
        || newest(own_files, &[FileKind::Aax, FileKind::Aaxc]).is_some()
    {
        return Ok(None);
    }
    let parts = parts_of(repo, book).await.map_err(JobFailure::from)?;
    if parts.is_empty() {
        return Ok(None);
    }
    let count = parts.len();
    let mut inputs = Vec::with_capacity(count);
    let mut bytes = 0u64;
    for (index, part) in parts.iter().enumerate() {
        let files = repo.files_of(part).await.map_err(JobFailure::from)?;
        let Some(audio) = newest(&files, &[FileKind::Aax, FileKind::Aaxc]) else {
            return Err(JobFailure::permanent(format!(
                "{asin} is a book in {count} parts and part {part} ({} of {count}) is not \
                 downloaded: download {asin} again (POST /jobs/download with force: true)",
                index + 1
            )));
        };
        bytes = bytes.saturating_add(u64::try_from(audio.size).unwrap_or(0));
        inputs.push(ConversionInput {
            audio: PathBuf::from(&audio.path),
            voucher: newest(&files, &[FileKind::Voucher]).map(|f| PathBuf::from(&f.path)),
            chapters: None,
            cover: None,
            activation_bytes: None,
        });
    }
    Ok(Some((inputs, bytes)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;
    use crate::domain::asin::Asin;
    use crate::ports::MockLibraryRepo;
    use crate::testing::{book, record};

    /// A book sold in `parts`, its record naming them.
    fn in_parts(parts: &[&str]) -> Book {
        let mut record = record("B0LEGACY01", "A Book In Parts");
        record.metadata_json = json!({
            "content_delivery_type": "MultiPartBook",
            "has_children": true,
            "relationships": parts.iter().zip(1..).map(|(p, n)| json!({
                "asin": p, "relationship_to_product": "child", "sort": n.to_string()
            })).collect::<Vec<_>>(),
        });
        book(record)
    }

    fn file(asin: &str, kind: FileKind, name: &str, size: i64) -> StoredFile {
        StoredFile {
            id: uuid::Uuid::now_v7(),
            asin: Asin::parse(asin).unwrap(),
            kind,
            path: format!("/data/downloads/B0LEGACY01/{name}"),
            size,
            mime: "audio/vnd.audible.aax".into(),
            created_at: OffsetDateTime::now_utc(),
        }
    }

    /// A repository where the parts in `downloaded` have their audio and voucher.
    fn repo(downloaded: &'static [&'static str]) -> MockLibraryRepo {
        let mut repo = MockLibraryRepo::new();
        repo.expect_files_of().returning(move |part| {
            let part = part.as_str();
            Ok(if downloaded.contains(&part) {
                vec![
                    file(
                        part,
                        FileKind::Aaxc,
                        &format!("{part}-AAX_44_64.aaxc"),
                        1000,
                    ),
                    file(
                        part,
                        FileKind::Voucher,
                        &format!("{part}-AAX_44_64.voucher"),
                        1,
                    ),
                ]
            } else {
                Vec::new()
            })
        });
        repo
    }

    #[tokio::test]
    async fn a_book_in_parts_is_its_parts_in_order() {
        let book = in_parts(&["B0LPART002", "B0LPART001"]);
        let repo = repo(&["B0LPART001", "B0LPART002"]);
        let (inputs, bytes) = parts_input(&repo, &book, &[]).await.unwrap().unwrap();
        let audio: Vec<String> = inputs
            .iter()
            .map(|i| i.audio.display().to_string())
            .collect();
        assert_eq!(
            audio,
            [
                "/data/downloads/B0LEGACY01/B0LPART002-AAX_44_64.aaxc",
                "/data/downloads/B0LEGACY01/B0LPART001-AAX_44_64.aaxc"
            ]
        );
        assert!(inputs.iter().all(|i| i.voucher.is_some()));
        assert_eq!(bytes, 2000);
    }

    #[tokio::test]
    async fn a_part_not_downloaded_refuses_the_conversion_naming_it() {
        let book = in_parts(&["B0LPART001", "B0LPART002"]);
        let refused = parts_input(&repo(&["B0LPART001"]), &book, &[])
            .await
            .unwrap_err();
        assert!(
            refused
                .message
                .contains("part B0LPART002 (2 of 2) is not downloaded"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn a_book_in_parts_downloaded_whole_converts_as_one_file() {
        let book = in_parts(&["B0LPART001", "B0LPART002"]);
        let own = [file(
            "B0LEGACY01",
            FileKind::Aaxc,
            "B0LEGACY01-AAX_44_64.aaxc",
            9,
        )];
        let mut repo = MockLibraryRepo::new();
        repo.expect_files_of().never();
        assert!(parts_input(&repo, &book, &own).await.unwrap().is_none());
        let plain = crate::testing::book(record("B000000001", "A Book"));
        assert!(parts_input(&repo, &plain, &[]).await.unwrap().is_none());
    }
}
