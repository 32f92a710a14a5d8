//! Jobs stored before their parameters were typed still load, on both backends: the params
//! column is rewritten here to exactly what earmark wrote then, and read back through the
//! port.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "helpers of a test crate fail by panicking"
)]

use earmark_core::{
    ConversionMode, DownloadFormat, JobSpec, JobStatus, OutputFormat, SyncParams, TaskType,
};
use earmark_db::testing::TestDb;

use earmark_contract::asin;

/// A QUEUED job whose params column holds `params` verbatim.
async fn stored(db: &TestDb, spec: JobSpec, params: &str) -> earmark_core::Job {
    let job = db.db.jobs.enqueue(spec.into()).await.unwrap().job;
    let filter = match job.asin() {
        Some(asin) => format!("asin = '{asin}'"),
        None => "asin IS NULL".to_owned(),
    };
    db.execute(&format!(
        "UPDATE jobs SET params = '{params}' WHERE task_type = '{}' AND {filter}",
        job.task_type()
    ))
    .await;
    db.db.jobs.get(job.id).await.unwrap()
}

async fn old_rows_load(db: TestDb) {
    let sync = stored(
        &db,
        JobSpec::Sync(SyncParams::default()),
        r#"{"profile":"second"}"#,
    )
    .await;
    assert_eq!(
        sync.spec,
        JobSpec::Sync(SyncParams {
            profile: Some("second".into()),
            positions_only: false,
        })
    );

    let placeholder = JobSpec::Download(asin(1), Default::default());
    let download = stored(
        &db,
        placeholder,
        r#"{"format":"aax","force":true,"pdf":false,"convert":{"format":"mp3","mode":null,"naming_scheme":"$title","dir_naming_scheme":null,"chapter_naming_scheme":null,"level":4,"force":false}}"#,
    )
    .await;
    let JobSpec::Download(_, params) = &download.spec else {
        panic!("{:?}", download.spec)
    };
    assert_eq!((params.format, params.force), (DownloadFormat::Aax, true));
    let chained = params.convert.as_ref().unwrap();
    assert_eq!(
        (chained.format, chained.mode, chained.level),
        (OutputFormat::Mp3, ConversionMode::Single, Some(4))
    );

    let placeholder = JobSpec::Convert(
        asin(2),
        serde_json::from_value(serde_json::json!({"format": "m4b"})).unwrap(),
    );
    let convert = stored(
        &db,
        placeholder,
        r#"{"format":"m4b","mode":"chapters","naming_scheme":null,"dir_naming_scheme":"$artist/$title","chapter_naming_scheme":null,"level":null,"force":true,"profile":"second"}"#,
    )
    .await;
    let JobSpec::Convert(_, params) = &convert.spec else {
        panic!("{:?}", convert.spec)
    };
    assert_eq!(params.mode, ConversionMode::Chapters);
    assert_eq!(
        params.dir_scheme.as_ref().unwrap().as_str(),
        "$artist/$title"
    );
    assert_eq!(params.profile.as_deref(), Some("second"));

    // A row this version cannot read still lists, and says why.
    let placeholder = JobSpec::Convert(
        asin(3),
        serde_json::from_value(serde_json::json!({"format": "m4b"})).unwrap(),
    );
    let odd = stored(&db, placeholder, r#"{"format":"wav"}"#).await;
    assert!(matches!(&odd.spec, JobSpec::Unreadable(u) if u.reason.contains("wav")));
    assert_eq!(odd.task_type(), TaskType::Convert);
    let all = earmark_core::JobFilter {
        limit: 10,
        ..Default::default()
    };
    let listed = db.db.jobs.list(all).await.unwrap();
    assert_eq!((listed.total, listed.items.len()), (4, 4));
    assert!(listed.items.iter().all(|j| j.status == JobStatus::Queued));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_rows_load_on_sqlite() {
    old_rows_load(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_rows_load_on_postgres() {
    if let Some(db) = TestDb::postgres().await {
        old_rows_load(db).await;
    }
}
