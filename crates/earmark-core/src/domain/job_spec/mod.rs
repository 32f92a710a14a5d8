//! What a job is asked to do: its kind, its book, and that kind's parameters, checked once.
//!
//! Requests become a [`JobSpec`] at the HTTP edge; the queue stores it as three columns
//! (`task_type`, `asin`, and the parameters as JSON in `params`) and reads it back with
//! [`JobSpec::read`]; handlers receive it typed.

mod params;

use serde_json::Value;

pub use params::{
    ConvertOptions, ConvertOptionsError, ConvertParams, DownloadParams, ImportMode, ImportParams,
    RepairParams, SyncParams,
};

use super::asin::Asin;
use super::job::TaskType;

/// A job's work, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSpec {
    /// Refresh the library from Audible.
    Sync(SyncParams),
    /// Download a book's audio and side files.
    Download(Asin, DownloadParams),
    /// Convert a downloaded book.
    Convert(Asin, ConvertParams),
    /// Bring the database and the data directory back in step.
    Repair(RepairParams),
    /// Adopt a folder of audio converted elsewhere.
    Import(ImportParams),
    /// A stored job whose parameters this version cannot read (written by another version,
    /// or edited by hand). It still lists, cancels and deletes like any job; a handler fails
    /// it with [`UnreadableSpec::reason`] instead of guessing.
    Unreadable(UnreadableSpec),
}

/// What is known of a job whose parameters could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct UnreadableSpec {
    /// Its kind, from its own column.
    pub task_type: TaskType,
    /// Its book, from its own column.
    pub asin: Option<Asin>,
    /// The stored parameters, as they are.
    pub params: Value,
    /// Why they could not be read.
    pub reason: String,
}

impl JobSpec {
    /// The lane the job runs in.
    pub fn task_type(&self) -> TaskType {
        match self {
            JobSpec::Sync(_) => TaskType::Sync,
            JobSpec::Download(..) => TaskType::Download,
            JobSpec::Convert(..) => TaskType::Convert,
            JobSpec::Repair(_) => TaskType::Repair,
            JobSpec::Import(_) => TaskType::Import,
            JobSpec::Unreadable(u) => u.task_type,
        }
    }

    /// The book the job is for; `None` for library syncs, repairs and imports.
    pub fn asin(&self) -> Option<&Asin> {
        match self {
            JobSpec::Sync(_) | JobSpec::Repair(_) | JobSpec::Import(_) => None,
            JobSpec::Download(asin, _) | JobSpec::Convert(asin, _) => Some(asin),
            JobSpec::Unreadable(u) => u.asin.as_ref(),
        }
    }

    /// The parameters as the queue stores them (the `params` column).
    pub fn params_json(&self) -> Value {
        let value = match self {
            JobSpec::Sync(p) => serde_json::to_value(p),
            JobSpec::Download(_, p) => serde_json::to_value(p),
            JobSpec::Convert(_, p) => serde_json::to_value(p),
            JobSpec::Repair(p) => serde_json::to_value(p),
            JobSpec::Import(p) => serde_json::to_value(p),
            JobSpec::Unreadable(u) => return u.params.clone(),
        };
        // Plain structs of strings, numbers and booleans always serialise.
        value.unwrap_or(Value::Null)
    }

