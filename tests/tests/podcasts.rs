//! Podcasts and multi-part books (issue 20): the real audible-cli reads their episodes and
//! parts from the fake Audible's `1.0/library?parent_asin=`; the library lists parents at the
//! top and children under them; a podcast's download is one job per episode; a book sold in
//! parts downloads and converts whole, and one Audible hands out only as its parts is
//! downloaded part by part and joined into one book.
#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test crate fail by panicking"
)]

use std::path::Path;
use std::time::Duration;

use earmark_fixtures::SyntheticBook;
use earmark_testkit::Server;
use earmark_testkit::fake_audible::{FakeAudible, library_item, write_profile};
use earmark_testkit::files::{files_under, on_postgres};
use serde_json::{Value, json};

const KEY: (&str, &str) = ("X-Api-Key", "podcasts-key");
const WAIT: Duration = Duration::from_secs(180);

const BIG: &str = "B0PODBIG01";
const SMALL: &str = "B0PODSML01";
const MULTI: &str = "B0MULTI001";
const PARTS: [&str; 2] = ["B0PART0001", "B0PART0002"];
/// A book sold in parts that Audible hands out only as its parts.
const IN_PARTS: &str = "B0LEGACY01";
const ITS_PARTS: [&str; 2] = ["B0LPART001", "B0LPART002"];
/// More episodes than Audible returns in one page (1000): the children are paged.
const BIG_EPISODES: u32 = 1100;

fn episode_asin(podcast: &str, n: u32) -> String {
    format!("{}{n:04}", &podcast[..6])
}

/// One relationship of a library item, in the shape of Audible's `relationships` response
/// group (rmcrackan/AudibleApi `LibraryDtoV10` `Relationship`: asin, relationship_to_product,
/// relationship_type, sequence, sort; mkb79/Audible `examples/sync.py` reads a multi-part
/// book's parts from it).
fn relationship(asin: &str, to_product: &str, kind: &str, sort: u32) -> Value {
    json!({
        "asin": asin,
        "relationship_to_product": to_product,
        "relationship_type": kind,
        "sequence": sort.to_string(),
        "sort": sort.to_string(),
    })
}

/// A library item of `delivery` type with `title`, based on a generated book's fields.
fn item(asin: &str, title: &str, content_type: &str, delivery: &str) -> Value {
    let mut item = library_item(1);
    item["asin"] = asin.into();
    item["title"] = title.into();
    item["subtitle"] = Value::Null;
    item["content_type"] = content_type.into();
    item["content_delivery_type"] = delivery.into();
    item
}

/// A podcast parent; its record names its episodes only when `listed` (Audible's answer for
/// a large podcast may not).
fn podcast(asin: &str, title: &str, episodes: &[String], listed: bool) -> Value {
    let mut parent = item(asin, title, "Podcast", "PodcastParent");
    parent["has_children"] = true.into();
    parent["available_codecs"] = json!([]);
    if listed {
        parent["relationships"] = episodes
            .iter()
            .zip(1..)
            .map(|(e, n)| relationship(e, "child", "episode", n))
            .collect();
    }
    parent
}

/// A book sold in `parts`, each of them a child naming it.
fn multi_part(asin: &str, title: &str, parts: &[&str]) -> (Value, Vec<Value>) {
    let mut parent = item(asin, title, "Product", "MultiPartBook");
    parent["has_children"] = true.into();
    parent["relationships"] = parts
        .iter()
        .zip(1..)
        .map(|(p, n)| relationship(p, "child", "component", n))
        .collect();
    let children = parts
        .iter()
        .zip(1..)
        .map(|(p, n)| {
            let mut part = item(p, &format!("{title}, Part {n}"), "Product", "AudioPart");
            part["relationships"] = json!([relationship(asin, "parent", "component", n)]);
            part
        })
        .collect();
    (parent, children)
}

fn episode(asin: &str, parent: &str, n: u32) -> Value {
    let mut episode = item(asin, &format!("Episode {n}"), "Podcast", "PodcastEpisode");
    episode["relationships"] = json!([relationship(parent, "parent", "episode", n)]);
    episode["runtime_length_min"] = 1.into();
    episode
}

