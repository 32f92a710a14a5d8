//! The AAXtoMP3 adapter against the stand-in script (KrumpetPirate/AAXtoMP3 at e66c51d), on
//! real encrypted input: its exit-status quirks, its secrets, and hostile metadata.

use earmark_testkit::conversion as support;

use std::path::Path;
use std::time::Duration;

use earmark_convert::{AaxToMp3Converter, Ffmpeg};
use earmark_core::ports::Converter;
use earmark_core::{ConversionMode, FileKind, NamingScheme, OutputFormat};
use earmark_fixtures::{ACTIVATION_BYTES, SyntheticBook, aaxtomp3_stand_in};
use support::{Case, duration, pcm, probe, tree};

fn engine() -> AaxToMp3Converter {
    AaxToMp3Converter::new(
        aaxtomp3_stand_in(),
        Ffmpeg::new("ffmpeg"),
        Duration::from_secs(120),
    )
}

#[tokio::test]
async fn m4b_survives_exit_127_at_the_cover_step_and_gets_chapters_cover_and_moov_first() {
    let case = Case::new(true, &SyntheticBook::short(2));
    let req = case.request(OutputFormat::M4b, ConversionMode::Single);
    let result = engine().convert(&req, &case.ctx).await.unwrap();

    let log = case.ctx.log_text();
    assert!(log.contains("exited with exit status: 127"), "{log}");
    assert!(log.contains("WARN mp4art was not found"), "{log}");
    assert_eq!(
        tree(&case.out)
            .iter()
            .filter(|f| f.ends_with(".m4b"))
            .collect::<Vec<_>>(),
        ["Audiobook/Ada Fixture/The Synthetic Book/The Synthetic Book.m4b"]
    );
    let m4b = case.out.join(&result.files[0].relative);
    assert!(
        pcm(&m4b) == pcm(&case.files.plain),
        "decoded audio differs from the source"
    );
    // What mp4chaps and mp4art would have added, and faststart, which AAXtoMP3 never does.
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);
    let info = probe(&m4b);
    let titles: Vec<&str> = info["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tags"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Opening Credits", "Chapter One", "Chapter Two"]);
    let streams = info["streams"].as_array().unwrap();
    assert!(
        streams
            .iter()
            .any(|s| s["disposition"]["attached_pic"] == 1),
        "{streams:?}"
    );
    assert!(earmark_fixtures::moov_before_mdat(
        &std::fs::read(&m4b).unwrap()
    ));
    // The voucher's key and iv never reach the log, even where the script prints them.
    assert!(
        !log.contains(&earmark_fixtures::hex(&earmark_fixtures::AAXC_KEY)),
        "{log}"
    );
    let progress = case.ctx.percents();
    assert!(
        !progress.is_empty(),
        "no progress parsed from the script's output"
    );
}

#[tokio::test]
async fn chaptered_mp3_survives_exit_1_after_the_last_chapter() {
    let case = Case::new(false, &SyntheticBook::short(2));
    let req = case.request(OutputFormat::Mp3, ConversionMode::Chapters);
    let result = engine().convert(&req, &case.ctx).await.unwrap();

    let log = case.ctx.log_text();
    assert!(log.contains("exited with exit status: 1,"), "{log}");
    let kinds: Vec<FileKind> = result.files.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            FileKind::ConvertedChapter,
            FileKind::ConvertedChapter,
            FileKind::ConvertedChapter,
            FileKind::Playlist
        ]
    );
    let total: f64 = result.files[..3]
        .iter()
        .map(|f| duration(&case.out.join(&f.relative)))
        .sum();
    assert!((total - duration(&case.files.plain)).abs() < 1.0, "{total}");
    // The header line printed the activation bytes: masked.
    assert!(log.contains("----Decoding---The Synthetic Book"), "{log}");
    assert!(!log.contains(ACTIVATION_BYTES), "{log}");
    assert!(log.contains("[redacted]"), "{log}");
    let chapter_progress = case.ctx.percents().iter().any(|p| *p > 90.0);
    assert!(chapter_progress, "chapter splitting progress was not read");
}

#[tokio::test]
async fn an_output_that_is_not_there_fails_the_job_whatever_the_exit_status() {
    let case = Case::new(true, &SyntheticBook::short(1));
    // An AAXC without its chapter file: the script refuses it, writes nothing, exits 1.
    std::fs::remove_file(&case.files.chapters).unwrap();
    let mut req = case.request(OutputFormat::Mp3, ConversionMode::Single);
    req.input.chapters = None;
    let err = engine()
        .convert(&req, &case.ctx)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("AAXtoMP3 exited with exit status: 1"), "{err}");
    assert!(err.contains("no audio file"), "{err}");
    assert!(err.contains("ERROR File NOT Found"), "{err}");
}

#[tokio::test]
async fn hostile_tags_run_nothing_and_name_files_safely() {
    let mut hostile = SyntheticBook::short(1);
    hostile.title = "$(touch pwned) `touch pwned2` * \"q\" 'q' ../../escape".into();
    hostile.author = "$(touch pwned3)".into();
    let case = Case::new(false, &hostile);
    let mut req = case.request(OutputFormat::Mp3, ConversionMode::Chapters);
    req.file_scheme = Some(NamingScheme::parse("$title by $artist", false).unwrap());
    req.dir_scheme = Some(NamingScheme::parse("$artist/$title", false).unwrap());
    req.chapter_scheme = Some(NamingScheme::parse("$chapternum - $title", true).unwrap());
    let result = engine().convert(&req, &case.ctx).await.unwrap();

    for name in ["pwned", "pwned2", "pwned3"] {
        for place in [
            case.dir.path(),
            &case.out,
            &case.dir.path().join("work"),
            Path::new("."),
        ] {
            assert!(
                !place.join(name).exists(),
                "{name} created in {}",
                place.display()
            );
        }
    }
    for file in &result.files {
        let text = file.relative.to_string_lossy();
        assert!(
            !text.contains(['$', '`', '*', '"', '\'', '\\', '\n']),
            "unsafe name {text}"
        );
        assert!(
            file.relative.components().all(|c| {
                let c = c.as_os_str().to_string_lossy();
                c != ".." && !c.starts_with('.')
            }),
            "{text}"
        );
        assert!(case.out.join(&file.relative).is_file(), "{text}");
    }
    let playlist = result
        .files
        .iter()
        .find(|f| f.kind == FileKind::Playlist)
        .unwrap();
    let text = std::fs::read_to_string(case.out.join(&playlist.relative)).unwrap();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            case.out
                .join(playlist.relative.parent().unwrap())
                .join(line)
                .is_file(),
            "{line}"
        );
    }
}
