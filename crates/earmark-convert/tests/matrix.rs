//! Every format in both modes, through both engines, on the same encrypted AAXC: the outputs
//! each engine promises, checked independently of its own verification.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use earmark_testkit::conversion as support;

use std::time::Duration;

use earmark_convert::{AaxToMp3Converter, Ffmpeg, FfmpegConverter};
use earmark_core::ports::Converter;
use earmark_core::{ConversionMode, FileKind, OutputFormat};
use earmark_fixtures::{SyntheticBook, aaxtomp3_stand_in, moov_before_mdat};
use support::{book, duration, probe, recorder, request};

async fn every_format_and_mode(engine: &dyn Converter) {
    let dir = tempfile::tempdir().unwrap();
    let files = book(dir.path(), true, &SyntheticBook::short(2));
    let source = duration(&files.plain);
    for format in OutputFormat::ALL.iter().copied() {
        for mode in [ConversionMode::Single, ConversionMode::Chapters] {
            let case = format!("{}: {format} {mode}", engine.engine());
            let ctx = recorder(&dir.path().join(format!("work-{format}-{mode}")));
            let out = dir.path().join(format!("out-{format}-{mode}"));
            let req = request(&files, format, mode, &out);
            let result = engine
                .convert(&req, &ctx)
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}\n{}", ctx.log_text()));
            let audio: Vec<_> = result
                .files
                .iter()
                .filter(|f| f.kind != FileKind::Playlist)
                .collect();
            let expected = if mode == ConversionMode::Single { 1 } else { 3 };
            assert_eq!(audio.len(), expected, "{case}: {:?}", result.files);
            let total: f64 = audio.iter().map(|f| duration(&out.join(&f.relative))).sum();
            assert!(
                (total - source).abs() < 1.0,
                "{case}: {total} s vs {source} s"
            );
            let playlists = result.files.len() - audio.len();
            assert_eq!(
                playlists,
                usize::from(mode == ConversionMode::Chapters),
                "{case}"
            );
            for file in &audio {
                let path = out.join(&file.relative);
                assert_eq!(path.extension().unwrap(), format.extension(), "{case}");
                if matches!(format, OutputFormat::M4a | OutputFormat::M4b) {
                    assert!(moov_before_mdat(&std::fs::read(&path).unwrap()), "{case}");
                    let streams = probe(&path)["streams"].clone();
                    assert!(
                        streams
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|s| s["disposition"]["attached_pic"] == 1),
                        "{case}: no cover"
                    );
                }
            }
            // Chapter marks are what makes an .m4b an audiobook; FLAC and Ogg carry none here.
            if mode == ConversionMode::Single
                && matches!(format, OutputFormat::M4a | OutputFormat::M4b)
            {
                let chapters = probe(&out.join(&audio[0].relative))["chapters"]
                    .as_array()
                    .unwrap()
                    .len();
                assert_eq!(chapters, 3, "{case}: chapter marks");
            }
        }
    }
}

#[tokio::test]
async fn ffmpeg_engine_every_format_and_mode() {
    every_format_and_mode(&FfmpegConverter::new(
        Ffmpeg::new("ffmpeg"),
        Duration::from_secs(120),
    ))
    .await;
}

#[tokio::test]
async fn aaxtomp3_every_format_and_mode() {
    let engine = AaxToMp3Converter::new(
        aaxtomp3_stand_in(),
        Ffmpeg::new("ffmpeg"),
        Duration::from_secs(120),
    );
    every_format_and_mode(&engine).await;
}

#[tokio::test]
async fn a_compression_level_reaches_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let files = book(dir.path(), false, &SyntheticBook::short(1));
    let native = FfmpegConverter::new(Ffmpeg::new("ffmpeg"), Duration::from_secs(120));
    let script = AaxToMp3Converter::new(
        aaxtomp3_stand_in(),
        Ffmpeg::new("ffmpeg"),
        Duration::from_secs(120),
    );
    for (engine, expected) in [
        (&native as &dyn Converter, "-compression_level 3"),
        (&script as &dyn Converter, "--level 3"),
    ] {
        let ctx = recorder(&dir.path().join(format!("work-{}", engine.engine())));
        let out = dir.path().join(format!("out-{}", engine.engine()));
        let mut req = request(&files, OutputFormat::Flac, ConversionMode::Single, &out);
        req.level = Some(3);
        engine.convert(&req, &ctx).await.unwrap();
        assert!(ctx.log_text().contains(expected), "{}", ctx.log_text());
    }
}
