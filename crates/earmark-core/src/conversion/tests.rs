use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use time::OffsetDateTime;

use super::*;
use crate::domain::book::{BookRecord, BookStatus};
use crate::domain::file::{Fingerprint, StoredFile};
use crate::domain::format::OutputFormat;
use crate::ports::{
    AudibleProfile, ConversionOutput, LoginStart, MockLibraryRepo, MockOutputStore, Move,
    PlannedMove, ProducedFile,
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
            parent: None,
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
        progress: None,
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
    let spec = JobSpec::read(TaskType::Convert, Some(asin()), &params.to_string());
    RecordingContext::new(spec, "/data/tmp/job.1")
}

const OUTPUT: &str = "/data/converted/Audiobook/Ann Author/A Book/A Book.m4b";

fn fingerprint(inode: u64) -> Fingerprint {
    Fingerprint {
        size: 42,
        modified_ns: 1_700_000_000_000_000_000,
        inode,
    }
}

/// The record an earlier attempt left of the output it moved as `inode`.
fn recorded(inode: u64) -> OutputFile {
    OutputFile {
        kind: FileKind::Converted,
        path: OUTPUT.into(),
        mime: "audio/mp4".into(),
        fingerprint: fingerprint(inode),
    }
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

/// What is at the output's final path when the job looks.
#[derive(Clone, Copy)]
enum AtTarget {
    Nothing,
    /// A file with this inode.
    File(u64),
}

/// A store with `free` bytes that expects `moves` conversions to be moved in (each planned
/// against `at_target`), remembering every move it was asked for.
fn store_times(
    free: u64,
    at_target: AtTarget,
    moves: usize,
    asked: Arc<Mutex<Vec<Move>>>,
) -> MockOutputStore {
    let mut store = MockOutputStore::new();
    store.expect_free_bytes().returning(move || Ok(free));
    let existing = match at_target {
        AtTarget::Nothing => None,
        AtTarget::File(inode) => Some(fingerprint(inode)),
    };
    store
        .expect_fingerprint()
        .returning(move |path| Ok(existing.filter(|_| path == OUTPUT)));
    store.expect_plan().returning(move |_, files| {
        Ok(files
            .iter()
            .map(|relative| PlannedMove {
                relative: relative.clone(),
                target: format!("/data/converted/{}", relative.display()),
                staged: fingerprint(7),
                existing,
            })
            .collect())
    });
    store.expect_place().times(moves).returning(move |_, m| {
        asked.lock().unwrap().extend_from_slice(m);
        Ok(())
    });
    store
}

fn store(free: u64, moves: usize) -> MockOutputStore {
    store_times(free, AtTarget::Nothing, moves, Arc::default())
}

fn repo(downloaded: bool) -> MockLibraryRepo {
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
    // The handler says what to write; the engine writes it with the job's completion.
    repo.expect_add_file().never();
    repo.expect_update_book().never();
    repo
}

/// The completion's book change: the output registered, the book pointed at it.
fn assert_completes_with_the_output(effects: &JobEffects) {
    let change = effects.book.as_ref().expect("a book change");
    assert_eq!(
        change.update.conversion_format,
        Some(Some(OutputFormat::M4b))
    );
    assert_eq!(
        change.update.local_path_converted,
        Some(Some(OUTPUT.into()))
    );
    assert_eq!(change.update.status, Some(BookStatus::Completed));
    assert_eq!(change.files.len(), 1);
    assert_eq!(change.files[0].path, OUTPUT);
    assert_eq!(change.files[0].kind, FileKind::Converted);
}

#[tokio::test]
async fn a_conversion_places_registers_and_caches_the_activation_bytes() {
    let converter = Arc::new(FakeConverter::default());
    let accounts = Arc::new(FakeAccounts::default());
    let handler = ConvertBook::new(
        converter.clone(),
        Arc::new(store_times(u64::MAX, AtTarget::Nothing, 2, Arc::default())),
        Arc::new(repo(true)),
        accounts.clone(),
    );
    for _ in 0..2 {
        let ctx = ctx(serde_json::json!({"format": "m4b"}));
        let effects = handler.run(&ctx).await.unwrap();
        assert_completes_with_the_output(&effects);
        assert_eq!(
            ctx.recorded_outputs(),
            [vec![OutputFile {
                fingerprint: fingerprint(7),
                ..recorded(0)
            }]],
            "recorded before the move"
        );
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
        Arc::new(store(10 * 1024 * 1024, 0)),
        Arc::new(repo(true)),
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
        Arc::new(store(u64::MAX, 0)),
        Arc::new(repo(false)),
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
        Arc::new(store_times(u64::MAX, AtTarget::File(99), 0, Arc::default())),
        Arc::new(repo(true)),
        Arc::new(FakeAccounts::default()),
    );
    let ctx = ctx(serde_json::json!({"format": "m4b"}));
    let err = handler.run(&ctx).await.unwrap_err();
    assert_eq!(err.class, FailureClass::Permanent);
    assert!(err.message.contains("force: true"), "{err}");
    assert!(ctx.recorded_outputs().is_empty(), "nothing recorded");
}

#[tokio::test]
async fn a_rerun_finding_its_earlier_outputs_in_place_finishes_without_converting() {
    let converter = Arc::new(FakeConverter::default());
    let handler = ConvertBook::new(
        converter.clone(),
        Arc::new(store_times(u64::MAX, AtTarget::File(3), 0, Arc::default())),
        Arc::new(repo(true)),
        Arc::new(FakeAccounts::default()),
    );
    let ctx = ctx(serde_json::json!({"format": "m4b"})).after_attempt(vec![recorded(3)]);
    let effects = handler.run(&ctx).await.unwrap();
    assert_completes_with_the_output(&effects);
    assert_eq!(converter.calls.load(Ordering::SeqCst), 0);
    assert!(
        ctx.log_text().contains("earlier attempt"),
        "{}",
        ctx.log_text()
    );
}

#[tokio::test]
async fn a_rerun_replaces_its_own_earlier_output_and_nobody_elses() {
    // The earlier attempt moved inode 3, which is still there, but its record lists another
    // file too that never arrived: the work is done again, and inode 3 may be replaced.
    let mut missing = recorded(3);
    missing.path = "/data/converted/elsewhere.m4b".into();
    let moves = Arc::new(Mutex::new(Vec::new()));
    let handler = ConvertBook::new(
        Arc::new(FakeConverter::default()),
        Arc::new(store_times(u64::MAX, AtTarget::File(3), 1, moves.clone())),
        Arc::new(repo(true)),
        Arc::new(FakeAccounts::default()),
    );
    let rerun =
        ctx(serde_json::json!({"format": "m4b"})).after_attempt(vec![recorded(3), missing.clone()]);
    assert_completes_with_the_output(&handler.run(&rerun).await.unwrap());
    assert!(moves.lock().unwrap().iter().all(|m| m.replace));
    let record = rerun.recorded_outputs().pop().unwrap();
    assert!(
        record.contains(&recorded(3)),
        "the replaced file stays on record until it is replaced: {record:?}"
    );

    // A file in the way that this job never moved is somebody else's.
    let handler = ConvertBook::new(
        Arc::new(FakeConverter::default()),
        Arc::new(store_times(u64::MAX, AtTarget::File(4), 0, Arc::default())),
        Arc::new(repo(true)),
        Arc::new(FakeAccounts::default()),
    );
    let ctx = ctx(serde_json::json!({"format": "m4b"})).after_attempt(vec![recorded(3)]);
    let err = handler.run(&ctx).await.unwrap_err();
    assert!(err.message.contains("force: true"), "{err}");
}
