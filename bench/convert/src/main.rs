//! Conversion speed, earmark against ffmpeg alone, on a synthetic encrypted book.
//!
//! `earmark-bench-convert [minutes] [runs]` renders a book of `minutes` (default 10) minutes,
//! encrypts it as AAX, then for m4b (stream copy) and mp3 (encode) times, `runs` times each
//! (default 3), alternating:
//!   - the reference: the very ffmpeg command earmark's native engine ran (from its log),
//!     started directly;
//!   - earmark: `FfmpegConverter::convert`, i.e. that command plus everything earmark adds
//!     (source probe, chapter list, progress parsing, log lines, output verification).
//!
//! It prints the medians as × realtime and earmark's overhead in percent.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails by panicking"
)]

use std::path::Path;
use std::process::Command;

use std::time::{Duration, Instant};

use earmark_convert::{Ffmpeg, FfmpegConverter};
use earmark_core::ports::{BookTags, ConversionInput, ConversionRequest, Converter};
use earmark_core::testing::RecordingContext;
use earmark_core::{ActivationBytes, Asin, ConversionMode, JobSpec, OutputFormat};
use earmark_fixtures::{ACTIVATION_BYTES, FixtureChapter, SyntheticBook, downloaded_book};

/// The reference: the encode command the engine logged (`$ ffmpeg ...`, secrets masked),
/// run directly with the secret put back and its own output file (its decode-check output,
/// for stream copies, stays: it is part of what earmark runs). The bench's paths hold no
/// spaces, so the logged line splits back into the argument vector.
fn direct(logged: &str, out: &Path) -> Duration {
    let mut args: Vec<String> = logged
        .trim_start_matches("$ ")
        .split(' ')
        .map(|a| a.replace("[redacted]", ACTIVATION_BYTES))
        .collect();
    let program = args.remove(0);
    let ext = out
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    for arg in &mut args {
        if arg.contains("/out/") && arg.ends_with(&format!(".{ext}")) {
            *arg = out.display().to_string();
        }
    }
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(&args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // At the niceness earmark gives its tools, as earmark's own run of the command has it.
    let pid = rustix::process::Pid::from_raw(child.id() as i32);
    let _ = rustix::process::setpriority_process(pid, tool_niceness());
    let status = child.wait().unwrap();
    assert!(status.success());
    started.elapsed()
}

/// The niceness both runs get: `BENCH_NICENESS`, else earmark's default (10).
fn tool_niceness() -> i32 {
    std::env::var("BENCH_NICENESS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let minutes: u64 = args.next().map_or(10, |a| a.parse().expect("minutes"));
    let runs: usize = args.next().map_or(3, |a| a.parse().expect("runs"));
    let dir = tempfile::tempdir().unwrap();
    let mut book = SyntheticBook::short(1);
    book.chapters = (1..=10)
        .map(|n| FixtureChapter {
            title: format!("Chapter {n}"),
            length_ms: minutes * 6_000,
        })
        .collect();
    let files =
        downloaded_book(Path::new("ffmpeg"), dir.path(), "B0BENCH001", &book, false).unwrap();
    let book_s = book.length_ms() as f64 / 1000.0;
    let engine = FfmpegConverter::new(Ffmpeg::new("ffmpeg"), Duration::from_secs(3600));
    let rt = tokio::runtime::Runtime::new().unwrap();
    earmark_process::set_default_niceness(tool_niceness());

    println!(
        "book: {minutes} min, 10 chapters, AAX; {runs} runs each, medians; ffmpeg at niceness {} in both",
        tool_niceness()
    );
    println!(
        "| conversion | ffmpeg alone (× realtime) | earmark (× realtime) | earmark overhead |"
    );
    println!("| --- | ---: | ---: | ---: |");
    for format in [OutputFormat::M4b, OutputFormat::Mp3] {
        let mut reference = Vec::new();
        let mut ours = Vec::new();
        for run in 0..=runs {
            let work = dir.path().join(format!("work-{format}-{run}"));
            std::fs::create_dir_all(&work).unwrap();
            let params = serde_json::from_value(serde_json::json!({"format": "m4b"})).unwrap();
            let ctx = RecordingContext::new(
                JobSpec::Convert(Asin::parse("B0BENCH001").unwrap(), params),
                &work,
            );
            let request = ConversionRequest {
                input: ConversionInput {
                    audio: files.audio.clone(),
                    voucher: None,
                    chapters: Some(files.chapters.clone()),
                    cover: None,
                    activation_bytes: Some(ActivationBytes::parse(ACTIVATION_BYTES).unwrap()),
                },
                tags: BookTags {
                    title: "Bench".into(),
                    ..BookTags::default()
                },
                format,
                mode: ConversionMode::Single,
                dir_scheme: None,
                file_scheme: None,
                chapter_scheme: None,
                level: None,
                out_dir: work.join("out"),
                parts: Vec::new(),
            };
            let started = Instant::now();
            rt.block_on(engine.convert(&request, &ctx)).unwrap();
            let elapsed = started.elapsed();
            let logged = ctx
                .timed_lines()
                .iter()
                .find(|(_, l)| l.starts_with("$ "))
                .map(|(_, l)| l.clone())
                .unwrap();
            let out = dir.path().join(format!("direct-{run}.{format}"));
            let reference_run = direct(&logged, &out);
            // The first round warms the page cache and the dynamic loader for both.
            if run > 0 {
                ours.push(elapsed);
                reference.push(reference_run);
            }
            if std::env::var_os("BENCH_TRACE").is_some() {
                for (at, line) in ctx
                    .timed_lines()
                    .iter()
                    .filter(|(_, l)| l.starts_with('$') || l == "progress=end")
                {
                    eprintln!(
                        "{:>8.3} s  {}",
                        (*at - started).as_secs_f64(),
                        &line[..line.len().min(90)]
                    );
                }
                eprintln!("{:>8.3} s  done", started.elapsed().as_secs_f64());
            }
        }
        let (r, e) = (median(reference), median(ours));
        let overhead = (e.as_secs_f64() / r.as_secs_f64() - 1.0) * 100.0;
        println!(
            "| {format} ({}) | {:.0}× ({:.2} s) | {:.0}× ({:.2} s) | {overhead:+.1}% |",
            if format == OutputFormat::M4b {
                "stream copy"
            } else {
                "libmp3lame encode"
            },
            book_s / r.as_secs_f64(),
            r.as_secs_f64(),
            book_s / e.as_secs_f64(),
            e.as_secs_f64(),
        );
    }
}