    /// A stored job's spec from its columns. Reads every shape earmark has stored (fields
    /// missing or `null` take their defaults); what it cannot read becomes
    /// [`JobSpec::Unreadable`], so one odd row never hides the others.
    pub fn read(task_type: TaskType, asin: Option<Asin>, params: &str) -> JobSpec {
        let unreadable = |asin: Option<Asin>, params: Value, reason: String| {
            JobSpec::Unreadable(UnreadableSpec {
                task_type,
                asin,
                params,
                reason,
            })
        };
        let value: Value = match serde_json::from_str(params) {
            Ok(value) => value,
            Err(e) => {
                return unreadable(
                    asin,
                    Value::String(params.to_owned()),
                    format!("the stored parameters are not JSON: {e}"),
                );
            }
        };
        let parsed = match (task_type, asin.clone()) {
            (TaskType::Sync, _) => serde_json::from_value(value.clone()).map(JobSpec::Sync),
            (TaskType::Repair, _) => serde_json::from_value(value.clone()).map(JobSpec::Repair),
            (TaskType::Import, _) => serde_json::from_value(value.clone()).map(JobSpec::Import),
            (TaskType::Download, Some(asin)) => {
                serde_json::from_value(value.clone()).map(|p| JobSpec::Download(asin, p))
            }
            (TaskType::Convert, Some(asin)) => {
                serde_json::from_value(value.clone()).map(|p| JobSpec::Convert(asin, p))
            }
            (TaskType::Download | TaskType::Convert, None) => {
                return unreadable(None, value, format!("a {task_type} job needs a book"));
            }
        };
        parsed.unwrap_or_else(|e| {
            unreadable(
                asin,
                value,
                format!("the stored parameters cannot be read: {e}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::format::{ConversionMode, DownloadFormat, OutputFormat};

    fn asin() -> Asin {
        Asin::parse("B0TESTBOOK").unwrap()
    }

    /// Parameters exactly as earmark wrote them before they were typed.
    #[test]
    fn every_shape_stored_so_far_reads() {
        let sync = JobSpec::read(TaskType::Sync, None, r#"{"profile":null}"#);
        assert_eq!(sync, JobSpec::Sync(SyncParams::default()));
        let sync = JobSpec::read(TaskType::Sync, None, r#"{"profile":"second"}"#);
        assert_eq!(sync.params_json()["profile"], "second");

        let download = JobSpec::read(
            TaskType::Download,
            Some(asin()),
            r#"{"format":"aax","force":false,"pdf":true,"convert":{"format":"m4b","mode":null,"naming_scheme":null,"dir_naming_scheme":null,"chapter_naming_scheme":null,"level":null,"force":false}}"#,
        );
        let JobSpec::Download(_, params) = download else {
            panic!("{download:?}")
        };
        assert_eq!(params.format, DownloadFormat::Aax);
        assert!(params.pdf);
        let chained = params.convert.unwrap();
        assert_eq!(chained.format, OutputFormat::M4b);
        assert_eq!(chained.mode, ConversionMode::Single);

        let no_chain = JobSpec::read(
            TaskType::Download,
            Some(asin()),
            r#"{"format":"aaxc","force":true,"pdf":false,"convert":null}"#,
        );
        assert!(matches!(no_chain, JobSpec::Download(_, p) if p.force && p.convert.is_none()));

        let convert = JobSpec::read(
            TaskType::Convert,
            Some(asin()),
            r#"{"format":"mp3","mode":"chapters","naming_scheme":"$title","dir_naming_scheme":null,"chapter_naming_scheme":"$chapternum","level":2,"force":false,"profile":"second"}"#,
        );
        let JobSpec::Convert(_, params) = convert else {
            panic!("{convert:?}")
        };
        assert_eq!(params.level, Some(2));
        assert_eq!(params.profile.as_deref(), Some("second"));
    }

    #[test]
    fn what_cannot_be_read_stays_visible() {
        let odd = JobSpec::read(
            TaskType::Convert,
            Some(asin()),
            r#"{"format":"mp3","naming_scheme":"$(rm -rf ~)"}"#,
        );
        let JobSpec::Unreadable(u) = &odd else {
            panic!("{odd:?}")
        };
        assert!(u.reason.contains("naming_scheme"), "{}", u.reason);
        assert_eq!(odd.task_type(), TaskType::Convert);
        assert_eq!(odd.asin(), Some(&asin()));
        assert_eq!(odd.params_json()["naming_scheme"], "$(rm -rf ~)");

        let not_json = JobSpec::read(TaskType::Sync, None, "{");
        assert!(matches!(not_json, JobSpec::Unreadable(_)));
        let bookless = JobSpec::read(TaskType::Download, None, "{}");
        assert!(matches!(bookless, JobSpec::Unreadable(u) if u.reason.contains("needs a book")));
    }

    #[test]
    fn specs_round_trip_through_their_columns() {
        let specs = [
            JobSpec::Sync(SyncParams {
                profile: Some("p".into()),
                positions_only: false,
            }),
            JobSpec::Sync(SyncParams {
                profile: None,
                positions_only: true,
            }),
            JobSpec::Download(asin(), DownloadParams::default()),
            JobSpec::Convert(
                asin(),
                serde_json::from_value(json!({"format": "flac", "level": 12})).unwrap(),
            ),
        ];
        for spec in specs {
            let stored = spec.params_json().to_string();
            let back = JobSpec::read(spec.task_type(), spec.asin().cloned(), &stored);
            assert_eq!(back, spec);
        }
    }
}
