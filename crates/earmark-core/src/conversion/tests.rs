use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use time::OffsetDateTime;

use super::*;
use crate::domain::book::{BookRecord, BookStatus};
use crate::domain::file::StoredFile;
use crate::domain::format::OutputFormat;
use crate::domain::job::TaskType;
use crate::ports::{
    AudibleProfile, ConversionOutput, LoginStart, MockLibraryRepo, MockOutputStore, PlacedFile,
    ProducedFile,
};
use crate::testing::RecordingContext;

fn asin() -> Asin {
    Asin::parse("B000000001").unwrap()
}

fn book(downloaded: bool) -> Book {
    let now = OffsetDateTime::now_utc();
    Book {
        record: BookRecord {
            asin: asin(),
            title: "A Book".into(),
            subtitle: None,
            author: Some("Ann Author".into()),
            narrator: None,
            series: None,
            series_sequence: None,
            series_asin: None,
            runtime_min: None,
            cover_url: None,
            release_date: Some("2020-05-01".into()),
            purchase_date: None,
            metadata_json: serde_json::json!({}),
        },
        status: BookStatus::Downloaded,
        local_path_aax: downloaded
            .then(|| "/data/downloads/B000000001/B000000001-AAX_44_64.aax".into()),
        local_path_voucher: None,
        local_path_cover: None,
        local_path_converted: None,
        conversion_format: None,
        error_message: None,
        created_at: now,
        updated_at: now,
        removed_at: None,
    }
}

fn aax_file() -> StoredFile {
    StoredFile {
        id: uuid::Uuid::now_v7(),
        asin: asin(),
        kind: FileKind::Aax,
        path: "/data/downloads/B000000001/B000000001-AAX_44_64.aax".into(),
        size: 100 * 1024 * 1024,
        mime: "audio/vnd.audible.aax".into(),
        created_at: OffsetDateTime::now_utc(),
    }
}

fn ctx(params: serde_json::Value) -> RecordingContext {
    RecordingContext::new(TaskType::Convert, Some(asin()), params, "/data/tmp/job.1")
}

/// A converter that records its requests and "produces" one file.
#[derive(Default)]
struct FakeConverter {
    calls: AtomicUsize,
    saw_bytes: Mutex<Vec<bool>>,
}

#[async_trait]
impl Converter for FakeConverter {
    fn engine(&self) -> &'static str {
        "fake"
    }
    async fn convert(
        &self,
        request: &ConversionRequest,
        _ctx: &dyn JobContext,
    ) -> Result<ConversionOutput, ConvertError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.saw_bytes
            .lock()
            .unwrap()
            .push(request.input.activation_bytes.is_some());
        assert_eq!(request.out_dir, Path::new("/data/tmp/job.1/out"));
        Ok(ConversionOutput {
            files: vec![ProducedFile {
                relative: "Audiobook/Ann Author/A Book/A Book.m4b".into(),
                kind: FileKind::Converted,
                mime: "audio/mp4".into(),
            }],
            warnings: vec!["no cover".into()],
        })
    }
}

/// Accounts that hand out activation bytes and count how often they were asked.
#[derive(Default)]
struct FakeAccounts {
    asked: AtomicUsize,
}

#[async_trait]
impl AudibleAccounts for FakeAccounts {
    async fn start_login(&self, _: &str, _: bool) -> Result<LoginStart, AccountsError> {
        Err(AccountsError::Tool("unused".into()))
    }
    async fn finish_login(
        &self,
        _: &str,
        _: &str,
        _: bool,
        _: bool,
        _: &LoginStart,
        _: &str,
    ) -> Result<AudibleProfile, AccountsError> {
        Err(AccountsError::Tool("unused".into()))
    }
    async fn import(
        &self,
        _: &str,
        _: &str,
        _: bool,
        _: &str,
        _: Option<&str>,
    ) -> Result<AudibleProfile, AccountsError> {
        Err(AccountsError::Tool("unused".into()))
    }
    async fn profiles(&self) -> Result<Vec<AudibleProfile>, AccountsError> {
        Ok(Vec::new())
    }
    async fn set_primary(&self, _: &str) -> Result<AudibleProfile, AccountsError> {
        Err(AccountsError::Tool("unused".into()))
    }
    async fn activation_bytes(&self, _: Option<&str>) -> Result<ActivationBytes, AccountsError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(ActivationBytes::parse("1ceb00da").unwrap())
    }
    async fn remove(&self, _: &str) -> Result<(), AccountsError> {
        Ok(())
    }
}

fn store(free: u64, place: Option<Result<Vec<PlacedFile>, PlaceError>>) -> MockOutputStore {
    store_times(free, place, 1)
}

