//! Podcasts and multi-part books (issue 20): the real audible-cli reads their episodes and
//! parts from the fake Audible's `1.0/library?parent_asin=`; the library lists parents at the
//! top and children under them; a podcast's download is one job per episode; a book sold in
//! parts downloads and converts whole.
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
    let mut multi = item(MULTI, "A Long Book", "Product", "MultiPartBook");
    multi["has_children"] = true.into();
    multi["relationships"] = json!([
        relationship(PARTS[0], "child", "component", 1),
        relationship(PARTS[1], "child", "component", 2),
    ]);
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
    fake.set_children(
        MULTI,
        PARTS
            .iter()
            .zip(1..)
            .map(|(a, n)| {
                let mut part = item(a, &format!("A Long Book, Part {n}"), "Product", "AudioPart");
                part["relationships"] = json!([relationship(MULTI, "parent", "component", n)]);
                part
            })
            .collect(),
    );
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
}
