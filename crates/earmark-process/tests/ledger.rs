//! The ledger ends what a crash orphaned, and nothing else.
#![expect(clippy::unwrap_used, reason = "test set-up fails the test")]

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use earmark_process::Ledger;
use rustix::process::Pid;

fn gone(child: &mut std::process::Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn reaping_kills_recorded_groups_with_their_children_and_empties_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::new(dir.path().join("run"));
    // A group like an orphaned tool's: a shell and a child of its own.
    let mut orphan = Command::new("/bin/sh")
        .args(["-c", "sleep 60 & wait"])
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = Pid::from_raw(orphan.id() as i32).unwrap();
    ledger.record(pgid);
    assert_eq!(
        std::fs::read_dir(dir.path().join("run")).unwrap().count(),
        1
    );

    let killed = Ledger::new(dir.path().join("run")).reap();
    assert_eq!(killed, [orphan.id() as i32]);
    assert!(gone(&mut orphan), "the recorded group still runs");
    let left = std::fs::read_dir(dir.path().join("run")).unwrap().count();
    assert_eq!(left, 0, "the ledger keeps entries");
}

#[test]
fn a_process_that_merely_got_a_recorded_id_again_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut bystander = Command::new("sleep")
        .arg("60")
        .process_group(0)
        .spawn()
        .unwrap();
    // The entry says the group's leader started at another time: the id was handed out again.
    std::fs::write(dir.path().join(bystander.id().to_string()), "1").unwrap();
    assert!(Ledger::new(dir.path()).reap().is_empty());
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "a bystander was killed"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

#[test]
fn reaping_an_absent_ledger_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        Ledger::new(dir.path().join("never-written"))
            .reap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_run_is_on_record_while_it_runs_and_off_it_after() {
    let dir = tempfile::tempdir().unwrap();
    let ledger_dir = dir.path().join("run");
    earmark_process::set_ledger(Ledger::new(&ledger_dir));
    let spec = earmark_process::ProcessSpec::new("/bin/sh", ["-c", "echo started; sleep 0.2"]);
    let mut seen_while_running = Vec::new();
    earmark_process::run(&spec, std::future::pending(), |_| {
        seen_while_running = std::fs::read_dir(&ledger_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
    })
    .await
    .unwrap();
    assert_eq!(seen_while_running.len(), 1, "{seen_while_running:?}");
    assert!(seen_while_running[0].parse::<i32>().is_ok());
    assert_eq!(std::fs::read_dir(&ledger_dir).unwrap().count(), 0);
}
