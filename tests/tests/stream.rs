//! `/stream/{file_id}` conformance on a real file over real HTTP from the real binary: every
//! Range and conditional case, malformed input, and files that must not be served.
#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test crate fail by panicking"
)]

use std::collections::HashMap;

use earmark_core::{BookUpdate, FileKind, NewStoredFile};
use earmark_testkit::{Reply, Server, start_ok};

const SIZE: usize = 1024 * 1024 + 17;

fn content() -> Vec<u8> {
    (0..SIZE).map(|i| (i % 251) as u8).collect()
}

struct Fixture {
    _cwd: tempfile::TempDir,
    server: Server,
    key: String,
    ids: HashMap<&'static str, String>,
    /// Where the good file is on disk.
    good: std::path::PathBuf,
}

impl Fixture {
    fn get(&self, path: &str, extra: &[(&str, &str)]) -> Reply {
        self.request("GET", path, extra)
    }

    fn request(&self, method: &str, path: &str, extra: &[(&str, &str)]) -> Reply {
        let auth = format!("Bearer {}", self.key);
        let mut headers = vec![("Authorization", auth.as_str())];
        headers.extend_from_slice(extra);
        self.server.request(method, path, &headers)
    }

    fn id(&self, name: &str) -> &str {
        &self.ids[name]
    }
}

/// Starts earmark in an empty directory and registers, straight in its SQLite database, one
/// book with a good file and every kind of file that must not be served.
fn fixture() -> Fixture {
    let cwd = tempfile::tempdir().unwrap();
    let server = start_ok(cwd.path(), &[("EARMARK__SERVER__BIND", "127.0.0.1:0")]);
    let key = server.printed_key.clone().unwrap();
    let data = cwd.path().join("data").canonicalize().unwrap();
    let book_dir = data.join("converted/B000000001");
    std::fs::create_dir_all(&book_dir).unwrap();

    let good = book_dir.join("Der Herr der Ringe – Teil 1.m4b");
    std::fs::write(&good, content()).unwrap();
    let empty = book_dir.join("empty.mp3");
    std::fs::write(&empty, b"").unwrap();
    let deleted = book_dir.join("deleted.flac");
    std::fs::write(&deleted, b"soon gone").unwrap();
    let truncated = book_dir.join("truncated.opus");
    std::fs::write(&truncated, vec![7u8; 4096]).unwrap();
    let outside = cwd.path().join("secret.m4b");
    std::fs::write(&outside, b"not for players").unwrap();
    let symlink = book_dir.join("link.m4b");
    std::os::unix::fs::symlink(&outside, &symlink).unwrap();
    let sneaky = format!("{}/../../secret.m4b", book_dir.display());

    let files: Vec<(&'static str, String)> = vec![
        ("good", good.display().to_string()),
        ("empty", empty.display().to_string()),
        ("deleted", deleted.display().to_string()),
        ("truncated", truncated.display().to_string()),
        ("symlink", symlink.display().to_string()),
        ("traversal", sneaky),
        ("absolute", "/etc/passwd".to_owned()),
    ];
    let files = files
        .into_iter()
        .map(|(name, path)| {
            let kind = if name == "good" {
                FileKind::Converted
            } else {
                FileKind::ConvertedChapter
            };
            (name, kind, path)
        })
        .collect();
    let ids = register(&data, 1, files, Some(good.display().to_string()));
    std::fs::remove_file(&deleted).unwrap();
    std::fs::write(&truncated, vec![7u8; 100]).unwrap();
    Fixture {
        _cwd: cwd,
        server,
        key,
        ids,
        good,
    }
}

