//! The runner against real processes: output, exit codes, timeouts, cancel of whole trees.
#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test crate fail by panicking"
)]

use std::future::pending;
use std::path::Path;
use std::time::{Duration, Instant};

use earmark_process::{Line, OutputStream, ProcessError, ProcessSpec, run};

fn sh(script: &str) -> ProcessSpec {
    ProcessSpec::new("/bin/sh", ["-c", script])
}

async fn collect(
    spec: &ProcessSpec,
) -> (Result<std::process::ExitStatus, ProcessError>, Vec<Line>) {
    let mut lines = Vec::new();
    let result = run(spec, pending(), |line| lines.push(line)).await;
    (result, lines)
}

/// Whether `pid` still runs. A zombie (dead, not yet reaped by whoever adopted it) does not.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// SIGKILL is delivered asynchronously: give the kernel a moment before calling a process alive.
fn dies_soon(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn both_outputs_arrive_line_by_line_with_carriage_returns_split() {
    let (result, lines) = collect(&sh(
        "printf 'a\\rb\\r\\nc\\n'; printf 'oops\\n' >&2; printf tail",
    ))
    .await;
    assert!(result.unwrap().success());
    let out: Vec<_> = lines
        .iter()
        .filter(|l| l.stream == OutputStream::Stdout)
        .map(|l| l.text.as_str())
        .collect();
    let err: Vec<_> = lines
        .iter()
        .filter(|l| l.stream == OutputStream::Stderr)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(out, ["a", "b", "c", "tail"]);
    assert_eq!(err, ["oops"]);
}

#[tokio::test]
async fn exit_codes_are_returned_not_judged() {
    let (result, _) = collect(&sh("exit 3")).await;
    assert_eq!(result.unwrap().code(), Some(3));
}

#[tokio::test]
async fn arguments_are_never_interpreted_by_a_shell() {
    let spec = ProcessSpec::new("/bin/echo", ["$(touch /tmp/earmark-pwned)", "*", "a;b"]);
    let (result, lines) = collect(&spec).await;
    assert!(result.unwrap().success());
    assert_eq!(lines[0].text, "$(touch /tmp/earmark-pwned) * a;b");
}

#[tokio::test]
async fn stdin_is_closed() {
    let spec = ProcessSpec {
        timeout: Some(Duration::from_secs(5)),
        ..ProcessSpec::new("/bin/cat", Vec::<String>::new())
    };
    let (result, lines) = collect(&spec).await;
    assert!(result.unwrap().success(), "cat sees end of input at once");
    assert!(lines.is_empty());
}

#[tokio::test]
async fn stdin_input_is_delivered_then_closed() {
    let spec = ProcessSpec {
        timeout: Some(Duration::from_secs(5)),
        stdin: Some(b"line one\nline two".to_vec()),
        ..ProcessSpec::new("/bin/cat", Vec::<String>::new())
    };
    let (result, lines) = collect(&spec).await;
    assert!(
        result.unwrap().success(),
        "cat ends at the end of the input"
    );
    let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(text, ["line one", "line two"]);
}

#[tokio::test]
async fn secrets_never_reach_the_caller() {
    let mut spec =
        sh("echo 'AAXtoMP3 -A 1ceb00da header'; echo 'key=0123456789ABCDEF0123456789abcdef' >&2");
    spec.redactor
        .add("1CEB00DA")
        .add("0123456789abcdef0123456789abcdef");
    let (_, lines) = collect(&spec).await;
    let all: String = lines
        .iter()
        .map(|l| l.text.clone())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !all.to_lowercase().contains("1ceb00da")
            && !all.to_lowercase().contains("0123456789abcdef"),
        "{all}"
    );
    assert_eq!(all.matches("[redacted]").count(), 2, "{all}");
}

