//! The API document is the contract: schemathesis (pinned, `vendor/schemathesis`) generates
//! valid and invalid requests from `/openapi.json`, runs every check it has (server errors,
//! statuses, content types, headers and bodies against the document, valid data accepted,
//! invalid data refused, missing auth refused, methods the document lacks refused with
//! `Allow`) and the stateful phase (links between operations) against the real binary on
//! SQLite with a small library: synced books, a downloaded one and a converted one.
//!
//! `EARMARK_SCHEMATHESIS_EXAMPLES` (default 12) and `EARMARK_SCHEMATHESIS_SECONDS` (default
//! 150) bound the run; `docs/testing.md` says how to run it alone.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use earmark_testkit::fake_audible::{
    FakeAudible, library_item, repo_root, vendored, write_profile,
};
use earmark_testkit::{seed, start_ok};
use serde_json::{Value, json};

const KEY: &str = "schemathesis-key";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The sections of schemathesis' report that say what failed or errored, without the rest
/// (the run prints thousands of lines before them); when it printed neither (it stopped
/// before its report), the end of what it printed. Bounded in length.
fn what_went_wrong(stdout: &str, stderr: &str) -> String {
    const MOST: usize = 8000;
    let start = ["= ERRORS =", "= FAILURES ="]
        .iter()
        .filter_map(|header| stdout.find(header))
        .min()
        .map(|at| stdout[..at].rfind('\n').map_or(0, |line| line + 1));
    let Some(start) = start else {
        let all = format!("{stdout}\n{stderr}");
        let from = (all.len().saturating_sub(MOST)..all.len())
            .find(|&i| all.is_char_boundary(i))
            .unwrap_or(all.len());
        return all[from..].to_owned();
    };
    let end = stdout.find("= SUMMARY =").unwrap_or(stdout.len());
    let wrong = stdout[start..end.max(start)].trim();
    let cut = (0..=wrong.len().min(MOST))
        .rev()
        .find(|&i| wrong.is_char_boundary(i))
        .unwrap_or(0);
    wrong[..cut].to_owned()
}

#[test]
fn generated_and_hostile_requests_find_the_server_and_its_document_in_agreement() {
    let cwd = tempfile::tempdir().unwrap();
    let data = seed::small_library(cwd.path());
    write_profile(&data.join("audible"), "earmark");
    let fake = FakeAudible::start();
    fake.set_library((1..=3).map(library_item).collect());
    let fake_env = fake.env();
    let mut env: Vec<(&str, &str)> = vec![
        ("EARMARK__SERVER__BIND", "127.0.0.1:0"),
        ("EARMARK__AUTH__API_KEY", KEY),
        // Every request of the run comes from 127.0.0.1, thousands without a key or with a
        // wrong one on purpose: the limit on wrong keys would answer 429 to the rest.
        ("EARMARK__AUTH__FAILED_ATTEMPTS_PER_MINUTE", "1000000"),
    ];
    env.extend(fake_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let server = start_ok(cwd.path(), &env);
    let synced = server.post_json("/library/sync", &json!({}), &[("X-Api-Key", KEY)]);
    assert_eq!(synced.status, 202, "{}", synced.text());
    let id = synced.json()["job_id"].as_str().unwrap().to_owned();
    let job = server.wait_for_job(
        &id,
        &[("X-Api-Key", KEY)],
        Duration::from_secs(120),
        |job: &Value| !matches!(job["status"].as_str(), Some("QUEUED" | "RUNNING")),
    );
    assert_eq!(job["status"], "COMPLETED", "{job}");

    // Kept after the run (under target/), for reading or `st replay`.
    let reports = Path::new(env!("CARGO_TARGET_TMPDIR")).join("schemathesis-report");
    // Only this run's: a cassette is some megabytes.
    let _ = std::fs::remove_dir_all(&reports);
    let examples = env_number("EARMARK_SCHEMATHESIS_EXAMPLES", 12).to_string();
    let seconds = env_number("EARMARK_SCHEMATHESIS_SECONDS", 150);
    let started = Instant::now();
    let out = Command::new(vendored("schemathesis/venv/bin/schemathesis"))
        .arg("--config-file")
        .arg(repo_root().join("tests/schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/openapi.json", server.base))
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", &examples])
        .args(["--max-time", &seconds.to_string()])
        .args(["--seed", "20261204"])
        // One worker: schemathesis' workers are threads, and Python 3.11's `ast` module (used
        // by hypothesis to describe its lambdas) keeps its recursion count in state shared by
        // all threads, so two parses at once can fail with "AST constructor recursion depth
        // mismatch" (CPython gh-106905), an error of the tool that fails the run, as it did in CI.
        .args(["--workers", "1"])
        // Sign-in and profile operations start audible-cli's Python (about a second idle, 3 s
        // seen in this run alone); on a CI machine whose 2 cores also run the rest of the
        // suite that can pass 20 s, which schemathesis reports as an error, not a finding.
        .args(["--request-timeout", "90"])
        .args(["--header", &format!("X-Api-Key: {KEY}")])
        // Valid requests carry the key above and nothing else: a generated `Authorization`
        // beside it is a wrong key, which earmark refuses. The ignored_auth check still sends
        // requests without credentials and with wrong ones.
        .args(["--generation-with-security-parameters", "false"])
        .args(["--suppress-health-check", "all"])
        .args(["--report", "junit,vcr"])
        .arg("--report-dir")
        .arg(&reports)
        .arg("--no-color")
        .args(["--generation-database", "none"])
        .current_dir(cwd.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "schemathesis ran {:.0} s:\n{stdout}\n{stderr}",
        started.elapsed().as_secs_f64()
    );
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(reports.join("output.txt"), stdout.as_bytes()).unwrap();
    assert!(
        out.status.success(),
        "schemathesis found disagreements between server and document:\n{}",
        // CI shows the end of a failed test's output: repeat what went wrong there.
        what_went_wrong(&stdout, &stderr)
    );
    // A run that tested nothing passes too; make sure it tested the API.
    assert!(
        stdout.contains("passed") && !stdout.contains("No operations"),
        "{stdout}"
    );
    drop(fake);
}

#[test]
fn a_failed_run_is_told_by_its_errors_and_failures_or_else_by_its_end() {
    let report = "lots of progress\n\
        ==================== ERRORS ====================\n\
        ____ POST /auth/audible/login ____\nRead timed out\n\
        ==================== FAILURES ====================\nServer error\n\
        ==================== SUMMARY ====================\nTest cases: 10\n";
    let told = what_went_wrong(report, "");
    assert!(
        told.starts_with("=") && told.contains("Read timed out"),
        "{told}"
    );
    assert!(
        told.contains("Server error") && !told.contains("progress"),
        "{told}"
    );
    assert!(!told.contains("Test cases"), "{told}");
    let crashed = what_went_wrong("collecting the schema", "Traceback: KeyError");
    assert!(crashed.ends_with("Traceback: KeyError"), "{crashed}");
    let long = "é".repeat(10_000);
    assert!(what_went_wrong(&long, "").len() <= 8000);
}