/// Registers book `n` and `files` in the SQLite database under `data`, returning their ids.
fn register(
    data: &std::path::Path,
    n: u32,
    files: Vec<(&'static str, FileKind, String)>,
    converted: Option<String>,
) -> HashMap<&'static str, String> {
    let db_path = data.join("library/earmark.db").display().to_string();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = earmark_db::connect(&db_path, &earmark_db::PoolSettings::default())
            .await
            .unwrap();
        let asin = earmark_contract::asin(n);
        let mut record = earmark_contract::record(n);
        record.title = "Der Herr der Ringe".into();
        db.library.upsert_books(vec![record]).await.unwrap();
        let mut ids = HashMap::new();
        for (name, kind, path) in files {
            let file = NewStoredFile {
                asin: asin.clone(),
                kind,
                path,
                size: 0,
                mime: "application/octet-stream".into(),
            };
            ids.insert(
                name,
                db.library.add_file(file).await.unwrap().id.to_string(),
            );
        }
        let update = BookUpdate {
            local_path_converted: Some(converted),
            ..Default::default()
        };
        db.library.update_book(&asin, update).await.unwrap();
        ids
    })
}

enum Body {
    Whole,
    Bytes(usize, usize),
    Nothing,
}

struct Case {
    name: &'static str,
    method: &'static str,
    headers: Vec<(&'static str, String)>,
    status: u16,
    content_range: Option<String>,
    body: Body,
}

fn case(
    name: &'static str,
    headers: &[(&'static str, &str)],
    status: u16,
    content_range: Option<&str>,
    body: Body,
) -> Case {
    Case {
        name,
        method: "GET",
        headers: headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        status,
        content_range: content_range.map(str::to_owned),
        body,
    }
}

#[test]
fn every_range_and_conditional_case_is_answered_correctly() {
    let f = fixture();
    let path = format!("/stream/{}", f.id("good"));
    let full = f.get(&path, &[]);
    assert_eq!(full.status, 200);
    assert_eq!(full.body, content());
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        full.header("content-length"),
        Some(SIZE.to_string().as_str())
    );
    assert_eq!(full.content_type(), Some("audio/mp4"));
    let disposition = full.header("content-disposition").unwrap();
    assert!(disposition.starts_with("inline"), "{disposition}");
    assert!(
        disposition
            .contains("filename*=UTF-8''Der%20Herr%20der%20Ringe%20%E2%80%93%20Teil%201.m4b"),
        "{disposition}"
    );
    assert_eq!(full.header("cache-control"), Some("private, no-cache"));
    let etag = full.header("etag").unwrap().to_owned();
    let modified = full.header("last-modified").unwrap().to_owned();
    let n = SIZE;
    let last = n - 1;
    let many: String = format!(
        "bytes={}",
        (0..1000)
            .map(|i| format!("{i}-{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );

    let cases = vec![
        case(
            "first 100 bytes",
            &[("Range", "bytes=0-99")],
            206,
            Some("bytes 0-99/SIZE"),
            Body::Bytes(0, 99),
        ),
        case(
            "open range",
            &[("Range", "bytes=1000-")],
            206,
            Some(&format!("bytes 1000-{last}/SIZE")),
            Body::Bytes(1000, last),
        ),
        case(
            "suffix range",
            &[("Range", "bytes=-500")],
            206,
            Some(&format!("bytes {}-{last}/SIZE", n - 500)),
            Body::Bytes(n - 500, last),
        ),
        case(
            "last byte",
            &[("Range", &format!("bytes={last}-{last}"))],
            206,
            Some(&format!("bytes {last}-{last}/SIZE")),
            Body::Bytes(last, last),
        ),
        case(
            "end beyond size is clamped",
            &[("Range", "bytes=10-99999999999")],
            206,
            Some(&format!("bytes 10-{last}/SIZE")),
            Body::Bytes(10, last),
        ),
        case(
            "suffix longer than file",
            &[("Range", "bytes=-99999999")],
            206,
            Some(&format!("bytes 0-{last}/SIZE")),
            Body::Whole,
        ),
        case(
            "start at size",
            &[("Range", &format!("bytes={n}-"))],
            416,
            Some("bytes */SIZE"),
            Body::Nothing,
        ),
        case(
            "start beyond size",
            &[("Range", &format!("bytes={}-{}", n + 10, n + 20))],
            416,
            Some("bytes */SIZE"),
            Body::Nothing,
        ),
        case(
            "empty suffix",
            &[("Range", "bytes=-0")],
            416,
            Some("bytes */SIZE"),
            Body::Nothing,
        ),
        case(
            "largest u64 start",
            &[("Range", "bytes=18446744073709551615-")],
            416,
            Some("bytes */SIZE"),
            Body::Nothing,
        ),
        case(
            "reversed range is ignored",
            &[("Range", "bytes=5-1")],
            200,
            None,
            Body::Whole,
        ),
        case(
            "garbage is ignored",
            &[("Range", "bytes=abc")],
            200,
            None,
            Body::Whole,
        ),
        case(
            "overflowing number is ignored",
            &[("Range", "bytes=99999999999999999999999-")],
            200,
            None,
            Body::Whole,
        ),
        case(
            "no unit is ignored",
            &[("Range", "0-10")],
            200,
            None,
            Body::Whole,
        ),
        case(
            "unknown unit is ignored",
            &[("Range", "items=0-5")],
            200,
            None,
            Body::Whole,
        ),
        case(
            "two ranges are served whole",
            &[("Range", "bytes=0-1,5-6")],
            200,
            None,
            Body::Whole,
        ),
        case(
            "a thousand ranges are served whole",
            &[("Range", &many)],
            200,
            None,
            Body::Whole,
        ),
        case(
            "matching If-None-Match",
            &[("If-None-Match", &etag)],
            304,
            None,
            Body::Nothing,
        ),
        case(
            "If-None-Match *",
            &[("If-None-Match", "*")],
            304,
            None,
            Body::Nothing,
        ),
        case(
            "other If-None-Match",
            &[("If-None-Match", "\"something-else\"")],
            200,
            None,
            Body::Whole,
        ),
        case(
            "If-Modified-Since its date",
            &[("If-Modified-Since", &modified)],
            304,
            None,
            Body::Nothing,
        ),
        case(
            "If-Modified-Since long ago",
            &[("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")],
            200,
            None,
            Body::Whole,
        ),
        case(
            "If-Range with the ETag",
            &[("Range", "bytes=0-9"), ("If-Range", &etag)],
            206,
            Some("bytes 0-9/SIZE"),
            Body::Bytes(0, 9),
        ),
        case(
            "If-Range with the date",
            &[("Range", "bytes=0-9"), ("If-Range", &modified)],
            206,
            Some("bytes 0-9/SIZE"),
            Body::Bytes(0, 9),
        ),
        case(
            "If-Range with a stale ETag",
            &[("Range", "bytes=0-9"), ("If-Range", "\"stale\"")],
            200,
            None,
            Body::Whole,
        ),
        case(
            "If-Range with another date",
            &[
                ("Range", "bytes=0-9"),
                ("If-Range", "Mon, 01 Jan 2001 00:00:00 GMT"),
            ],
            200,
            None,
            Body::Whole,
        ),
        Case {
            method: "HEAD",
            ..case("HEAD", &[], 200, None, Body::Nothing)
        },
        Case {
            method: "HEAD",
            ..case(
                "HEAD ignores Range",
                &[("Range", "bytes=0-9")],
                200,
                None,
                Body::Nothing,
            )
        },
    ];

    for c in cases {
        let headers: Vec<(&str, &str)> = c.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = f.request(c.method, &path, &headers);
        assert_eq!(reply.status, c.status, "{}", c.name);
        let expected_range = c.content_range.map(|r| r.replace("SIZE", &n.to_string()));
        assert_eq!(
            reply.header("content-range").map(str::to_owned),
            expected_range,
            "{}",
            c.name
        );
        let expected: &[u8] = match c.body {
            Body::Whole => &content(),
            Body::Bytes(from, to) => &content()[from..=to],
            Body::Nothing => &[],
        };
        assert!(
            reply.body == expected,
            "{}: got {} bytes, expected {}",
            c.name,
            reply.body.len(),
            expected.len()
        );
        if c.status == 200 || c.status == 206 {
            assert_eq!(
                reply.header("content-length"),
                Some(expected_len(c.method, &c.body, n).as_str()),
                "{}",
                c.name
            );
            assert_eq!(reply.header("etag"), Some(etag.as_str()), "{}", c.name);
        }
    }
}

fn expected_len(method: &str, body: &Body, n: usize) -> String {
    match (method, body) {
        ("HEAD", _) | (_, Body::Whole) => n.to_string(),
        (_, Body::Bytes(from, to)) => (to - from + 1).to_string(),
        (_, Body::Nothing) => "0".into(),
    }
}

#[test]
fn files_that_must_not_be_served_are_404() {
    let f = fixture();
    for name in ["deleted", "symlink", "traversal", "absolute"] {
        let reply = f.get(&format!("/stream/{}", f.id(name)), &[]);
        assert_eq!(reply.status, 404, "{name}: {}", reply.text());
        assert_eq!(
            reply.content_type(),
            Some("application/problem+json"),
            "{name}"
        );
        assert_eq!(reply.json()["code"], "file_not_found", "{name}");
        assert!(
            !reply.text().contains("secret") && !reply.text().contains("passwd"),
            "{name}: no path disclosed"
        );
    }
    for id in [
        "00000000-0000-0000-0000-000000000000",
        "..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "not-an-id",
        "B00000000X",
    ] {
        let reply = f.get(&format!("/stream/{id}"), &[]);
        assert_eq!(reply.status, 404, "{id}: {}", reply.text());
    }
}

#[test]
fn odd_files_and_asins_get_correct_answers() {
    let f = fixture();
    let by_asin = f.get("/stream/B000000001", &[("Range", "bytes=0-3")]);
    assert_eq!(
        by_asin.status, 206,
        "an ASIN means the book's converted file"
    );
    assert_eq!(by_asin.body, content()[..4]);

    let empty = format!("/stream/{}", f.id("empty"));
    let whole = f.get(&empty, &[]);
    assert_eq!((whole.status, whole.body.len()), (200, 0));
    assert_eq!(whole.content_type(), Some("audio/mpeg"));
    let ranged = f.get(&empty, &[("Range", "bytes=0-")]);
    assert_eq!(
        (ranged.status, ranged.header("content-range")),
        (416, Some("bytes */0"))
    );

    let truncated = format!("/stream/{}", f.id("truncated"));
    let shrunk = f.get(&truncated, &[]);
    assert_eq!(
        (shrunk.status, shrunk.body.len()),
        (200, 100),
        "the size on disk now, not the registered one"
    );
    assert_eq!(shrunk.content_type(), Some("audio/ogg"));
    assert_eq!(f.get(&truncated, &[("Range", "bytes=200-")]).status, 416);

    let unauthenticated = f.server.get(&format!("/stream/{}", f.id("good")), &[]);
    assert_eq!(unauthenticated.status, 401);

    // An <audio> element cannot send the key: a token minted for this file plays it.
    let auth = format!("Bearer {}", f.key);
    let grant = f.server.post_json(
        "/auth/tokens",
        &serde_json::json!({"scope": "stream", "file_id": f.id("good"), "ttl_s": 60}),
        &[("Authorization", &auth)],
    );
    assert_eq!(grant.status, 200, "{}", grant.text());
    let token = grant.json()["token"].as_str().unwrap().to_owned();
    let played = f.server.get(
        &format!("/stream/{}?token={token}", f.id("good")),
        &[("Range", "bytes=0-9")],
    );
    assert_eq!((played.status, played.body.len()), (206, 10));
    let other = f
        .server
        .get(&format!("/stream/{}?token={token}", f.id("truncated")), &[]);
    assert_eq!(other.status, 401, "the token is for one file");
}

/// One answer read off a raw connection: status, headers (names lower-cased), body.
struct RawAnswer {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// Reads one HTTP/1.1 answer from `conn` (a body only when `with_body`; its length from
/// `Content-Length`).
fn read_answer(conn: &mut impl std::io::BufRead, with_body: bool) -> RawAnswer {
    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
    }
    let len: usize = headers
        .get("content-length")
        .map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0u8; if with_body { len } else { 0 }];
    conn.read_exact(&mut body).unwrap();
    RawAnswer {
        status,
        headers,
        body,
    }
}

/// A player keeps its connection and may send the next request before the last answer is
/// read: each answer's bytes follow its own head, whatever came before on the connection.
#[test]
fn requests_sent_together_on_one_connection_get_their_own_answers_in_order() {
    use std::io::{BufReader, Write};
    let f = fixture();
    let url = format!("/stream/{}", f.id("good"));
    let requests: [(&str, &str, Option<&str>); 7] = [
        ("GET", url.as_str(), Some("bytes=0-99")),
        ("GET", url.as_str(), Some("bytes=1000-66535")),
        ("GET", "/healthz", None),
        ("GET", url.as_str(), None),
        ("HEAD", url.as_str(), Some("bytes=5-9")),
        ("GET", url.as_str(), Some("bytes=-10")),
        ("GET", url.as_str(), Some("bytes=5-1")),
    ];
    let mut sent = String::new();
    for (method, path, range) in requests {
        sent.push_str(&format!(
            "{method} {path} HTTP/1.1\r\nHost: earmark\r\nAuthorization: Bearer {}\r\n",
            f.key
        ));
        if let Some(range) = range {
            sent.push_str(&format!("Range: {range}\r\n"));
        }
        sent.push_str("\r\n");
    }
    let address = f.server.base.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(address).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    conn.write_all(sent.as_bytes()).unwrap();
    let mut conn = BufReader::new(conn);

    let all = content();
    let expected: [(u16, &[u8]); 7] = [
        (206, &all[..100]),
        (206, &all[1000..66536]),
        (200, b""),
        (200, &all),
        (200, b""),
        (206, &all[SIZE - 10..]),
        (200, &all),
    ];
    for (i, ((method, _, range), (status, body))) in requests.iter().zip(expected).enumerate() {
        let answer = read_answer(&mut conn, *method == "GET");
        assert_eq!(answer.status, status, "answer {i} ({method} {range:?})");
        if i == 2 {
            let health: serde_json::Value = serde_json::from_slice(&answer.body)
                .unwrap_or_else(|e| panic!("healthz is JSON ({e})"));
            assert!(health.is_object(), "healthz: {health}");
        } else {
            assert!(
                answer.body == body,
                "answer {i} ({method} {range:?}): wrong bytes"
            );
        }
        if i == 4 {
            let whole = SIZE.to_string();
            assert_eq!(
                answer.headers["content-length"], whole,
                "HEAD tells the length"
            );
        }
    }
}

/// A file cut short while a slow client is still reading it: the answer ends early (the
/// connection closes) and what was sent is the file's real bytes, never padding.
#[test]
fn a_file_truncated_while_being_sent_ends_the_answer_early_with_its_real_bytes() {
    use std::io::{BufReader, Read, Write};
    const LARGE: usize = 48 * 1024 * 1024;
    let f = fixture();
    let large: Vec<u8> = (0..LARGE).map(|i| (i % 253) as u8).collect();
    std::fs::write(&f.good, &large).unwrap();
    // Past the one second for which an opened file is reused: this request sees the new size.
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let address = f.server.base.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(address).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        conn,
        "GET /stream/{} HTTP/1.1\r\nHost: earmark\r\nAuthorization: Bearer {}\r\n\r\n",
        f.id("good"),
        f.key
    )
    .unwrap();
    let mut conn = BufReader::new(conn);
    let head = read_answer(&mut conn, false);
    assert_eq!(head.status, 200);
    assert_eq!(head.headers["content-length"], LARGE.to_string());
    let mut first = vec![0u8; 64 * 1024];
    conn.read_exact(&mut first).unwrap();
    // The server is now stuck on a full socket, somewhere in the file.
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&f.good)
        .unwrap()
        .set_len(2 * 1024 * 1024)
        .unwrap();
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest)
        .expect("the connection ends rather than hangs");
    first.extend_from_slice(&rest);
    assert!(
        first.len() < LARGE,
        "the answer ends early: {} bytes",
        first.len()
    );
    assert!(
        first == large[..first.len()],
        "every byte sent is the file's own"
    );
}

/// Files stay open for a second after a request, for the next one: what happens to the file
/// meanwhile is still answered correctly, and nothing stays open longer.
#[test]
fn a_file_kept_open_between_requests_is_seen_as_it_is_now_and_then_closed() {
    let f = fixture();
    let path = f.good.clone();
    let url = format!("/stream/{}", f.id("good"));
    assert_eq!(f.get(&url, &[("Range", "bytes=0-9")]).status, 206);

    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1000)
        .unwrap();
    let shrunk = f.get(&url, &[]);
    assert_eq!((shrunk.status, shrunk.body.len()), (200, 1000));
    assert_eq!(shrunk.body, content()[..1000]);
    assert_eq!(f.get(&url, &[("Range", "bytes=2000-")]).status, 416);

