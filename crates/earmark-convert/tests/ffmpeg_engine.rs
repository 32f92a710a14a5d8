//! The native engine on real encrypted input, for each format and mode.

use earmark_testkit::conversion as support;

use std::time::Duration;

use earmark_convert::{Ffmpeg, FfmpegConverter};
use earmark_core::ports::Converter;
use earmark_core::{ConversionMode, FileKind, OutputFormat};
use earmark_fixtures::{SyntheticBook, moov_before_mdat};
use support::{Case, book, duration, pcm, probe, recorder, request, tree};

fn engine() -> FfmpegConverter {
    FfmpegConverter::new(Ffmpeg::new("ffmpeg"), Duration::from_secs(120))
}

#[tokio::test]
async fn m4b_from_aax_is_a_bit_exact_copy_with_chapters_cover_and_moov_first() {
    let case = Case::new(false, &SyntheticBook::short(2));
    let req = case.request(OutputFormat::M4b, ConversionMode::Single);
    let result = engine().convert(&req, &case.ctx).await.unwrap();

    assert_eq!(
        tree(&case.out),
        ["Audiobook/Ada Fixture/The Synthetic Book/The Synthetic Book.m4b"]
    );
    assert_eq!(result.files.len(), 1);
    assert_eq!(result.files[0].kind, FileKind::Converted);
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);
    let m4b = case.out.join(&result.files[0].relative);
    assert!(
        pcm(&m4b) == pcm(&case.files.plain),
        "decoded audio differs from the source"
    );
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
        "no cover: {streams:?}"
    );
    assert_eq!(info["format"]["tags"]["title"], "The Synthetic Book");
    assert_eq!(info["format"]["tags"]["composer"], "Nora Reader");
    assert!(moov_before_mdat(&std::fs::read(&m4b).unwrap()));
    // Progress came from ffmpeg's own report and reached the end.
    let progress = case.ctx.percents();
    assert!(
        progress.len() >= 2 && progress.iter().any(|p| *p > 90.0),
        "{progress:?}"
    );
    // The activation bytes never reach the log.
    let log = case.ctx.log_text();
    assert!(log.contains("-activation_bytes"), "{log}");
    assert!(!log.contains(earmark_fixtures::ACTIVATION_BYTES), "{log}");
}

#[tokio::test]
async fn every_lossy_format_from_aaxc_keeps_the_length() {
    let dir = tempfile::tempdir().unwrap();
    let files = book(dir.path(), true, &SyntheticBook::short(2));
    let source = duration(&files.plain);
    for format in [
        OutputFormat::Mp3,
        OutputFormat::Flac,
        OutputFormat::Opus,
        OutputFormat::M4a,
    ] {
        let ctx = recorder(&dir.path().join(format!("work-{format}")));
        let out = dir.path().join(format!("out-{format}"));
        let req = request(&files, format, ConversionMode::Single, &out);
        let result = engine().convert(&req, &ctx).await.unwrap();
        let file = out.join(&result.files[0].relative);
        assert_eq!(file.extension().unwrap(), format.extension());
        assert!(
            (duration(&file) - source).abs() < 0.1,
            "{format}: {} vs {source}",
            duration(&file)
        );
        let log = ctx.log_text();
        assert!(
            !log.contains(&earmark_fixtures::hex(&earmark_fixtures::AAXC_KEY)),
            "{log}"
        );
        assert!(
            !log.contains(&earmark_fixtures::hex(&earmark_fixtures::AAXC_IV)),
            "{log}"
        );
        if format == OutputFormat::Opus {
            assert_eq!(
                result.warnings.len(),
                1,
                "opus gets no cover: {:?}",
                result.warnings
            );
        } else {
            assert!(
                result.warnings.is_empty(),
                "{format}: {:?}",
                result.warnings
            );
        }
    }
}

#[tokio::test]
async fn chapter_mode_writes_one_file_per_chapter_and_a_playlist() {
    let case = Case::new(false, &SyntheticBook::short(2));
    let req = case.request(OutputFormat::Mp3, ConversionMode::Chapters);
    let result = engine().convert(&req, &case.ctx).await.unwrap();
    let base = "Audiobook/Ada Fixture/The Synthetic Book";
    assert_eq!(
        tree(&case.out),
        [
            format!("{base}/The Synthetic Book-1 Opening Credits.mp3"),
            format!("{base}/The Synthetic Book-2 Chapter One.mp3"),
            format!("{base}/The Synthetic Book-3 Chapter Two.mp3"),
            format!("{base}/The Synthetic Book.m3u"),
        ]
    );
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
    let playlist =
        std::fs::read_to_string(case.out.join(base).join("The Synthetic Book.m3u")).unwrap();
    assert!(playlist.starts_with("#EXTM3U\n#EXTINF:2,The Synthetic Book - Opening Credits\nThe Synthetic Book-1 Opening Credits.mp3\n"), "{playlist}");
    let second = probe(
        &case
            .out
            .join(base)
            .join("The Synthetic Book-2 Chapter One.mp3"),
    );
    assert_eq!(second["format"]["tags"]["title"], "Chapter One");
    assert_eq!(second["format"]["tags"]["track"], "2/3");
}

