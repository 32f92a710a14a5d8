#![doc = include_str!("../README.md")]

mod crypt;
mod mp4;

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use crypt::{AUDIBLE_FIXED_KEY, AaxKeys, encrypt_aax, encrypt_aaxc, moov_before_mdat};

/// The activation bytes the fixtures use, as `audible activation-bytes` prints them.
pub const ACTIVATION_BYTES: &str = "1ceb00da";

/// Keys for AAX fixtures made with [`ACTIVATION_BYTES`].
pub const AAX_KEYS: AaxKeys = AaxKeys {
    activation_bytes: [0x1c, 0xeb, 0x00, 0xda],
    file_key: *b"earmark-filekey!",
    seed: *b"earmark-ivseed!!",
};

/// The key of AAXC fixtures, as the voucher carries it (hex).
pub const AAXC_KEY: [u8; 16] = *b"aaxc-fixture-key";
/// The iv of AAXC fixtures.
pub const AAXC_IV: [u8; 16] = *b"aaxc-fixture-iv!";

/// One chapter of a synthetic book.
#[derive(Debug, Clone)]
pub struct FixtureChapter {
    /// Its title.
    pub title: String,
    /// Its length in milliseconds.
    pub length_ms: u64,
}

/// A short audiobook to make: a tone per chapter, real chapter marks, a cover and tags.
#[derive(Debug, Clone)]
pub struct SyntheticBook {
    /// `title` tag.
    pub title: String,
    /// `artist` and `album_artist` tags.
    pub author: String,
    /// `genre` tag.
    pub genre: String,
    /// `date` tag.
    pub year: String,
    /// The chapters, in order.
    pub chapters: Vec<FixtureChapter>,
}

impl SyntheticBook {
    /// Three chapters of `seconds_each` seconds, with plain tags.
    pub fn short(seconds_each: u64) -> Self {
        Self {
            title: "The Synthetic Book (Unabridged)".into(),
            author: "Ada Fixture".into(),
            genre: "Audiobook".into(),
            year: "2021".into(),
            chapters: ["Opening Credits", "Chapter One", "Chapter Two"]
                .iter()
                .map(|t| FixtureChapter {
                    title: (*t).into(),
                    length_ms: seconds_each * 1000,
                })
                .collect(),
        }
    }

    /// The whole length in milliseconds.
    pub fn length_ms(&self) -> u64 {
        self.chapters.iter().map(|c| c.length_ms).sum()
    }

    /// Writes `cover.jpg` (500×500) and `plain.m4a` (AAC, chapters, cover, tags) into `dir`
    /// with `ffmpeg`, returning the m4a's path. `moov` comes first, as in Audible's files.
    ///
    /// # Errors
    /// When ffmpeg cannot be run or fails.
    pub fn render(&self, ffmpeg: &Path, dir: &Path) -> io::Result<PathBuf> {
        let cover = dir.join("cover.jpg");
        run(Command::new(ffmpeg)
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .args(["color=c=0x336699:s=500x500:d=1", "-frames:v", "1"])
            .arg(&cover))?;

        let meta = dir.join("chapters.ffmeta");
        let mut text = String::from(";FFMETADATA1\n");
        let mut start = 0;
        for chapter in &self.chapters {
            let end = start + chapter.length_ms;
            let _ = write!(
                text,
                "[CHAPTER]\nTIMEBASE=1/1000\nSTART={start}\nEND={end}\ntitle={}\n",
                escape_ffmeta(&chapter.title)
            );
            start = end;
        }
        std::fs::write(&meta, text)?;

        let out = dir.join("plain.m4a");
        let mut cmd = Command::new(ffmpeg);
        cmd.args(["-v", "error", "-y"]);
        for (i, chapter) in self.chapters.iter().enumerate() {
            let seconds = chapter.length_ms as f64 / 1000.0;
            cmd.args(["-f", "lavfi", "-i"]).arg(format!(
                "sine=frequency={}:sample_rate=44100:duration={seconds}",
                220 * (i + 2)
            ));
        }
        let n = self.chapters.len();
        cmd.arg("-i").arg(&meta).arg("-i").arg(&cover);
        let inputs: String = (0..n).map(|i| format!("[{i}:a]")).collect();
        cmd.arg("-filter_complex")
            .arg(format!("{inputs}concat=n={n}:v=0:a=1[a]"))
            .args(["-map", "[a]", "-map"])
            .arg(format!("{}:v", n + 1))
            .arg("-map_metadata")
            .arg(n.to_string())
            .arg("-map_chapters")
            .arg(n.to_string())
            .args(["-c:a", "aac", "-b:a", "64k", "-ac", "2"])
            .args(["-c:v", "copy", "-disposition:v:0", "attached_pic"])
            .arg("-metadata")
            .arg(format!("title={}", self.title))
            .arg("-metadata")
            .arg(format!("artist={}", self.author))
            .arg("-metadata")
            .arg(format!("album_artist={}", self.author))
            .arg("-metadata")
            .arg(format!("album={}", self.title))
            .arg("-metadata")
            .arg(format!("genre={}", self.genre))
            .arg("-metadata")
            .arg(format!("date={}", self.year))
            .args(["-movflags", "+faststart", "-f", "mp4"])
            .arg(&out);
        run(&mut cmd)?;
        Ok(out)
    }

