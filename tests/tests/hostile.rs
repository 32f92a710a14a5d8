//! Hostile requests against the real binary, beside the generated ones of schemathesis:
//! traversal in every path parameter, shell and SQL injection in every string field (query
//! parameters and request bodies, as the API document lists them), malformed `Range`
//! headers and oversized or absurdly nested bodies. Nothing may leave the data directory, run
//! a command, lose data or answer 5xx; refusals are problem+json.

#![expect(clippy::unwrap_used, reason = "test helpers fail by panicking")]

use std::path::Path;
use std::time::Duration;

use earmark_testkit::fake_audible::{FakeAudible, write_profile};
use earmark_testkit::server::Reply;
use earmark_testkit::{Server, seed};
use serde_json::{Map, Value, json};

const KEY: (&str, &str) = ("X-Api-Key", "hostile-key");
const OUTSIDE: &str = "do not touch";

/// Path parameter values that try to leave their directory, percent-encoded as a client
/// would have to send them.
const TRAVERSALS: &[&str] = &[
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2foutside.txt",
    "..%5C..%5Coutside.txt",
    "%2Fetc%2Fpasswd",
    "....%2F%2F....%2F%2Foutside.txt",
    "..",
    "%00",
    "B0DOWNLOAD%2F..%2F..%2F..%2Foutside.txt",
    "outside.txt%00.json",
];

/// String values that would run a command or change SQL if any layer built a shell line or a
/// query by hand; `{marker}` is a file that must never appear.
fn injections(marker: &Path) -> Vec<String> {
    let m = marker.display();
    vec![
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        format!("x; touch {m}; #"),
        format!("x | touch {m}"),
        format!("x && touch {m}"),
        "' OR '1'='1".into(),
        "\"; DROP TABLE books; --".into(),
        "B0DOWNLOAD'; DELETE FROM books; --".into(),
        "{{7*7}}${7*7}%s%n".into(),
        "\u{202e}\u{0}\u{7}".into(),
    ]
}

/// The binary on `cwd`, its audible-cli (and account helper) the vendored one, talking to
/// the fake Audible API, so that account routes reach the helper.
fn serve(cwd: &Path) -> (Server, FakeAudible) {
    let fake = FakeAudible::start();
    (fake.start_earmark(cwd, KEY.1, &[]), fake)
}

/// `method path` with `body` (JSON) when there is one.
fn send(server: &Server, method: &str, path: &str, body: Option<&Value>) -> Reply {
    match method {
        "GET" | "HEAD" | "DELETE" => server.request(method, path, &[KEY]),
        _ => server.request_json(method, path, body.unwrap_or(&json!({})), &[KEY]),
    }
}

/// A refusal, or an answer that leaks nothing from outside: never a server error, never a
/// file's contents from outside the data directory.
fn assert_contained(reply: &Reply, what: &str) {
    assert!(
        reply.status < 500,
        "{what}: {} {}",
        reply.status,
        reply.text()
    );
    let text = String::from_utf8_lossy(&reply.body);
    assert!(!text.contains("root:x:0:0"), "{what}: /etc/passwd leaked");
    assert!(!text.contains(OUTSIDE), "{what}: a file outside leaked");
    if reply.status >= 400 && !reply.body.is_empty() {
        assert_eq!(
            reply.content_type(),
            Some("application/problem+json"),
            "{what}: {}",
            reply.text()
        );
    }
}

/// A value the document accepts for a path parameter, so that the other fields are reached.
fn valid_path_value(name: &str) -> &'static str {
    match name {
        "asin" => "B0DOWNLOAD",
        "file_id" => "B0CONVERTD",
        "name" => "earmark",
        _ => "01939b5e-0000-7000-8000-000000000001",
    }
}

/// Resolves `$ref` and merges `allOf` into one object schema.
fn resolved(schema: &Value, doc: &Value) -> Value {
    if let Some(name) = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        return resolved(&doc["components"]["schemas"][name], doc);
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = json!({"properties": {}, "required": []});
        for part in parts.iter().map(|p| resolved(p, doc)) {
            if let Some(props) = part["properties"].as_object() {
                merged["properties"]
                    .as_object_mut()
                    .unwrap()
                    .extend(props.clone());
            }
            if let Some(required) = part["required"].as_array() {
                merged["required"]
                    .as_array_mut()
                    .unwrap()
                    .extend(required.clone());
            }
        }
        return merged;
    }
    schema.clone()
}

/// Whether `schema` (resolved) takes a string.
fn is_string(schema: &Value, doc: &Value) -> bool {
    let schema = resolved(schema, doc);
    let type_says =
        |t: &Value| t == "string" || t.as_array().is_some_and(|a| a.contains(&json!("string")));
    type_says(&schema["type"])
        || schema["oneOf"]
            .as_array()
            .is_some_and(|alts| alts.iter().any(|a| is_string(a, doc)))
}

