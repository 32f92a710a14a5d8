//! A downloaded AAX or AAXC streamed before any conversion, decrypted on the fly: the real
//! binary, fixtures encrypted as Audible does, the AAX's activation bytes fetched by the real
//! audible-cli from the fake Audible API, and real ffmpeg/ffprobe judging what was served.
#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test crate fail by panicking"
)]

use std::path::Path;

use earmark_fixtures::{SyntheticBook, decoded_pcm};
use earmark_testkit::fake_audible::{FakeAudible, write_profile};
use earmark_testkit::{Server, seed};

const KEY: (&str, &str) = ("X-Api-Key", "listen-key");

fn serve(cwd: &Path, fake: &FakeAudible) -> Server {
    fake.start_earmark(cwd, KEY.1, &[])
}

/// The whole of `path` fetched as ranges of every size, in a shuffled order, reassembled.
fn fetched_in_random_ranges(server: &Server, path: &str, size: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    let mut ranges = Vec::new();
    let mut at = 0;
    while at < size {
        let small = next(3) == 0;
        let len = (1 + next(if small { 37 } else { 30_000 })).min(size - at);
        ranges.push((at, at + len - 1));
        at += len;
    }
    for i in (1..ranges.len()).rev() {
        ranges.swap(i, next(i + 1));
    }
    let mut whole = vec![0u8; size];
    for (first, last) in ranges {
        let range = format!("bytes={first}-{last}");
        let reply = server.get(path, &[KEY, ("Range", &range)]);
        assert_eq!(reply.status, 206, "{range}: {}", reply.text());
        assert_eq!(
            reply.header("content-range"),
            Some(format!("bytes {first}-{last}/{size}").as_str())
        );
        whole[first..=last].copy_from_slice(&reply.body);
    }
    whole
}

fn listen(aaxc: bool) {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    write_profile(&data.join("audible"), "earmark");
    let asin = if aaxc { "B0LISTENC1" } else { "B0LISTENA1" };
    let book = SyntheticBook::short(2);
    let downloaded = seed::downloaded(&data, seed::record(asin, "Heard Early"), &book, aaxc);
    let fake = FakeAudible::start();
    let server = serve(cwd.path(), &fake);
    let stored = std::fs::read(&downloaded.audio).unwrap();

    let whole = server.get(&format!("/stream/{asin}"), &[KEY]);
    assert_eq!(whole.status, 200, "{}", whole.text());
    assert_eq!(whole.content_type(), Some("audio/mp4"));
    assert_eq!(
        whole.body.len(),
        stored.len(),
        "the download's length and layout"
    );
    assert!(
        whole
            .header("content-disposition")
            .is_some_and(|d| d.contains(".m4a")),
        "{:?}",
        whole.header("content-disposition")
    );
    let head = server.request("HEAD", &format!("/stream/{asin}"), &[KEY]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    let reassembled = fetched_in_random_ranges(&server, &format!("/stream/{asin}"), stored.len());
    assert!(reassembled == whole.body, "ranges and the whole agree");
    let served = cwd.path().join("served.m4a");
    std::fs::write(&served, &reassembled).unwrap();
    assert!(
        decoded_pcm(&served, &[]).unwrap() == decoded_pcm(&downloaded.plain, &[]).unwrap(),
        "the served file decodes, without a key, to the book's audio"
    );
    let probe = earmark_testkit::conversion::probe(&served);
    assert_eq!(probe["streams"][0]["codec_name"], "aac", "{probe}");
    assert_eq!(
        probe["chapters"].as_array().unwrap().len(),
        book.chapters.len(),
        "{probe}"
    );

    // The same file by its id, and its stored bytes when asked.
    let details = server.get(&format!("/library/{asin}"), &[KEY]).json();
    let file_id = details["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == if aaxc { "aaxc" } else { "aax" })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_id = server.get(&format!("/stream/{file_id}"), &[KEY]);
    assert!(by_id.body == whole.body);
    let original = server.get(&format!("/stream/{file_id}?original=true"), &[KEY]);
    assert!(
        original.body == stored,
        "?original=true sends the stored bytes"
    );
    let chapters = server.get(&format!("/library/{asin}/chapters"), &[KEY]);
    assert_eq!(chapters.status, 200, "{}", chapters.text());
    let details = server
        .get(&format!("/library/{asin}/details"), &[KEY])
        .json();
    assert_eq!(
        details["chapters"].as_array().map(Vec::len),
        Some(book.chapters.len()),
        "{details}"
    );
    assert_eq!(details["chapters_synthetic"], false, "{details}");
}

#[test]
fn a_downloaded_aaxc_plays_decrypted_with_ranges_before_any_conversion() {
    listen(true);
}

#[test]
fn a_downloaded_aax_plays_decrypted_with_the_accounts_activation_bytes() {
    listen(false);
}

#[test]
fn a_download_that_cannot_be_decrypted_says_what_is_missing() {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    write_profile(&data.join("audible"), "earmark");
    let book = SyntheticBook::short(1);
    let gone = seed::downloaded(&data, seed::record("B0NOVOUCHR", "No Voucher"), &book, true);
    std::fs::remove_file(gone.voucher.unwrap()).unwrap();
    let other = seed::downloaded(
        &data,
        seed::record("B0OTHERVCH", "Other Voucher"),
        &book,
        true,
    );
    let foreign = earmark_fixtures::voucher("B0SOMEONE1", &[7; 16], &[9; 16]);
    std::fs::write(other.voucher.unwrap(), foreign.to_string()).unwrap();
    let fake = FakeAudible::start();
    let server = serve(cwd.path(), &fake);
    for (asin, says) in [("B0NOVOUCHR", "voucher"), ("B0OTHERVCH", "another book")] {
        let reply = server.get(&format!("/stream/{asin}"), &[KEY]);
        assert_eq!(reply.status, 409, "{asin}: {}", reply.text());
        assert_eq!(reply.content_type(), Some("application/problem+json"));
        let problem = reply.json();
        assert_eq!(problem["code"], "cannot_decrypt");
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{problem}"
        );
    }
    // The stored bytes are still there for whoever asks for them.
    let details = server.get("/library/B0NOVOUCHR", &[KEY]).json();
    let file_id = details["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "aaxc")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let original = server.get(&format!("/stream/{file_id}?original=true"), &[KEY]);
    assert_eq!(original.status, 200);
    assert!(original.body == std::fs::read(&gone.audio).unwrap());
}

#[test]
fn an_aax_the_accounts_activation_bytes_do_not_open_is_refused_not_garbled() {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    write_profile(&data.join("audible"), "earmark");
    // Another account's activation bytes, cached in the profile as audible-cli caches them.
    let auth_file = data.join("audible/earmark.json");
    let mut auth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&auth_file).unwrap()).unwrap();
    auth["activation_bytes"] = "deadbeef".into();
    std::fs::write(&auth_file, auth.to_string()).unwrap();
    seed::downloaded(
        &data,
        seed::record("B0WRONGKEY", "Another Account's"),
        &SyntheticBook::short(1),
        false,
    );
    let fake = FakeAudible::start();
    let server = serve(cwd.path(), &fake);
    let reply = server.get("/stream/B0WRONGKEY", &[KEY]);
    assert_eq!(reply.status, 409, "{}", reply.text());
    let problem = reply.json();
    assert_eq!(problem["code"], "cannot_decrypt");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("another Audible account"),
        "{problem}"
    );
}
