//! The fixtures are only worth something if real ffmpeg decrypts them to the source's audio.
#![expect(
    clippy::unwrap_used,
    reason = "a test helper: a failed ffprobe run fails the test"
)]

use std::path::Path;
use std::process::Command;

use earmark_fixtures::{
    AAXC_IV, AAXC_KEY, ACTIVATION_BYTES, SyntheticBook, decoded_pcm, downloaded_book, hex,
    moov_before_mdat,
};

fn chapter_titles(input: &Path, decrypt: &[&str]) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(decrypt)
        .args(["-show_entries", "chapter_tags=title", "-of", "csv=p=0"])
        .arg(input)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn aax_decrypts_with_the_activation_bytes_only() {
    let dir = tempfile::tempdir().unwrap();
    let book = SyntheticBook::short(2);
    let files =
        downloaded_book(Path::new("ffmpeg"), dir.path(), "B0FIXTURE1", &book, false).unwrap();
    let raw = std::fs::read(&files.audio).unwrap();
    assert_eq!(&raw[8..12], b"aax ");
    assert!(
        moov_before_mdat(&raw),
        "moov must come first, as in Audible's files"
    );

    let source = decoded_pcm(&files.plain, &[]).unwrap();
    let decrypted = decoded_pcm(&files.audio, &["-activation_bytes", ACTIVATION_BYTES]).unwrap();
    assert!(source.len() > 44_100 * 4 * 5, "about 6 s of stereo PCM");
    assert!(
        source == decrypted,
        "decrypted audio differs from the source"
    );
    assert_eq!(
        chapter_titles(&files.audio, &["-activation_bytes", ACTIVATION_BYTES]),
        ["Opening Credits", "Chapter One", "Chapter Two"]
    );

    let wrong = decoded_pcm(&files.audio, &["-activation_bytes", "deadbeef"]).unwrap_err();
    assert!(wrong.contains("mismatch in checksums"), "{wrong}");
}

#[test]
fn aaxc_decrypts_with_the_voucher_key_and_iv_only() {
    let dir = tempfile::tempdir().unwrap();
    let book = SyntheticBook::short(2);
    let files =
        downloaded_book(Path::new("ffmpeg"), dir.path(), "B0FIXTURE2", &book, true).unwrap();
    let raw = std::fs::read(&files.audio).unwrap();
    assert_eq!(&raw[8..12], b"aaxc");
    let voucher: serde_json::Value =
        serde_json::from_slice(&std::fs::read(files.voucher.unwrap()).unwrap()).unwrap();
    let key = voucher["content_license"]["license_response"]["key"]
        .as_str()
        .unwrap();
    let iv = voucher["content_license"]["license_response"]["iv"]
        .as_str()
        .unwrap();
    assert_eq!((key, iv), (hex(&AAXC_KEY).as_str(), hex(&AAXC_IV).as_str()));

    let source = decoded_pcm(&files.plain, &[]).unwrap();
    let decrypted = decoded_pcm(&files.audio, &["-audible_key", key, "-audible_iv", iv]).unwrap();
    assert!(
        source == decrypted,
        "decrypted audio differs from the source"
    );
    // Without the key the samples are noise to the decoder: never the source's audio.
    let undecrypted = decoded_pcm(&files.audio, &[]);
    assert!(undecrypted.map_or(true, |p| p != source));
}