/// A valid value for a property the injected one needs beside it.
fn valid_value(schema: &Value, doc: &Value) -> Value {
    let schema = resolved(schema, doc);
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(first) = schema["examples"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match schema["type"].as_str() {
        Some("boolean") => json!(false),
        Some("integer" | "number") => json!(0),
        Some("array") => json!(["B0DOWNLOAD"]),
        _ => json!("x"),
    }
}

struct Operation {
    method: String,
    template: String,
    path_params: Vec<String>,
    query_params: Vec<String>,
    body: Option<Value>,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut all = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let named = |place: &str| -> Vec<String> {
                params
                    .iter()
                    .filter(|p| p["in"] == place)
                    .map(|p| p["name"].as_str().unwrap().to_owned())
                    .collect()
            };
            let body = op["requestBody"]["content"]["application/json"]["schema"]
                .as_object()
                .map(|s| resolved(&Value::Object(s.clone()), doc));
            all.push(Operation {
                method: method.to_uppercase(),
                template: template.clone(),
                path_params: named("path"),
                query_params: named("query"),
                body,
            });
        }
    }
    all
}

fn concrete(template: &str, params: &[String], chosen: Option<(&str, &str)>) -> String {
    let mut path = template.to_owned();
    for name in params {
        let value = match chosen {
            Some((n, v)) if n == name => v,
            _ => valid_path_value(name),
        };
        path = path.replace(&format!("{{{name}}}"), value);
    }
    path
}

fn percent_encoded(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn traversal_and_injection_find_nothing_outside_the_data_directory() {
    let cwd = tempfile::tempdir().unwrap();
    let data = seed::small_library(cwd.path());
    write_profile(&data.join("audible"), "earmark");
    for outside in ["outside.txt", "outside.json"] {
        std::fs::write(cwd.path().join(outside), OUTSIDE).unwrap();
    }
    let marker = cwd.path().join("pwned");
    let (server, _fake) = serve(cwd.path());
    let doc = server.get("/openapi.json", &[]).json();
    let ops = operations(&doc);
    assert!(ops.len() > 40, "{}", ops.len());

    let mut sent = 0;
    for op in ops.iter().filter(|op| !op.template.starts_with("/ws/")) {
        for name in &op.path_params {
            for traversal in TRAVERSALS {
                let path = concrete(&op.template, &op.path_params, Some((name, traversal)));
                let reply = send(&server, &op.method, &path, None);
                assert_contained(&reply, &format!("{} {path}", op.method));
                assert!(
                    reply.status >= 400 || op.method == "GET" || op.method == "HEAD",
                    "{} {path} was accepted: {}",
                    op.method,
                    reply.text()
                );
                sent += 1;
            }
        }
        let path = concrete(&op.template, &op.path_params, None);
        for payload in injections(&marker) {
            for param in &op.query_params {
                let uri = format!("{path}?{param}={}", percent_encoded(&payload));
                let reply = send(&server, &op.method, &uri, None);
                assert_contained(&reply, &format!("{} {uri}", op.method));
                sent += 1;
            }
            let Some(schema) = &op.body else { continue };
            let properties = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for (field, field_schema) in &properties {
                if !is_string(field_schema, &doc) {
                    continue;
                }
                // The other fields valid, so the injected one is what is judged.
                let mut body: Map<String, Value> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|r| (r.to_owned(), valid_value(&properties[r], &doc)))
                    .collect();
                if properties.contains_key("asin") && field != "asin" {
                    body.insert("asin".into(), json!("B0DOWNLOAD"));
                }
                body.insert(field.clone(), json!(payload));
                let body = Value::Object(body);
                let reply = send(&server, &op.method, &path, Some(&body));
                assert_contained(&reply, &format!("{} {path} {body}", op.method));
                sent += 1;
            }
        }
    }
    assert!(sent > 500, "only {sent} hostile requests");

    // What the injections may have stored as plain data (settings, a chapter id) now goes
    // through a real conversion's tools.
    let converted = server.post_json(
        "/jobs/convert",
        &json!({"asin": "B0DOWNLOAD", "format": "mp3", "force": true}),
        &[KEY],
    );
    assert_eq!(converted.status, 202, "{}", converted.text());
    let id = converted.json()["job_id"].as_str().unwrap().to_owned();
    let job = server.wait_for_job(&id, &[KEY], Duration::from_secs(120), |job| {
        matches!(job["status"].as_str(), Some("COMPLETED" | "FAILED"))
    });
    assert_eq!(job["status"], "COMPLETED", "{job}");

    assert!(!marker.exists(), "an injected command ran");
    for outside in ["outside.txt", "outside.json"] {
        assert_eq!(
            std::fs::read_to_string(cwd.path().join(outside)).unwrap(),
            OUTSIDE,
            "{outside}"
        );
    }
    let mut around: Vec<String> = std::fs::read_dir(cwd.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".log"))
        .collect();
    around.sort();
    assert_eq!(
        around,
        ["data", "outside.json", "outside.txt"],
        "written outside"
    );
    let books = server.get("/library?include_removed=true", &[KEY]).json();
    assert_eq!(books["total"], 2, "{books}");
    assert!(server.get("/healthz", &[]).status == 200);
}