fn store_times(
    free: u64,
    place: Option<Result<Vec<PlacedFile>, PlaceError>>,
    times: usize,
) -> MockOutputStore {
    let mut store = MockOutputStore::new();
    store.expect_free_bytes().returning(move || Ok(free));
    if let Some(result) = place {
        let result = Mutex::new(result);
        store.expect_place().times(times).returning(move |_, _, _| {
            match &*result.lock().unwrap() {
                Ok(placed) => Ok(placed.clone()),
                Err(e) => Err(PlaceError::Exists(e.to_string())),
            }
        });
    } else {
        store.expect_place().never();
    }
    store
}

fn repo(downloaded: bool, expect_writes: bool) -> MockLibraryRepo {
    repo_times(downloaded, usize::from(expect_writes))
}

fn repo_times(downloaded: bool, writes: usize) -> MockLibraryRepo {
    let expect_writes = writes > 0;
    let mut repo = MockLibraryRepo::new();
    repo.expect_get_book()
        .returning(move |_| Ok(book(downloaded)));
    repo.expect_files_of().returning(move |_| {
        Ok(if downloaded {
            vec![aax_file()]
        } else {
            Vec::new()
        })
    });
    if expect_writes {
        repo.expect_add_file().times(writes).returning(|f| {
            Ok(StoredFile {
                id: uuid::Uuid::now_v7(),
                asin: f.asin,
                kind: f.kind,
                path: f.path,
                size: f.size,
                mime: f.mime,
                created_at: OffsetDateTime::now_utc(),
            })
        });
        repo.expect_update_book()
            .times(writes)
            .returning(|_, update| {
                assert_eq!(update.conversion_format, Some(Some(OutputFormat::M4b)));
                assert_eq!(
                    update.local_path_converted,
                    Some(Some(
                        "/data/converted/Audiobook/Ann Author/A Book/A Book.m4b".into()
                    ))
                );
                let mut b = book(true);
                b.conversion_format = Some(OutputFormat::M4b);
                Ok(b)
            });
    } else {
        repo.expect_add_file().never();
        repo.expect_update_book().never();
    }
    repo
}

fn placed() -> Vec<PlacedFile> {
    vec![PlacedFile {
        path: "/data/converted/Audiobook/Ann Author/A Book/A Book.m4b".into(),
        size: 42,
    }]
}

#[tokio::test]
async fn a_conversion_places_registers_and_caches_the_activation_bytes() {
    let converter = Arc::new(FakeConverter::default());
    let accounts = Arc::new(FakeAccounts::default());
    let handler = ConvertBook::new(
        converter.clone(),
        Arc::new(store_times(u64::MAX, Some(Ok(placed())), 2)),
        Arc::new(repo_times(true, 2)),
        accounts.clone(),
    );
    for _ in 0..2 {
        let ctx = ctx(serde_json::json!({"format": "m4b"}));
        handler.run(&ctx).await.unwrap();
        let last = ctx.messages().last().cloned().unwrap();
        assert!(
            last.contains("converted to m4b") && last.contains("no cover"),
            "{last}"
        );
    }
    assert_eq!(*converter.saw_bytes.lock().unwrap(), [true, true]);
    assert_eq!(
        accounts.asked.load(Ordering::SeqCst),
        1,
        "fetched once, then cached"
    );
}

#[tokio::test]
async fn not_enough_disk_fails_before_converting() {
    let converter = Arc::new(FakeConverter::default());
    let handler = ConvertBook::new(
        converter.clone(),
        Arc::new(store(10 * 1024 * 1024, None)),
        Arc::new(repo(true, false)),
        Arc::new(FakeAccounts::default()),
    );
    let err = handler
        .run(&ctx(serde_json::json!({"format": "flac"})))
        .await
        .unwrap_err();
    assert_eq!(err.class, FailureClass::Permanent);
    assert!(err.message.contains("not enough disk space"), "{err}");
    assert!(
        err.message.contains("1656 MiB"),
        "100 MiB of AAC × 14 + 256 MiB: {err}"
    );
    assert_eq!(converter.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_book_not_downloaded_says_to_download_it() {
    let converter = Arc::new(FakeConverter::default());
    let handler = ConvertBook::new(
        converter.clone(),
        Arc::new(store(u64::MAX, None)),
        Arc::new(repo(false, false)),
        Arc::new(FakeAccounts::default()),
    );
    let err = handler
        .run(&ctx(serde_json::json!({"format": "mp3"})))
        .await
        .unwrap_err();
    assert!(err.message.contains("POST /jobs/download"), "{err}");
    assert_eq!(converter.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_existing_output_is_not_clobbered_and_the_error_says_how() {
    let handler = ConvertBook::new(
        Arc::new(FakeConverter::default()),
        Arc::new(store(
            u64::MAX,
            Some(Err(PlaceError::Exists(
                "Audiobook/Ann Author/A Book/A Book.m4b".into(),
            ))),
        )),
        Arc::new(repo(true, false)),
        Arc::new(FakeAccounts::default()),
    );
    let err = handler
        .run(&ctx(serde_json::json!({"format": "m4b"})))
        .await
        .unwrap_err();
    assert_eq!(err.class, FailureClass::Permanent);
    assert!(err.message.contains("force: true"), "{err}");
}
