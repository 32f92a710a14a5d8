use std::sync::Mutex;

use async_trait::async_trait;
use earmark_core::ports::{Enqueued, JobQueueError};
use earmark_core::{NewJob, Settings, TaskType};
use earmark_db::testing::TestDb;

use super::*;

/// Records what was asked and queues it in a real queue; refuses when told to.
struct Asked {
    queue: Arc<dyn earmark_core::ports::JobQueue>,
    jobs: Mutex<Vec<NewJob>>,
    refuse: Mutex<bool>,
}

impl Asked {
    fn new(db: &TestDb) -> Self {
        Self {
            queue: db.db.jobs.clone(),
            jobs: Mutex::default(),
            refuse: Mutex::default(),
        }
    }
}

#[async_trait]
impl JobSubmitter for Asked {
    async fn submit(&self, job: NewJob) -> Result<Enqueued, JobQueueError> {
        if *self.refuse.lock().unwrap() {
            return Err(JobQueueError::Unavailable("the queue is away".into()));
        }
        self.jobs.lock().unwrap().push(job.clone());
        self.queue.enqueue(job).await
    }
}

const MIN: Duration = Duration::from_secs(300);

async fn with_interval(db: &TestDb, interval_s: u64) {
    db.db
        .settings
        .save(&Settings {
            auto_sync_interval_s: interval_s,
            ..Settings::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_due_sync_is_asked_for_once_and_the_next_is_kept() {
    let db = TestDb::sqlite().await;
    let (settings, schedule) = (db.db.settings.clone(), db.db.schedule.clone());
    let asked = Asked::new(&db);

    // Off: nothing asked, nothing kept.
    tick(&asked, &*settings, &*schedule, MIN).await.unwrap();
    assert!(asked.jobs.lock().unwrap().is_empty());
    assert_eq!(schedule.next_sync_at().await.unwrap(), None);

    // On: a sync at once, the next an hour later; the next tick waits.
    with_interval(&db, 3600).await;
    let before = OffsetDateTime::now_utc();
    tick(&asked, &*settings, &*schedule, MIN).await.unwrap();
    tick(&asked, &*settings, &*schedule, MIN).await.unwrap();
    {
        let jobs = asked.jobs.lock().unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].spec.task_type(), TaskType::Sync);
    }
    let next = schedule.next_sync_at().await.unwrap().unwrap();
    let from_now = next - before;
    assert!(
        from_now >= time::Duration::HOUR
            && from_now < time::Duration::HOUR + time::Duration::MINUTE,
        "{from_now}"
    );

    // Missed while the server was down: one sync, not one per missed interval.
    schedule
        .set_next_sync_at(Some(before - time::Duration::hours(5)))
        .await
        .unwrap();
    tick(&asked, &*settings, &*schedule, MIN).await.unwrap();
    tick(&asked, &*settings, &*schedule, MIN).await.unwrap();
    assert_eq!(asked.jobs.lock().unwrap().len(), 2);

    // Off again: the kept time is forgotten.
    with_interval(&db, 0).await;
    tick(&asked, &*settings, &*schedule, MIN).await.unwrap();
    assert_eq!(schedule.next_sync_at().await.unwrap(), None);
    assert_eq!(asked.jobs.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_sync_that_cannot_be_asked_for_stays_due() {
    let db = TestDb::sqlite().await;
    let (settings, schedule) = (db.db.settings.clone(), db.db.schedule.clone());
    with_interval(&db, 3600).await;
    // Whole microseconds: what the store keeps.
    let due = OffsetDateTime::now_utc() - time::Duration::MINUTE;
    let due = due
        .replace_nanosecond(due.nanosecond() / 1000 * 1000)
        .unwrap();
    schedule.set_next_sync_at(Some(due)).await.unwrap();
    let asked = Asked::new(&db);
    *asked.refuse.lock().unwrap() = true;
    assert!(tick(&asked, &*settings, &*schedule, MIN).await.is_err());
    assert_eq!(schedule.next_sync_at().await.unwrap(), Some(due));

    *asked.refuse.lock().unwrap() = false;
    tick(&asked, &*settings, &*schedule, MIN).await.unwrap();
    assert_eq!(asked.jobs.lock().unwrap().len(), 1);
    assert!(schedule.next_sync_at().await.unwrap().unwrap() > due);
}

#[tokio::test]
async fn the_running_loop_asks_when_switched_on() {
    let db = TestDb::sqlite().await;
    let asked = Arc::new(Asked::new(&db));
    start_auto_sync(
        asked.clone(),
        db.db.settings.clone(),
        db.db.schedule.clone(),
        AutoSyncPacing {
            min_interval: MIN,
            tick: Duration::from_millis(20),
        },
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(asked.jobs.lock().unwrap().is_empty());
    with_interval(&db, 3600).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while asked.jobs.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(asked.jobs.lock().unwrap().len(), 1);
}
