//! Import (issue 22) end to end: folders laid out as Libation, OpenAudible and AAXtoMP3 lay
//! them out (made here with ffmpeg: one file per book, one per chapter, with and without ASIN
//! tags, and an AAX), adopted by the real binary without a download; files of no book become
//! local items; a hostile folder (a link out of the root, a file that is not audio, paths
//! outside the roots) reads nothing outside and loses nothing; a second import changes
//! nothing. SQLite and PostgreSQL.
#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test crate fail by panicking"
)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use earmark_fixtures::SyntheticBook;
use earmark_testkit::files::{files_under, on_postgres};
use earmark_testkit::{Server, seed, start_ok};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(120);

struct Setup {
    cwd: tempfile::TempDir,
    roots: PathBuf,
    data: PathBuf,
    server: Server,
    auth: String,
}

impl Setup {
    fn get(&self, path: &str) -> Value {
        let reply = self.server.get(path, &[("Authorization", &self.auth)]);
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        reply.json()
    }

    fn import(&self, body: Value) -> (u16, Value) {
        let reply =
            self.server
                .post_json("/library/import", &body, &[("Authorization", &self.auth)]);
        (reply.status, reply.json())
    }

    /// Imports `path` by `mode` and returns the finished job's log.
    fn imported(&self, path: &Path, mode: &str) -> String {
        let (status, accepted) = self.import(json!({"path": path, "mode": mode}));
        assert_eq!(status, 202, "{accepted}");
        let id = accepted["job_id"].as_str().unwrap().to_owned();
        let job = self
            .server
            .wait_for_job(&id, &[("Authorization", &self.auth)], WAIT, |j| {
                matches!(j["status"].as_str(), Some("COMPLETED" | "FAILED"))
            });
        let log = self
            .server
            .get(&format!("/jobs/{id}/log"), &[("Authorization", &self.auth)])
            .text();
        assert_eq!(job["status"], "COMPLETED", "{job}\n{log}");
        assert_eq!(job["task_type"], "IMPORT");
        log
    }
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `book` rendered as an m4a, re-tagged with `tags`, at `to`.
fn tagged(book: &SyntheticBook, scratch: &Path, to: &Path, tags: &[(&str, &str)]) {
    std::fs::create_dir_all(scratch).unwrap();
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    let rendered = book.render(Path::new("ffmpeg"), scratch).unwrap();
    let mut args: Vec<String> = vec!["-i".into(), rendered.display().to_string()];
    args.extend(["-map", "0", "-c", "copy"].map(String::from));
    for (key, value) in tags {
        args.push("-metadata".into());
        args.push(format!("{key}={value}"));
    }
    args.extend(["-f".into(), "mp4".into(), to.display().to_string()]);
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

/// An MP3 chapter of `seconds` of tone, tagged.
fn mp3_chapter(to: &Path, seconds: u32, tags: &[(&str, &str)]) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    let tone = format!("sine=frequency=440:duration={seconds}");
    let mut args: Vec<String> = [
        "-f",
        "lavfi",
        "-i",
        &tone,
        "-c:a",
        "libmp3lame",
        "-b:a",
        "32k",
    ]
    .map(String::from)
    .to_vec();
    for (key, value) in tags {
        args.push("-metadata".into());
        args.push(format!("{key}={value}"));
    }
    args.push(to.display().to_string());
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

fn record(asin: &str, title: &str, author: &str, minutes: i32) -> earmark_core::BookRecord {
    let mut record = seed::record(asin, title);
    record.author = Some(author.into());
    record.runtime_min = Some(minutes);
    record
}

/// The library (five books), the folders to import, and the server importing from `roots`.
fn setup(db: Option<&str>) -> Setup {
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    std::fs::create_dir_all(data.join("library")).unwrap();
    let data = data.canonicalize().unwrap();
    let sqlite = data.join("library/earmark.db").display().to_string();
    let db_url = db.unwrap_or(&sqlite).to_owned();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = earmark_db::connect(&db_url, &earmark_db::PoolSettings::default())
            .await
            .unwrap();
        db.library
            .upsert_books(vec![
                record(
                    "B000000001",
                    "The Left Hand of Darkness",
                    "Ursula K. Le Guin",
                    1,
                ),
                record("B000000002", "A Wizard of Earthsea", "Ursula K. Le Guin", 1),
                record("B000000003", "Dune", "Frank Herbert", 1),
                record("B000000004", "Solaris", "Stanisław Lem", 1),
                record("B000000005", "The Dispossessed", "Ursula K. Le Guin", 30),
            ])
            .await
            .unwrap();
    });
    let roots = cwd.path().join("roots");
    std::fs::create_dir_all(&roots).unwrap();
    let roots = roots.canonicalize().unwrap();
    let root = roots.display().to_string();
    let mut env = vec![
        ("EARMARK__SERVER__BIND", "127.0.0.1:0"),
        ("EARMARK__LIBRARY__IMPORT_ROOTS", root.as_str()),
    ];
    if let Some(url) = db {
        env.push(("EARMARK__DATABASE__URL", url));
    }
    let server = start_ok(cwd.path(), &env);
    let auth = format!("Bearer {}", server.printed_key.clone().unwrap());
    Setup {
        cwd,
        roots,
        data,
        server,
        auth,
    }
}

