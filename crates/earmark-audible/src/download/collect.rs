//! What audible-cli left in a download's directory, judged: the book's audio (or, when
//! Audible handed it out in parts, each part's, in the parts' order), the AAXC's voucher, the
//! chapters, cover and PDF, and the licence's `acr`.

use std::path::Path;

use earmark_core::FileKind;
use earmark_core::ports::{DownloadOutput, DownloadRequest, ProducedFile};

/// The licence `acr` in a voucher audible-cli saved (`content_license.acr`), if readable.
pub async fn licence_acr_of(voucher: &Path) -> Option<String> {
    let raw = tokio::fs::read(voucher).await.ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    doc.pointer("/content_license/acr")?
        .as_str()
        .filter(|acr| !acr.is_empty())
        .map(str::to_owned)
}

/// The audio (`<owner>-<codec>.aax` or `.aaxc`) and, for AAXC, its voucher, that audible-cli
/// left in `names` for `owner` (the book, or one of its parts).
fn audio_of(names: &[String], owner: &str) -> Result<Option<Vec<ProducedFile>>, String> {
    let is_audio = |n: &String| n.ends_with(".aaxc") || n.ends_with(".aax");
    let Some(audio) = names
        .iter()
        .find(|n| n.starts_with(&format!("{owner}-")) && is_audio(n))
    else {
        return Ok(None);
    };
    let aaxc = audio.ends_with(".aaxc");
    let mut files = vec![ProducedFile {
        relative: audio.into(),
        kind: if aaxc { FileKind::Aaxc } else { FileKind::Aax },
        mime: "audio/vnd.audible.aax".into(),
    }];
    if aaxc {
        let voucher = format!("{}.voucher", audio.trim_end_matches(".aaxc"));
        if !names.contains(&voucher) {
            return Err(format!("the AAXC came without its voucher {voucher}"));
        }
        files.push(ProducedFile {
            relative: voucher.into(),
            kind: FileKind::Voucher,
            mime: "application/json".into(),
        });
    }
    Ok(Some(files))
}

/// Why the files audible-cli left are not a download of the book.
#[derive(Debug)]
pub(super) enum Uncollected {
    /// Something is missing; audible-cli's own messages may say why.
    Missing(String),
    /// Audible handed out the book in parts and one of them did not come: this, whatever
    /// else audible-cli said.
    PartMissing(String),
}

impl From<String> for Uncollected {
    fn from(missing: String) -> Self {
        Self::Missing(missing)
    }
}

/// The parts' audio and vouchers, in the parts' order, when audible-cli was told to
/// "please download individual parts" (cmd_download.py `_add_audioparts_to_queue`: it then
/// downloads each part under the part's own ASIN, with no chapters or cover of its own).
fn delivered_parts(
    names: &[String],
    request: &DownloadRequest,
) -> Result<Vec<ProducedFile>, Uncollected> {
    let asin = request.asin.as_str();
    let stray: Vec<&str> = names
        .iter()
        .filter(|n| n.ends_with(".aaxc") || n.ends_with(".aax"))
        .map(String::as_str)
        .collect();
    if request.parts.is_empty() {
        return Err(Uncollected::Missing(if stray.is_empty() {
            "audible-cli wrote no audio file".into()
        } else {
            format!(
                "audible-cli wrote no audio for {asin} but other files ({}); earmark knows no \
                 parts of {asin}: sync the library (POST /library/sync), then download it again",
                stray.join(", ")
            )
        }));
    }
    let count = request.parts.len();
    let mut files = Vec::new();
    for (index, part) in request.parts.iter().enumerate() {
        match audio_of(names, part.as_str())? {
            Some(audio) => files.extend(audio),
            None if stray.is_empty() => {
                return Err(Uncollected::Missing(
                    "audible-cli wrote no audio file".into(),
                ));
            }
            None => {
                return Err(Uncollected::PartMissing(format!(
                    "Audible handed out {asin} in parts, but not part {part} ({} of {count}): \
                     the book is incomplete; download it again later",
                    index + 1
                )));
            }
        }
    }
    Ok(files)
}