    std::fs::remove_file(&path).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let fds = std::fs::read_dir(format!("/proc/{}/fd", f.server.pid())).unwrap();
    let held: Vec<_> = fds
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter(|target| target.to_string_lossy().contains("Der Herr der Ringe"))
        .collect();
    assert!(
        held.is_empty(),
        "a deleted file is still held open: {held:?}"
    );
    assert_eq!(f.get(&url, &[]).status, 404, "gone from disk: gone");
}

#[test]
fn chapters_list_offsets_and_per_chapter_files() {
    let cwd = tempfile::tempdir().unwrap();
    let server = start_ok(cwd.path(), &[("EARMARK__SERVER__BIND", "127.0.0.1:0")]);
    let auth = format!("Bearer {}", server.printed_key.clone().unwrap());
    let data = cwd.path().join("data").canonicalize().unwrap();
    let dir = data.join("downloads/B000000002");
    std::fs::create_dir_all(&dir).unwrap();
    let chapters_json = dir.join("B000000002-chapters.json");
    std::fs::write(
        &chapters_json,
        serde_json::json!({"content_metadata": {"chapter_info": {"chapters": [
            {"title": "Opening Credits", "start_offset_ms": 0, "length_ms": 1000},
            {"title": "Part 1", "start_offset_ms": 1000, "length_ms": 500, "chapters": [
                {"title": "Chapter 1", "start_offset_ms": 1500, "length_ms": 9000}
            ]}
        ]}}, "response_groups": ["chapter_info"]})
        .to_string(),
    )
    .unwrap();
    let mut files = vec![(
        "chapters",
        FileKind::Chapters,
        chapters_json.display().to_string(),
    )];
    for (i, name) in ["c1", "c2", "c3"].into_iter().enumerate() {
        let path = data.join(format!("converted/B000000002-{:02}.mp3", i + 1));
        std::fs::write(&path, b"ID3").unwrap();
        files.push((name, FileKind::ConvertedChapter, path.display().to_string()));
    }
    let ids = register(&data, 2, files, None);
    register(&data, 3, vec![], None);

    let reply = server.get("/library/B000000002/chapters", &[("Authorization", &auth)]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    let chapters = body["chapters"].as_array().unwrap();
    let got: Vec<_> = chapters
        .iter()
        .map(|c| {
            (
                c["title"].as_str().unwrap(),
                c["start_offset_ms"].as_u64().unwrap(),
                c["file_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("Opening Credits", 0, ids["c1"].as_str()),
            ("Part 1", 1000, ids["c2"].as_str()),
            ("Chapter 1", 1500, ids["c3"].as_str())
        ]
    );
    assert_eq!(
        body["files"].as_array().unwrap().len(),
        3,
        "playable files only"
    );
    let first = &body["files"][0];
    assert_eq!(first["stream_url"], format!("/stream/{}", ids["c1"]));
    assert_eq!(
        server
            .get(
                first["stream_url"].as_str().unwrap(),
                &[("Authorization", &auth)]
            )
            .body,
        b"ID3"
    );

    let none = server
        .get("/library/B000000003/chapters", &[("Authorization", &auth)])
        .json();
    assert_eq!(none["chapters"].as_array().unwrap().len(), 0);
    assert_eq!(
        server
            .get("/library/B000000404/chapters", &[("Authorization", &auth)])
            .status,
        404
    );
    let malformed = server.get("/library/b0000/chapters", &[("Authorization", &auth)]);
    assert_eq!(
        (malformed.status, malformed.json()["code"].as_str()),
        (422, Some("validation_failed"))
    );
}