/// The library: a book, a podcast of 1100 episodes, one of three, and a book in two parts.
fn fake_and_home() -> (FakeAudible, tempfile::TempDir) {
    let fake = FakeAudible::start();
    let big: Vec<String> = (1..=BIG_EPISODES).map(|n| episode_asin(BIG, n)).collect();
    let small: Vec<String> = (1..=3).map(|n| episode_asin(SMALL, n)).collect();
    let (multi, parts) = multi_part(MULTI, "A Long Book", &PARTS);
    fake.set_library(vec![
        library_item(1),
        podcast(BIG, "The Big Show", &big, false),
        podcast(SMALL, "The Small Show", &small, true),
        multi,
    ]);
    // Episodes listed newest first, as a podcast's feed is: their `sort` gives their place.
    fake.set_children(
        BIG,
        (1..=BIG_EPISODES)
            .rev()
            .map(|n| episode(&episode_asin(BIG, n), BIG, n))
            .collect(),
    );
    fake.set_children(
        SMALL,
        small
            .iter()
            .zip(1..)
            .map(|(a, n)| episode(a, SMALL, n))
            .collect(),
    );
    fake.set_children(MULTI, parts);
    let small_refs: Vec<&str> = small.iter().map(String::as_str).collect();
    fake.offer_downloads(&SyntheticBook::short(1), &small_refs, &[]);
    // The whole book through the parent's ASIN, as Audible delivers a book sold in parts.
    fake.offer_downloads(&SyntheticBook::short(2), &[MULTI], &[]);
    let home = tempfile::tempdir().unwrap();
    write_profile(&home.path().join("data/audible"), "web");
    (fake, home)
}

fn start(fake: &FakeAudible, home: &Path, db: Option<&str>) -> Server {
    let env: Vec<(&str, &str)> = db
        .map(|url| ("EARMARK__DATABASE__URL", url))
        .into_iter()
        .collect();
    fake.start_earmark(home, KEY.1, &env)
}

fn settled(server: &Server, id: &str) -> Value {
    server.wait_for_job(id, &[KEY], WAIT, |j| {
        matches!(
            j["status"].as_str(),
            Some("COMPLETED" | "FAILED" | "CANCELLED")
        )
    })
}

fn log(server: &Server, id: &str) -> String {
    server.get(&format!("/jobs/{id}/log"), &[KEY]).text()
}

/// Syncs and returns the sync's log.
fn sync(server: &Server) -> String {
    let reply = server.post_json("/library/sync", &json!({}), &[KEY]);
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id = reply.json()["job_id"].as_str().unwrap().to_owned();
    let job = settled(server, &id);
    assert_eq!(job["status"], "COMPLETED", "{job}\n{}", log(server, &id));
    log(server, &id)
}

fn list(server: &Server, query: &str) -> Value {
    let reply = server.get(&format!("/library?{query}"), &[KEY]);
    assert_eq!(reply.status, 200, "{query}: {}", reply.text());
    reply.json()
}

fn asins(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["asin"].as_str().unwrap().to_owned())
        .collect()
}

fn download(server: &Server, asin: &str) -> Value {
    let reply = server.post_json("/jobs/download", &json!({"asin": asin}), &[KEY]);
    assert_eq!(reply.status, 202, "{}", reply.text());
    reply.json()
}

#[test]
fn a_library_of_podcasts_and_multi_part_books_syncs_lists_and_downloads_episodes_on_sqlite() {
    podcasts_and_multi_part_books(None);
}

#[test]
fn a_library_of_podcasts_and_multi_part_books_syncs_lists_and_downloads_episodes_on_postgres() {
    on_postgres(podcasts_and_multi_part_books);
}