    /// audible-cli's `<ASIN>-chapters.json` for this book.
    pub fn chapters_json(&self, asin: &str) -> serde_json::Value {
        let mut start = 0;
        let chapters: Vec<serde_json::Value> = self
            .chapters
            .iter()
            .map(|c| {
                let entry = serde_json::json!({
                    "length_ms": c.length_ms,
                    "start_offset_ms": start,
                    "start_offset_sec": start / 1000,
                    "title": c.title,
                });
                start += c.length_ms;
                entry
            })
            .collect();
        serde_json::json!({
            "content_metadata": {
                "chapter_info": {
                    "brandIntroDurationMs": 2043,
                    "brandOutroDurationMs": 5061,
                    "chapters": chapters,
                    "is_accurate": true,
                    "runtime_length_ms": self.length_ms(),
                    "runtime_length_sec": self.length_ms() / 1000,
                },
                "content_reference": {"asin": asin, "content_format": "AAC_2_64", "codec": "mp4a.40.2"},
            },
            "response_groups": ["chapter_info"],
        })
    }
}

/// audible-cli's `.voucher` for an AAXC encrypted with `key`/`iv`: the licence response it
/// decrypted, key and iv in hex.
pub fn voucher(asin: &str, key: &[u8; 16], iv: &[u8; 16]) -> serde_json::Value {
    serde_json::json!({
        "content_license": {
            "acr": "CR!FIXTURE",
            "asin": asin,
            "drm_type": "Adrm",
            "license_response": {"key": hex(key), "iv": hex(iv), "rules": []},
            "status_code": "Granted",
        },
        "response_groups": ["last_position_heard", "pdf_url", "content_reference", "chapter_info"],
    })
}

/// The decoded 16-bit PCM of a file's first audio stream, decrypted with `decrypt` (ffmpeg's
/// `-activation_bytes`/`-audible_key`/`-audible_iv` options, or nothing); ffmpeg's error text
/// when it cannot decode. Two files hold the same audio exactly when these bytes are equal.
pub fn decoded_pcm(input: &Path, decrypt: &[&str]) -> Result<Vec<u8>, String> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error"])
        .args(decrypt)
        .arg("-i")
        .arg(input)
        .args(["-map", "0:a:0", "-f", "s16le", "-"])
        .output()
        .map_err(|e| format!("ffmpeg could not start: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn escape_ffmeta(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if matches!(c, '=' | ';' | '#' | '\\' | '\n') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn run(cmd: &mut Command) -> io::Result<()> {
    let out = cmd.output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{:?} failed: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// The files of one downloaded book as audible-cli lays them out (`--filename-mode
/// asin_only`), written into `dir`.
#[derive(Debug, Clone)]
pub struct DownloadedBook {
    /// `<ASIN>-AAX_44_64.aax` or `<ASIN>-AAX_44_64.aaxc`.
    pub audio: PathBuf,
    /// `<ASIN>-AAX_44_64.voucher` (AAXC only).
    pub voucher: Option<PathBuf>,
    /// `<ASIN>-chapters.json`.
    pub chapters: PathBuf,
    /// `<ASIN>_(500).jpg`.
    pub cover: PathBuf,
    /// The unencrypted source, for comparing outputs against.
    pub plain: PathBuf,
}

/// Renders `book` and writes it into `dir` as audible-cli would have downloaded it for
/// `asin`: AAX (with [`AAX_KEYS`]) or AAXC (with [`AAXC_KEY`]/[`AAXC_IV`] and a voucher).
///
/// # Errors
/// When ffmpeg fails or a file cannot be written.
pub fn downloaded_book(
    ffmpeg: &Path,
    dir: &Path,
    asin: &str,
    book: &SyntheticBook,
    aaxc: bool,
) -> io::Result<DownloadedBook> {
    let work = dir.join(format!(".render-{asin}"));
    std::fs::create_dir_all(&work)?;
    let plain_path = book.render(ffmpeg, &work)?;
    let plain = std::fs::read(&plain_path)?;
    let ext = if aaxc { "aaxc" } else { "aax" };
    let audio = dir.join(format!("{asin}-AAX_44_64.{ext}"));
    let encrypted = if aaxc {
        encrypt_aaxc(&plain, &AAXC_KEY, &AAXC_IV)
    } else {
        encrypt_aax(&plain, &AAX_KEYS)
    };
    std::fs::write(&audio, encrypted)?;
    let voucher_path = aaxc.then(|| dir.join(format!("{asin}-AAX_44_64.voucher")));
    if let Some(path) = &voucher_path {
        std::fs::write(path, voucher(asin, &AAXC_KEY, &AAXC_IV).to_string())?;
    }
    let chapters = dir.join(format!("{asin}-chapters.json"));
    std::fs::write(&chapters, book.chapters_json(asin).to_string())?;
    let cover = dir.join(format!("{asin}_(500).jpg"));
    std::fs::copy(work.join("cover.jpg"), &cover)?;
    Ok(DownloadedBook {
        audio,
        voucher: voucher_path,
        chapters,
        cover,
        plain: plain_path,
    })
}

/// The test stand-in for AAXtoMP3 (see the script's header for what it reproduces).
pub fn aaxtomp3_stand_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("aaxtomp3/aaxtomp3-stand-in")
}