#[test]
fn folders_of_other_tools_are_adopted_without_a_download_on_sqlite() {
    folders_of_other_tools_are_adopted_without_a_download(None);
}

#[test]
fn folders_of_other_tools_are_adopted_without_a_download_on_postgres() {
    on_postgres(folders_of_other_tools_are_adopted_without_a_download);
}

fn folders_of_other_tools_are_adopted_without_a_download(db: Option<&str>) {
    let s = setup(db);
    let scratch = s.cwd.path().join("scratch");
    let shelf = s.roots.join("shelf");
    // Libation: the ASIN in the folder and file names, the tags another book's.
    let libation = shelf.join(
        "Libation/Ursula K. Le Guin/The Left Hand of Darkness [B000000001]/The Left Hand of Darkness [B000000001].m4b",
    );
    tagged(
        &SyntheticBook::short(20),
        &scratch.join("1"),
        &libation,
        &[],
    );
    // OpenAudible: no ASIN anywhere; title, author and a minute's length say which book.
    let open_audible = shelf.join("OpenAudible/books/A_Wizard_of_Earthsea.m4b");
    tagged(
        &SyntheticBook::short(20),
        &scratch.join("2"),
        &open_audible,
        &[
            ("album", "A Wizard of Earthsea (Unabridged)"),
            ("artist", "Ursula K. Le Guin"),
        ],
    );
    // AAXtoMP3 in chapter mode: one MP3 per chapter, an ASIN tag on each.
    let dune = shelf.join("Audiobook/Frank Herbert/Dune");
    for n in 1..=3 {
        let track = format!("{n}/3");
        mp3_chapter(
            &dune.join(format!("Dune-0{n} Chapter {n}.mp3")),
            20,
            &[
                ("album", "Dune"),
                ("artist", "Frank Herbert"),
                ("track", &track),
                ("ASIN", "B000000003"),
            ],
        );
    }
    // An AAX as audible-cli names it.
    let rendered = earmark_fixtures::downloaded_book(
        Path::new("ffmpeg"),
        &scratch.join("4"),
        "B000000004",
        &SyntheticBook::short(2),
        false,
    )
    .unwrap();
    let aax = shelf.join("Audible/B000000004-AAX_44_64.aax");
    std::fs::create_dir_all(aax.parent().unwrap()).unwrap();
    std::fs::rename(&rendered.audio, &aax).unwrap();
    // A book of the same author whose length is far off, and a stranger: local items.
    let wrong_length = shelf.join("OpenAudible/books/The_Dispossessed.m4b");
    tagged(
        &SyntheticBook::short(20),
        &scratch.join("5"),
        &wrong_length,
        &[
            ("album", "The Dispossessed"),
            ("artist", "Ursula K. Le Guin"),
        ],
    );
    let stranger = shelf.join("Other/Stranger Tales.m4a");
    tagged(
        &SyntheticBook::short(3),
        &scratch.join("6"),
        &stranger,
        &[("album", "Stranger Tales"), ("artist", "Nobody")],
    );
    // Hostile: a link out of the root, and a file that only says it is audio.
    let outside = s.cwd.path().join("outside");
    tagged(
        &SyntheticBook::short(3),
        &scratch.join("7"),
        &outside.join("Secret [B000000005].m4b"),
        &[],
    );
    std::os::unix::fs::symlink(&outside, shelf.join("Other/escape")).unwrap();
    std::fs::write(shelf.join("Other/notes.mp3"), "not audio at all").unwrap();
    // A name made of dots: kept inside the data directory, under a harmless name.
    let dotted = shelf.join("Other/..Sneaky...m4a");
    tagged(
        &SyntheticBook::short(2),
        &scratch.join("9"),
        &dotted,
        &[("album", "Sneaky"), ("artist", "Nobody")],
    );
    let before: Vec<(PathBuf, u64)> = files_under(&shelf)
        .into_iter()
        .map(|f| {
            let size = f.metadata().unwrap().len();
            (f, size)
        })
        .collect();

    // Paths that are not folders inside the roots are refused before anything is read.
    for (path, status, code) in [
        (
            s.roots.join("../outside").display().to_string(),
            403,
            "outside_import_roots",
        ),
        (outside.display().to_string(), 403, "outside_import_roots"),
        (
            shelf.join("Other/escape").display().to_string(),
            403,
            "outside_import_roots",
        ),
        (
            s.roots.join("missing").display().to_string(),
            404,
            "folder_not_found",
        ),
        ("relative/path".into(), 422, "validation_failed"),
    ] {
        let (got, problem) = s.import(json!({"path": path, "mode": "copy"}));
        assert_eq!(
            (got, problem["code"].as_str().unwrap()),
            (status, code),
            "{path}: {problem}"
        );
    }
    let (status, problem) = s.import(json!({"path": shelf, "mode": "shred"}));
    assert_eq!(status, 422, "{problem}");

    let log = s.imported(&shelf, "link");
    for line in [
        "book B000000001: Libation/Ursula K. Le Guin/The Left Hand of Darkness [B000000001]/The Left Hand of Darkness [B000000001].m4b matched by the ASIN in its name",
        "book B000000002: OpenAudible/books/A_Wizard_of_Earthsea.m4b matched by its title, author and length",
        "book B000000003: Audiobook/Frank Herbert/Dune matched by its ASIN tag",
        "book B000000004: Audible/B000000004-AAX_44_64.aax matched by the ASIN in its name",
        "local item: OpenAudible/books/The_Dispossessed.m4b",
        "local item: Other/Stranger Tales.m4a",
        "skipped: Other/notes.mp3 cannot be read as audio",
    ] {
        assert!(log.contains(line), "`{line}` not in the log:\n{log}");
    }
    assert!(
        !log.contains("Secret"),
        "read through the link out of the root:\n{log}"
    );

    let book = |n: u32| s.get(&format!("/library/B00000000{n}"));
    for n in 1..=3 {
        assert_eq!(book(n)["status"], "COMPLETED", "{}", book(n));
    }
    assert_eq!(book(4)["status"], "DOWNLOADED", "{}", book(4));
    assert_eq!(book(5)["status"], "NEW", "{}", book(5));
    let left_hand = PathBuf::from(book(1)["local_path_converted"].as_str().unwrap());
    // Named as a conversion would name it (the default schemes: $genre/$artist/$title, $title).
    assert_eq!(
        left_hand,
        s.data.join("converted/Audiobook/Ursula K. Le Guin/The Left Hand of Darkness/The Left Hand of Darkness.m4b")
    );
    assert!(
        left_hand.starts_with(s.data.join("converted")),
        "{}",
        left_hand.display()
    );
    assert_eq!(
        left_hand.metadata().unwrap().ino(),
        libation.metadata().unwrap().ino(),
        "linked, not copied"
    );
    assert_eq!(book(2)["conversion_format"], "m4b");
    let chapters: Vec<Value> = book(3)["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "converted_chapter")
        .cloned()
        .collect();
    assert_eq!(chapters.len(), 3, "{}", book(3));
    assert_eq!(book(3)["conversion_format"], "mp3");
    assert!(
        book(3)["local_path_converted"]
            .as_str()
            .unwrap()
            .ends_with("Dune-01 Chapter 1.mp3")
    );
    // The adopted book plays from where it was put.
    let streamed = s
        .server
        .get("/stream/B000000001", &[("Authorization", &s.auth)]);
    assert_eq!(streamed.status, 200);
    assert!(streamed.body == std::fs::read(&libation).unwrap());

    let local = s.get("/library/local");
    let titles: Vec<&str> = local["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 3, "{local}");
    let sneaky = local["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Sneaky")
        .unwrap();
    let sneaky_path = PathBuf::from(sneaky["output_path"].as_str().unwrap());
    assert!(
        sneaky_path.starts_with(s.data.join("converted/Imported/Other"))
            && !sneaky_path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with('.'),
        "{}",
        sneaky_path.display()
    );
    assert!(
        titles.contains(&"Stranger Tales") && titles.contains(&"The Dispossessed"),
        "{titles:?}"
    );

    // Nothing of the folder was lost or changed, and nothing outside it was touched.
    for (file, size) in &before {
        assert_eq!(file.metadata().unwrap().len(), *size, "{}", file.display());
    }
    assert!(outside.join("Secret [B000000005].m4b").exists());
    let converted_before = files_under(&s.data.join("converted"));

    // A second import of the same folder changes nothing.
    let again = s.imported(&shelf, "copy");
    assert!(
        !again.contains("local item:") && !again.contains("matched by"),
        "{again}"
    );
    assert!(again.contains("already imported"), "{again}");
    assert_eq!(files_under(&s.data.join("converted")), converted_before);
    assert_eq!(s.get("/library/local")["total"], 3);

    // Moving: the file leaves the folder, whole, for the data directory.
    let moving = s.roots.join("moving/Another Stranger.m4a");
    tagged(
        &SyntheticBook::short(4),
        &scratch.join("8"),
        &moving,
        &[("album", "Another Stranger")],
    );
    let bytes = std::fs::read(&moving).unwrap();
    s.imported(moving.parent().unwrap(), "move");
    assert!(!moving.exists());
    let moved = files_under(&s.data.join("converted"))
        .into_iter()
        .find(|f| f.ends_with("Another Stranger.m4a"))
        .unwrap();
    assert!(std::fs::read(moved).unwrap() == bytes);
}

#[test]
fn nothing_is_importable_until_the_operator_names_a_root() {
    let cwd = tempfile::tempdir().unwrap();
    let server = start_ok(cwd.path(), &[("EARMARK__SERVER__BIND", "127.0.0.1:0")]);
    let auth = format!("Bearer {}", server.printed_key.clone().unwrap());
    let reply = server.post_json(
        "/library/import",
        &json!({"path": cwd.path(), "mode": "copy"}),
        &[("Authorization", &auth)],
    );
    assert_eq!(reply.status, 409, "{}", reply.text());
    assert!(
        reply.text().contains("EARMARK__LIBRARY__IMPORT_ROOTS"),
        "{}",
        reply.text()
    );
}