fn podcasts_and_multi_part_books(db: Option<&str>) {
    let (fake, home) = fake_and_home();
    let server = start(&fake, home.path(), db);
    let first = sync(&server);
    assert!(
        first.contains(&format!(
            "{} episodes and parts read from 3 parents",
            BIG_EPISODES + 5
        )),
        "{first}"
    );

    // The top level: the book, two podcasts and the multi-part book, parents counted.
    let top = list(&server, "page_size=50");
    assert_eq!(top["total"], 4, "{top}");
    let by_asin = |asin: &str| {
        top["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["asin"] == asin)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_asin(BIG)["children_count"], BIG_EPISODES);
    assert_eq!(by_asin(SMALL)["children_count"], 3);
    assert_eq!(by_asin(MULTI)["children_count"], 2);
    assert_eq!(by_asin(MULTI)["content_delivery_type"], "MultiPartBook");
    assert_eq!(by_asin("B000000001")["children_count"], Value::Null);
    assert_eq!(by_asin("B000000001")["parent_asin"], Value::Null);
    let one = server.get(&format!("/library/{MULTI}"), &[KEY]).json();
    assert_eq!(one["children_count"], 2, "{one}");
    // The web client's tabs.
    assert_eq!(asins(&list(&server, "content_type=podcast")), [BIG, SMALL]);
    assert_eq!(
        asins(&list(&server, "content_type=audiobook")),
        [MULTI, "B000000001"]
    );

    // A podcast's episodes in their order, paged.
    let first_page = list(&server, &format!("parent_asin={BIG}&page_size=1000"));
    assert_eq!(first_page["total"], BIG_EPISODES);
    let first_asins = asins(&first_page);
    assert_eq!(first_asins.len(), 1000);
    assert_eq!(first_asins[0], episode_asin(BIG, 1));
    assert_eq!(first_asins[999], episode_asin(BIG, 1000));
    assert_eq!(first_page["items"][0]["parent_asin"], BIG);
    assert_eq!(
        first_page["items"][0]["content_delivery_type"],
        "PodcastEpisode"
    );
    let second_page = list(&server, &format!("parent_asin={BIG}&page_size=1000&page=2"));
    assert_eq!(asins(&second_page).len(), 100);
    assert_eq!(
        asins(&list(&server, &format!("parent_asin={MULTI}"))),
        PARTS
    );

    // Nothing changed: the parents whose records name their children are not read again.
    let second = sync(&server);
    assert!(
        second.contains(&format!(
            "{BIG_EPISODES} episodes and parts read from 1 parents; 2 parents unchanged (5 \
             episodes and parts kept)"
        )),
        "{second}"
    );
    assert_eq!(list(&server, &format!("parent_asin={SMALL}"))["total"], 3);

    // An episode leaves the podcast: a tombstone, like a removed book.
    let gone = episode_asin(SMALL, 3);
    let remaining: Vec<String> = (1..=2).map(|n| episode_asin(SMALL, n)).collect();
    fake.edit_library(|items| items[2] = podcast(SMALL, "The Small Show", &remaining, true));
    fake.set_children(
        SMALL,
        remaining
            .iter()
            .zip(1..)
            .map(|(a, n)| episode(a, SMALL, n))
            .collect(),
    );
    sync(&server);
    assert_eq!(
        asins(&list(&server, &format!("parent_asin={SMALL}"))),
        remaining
    );
    let tombstone = server.get(&format!("/library/{gone}"), &[KEY]).json();
    assert!(tombstone["removed_at"].is_string(), "{tombstone}");

    // Audible stops offering an episode earmark still lists. The podcast's download is a job
    // per episode: that one fails saying why, the other is downloaded like a book.
    fake.set_children(SMALL, vec![episode(&remaining[0], SMALL, 1)]);
    let queued = download(&server, SMALL);
    let ids: Vec<String> = queued["job_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "{queued}");
    let jobs: Vec<Value> = ids.iter().map(|id| settled(&server, id)).collect();
    assert_eq!(jobs[0]["book_asin"], remaining[0].as_str(), "{jobs:?}");
    assert_eq!(jobs[0]["status"], "COMPLETED", "{jobs:?}");
    assert_eq!(jobs[1]["status"], "FAILED", "{jobs:?}");
    assert!(
        jobs[1]["error_message"]
            .as_str()
            .unwrap()
            .contains("is not in this Audible account's library"),
        "{jobs:?}"
    );
    let downloaded = server
        .get(&format!("/library/{}", remaining[0]), &[KEY])
        .json();
    assert_eq!(downloaded["status"], "DOWNLOADED", "{downloaded}");
    assert!(
        files_under(&home.path().join("data/downloads").join(&remaining[0]))
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "aaxc")),
        "{downloaded}"
    );

    // Once a sync has seen it go, nothing is left to download.
    fake.edit_library(|items| {
        items[2] = podcast(SMALL, "The Small Show", &remaining[..1], true);
    });
    sync(&server);
    let none_left = download(&server, SMALL);
    assert_eq!(none_left["job_ids"], json!([]), "{none_left}");
    assert!(
        none_left["message"]
            .as_str()
            .unwrap()
            .contains("every episode"),
        "{none_left}"
    );

    // A book sold in parts is downloaded whole through its own ASIN (Audible delivers it as
    // one file and refuses licences for its parts) and converts into one book.
    let whole = download(&server, MULTI);
    let id = whole["job_id"].as_str().unwrap().to_owned();
    let job = settled(&server, &id);
    assert_eq!(job["status"], "COMPLETED", "{job}\n{}", log(&server, &id));
    assert!(
        log(&server, &id).contains(&format!("{MULTI} is a book sold in parts")),
        "{}",
        log(&server, &id)
    );
    let reply = server.post_json(
        "/jobs/convert",
        &json!({"asin": MULTI, "format": "m4b"}),
        &[KEY],
    );
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id = reply.json()["job_id"].as_str().unwrap().to_owned();
    let job = settled(&server, &id);
    assert_eq!(job["status"], "COMPLETED", "{job}\n{}", log(&server, &id));
    let book = server.get(&format!("/library/{MULTI}"), &[KEY]).json();
    assert_eq!(book["status"], "COMPLETED", "{book}");
    let m4b: Vec<_> = files_under(&home.path().join("data/converted"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "m4b"))
        .collect();
    assert_eq!(m4b.len(), 1, "one book, one file: {m4b:?}");
    let chapters = server
        .get(&format!("/library/{MULTI}/chapters"), &[KEY])
        .json();
    assert_eq!(
        chapters["chapters"].as_array().map(Vec::len),
        Some(3),
        "{chapters}"
    );

    book_handed_out_in_parts(&fake, &server, home.path());
}

/// The two parts of [`IN_PARTS`]: two chapters of 2 s, then three of 1 s (tones that differ
/// by chapter, so the parts' order shows in the audio).
fn the_parts() -> [SyntheticBook; 2] {
    let chapters = |titles: &[&str], seconds: u64| {
        titles
            .iter()
            .map(|t| earmark_fixtures::FixtureChapter {
                title: (*t).into(),
                length_ms: seconds * 1000,
            })
            .collect()
    };
    let book = |titles: &[&str], seconds| SyntheticBook {
        chapters: chapters(titles, seconds),
        ..SyntheticBook::short(1)
    };
    [
        book(&["Opening Credits", "Chapter One"], 2),
        book(&["Chapter Two", "Chapter Three", "End Credits"], 1),
    ]
}

/// A book Audible hands out only as its parts ("please download individual parts"):
/// audible-cli downloads the parts, earmark keeps them under the book and joins them into one
/// m4b whose audio is the parts' in order and whose chapters are theirs, placed end to end. A
/// part missing from Audible's answer fails the download and the conversion, naming it.
fn book_handed_out_in_parts(fake: &FakeAudible, server: &Server, home: &Path) {
    let (parent, children) = multi_part(IN_PARTS, "A Book In Parts", &ITS_PARTS);
    fake.edit_library(|items| items.push(parent));
    let parts = the_parts();
    for (asin, book) in ITS_PARTS.iter().zip(&parts) {
        fake.offer_downloads(book, &[asin], &[]);
    }
    fake.offer_downloads(&parts[0], &[IN_PARTS], &[]);
    fake.edit_content(IN_PARTS, |content| content.in_parts = true);

    // Audible's answer for the book's children lacks its second part.
    fake.set_children(IN_PARTS, children[..1].to_vec());
    sync(server);
    let id = download(server, IN_PARTS)["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = settled(server, &id);
    assert_eq!(job["status"], "FAILED", "{job}\n{}", log(server, &id));
    let reason = job["error_message"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "not part {} (2 of 2): the book is incomplete",
            ITS_PARTS[1]
        )),
        "{reason}"
    );
    let refused = convert(server, IN_PARTS);
    assert_eq!(refused["status"], "FAILED", "{refused}");
    assert!(
        refused["error_message"]
            .as_str()
            .unwrap()
            .contains(&format!("part {} (1 of 2) is not downloaded", ITS_PARTS[0])),
        "{refused}"
    );

    // A part alone is not a download: its book is.
    let id = download(server, ITS_PARTS[0])["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = settled(server, &id);
    assert_eq!(job["status"], "FAILED", "{job}");
    assert!(
        job["error_message"].as_str().unwrap().contains(&format!(
            "is part 1 of the book {IN_PARTS}: download the book"
        )),
        "{job}"
    );

    // Both parts offered: one download job fetches them, the conversion joins them.
    fake.set_children(IN_PARTS, children);
    sync(server);
    let id = server
        .post_json(
            "/jobs/download",
            &json!({"asin": IN_PARTS, "force": true}),
            &[KEY],
        )
        .json()["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = settled(server, &id);
    assert_eq!(job["status"], "COMPLETED", "{job}\n{}", log(server, &id));
    let folder = home.join("data/downloads").join(IN_PARTS);
    let part_files: Vec<_> = ITS_PARTS
        .iter()
        .map(|p| folder.join(format!("{p}-AAX_44_64.aaxc")))
        .collect();
    for file in &part_files {
        assert!(
            file.is_file(),
            "{}: {:?}",
            file.display(),
            files_under(&folder)
        );
    }
    for part in ITS_PARTS {
        let part = server.get(&format!("/library/{part}"), &[KEY]).json();
        assert_eq!(part["status"], "DOWNLOADED", "{part}");
    }
    // Separate parts do not play as one book until a conversion joins them.
    let early = server.get(&format!("/stream/{IN_PARTS}"), &[KEY]);
    assert_eq!(early.status, 409, "{}", early.text());
    assert!(
        early.text().contains("convert it (POST /jobs/convert)"),
        "{}",
        early.text()
    );

    let converted = convert(server, IN_PARTS);
    assert_eq!(converted["status"], "COMPLETED", "{converted}");
    let id = converted["id"].as_str().unwrap();
    assert!(
        log(server, id).contains("downloaded in 2 parts: joining them"),
        "{}",
        log(server, id)
    );

    let book = server.get(&format!("/library/{IN_PARTS}"), &[KEY]).json();
    let m4b = Path::new(book["local_path_converted"].as_str().unwrap()).to_owned();
    assert!(m4b.is_file(), "{book}");
    let streamed = server.get(
        &format!("/stream/{IN_PARTS}"),
        &[KEY, ("Range", "bytes=0-15")],
    );
    assert_eq!(streamed.status, 206, "{}", streamed.text());
    assert_eq!(
        streamed.body,
        std::fs::read(&m4b).unwrap()[..16],
        "the joined book is what plays"
    );

    // Its chapters: both parts', end to end.
    let chapters = probe_chapters(&m4b);
    let titles: Vec<&str> = chapters.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Opening Credits",
            "Chapter One",
            "Chapter Two",
            "Chapter Three",
            "End Credits"
        ]
    );
    let starts: Vec<u64> = chapters.iter().map(|(_, s)| *s).collect();
    let first_part_ms = parts[0].length_ms();
    for (start, expected) in starts.iter().zip([
        0,
        2000,
        first_part_ms,
        first_part_ms + 1000,
        first_part_ms + 2000,
    ]) {
        assert!(start.abs_diff(expected) <= 50, "{starts:?}");
    }

    // One file per chapter cuts across the join where the chapters say.
    let reply = server.post_json(
        "/jobs/convert",
        &json!({"asin": IN_PARTS, "format": "mp3", "mode": "chapters"}),
        &[KEY],
    );
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id = reply.json()["job_id"].as_str().unwrap().to_owned();
    let job = settled(server, &id);
    assert_eq!(job["status"], "COMPLETED", "{job}\n{}", log(server, &id));
    let mut chapter_files: Vec<_> = files_under(&home.join("data/converted"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "mp3"))
        .filter(|f| f.to_string_lossy().contains("A Book In Parts"))
        .collect();
    chapter_files.sort();
    let lengths: Vec<u64> = chapter_files.iter().map(|f| probe_length_ms(f)).collect();
    assert_eq!(lengths.len(), 5, "{chapter_files:?}");
    for (length, expected) in lengths.iter().zip([2000, 2000, 1000, 1000, 1000]) {
        assert!(length.abs_diff(expected) <= 100, "{lengths:?}");
    }

    // Its audio: the parts' audio, in order.
    let key = [
        "-audible_key",
        &earmark_fixtures::hex(&earmark_fixtures::AAXC_KEY),
        "-audible_iv",
        &earmark_fixtures::hex(&earmark_fixtures::AAXC_IV),
    ]
    .map(str::to_owned);
    let key: Vec<&str> = key.iter().map(String::as_str).collect();
    let whole = samples(&earmark_fixtures::decoded_pcm(&m4b, &[]).unwrap());
    let parts_pcm: Vec<Vec<i16>> = part_files
        .iter()
        .map(|f| samples(&earmark_fixtures::decoded_pcm(f, &key).unwrap()))
        .collect();
    assert_parts_in_order(&whole, &parts_pcm);
    let mut swapped = parts_pcm.clone();
    swapped.reverse();
    assert!(
        std::panic::catch_unwind(|| assert_parts_in_order(&whole, &swapped)).is_err(),
        "the check tells the parts' order"
    );
}