/// The files audible-cli left in `dir` for `asin`, judged.
pub(super) async fn collect(
    dir: &Path,
    request: &DownloadRequest,
) -> Result<DownloadOutput, Uncollected> {
    let asin = request.asin.as_str();
    let mut names = Vec::new();
    if let Ok(mut entries) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    let (mut files, in_parts) = match audio_of(&names, asin)? {
        Some(whole) => (whole, false),
        None => (delivered_parts(&names, request)?, true),
    };
    let chapters = format!("{asin}-chapters.json");
    if names.contains(&chapters) {
        files.push(ProducedFile {
            relative: chapters.into(),
            kind: FileKind::Chapters,
            mime: "application/json".into(),
        });
    } else if !in_parts {
        // The parts carry their chapters in their own files.
        return Err(format!("audible-cli wrote no chapter file {chapters}").into());
    }
    let mut warnings = Vec::new();
    let cover = format!("{asin}_({}).jpg", request.cover_size);
    if names.contains(&cover) {
        files.push(ProducedFile {
            relative: cover.into(),
            kind: FileKind::Cover,
            mime: "image/jpeg".into(),
        });
    } else {
        warnings.push(format!(
            "Audible offers no {} px cover for this book",
            request.cover_size
        ));
    }
    let pdf = format!("{asin}.pdf");
    if request.pdf && names.contains(&pdf) {
        files.push(ProducedFile {
            relative: pdf.into(),
            kind: FileKind::Pdf,
            mime: "application/pdf".into(),
        });
    }
    // The book's own licence (also saved when its audio then came in parts).
    let own_voucher = names
        .iter()
        .find(|n| n.starts_with(&format!("{asin}-")) && n.ends_with(".voucher"));
    let licence_acr = match own_voucher {
        Some(voucher) => licence_acr_of(&dir.join(voucher)).await,
        None => None,
    };
    Ok(DownloadOutput {
        files,
        warnings,
        licence_acr,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use earmark_core::ports::DownloadFormat;

    use super::*;

    #[tokio::test]
    async fn the_licence_acr_is_read_from_the_voucher() {
        let dir = std::env::temp_dir().join(format!("earmark-voucher-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let voucher = dir.join("B000000001-AAX_44_64.voucher");
        std::fs::write(
            &voucher,
            r#"{"content_license": {"acr": "CR!ABC", "status_code": "Granted"}}"#,
        )
        .unwrap();
        assert_eq!(licence_acr_of(&voucher).await.as_deref(), Some("CR!ABC"));
        std::fs::write(&voucher, r#"{"content_license": {"acr": ""}}"#).unwrap();
        assert_eq!(licence_acr_of(&voucher).await, None);
        assert_eq!(licence_acr_of(&dir.join("missing.voucher")).await, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn request_in(dir: &Path, parts: &[&str]) -> DownloadRequest {
        DownloadRequest {
            asin: earmark_core::Asin::parse("B0MULTI001").unwrap(),
            profile: None,
            format: DownloadFormat::Aaxc,
            pdf: false,
            cover_size: 500,
            out_dir: dir.to_owned(),
            expected_bytes: None,
            in_podcast: false,
            parts: parts
                .iter()
                .map(|p| earmark_core::Asin::parse(p).unwrap())
                .collect(),
        }
    }

    /// What audible-cli leaves after "please download individual parts": the book's own
    /// voucher (its audio never came), cover and chapters, and the parts' audio and vouchers.
    fn handed_out_in_parts(name: &str, parts: &[&str]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("earmark-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("B0MULTI001-AAX_44_64.voucher"),
            r#"{"content_license": {"acr": "CR!BOOK"}}"#,
        )
        .unwrap();
        for name in ["B0MULTI001-chapters.json", "B0MULTI001_(500).jpg"] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        for part in parts {
            for ext in ["aaxc", "voucher"] {
                std::fs::write(dir.join(format!("{part}-AAX_44_64.{ext}")), b"x").unwrap();
            }
        }
        dir
    }

    #[tokio::test]
    async fn a_book_handed_out_in_parts_is_its_parts_in_order() {
        let dir = handed_out_in_parts("parts", &["B0PART0002", "B0PART0001"]);
        let request = request_in(&dir, &["B0PART0002", "B0PART0001"]);
        let output = collect(&dir, &request).await.unwrap();
        let names: Vec<String> = output
            .files
            .iter()
            .map(|f| f.relative.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "B0PART0002-AAX_44_64.aaxc",
                "B0PART0002-AAX_44_64.voucher",
                "B0PART0001-AAX_44_64.aaxc",
                "B0PART0001-AAX_44_64.voucher",
                "B0MULTI001-chapters.json",
                "B0MULTI001_(500).jpg",
            ]
        );
        assert_eq!(output.licence_acr.as_deref(), Some("CR!BOOK"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_part_audible_did_not_hand_out_is_named() {
        let dir = handed_out_in_parts("part-missing", &["B0PART0001"]);
        let Err(Uncollected::PartMissing(refused)) =
            collect(&dir, &request_in(&dir, &["B0PART0001", "B0PART0002"])).await
        else {
            panic!("a missing part is named");
        };
        assert!(
            refused.contains("not part B0PART0002 (2 of 2): the book is incomplete"),
            "{refused}"
        );
        let Err(Uncollected::Missing(unknown)) = collect(&dir, &request_in(&dir, &[])).await else {
            panic!("parts of a book earmark knows no parts of are not collected");
        };
        assert!(
            unknown.contains("earmark knows no parts of B0MULTI001: sync the library"),
            "{unknown}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
