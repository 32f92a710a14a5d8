use std::sync::Mutex;

use mockall::predicate;

use super::*;
use crate::domain::job::TaskType;
use crate::ports::MockLibraryRepo;
use crate::testing::RecordingContext;

fn record(n: u32) -> BookRecord {
    BookRecord {
        asin: Asin::parse(&format!("B{n:09}")).unwrap(),
        title: format!("Book {n}"),
        subtitle: None,
        author: None,
        narrator: None,
        series: None,
        series_sequence: None,
        series_asin: None,
        runtime_min: None,
        cover_url: None,
        release_date: None,
        purchase_date: None,
        metadata_json: serde_json::json!({}),
        parent: None,
    }
}

fn ctx(params: serde_json::Value) -> RecordingContext {
    let spec = JobSpec::read(TaskType::Sync, None, &params.to_string());
    RecordingContext::new(spec, "/nonexistent")
}

struct Source(
    Result<Vec<BookRecord>, LibrarySourceError>,
    Mutex<Option<String>>,
);

#[async_trait]
impl LibrarySource for Source {
    async fn fetch_library(
        &self,
        profile: Option<&str>,
        _ctx: &dyn JobContext,
    ) -> Result<Vec<BookRecord>, LibrarySourceError> {
        *self.1.lock().unwrap() = profile.map(str::to_owned);
        self.0.clone()
    }

    async fn fetch_children(
        &self,
        _profile: Option<&str>,
        parents: &[BookRecord],
        _ctx: &dyn JobContext,
    ) -> Result<Vec<BookRecord>, LibrarySourceError> {
        panic!("{} parents read in a library of none", parents.len())
    }
}

fn sync(source: Source, repo: MockLibraryRepo) -> (Arc<Source>, LibrarySync) {
    let source = Arc::new(source);
    let sync = LibrarySync::new(source.clone(), Arc::new(repo)).with_batch(1000);
    (source, sync)
}

#[tokio::test]
async fn a_failed_fetch_writes_nothing() {
    for (err, class) in [
        (LibrarySourceError::NoProfile(None), FailureClass::Permanent),
        (
            LibrarySourceError::AuthRejected("401".into()),
            FailureClass::Permanent,
        ),
        (
            LibrarySourceError::Network("refused".into()),
            FailureClass::Transient,
        ),
        (LibrarySourceError::TimedOut(60), FailureClass::Transient),
        (
            LibrarySourceError::Throttled("429".into()),
            FailureClass::Throttled,
        ),
    ] {
        // A mock with no expectations panics on any call: nothing may be written.
        let (_, sync) = sync(
            Source(Err(err.clone()), Mutex::default()),
            MockLibraryRepo::new(),
        );
        let failure = sync.run(&ctx(serde_json::json!({}))).await.unwrap_err();
        assert_eq!(failure.class, class, "{err}");
        assert_eq!(failure.message, err.to_string());
    }
}

#[tokio::test]
async fn records_go_in_batches_then_the_missing_are_tombstoned() {
    let mut records: Vec<BookRecord> = (1..=2500).map(record).collect();
    records.push(record(7)); // audible-cli may list a book twice
    let mut repo = MockLibraryRepo::new();
    let mut seq = mockall::Sequence::new();
    for size in [1000, 1000, 501] {
        repo.expect_upsert_books()
            .withf(move |batch| batch.len() == size)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|batch| {
                Ok(UpsertSummary {
                    inserted: batch.len() as u64,
                    ..UpsertSummary::default()
                })
            });
    }
    repo.expect_mark_removed_except()
        .withf(|present| present.len() == 2500)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(3));
    let (source, sync) = sync(Source(Ok(records), Mutex::default()), repo);
    let ctx = ctx(serde_json::json!({"profile": "audible"}));
    sync.run(&ctx).await.unwrap();
    assert_eq!(source.1.lock().unwrap().as_deref(), Some("audible"));
    let progress = ctx.percents();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&100.0));
}

#[tokio::test]
async fn a_failed_batch_lays_no_tombstone() {
    let mut repo = MockLibraryRepo::new();
    repo.expect_upsert_books()
        .with(predicate::function(|b: &Vec<BookRecord>| b.len() == 1000))
        .times(1)
        .returning(|_| Ok(UpsertSummary::default()));
    repo.expect_upsert_books()
        .times(1)
        .returning(|_| Err(LibraryRepoError::Unavailable("pool timed out".into())));
    // No expectation for mark_removed_except: calling it would panic.
    let (_, sync) = sync(
        Source(Ok((1..=1500).map(record).collect()), Mutex::default()),
        repo,
    );
    let failure = sync.run(&ctx(serde_json::json!({}))).await.unwrap_err();
    assert_eq!(failure.class, FailureClass::Transient);
    assert!(
        failure.message.contains("pool timed out"),
        "{}",
        failure.message
    );
}