fn convert(server: &Server, asin: &str) -> Value {
    let reply = server.post_json(
        "/jobs/convert",
        &json!({"asin": asin, "format": "m4b"}),
        &[KEY],
    );
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id = reply.json()["job_id"].as_str().unwrap().to_owned();
    settled(server, &id)
}

/// `(title, start ms)` of each chapter ffprobe reads in `file`.
fn probe_chapters(file: &Path) -> Vec<(String, u64)> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_chapters", "-of", "json"])
        .arg(file)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let start: f64 = c["start_time"].as_str().unwrap().parse().unwrap();
            (
                c["tags"]["title"].as_str().unwrap().to_owned(),
                (start * 1000.0).round() as u64,
            )
        })
        .collect()
}

/// The length ffprobe reads for `file`.
fn probe_length_ms(file: &Path) -> u64 {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .unwrap();
    let seconds: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (seconds * 1000.0).round() as u64
}

fn samples(pcm: &[u8]) -> Vec<i16> {
    pcm.chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Stereo frames a part's audio may sit away from where the one before it ended: the
/// priming and padding frames a lossless join of AAC keeps (1024 samples each), with room.
const SLACK: usize = 4 * 1024;

/// Samples at each end of a part left out of the comparison: there the decoder of the whole
/// book carries the neighbouring part's last frame (AAC frames overlap by half) where the
/// part's own decoding starts from silence or trims its padding.
const EDGE: usize = 2 * 4096;

/// Asserts that each of `parts` (s16 stereo) is found in `whole`, in order, each starting
/// within [`SLACK`] frames of where the one before it ended, every sample away from the
/// joins within 16 steps (-66 dBFS) of the part's own decoding.
fn assert_parts_in_order(whole: &[i16], parts: &[Vec<i16>]) {
    let mut at = 0usize;
    for (n, part) in parts.iter().enumerate() {
        let inner = EDGE..part.len().saturating_sub(EDGE);
        let difference = |offset: usize, step: usize| {
            inner
                .clone()
                .step_by(step)
                .map(|i| {
                    let off = whole
                        .get(offset + i)
                        .map_or(i32::MAX, |w| (i32::from(*w) - i32::from(part[i])).abs());
                    (off, i)
                })
                .max()
                .unwrap_or((i32::MAX, 0))
        };
        let offset = (at..=at + 2 * SLACK)
            .step_by(2)
            .min_by_key(|offset| difference(*offset, 7).0)
            .unwrap();
        let (worst, index) = difference(offset, 1);
        assert!(
            worst <= 16,
            "part {} is not where the one before it ended (closest: {worst} steps off at its \
             sample {index} of {}, placed at {offset}, looked from {at})",
            n + 1,
            part.len()
        );
        at = offset + part.len();
    }
    assert!(
        whole.len().abs_diff(at) <= 2 * SLACK,
        "the book holds more than its parts: {} samples, parts end at {at}",
        whole.len()
    );
}