#[tokio::test]
async fn wrong_activation_bytes_fail_with_the_reason_and_leave_no_output() {
    let case = Case::new(false, &SyntheticBook::short(1));
    let mut req = case.request(OutputFormat::M4b, ConversionMode::Single);
    req.input.activation_bytes = Some(earmark_core::ActivationBytes::parse("deadbeef").unwrap());
    let err = engine().convert(&req, &case.ctx).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("mismatch in checksums") || text.contains("readable"),
        "{text}"
    );
}

#[tokio::test]
async fn a_stream_copy_with_the_wrong_aaxc_key_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let files = book(dir.path(), true, &SyntheticBook::short(1));
    let voucher = files.voucher.clone().unwrap();
    let wrong = earmark_fixtures::voucher(
        "B0FIXTURE1",
        b"not-the-real-key",
        &earmark_fixtures::AAXC_IV,
    );
    std::fs::write(&voucher, wrong.to_string()).unwrap();
    let out = dir.path().join("out");
    let ctx = recorder(&dir.path().join("work"));
    let req = request(&files, OutputFormat::M4b, ConversionMode::Single, &out);
    let err = engine().convert(&req, &ctx).await.unwrap_err();
    assert!(err.to_string().contains("ffmpeg failed"), "{err}");
}

#[tokio::test]
async fn a_cut_mp4_fails_the_in_process_check() {
    let dir = tempfile::tempdir().unwrap();
    let files = book(dir.path(), false, &SyntheticBook::short(1));
    let whole = std::fs::read(&files.plain).unwrap();
    let facts = earmark_convert::check_mp4(&files.plain).await.unwrap();
    assert!(facts.moov_first && facts.samples > 0);
    assert!((facts.duration_ms as i64 - 3000).abs() < 100, "{facts:?}");
    let cut = dir.path().join("cut.m4b");
    std::fs::write(&cut, &whole[..whole.len() - 1000]).unwrap();
    let err = earmark_convert::check_mp4(&cut).await.unwrap_err();
    assert!(err.to_string().contains("cut short"), "{err}");

    // Whole boxes, but the sound track's first chunk said to lie past the end of mdat.
    let mut moved = whole.clone();
    let moov = earmark_mp4::top_level(&moved, b"moov").unwrap();
    let track = earmark_mp4::sound_track(&moved, &moov).unwrap();
    let stco = earmark_mp4::child(&moved, &track.stbl, b"stco").unwrap();
    let first = stco.body() + 8;
    let past = u32::try_from(whole.len() + 1000).unwrap();
    moved[first..first + 4].copy_from_slice(&past.to_be_bytes());
    let bad = dir.path().join("moved.m4b");
    std::fs::write(&bad, &moved).unwrap();
    let err = earmark_convert::check_mp4(&bad).await.unwrap_err();
    assert!(err.to_string().contains("outside mdat"), "{err}");
}

#[tokio::test]
async fn mp3_outputs_are_checked_by_their_xing_header() {
    let case = Case::new(false, &SyntheticBook::short(2));
    let req = case.request(OutputFormat::Mp3, ConversionMode::Single);
    let result = engine().convert(&req, &case.ctx).await.unwrap();
    let mp3 = case.out.join(&result.files[0].relative);
    let facts = earmark_convert::check_mp3(&mp3).await.unwrap().unwrap();
    let probed = (duration(&mp3) * 1000.0) as i64;
    assert!(
        (facts.duration_ms as i64 - probed).abs() < 100,
        "{facts:?} vs {probed} ms"
    );
    let whole = std::fs::read(&mp3).unwrap();
    let cut = case.dir.path().join("cut.mp3");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let err = earmark_convert::check_mp3(&cut).await.unwrap_err();
    assert!(
        err.to_string().contains("shorter than its header says"),
        "{err}"
    );
    let not_mp3 = case.dir.path().join("noise.mp3");
    std::fs::write(&not_mp3, vec![7u8; 4096]).unwrap();
    assert!(earmark_convert::check_mp3(&not_mp3).await.is_err());
}