/// A repo that knew `known` before the sync and takes any upsert.
fn repo_knowing(known: &'static [u32]) -> MockLibraryRepo {
    let mut repo = MockLibraryRepo::new();
    repo.expect_known_asins().returning(move |asked| {
        Ok(asked
            .iter()
            .filter(|a| known.iter().any(|n| record(*n).asin == **a))
            .cloned()
            .collect())
    });
    repo.expect_upsert_books()
        .returning(|_| Ok(UpsertSummary::default()));
    repo.expect_mark_removed_except().returning(|_| Ok(0));
    repo
}

fn settings_store(settings: crate::Settings) -> Arc<dyn SettingsStore> {
    let mut store = crate::ports::MockSettingsStore::new();
    store.expect_load().returning(move || Ok(settings.clone()));
    Arc::new(store)
}

#[tokio::test]
async fn books_new_to_the_library_are_queued_for_download_when_asked() {
    let on = crate::Settings {
        auto_download_new: true,
        auto_convert: true,
        ..crate::Settings::default()
    };
    let records = || (1..=3).map(record).collect::<Vec<_>>();

    let sync = LibrarySync::new(
        Arc::new(Source(Ok(records()), Mutex::default())),
        Arc::new(repo_knowing(&[1, 2])),
    )
    .with_new_books(settings_store(on.clone()));
    let asked = ctx(serde_json::json!({"profile": "audible"}));
    let effects = sync.run(&asked).await.unwrap();
    let [job] = effects.follow_ups.as_slice() else {
        panic!("{effects:?}")
    };
    let JobSpec::Download(asin, params) = &job.spec else {
        panic!("{job:?}")
    };
    assert_eq!(asin, &record(3).asin);
    assert_eq!(params.profile.as_deref(), Some("audible"));
    assert!(params.convert.is_some());
    assert!(
        asked.log_text().contains("B000000003"),
        "{}",
        asked.log_text()
    );
    assert!(
        asked
            .messages()
            .last()
            .unwrap()
            .contains("1 new books queued")
    );

    // A first sync queues nothing: its books are the library as it stands.
    let sync = LibrarySync::new(
        Arc::new(Source(Ok(records()), Mutex::default())),
        Arc::new(repo_knowing(&[])),
    )
    .with_new_books(settings_store(on));
    let first = ctx(serde_json::json!({}));
    assert!(sync.run(&first).await.unwrap().follow_ups.is_empty());
    assert!(first.log_text().contains("first sync"));

    // Switched off: nothing.
    let sync = LibrarySync::new(
        Arc::new(Source(Ok(records()), Mutex::default())),
        Arc::new(repo_knowing(&[1])),
    )
    .with_new_books(settings_store(crate::Settings::default()));
    assert!(
        sync.run(&ctx(serde_json::json!({})))
            .await
            .unwrap()
            .follow_ups
            .is_empty()
    );
}

fn stored(n: u32) -> Book {
    Book {
        record: record(n),
        status: crate::BookStatus::New,
        local_path_aax: None,
        local_path_voucher: None,
        local_path_cover: None,
        local_path_converted: None,
        conversion_format: None,
        error_message: None,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        removed_at: None,
        progress: None,
    }
}

#[derive(Default)]
struct Told(Mutex<Vec<Notification>>);

#[async_trait]
impl Notifier for Told {
    async fn notify(&self, notifications: Vec<Notification>) {
        self.0.lock().unwrap().extend(notifications);
    }
}

#[tokio::test]
async fn the_notifier_is_told_of_books_added_and_removed() {
    let mut repo = MockLibraryRepo::new();
    // Before: books 1 and 2. The fetch: 1 and 3.
    repo.expect_library_books()
        .returning(|| Ok(vec![stored(1), stored(2)]));
    repo.expect_upsert_books()
        .returning(|_| Ok(UpsertSummary::default()));
    repo.expect_mark_removed_except().returning(|_| Ok(1));
    let told = Arc::new(Told::default());
    let sync = LibrarySync::new(
        Arc::new(Source(Ok(vec![record(1), record(3)]), Mutex::default())),
        Arc::new(repo),
    )
    .with_notifier(told.clone());
    sync.run(&ctx(serde_json::json!({}))).await.unwrap();
    let told: Vec<(WebhookEvent, serde_json::Value)> = told
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|n| (n.event, n.data["asin"].clone()))
        .collect();
    assert_eq!(
        told,
        [
            (WebhookEvent::BookAdded, serde_json::json!("B000000003")),
            (WebhookEvent::BookRemoved, serde_json::json!("B000000002")),
        ]
    );
}

#[tokio::test]
async fn a_first_sync_tells_of_no_book_added() {
    let mut repo = MockLibraryRepo::new();
    repo.expect_library_books().returning(|| Ok(Vec::new()));
    repo.expect_upsert_books()
        .returning(|_| Ok(UpsertSummary::default()));
    repo.expect_mark_removed_except().returning(|_| Ok(0));
    let told = Arc::new(Told::default());
    let sync = LibrarySync::new(
        Arc::new(Source(Ok(vec![record(1), record(3)]), Mutex::default())),
        Arc::new(repo),
    )
    .with_notifier(told.clone());
    sync.run(&ctx(serde_json::json!({}))).await.unwrap();
    assert!(told.0.lock().unwrap().is_empty());
}
