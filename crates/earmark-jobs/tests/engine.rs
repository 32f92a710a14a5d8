//! The engine with real subprocesses (a stand-in tool run by `/bin/sh`) on a real SQLite queue.
#![expect(
    clippy::unwrap_used,
    reason = "helpers of a test crate fail by panicking"
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use earmark_contract::{asin, record};
use earmark_core::ports::JobHandler;
use earmark_core::{BookStatus, Job, JobEvent, JobId, JobStatus, TaskType};
use earmark_db::testing::TestDb;
use earmark_jobs::{BackOff, Engine, EngineConfig};
use earmark_testkit::stand_in::StandIn;

struct Rig {
    engine: Engine,
    handler: Arc<StandIn>,
    db: TestDb,
    data: tempfile::TempDir,
}

impl Rig {
    async fn new(tune: impl FnOnce(&mut EngineConfig)) -> Self {
        let db = TestDb::sqlite().await;
        let data = tempfile::tempdir().unwrap();
        let mut config = EngineConfig::new(data.path().join("logs"), data.path().join("tmp"), 3, 2);
        config.poll_interval = Duration::from_millis(200);
        config.stop_grace = Duration::from_millis(500);
        config.back_off = BackOff {
            transient: Duration::from_millis(300),
            throttled: Duration::from_millis(300),
            stalled: Duration::from_millis(300),
            max: Duration::from_secs(1),
        };
        tune(&mut config);
        let handler = Arc::new(StandIn::following_books(db.db.library.clone()));
        let handlers: HashMap<TaskType, Arc<dyn JobHandler>> = TaskType::ALL
            .iter()
            .map(|t| (*t, handler.clone() as Arc<dyn JobHandler>))
            .collect();
        let engine = Engine::new(db.db.jobs.clone(), handlers, config);
        Self {
            engine,
            handler,
            db,
            data,
        }
    }

    fn tmp(&self) -> PathBuf {
        self.data.path().join("tmp")
    }