#[tokio::test]
async fn missing_and_non_executable_programs_are_told_apart() {
    let (result, _) = collect(&ProcessSpec::new("/nonexistent/tool", ["x"])).await;
    assert!(matches!(result, Err(ProcessError::NotFound(_))));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("tool");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    let (result, _) = collect(&ProcessSpec::new(&script, ["x"])).await;
    assert!(
        matches!(result, Err(ProcessError::PermissionDenied(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_timeout_ends_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let script = format!(
        "sleep 300 & echo $! >> {p}; echo $$ >> {p}; echo started; wait",
        p = pids.display()
    );
    let spec = ProcessSpec {
        timeout: Some(Duration::from_millis(500)),
        grace: Duration::from_millis(500),
        ..sh(&script)
    };
    let begun = Instant::now();
    let (result, lines) = collect(&spec).await;
    assert!(
        matches!(result, Err(ProcessError::TimedOut { .. })),
        "{result:?}"
    );
    assert!(begun.elapsed() < Duration::from_secs(5));
    assert_eq!(lines[0].text, "started");
    let pids = read_pids(&pids);
    assert_eq!(pids.len(), 2);
    for pid in pids {
        assert!(dies_soon(pid), "process {pid} of the group survived");
    }
}

#[tokio::test]
async fn cancel_kills_grandchildren_that_ignore_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let ready = dir.path().join("ready");
    // The grandchild ignores SIGTERM: only the SIGKILL after the grace period ends it.
    let script = format!(
        "sh -c 'trap \"\" TERM; echo $$ >> {p}; while true; do sleep 0.1; done' & echo $$ >> {p}; touch {r}; wait",
        p = pids.display(),
        r = ready.display()
    );
    let spec = ProcessSpec {
        grace: Duration::from_millis(300),
        ..sh(&script)
    };
    let ready_path = ready.clone();
    let cancel = async move {
        while !ready_path.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let result = run(&spec, cancel, |_| {}).await;
    assert!(
        matches!(result, Err(ProcessError::Cancelled(_))),
        "{result:?}"
    );
    let pids = read_pids(&pids);
    assert_eq!(pids.len(), 2, "parent and grandchild recorded");
    tokio::time::sleep(Duration::from_millis(100)).await;
    for pid in pids {
        assert!(
            dies_soon(pid),
            "process {pid} of the group survived the cancel"
        );
    }
}

#[tokio::test]
async fn a_background_child_holding_the_pipes_does_not_hang_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let script = format!("sleep 300 & echo $! > {}; echo done", pids.display());
    let begun = Instant::now();
    let (result, lines) = collect(&sh(&script)).await;
    assert!(result.unwrap().success());
    assert_eq!(lines.last().unwrap().text, "done");
    assert!(
        begun.elapsed() < Duration::from_secs(10),
        "returned after the drain period"
    );
    let pid = read_pids(&pids)[0];
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(dies_soon(pid), "the straggler was ended with the run");
}

#[tokio::test]
async fn dropping_the_run_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let script = format!(
        "sleep 300 & echo $! >> {p}; echo $$ >> {p}; wait",
        p = pids.display()
    );
    let spec = sh(&script);
    let running = run(&spec, pending(), |_| {});
    let _ = tokio::time::timeout(Duration::from_millis(500), running).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pids = read_pids(&pids);
    assert_eq!(pids.len(), 2);
    for pid in pids {
        assert!(dies_soon(pid), "process {pid} outlived its dropped run");
    }
}

#[tokio::test]
async fn tools_run_at_the_requested_niceness_and_their_children_inherit_it() {
    // `nice` without arguments prints the niceness it runs at; the child of a shell shows
    // that the whole group got it. The group is reniced just after the start, hence the nap.
    let mut spec = sh("sleep 0.2; nice; sh -c nice");
    spec.niceness = 7;
    let (status, lines) = collect(&spec).await;
    assert!(status.unwrap().success());
    let shown: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(shown, ["7", "7"]);

    spec.niceness = 0;
    let (_, lines) = collect(&spec).await;
    let own = rustix::process::getpriority_process(None)
        .unwrap()
        .to_string();
    assert!(lines.iter().all(|l| l.text == own), "{lines:?}");
}

#[tokio::test]
async fn a_held_group_stands_still_and_its_timeout_waits() {
    let dir = tempfile::tempdir().unwrap();
    let beats = dir.path().join("beats");
    // A grandchild that writes a beat every 50 ms, and a parent that counts to 30 in about
    // 1.5 s of running time; the timeout (2.5 s) is shorter than the run with its hold.
    let script = format!(
        "(while :; do echo x >> {b}; sleep 0.05; done) & i=0; while [ $i -lt 30 ]; do echo $i; i=$((i+1)); sleep 0.05; done; kill $!",
        b = beats.display()
    );
    let spec = ProcessSpec {
        timeout: Some(Duration::from_millis(2500)),
        ..sh(&script)
    };
    let (hold, held) = tokio::sync::watch::channel(false);
    let beats_seen = beats.clone();
    let holder = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        hold.send(true).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let at_hold = std::fs::read_to_string(&beats_seen).unwrap().len();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let after_hold = std::fs::read_to_string(&beats_seen).unwrap().len();
        hold.send(false).unwrap();
        (at_hold, after_hold)
    });
    let begun = Instant::now();
    let mut lines = Vec::new();
    let result = earmark_process::held_by(held, run(&spec, pending(), |l| lines.push(l))).await;
    let (at_hold, after_hold) = holder.await.unwrap();
    assert!(
        result.unwrap().success(),
        "the hold did not count against the timeout"
    );
    assert!(
        begun.elapsed() > Duration::from_millis(2500),
        "it stood still while held"
    );
    assert_eq!(at_hold, after_hold, "the grandchild stood still too");
    assert_eq!(lines.len(), 30, "and went on where it was");
}