#[test]
fn malformed_ranges_get_the_whole_file_a_range_or_416_never_an_error() {
    let cwd = tempfile::tempdir().unwrap();
    seed::small_library(cwd.path());
    let (server, _fake) = serve(cwd.path());
    let whole = server.get("/stream/B0CONVERTD", &[KEY]);
    assert_eq!(whole.status, 200);
    let size = whole.body.len();
    let many = (0..2000)
        .map(|n| format!("{n}-{n}"))
        .collect::<Vec<_>>()
        .join(",");
    let ranges = [
        "bytes=abc".to_owned(),
        "bytes=5-2".into(),
        "bytes=-0".into(),
        "bytes=--1".into(),
        "bytes=99999999999999999999999-".into(),
        "bytes=0-99999999999999999999999".into(),
        "bytes=0-1,2-3".into(),
        format!("bytes={many}"),
        "items=0-1".into(),
        "bytes=".into(),
        "bytes= 0 - 1 ".into(),
        format!("bytes={size}-"),
        "bytes=0-0".into(),
        "bytes=-1".into(),
    ];
    for range in &ranges {
        let reply = server.get("/stream/B0CONVERTD", &[KEY, ("Range", range)]);
        let what = format!("Range: {}", &range[..range.len().min(40)]);
        assert!(
            matches!(reply.status, 200 | 206 | 416),
            "{what}: {}",
            reply.status
        );
        match reply.status {
            200 => assert_eq!(reply.body.len(), size, "{what}"),
            206 => {
                let content_range = reply.header("content-range").unwrap();
                let (span, total) = content_range
                    .strip_prefix("bytes ")
                    .unwrap()
                    .split_once('/')
                    .unwrap();
                assert_eq!(total, size.to_string(), "{what}");
                let (start, end) = span.split_once('-').unwrap();
                let (start, end): (usize, usize) = (start.parse().unwrap(), end.parse().unwrap());
                assert_eq!(reply.body.len(), end - start + 1, "{what}");
                assert_eq!(reply.body, whole.body[start..=end], "{what}");
            }
            _ => assert_eq!(
                reply.header("content-range"),
                Some(format!("bytes */{size}").as_str()),
                "{what}"
            ),
        }
    }
}

#[test]
fn oversized_and_absurdly_nested_bodies_are_refused_and_the_server_goes_on() {
    let cwd = tempfile::tempdir().unwrap();
    seed::small_library(cwd.path());
    let (server, _fake) = serve(cwd.path());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let send = |method: &str, path: &str, body: Vec<u8>| -> (u16, String, String) {
        let url = format!("{}{path}", server.base);
        let request = match method {
            "POST" => agent.post(&url),
            _ => agent.patch(&url),
        }
        .header(KEY.0, KEY.1)
        .header("Content-Type", "application/json");
        match request.send(&body[..]) {
            Ok(mut reply) => (
                reply.status().as_u16(),
                reply
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned(),
                reply.body_mut().read_to_string().unwrap_or_default(),
            ),
            // The server may close the connection once it has refused a body it will not
            // read; that is a refusal too, as long as it keeps serving.
            Err(e) => (413, "application/problem+json".into(), e.to_string()),
        }
    };
    let huge_list = {
        let mut body = b"{\"asins\": [".to_vec();
        for n in 0..1_000_000 {
            body.extend_from_slice(format!("\"B{n:09}\",").as_bytes());
        }
        body.extend_from_slice(b"\"B000000000\"]}");
        body
    };
    let huge_string = format!("{{\"author_override\": \"{}\"}}", "a".repeat(20 << 20)).into_bytes();
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let nested_value = format!(
        "{{\"author_override\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    )
    .into_bytes();
    for (method, path, body, expected) in [
        ("POST", "/jobs/download", huge_list.clone(), 413),
        ("POST", "/library/delete", huge_list, 413),
        ("PATCH", "/settings", huge_string.clone(), 413),
        ("POST", "/library/sync", huge_string, 413),
        // Not the shape asked for: refused at the first bracket.
        ("POST", "/jobs/convert", nested, 422),
        // Read as any JSON value: refused at serde_json's depth limit, not by the stack.
        ("PATCH", "/settings", nested_value, 400),
    ] {
        let (status, content_type, text) = send(method, path, body);
        assert_eq!(
            status,
            expected,
            "{method} {path}: {}",
            &text[..text.len().min(300)]
        );
        assert_eq!(content_type, "application/problem+json", "{method} {path}");
    }
    assert_eq!(server.get("/library", &[KEY]).json()["total"], 2);
}