    /// The scratch directories of `job` (one per attempt, `<id>.<attempt>`) still on disk.
    fn scratch_of(&self, job: &Job) -> Vec<String> {
        std::fs::read_dir(self.tmp())
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|name| name.starts_with(&job.id.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn submit(&self, task_type: TaskType, n: u32, script: &str) -> Job {
        let job = self.handler.job(task_type, asin(n), script);
        self.engine.submit(job).await.unwrap().job
    }

    async fn wait_for(&self, id: JobId, status: JobStatus) -> Job {
        for _ in 0..300 {
            let job = self.engine.queue().get(id).await.unwrap();
            if job.status == status {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "job {id} never became {status}: {:?}",
            self.engine.queue().get(id).await.unwrap()
        );
    }
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
    })
}

/// SIGKILL is delivered asynchronously: give the kernel a moment before calling a process alive.
fn dies_soon(pid: i32) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while alive(pid) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

fn statuses_of(events: &[JobEvent], id: JobId) -> Vec<JobStatus> {
    let mut seen: Vec<JobStatus> = Vec::new();
    for event in events {
        if let JobEvent::Status(job) = event
            && job.id == id
            && seen.last() != Some(&job.status)
        {
            seen.push(job.status);
        }
    }
    seen
}

fn drain(rx: &mut tokio::sync::broadcast::Receiver<JobEvent>) -> Vec<JobEvent> {
    let mut events = Vec::new();
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_jobs_per_lane_run_at_each_lanes_limit_side_by_side() {
    let rig = Rig::new(|_| {}).await;
    let mut ids = Vec::new();
    for n in 1..=50 {
        ids.push(rig.submit(TaskType::Download, n, "sleep 0.05").await.id);
        ids.push(rig.submit(TaskType::Convert, n, "sleep 0.05").await.id);
    }
    rig.engine.start();
    for id in ids {
        rig.wait_for(id, JobStatus::Completed).await;
    }
    assert_eq!(
        rig.handler.most[0].load(Ordering::SeqCst),
        3,
        "download lane limit"
    );
    assert_eq!(
        rig.handler.most[1].load(Ordering::SeqCst),
        2,
        "convert lane limit"
    );
    assert!(
        rig.handler.lanes_overlapped.load(Ordering::SeqCst),
        "both lanes ran at the same time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_announced_queued_then_running_with_its_progress_and_log() {
    let rig = Rig::new(|_| {}).await;
    rig.db
        .db
        .library
        .upsert_books(vec![record(1)])
        .await
        .unwrap();
    let mut events = rig.engine.subscribe();
    let job = rig
        .submit(
            TaskType::Download,
            1,
            "echo hello; printf 'progress: 40\\r'; echo 'x' > out.bin; echo bye",
        )
        .await;
    rig.engine.start();
    let done = rig.wait_for(job.id, JobStatus::Completed).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let events = drain(&mut events);
    assert_eq!(
        statuses_of(&events, job.id),
        [JobStatus::Queued, JobStatus::Running, JobStatus::Completed]
    );
    let logs: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            JobEvent::Log { line, .. } => Some(line.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(logs, ["hello", "bye"]);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, JobEvent::Progress { percent, .. } if *percent == 40.0))
    );
    assert_eq!(done.progress_percent, 100.0);
    let log = std::fs::read_to_string(done.log_file_path.unwrap()).unwrap();
    assert_eq!(log, "hello\nbye\n");
    assert_eq!(
        rig.scratch_of(&job),
        Vec::<String>::new(),
        "scratch directory removed"
    );
    assert_eq!(
        rig.db.db.library.get_book(&asin(1)).await.unwrap().status,
        BookStatus::Downloaded
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_whole_process_tree_and_cleans_up() {
    let rig = Rig::new(|_| {}).await;
    rig.db
        .db
        .library
        .upsert_books(vec![record(2)])
        .await
        .unwrap();
    let pids = rig.data.path().join("pids");
    let script = format!(
        "sh -c 'trap \"\" TERM; echo $$ >> {p}; while true; do sleep 0.1; done' & echo $$ >> {p}; echo partial > part.tmp; echo ready; wait",
        p = pids.display()
    );
    let job = rig.submit(TaskType::Download, 2, &script).await;
    rig.engine.start();
    rig.wait_for(job.id, JobStatus::Running).await;
    while std::fs::read_to_string(&pids)
        .map(|p| p.lines().count())
        .unwrap_or(0)
        < 2
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancelled = rig.engine.cancel(job.id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for pid in std::fs::read_to_string(&pids).unwrap().lines() {
        assert!(
            dies_soon(pid.parse().unwrap()),
            "process {pid} survived the cancel"
        );
    }
    assert_eq!(
        rig.scratch_of(&job),
        Vec::<String>::new(),
        "partial files removed"
    );
    assert_eq!(
        rig.db.db.library.get_book(&asin(2)).await.unwrap().status,
        BookStatus::New
    );
    assert!(
        rig.engine.cancel(job.id).await.is_err(),
        "a finished job cannot be cancelled again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_leaves_the_book_as_its_files_say() {
    let rig = Rig::new(|_| {}).await;
    let library = rig.db.db.library.clone();
    library
        .upsert_books(vec![record(5), record(6)])
        .await
        .unwrap();
    let downloaded = earmark_core::BookUpdate {
        local_path_aax: Some(Some(
            "/data/downloads/B000000005/B000000005-AAX.aaxc".into(),
        )),
        status: Some(BookStatus::Downloaded),
        ..earmark_core::BookUpdate::default()
    };
    library.update_book(&asin(5), downloaded).await.unwrap();
    rig.engine.start();
    // A forced re-download of a downloaded book, and a first download, both cancelled.
    let again = rig.submit(TaskType::Download, 5, "sleep 30").await;
    let first = rig.submit(TaskType::Download, 6, "sleep 30").await;
    rig.wait_for(again.id, JobStatus::Running).await;
    rig.wait_for(first.id, JobStatus::Running).await;
    // The book is marked just after its job is claimed (a whole-suite CI run on two cores
    // looked in between): give it a moment.
    let mut marked = BookStatus::Downloaded;
    for _ in 0..100 {
        marked = library.get_book(&asin(5)).await.unwrap().status;
        if marked == BookStatus::Downloading {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(marked, BookStatus::Downloading);
    rig.engine.cancel(again.id).await.unwrap();
    rig.engine.cancel(first.id).await.unwrap();
    rig.wait_for(again.id, JobStatus::Cancelled).await;
    rig.wait_for(first.id, JobStatus::Cancelled).await;
    // The book is updated just after the job: give it a moment.
    let mut statuses = (BookStatus::Downloading, BookStatus::Downloading);
    for _ in 0..100 {
        statuses = (
            library.get_book(&asin(5)).await.unwrap().status,
            library.get_book(&asin(6)).await.unwrap().status,
        );
        if statuses.0 != BookStatus::Downloading && statuses.1 != BookStatus::Downloading {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(statuses, (BookStatus::Downloaded, BookStatus::New));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_job_is_cancelled_at_once() {
    let rig = Rig::new(|_| {}).await;
    let job = rig.submit(TaskType::Convert, 3, "true").await;
    let cancelled = rig.engine.cancel(job.id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    let retried = rig.engine.retry(job.id).await.unwrap();
    assert!(retried.created);
    assert_eq!(retried.job.original_job_id, Some(job.id));
    assert!(
        rig.engine.retry(retried.job.id).await.is_err(),
        "a queued job is not retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_back_off_then_fail_when_attempts_run_out() {
    let rig = Rig::new(|c| c.max_attempts = 2).await;
    rig.db
        .db
        .library
        .upsert_books(vec![record(4)])
        .await
        .unwrap();
    let mut events = rig.engine.subscribe();
    let job = rig
        .submit(TaskType::Download, 4, "echo 'network down' >&2; exit 1")
        .await;
    rig.engine.start();
    let failed = rig.wait_for(job.id, JobStatus::Failed).await;
    assert_eq!(failed.attempts, 2);
    assert!(failed.error.unwrap().contains("exited with"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seen = statuses_of(&drain(&mut events), job.id);
    assert_eq!(
        seen,
        [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Pending,
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Failed
        ]
    );
    let book = rig.db.db.library.get_book(&asin(4)).await.unwrap();
    assert_eq!(book.status, BookStatus::Failed);
    assert!(book.error_message.unwrap().contains("exited with"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failures_are_not_retried() {
    let rig = Rig::new(|_| {}).await;
    let for_good = rig
        .handler
        .failing_for_good(TaskType::Convert, asin(5), "exit 2");
    let job = rig.engine.submit(for_good).await.unwrap().job;
    rig.engine.start();
    let failed = rig.wait_for(job.id, JobStatus::Failed).await;
    assert_eq!(failed.attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_stops_a_silent_job_that_writes_nothing() {
    let rig = Rig::new(|c| {
        c.stall_after = Duration::from_secs(2);
        c.max_attempts = 1;
    })
    .await;
    let busy = rig
        .submit(
            TaskType::Download,
            6,
            "for i in 1 2 3 4 5 6; do head -c 1000 /dev/zero >> growing.bin; sleep 0.5; done",
        )
        .await;
    let silent = rig.submit(TaskType::Download, 7, "sleep 300").await;
    rig.engine.start();
    let stalled = rig.wait_for(silent.id, JobStatus::Failed).await;
    assert!(stalled.error.unwrap().contains("no output"));
    rig.wait_for(busy.id, JobStatus::Completed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_left_running_by_a_crash_are_requeued_and_finish() {
    let rig = Rig::new(|_| {}).await;
    let job = rig.submit(TaskType::Convert, 8, "echo recovered").await;
    // A previous process claimed it, left a scratch directory, and died.
    rig.engine
        .queue()
        .claim_next(TaskType::Convert)
        .await
        .unwrap()
        .unwrap();
    let stale = rig.tmp().join(format!("{}.1", job.id));
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("half.m4b"), b"partial").unwrap();

    let report = rig.engine.recover().await.unwrap();
    assert_eq!(
        report.requeued.iter().map(|j| j.id).collect::<Vec<_>>(),
        [job.id]
    );
    assert!(
        !stale.exists(),
        "stale scratch removed before anything runs"
    );
    rig.engine.start();
    let done = rig.wait_for(job.id, JobStatus::Completed).await;
    assert_eq!(done.attempts, 2);
    assert!(Path::new(&done.log_file_path.unwrap()).exists());
    assert_eq!(rig.scratch_of(&job), Vec::<String>::new());
}
