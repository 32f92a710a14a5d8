//! How the engine is tuned.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use earmark_core::TaskType;
use earmark_core::ports::FailureClass;

/// Base delays of the retry back-off; each further attempt doubles it, up to `max`.
#[derive(Debug, Clone)]
pub struct BackOff {
    /// After a transient failure (network, timeout).
    pub transient: Duration,
    /// After Audible refused for now (throttling).
    pub throttled: Duration,
    /// After the watchdog stopped a stalled run.
    pub stalled: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for BackOff {
    fn default() -> Self {
        Self {
            transient: Duration::from_secs(30),
            throttled: Duration::from_secs(15 * 60),
            stalled: Duration::from_secs(60),
            max: Duration::from_secs(6 * 60 * 60),
        }
    }
}

impl BackOff {
    /// The delay before attempt `attempt + 1` after a failure of `class`; `None` when the
    /// failure is permanent.
    pub fn delay(&self, class: FailureClass, attempt: i32) -> Option<Duration> {
        let base = match class {
            FailureClass::Permanent => return None,
            FailureClass::Transient => self.transient,
            FailureClass::Throttled => self.throttled,
            FailureClass::Stalled => self.stalled,
        };
        let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 16)).unwrap_or(0);
        Some(base.saturating_mul(1 << doublings).min(self.max))
    }
}

/// Everything the engine needs to know besides its ports and handlers.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Jobs of each kind running at once.
    pub concurrency: HashMap<TaskType, usize>,
    /// Attempts a job gets before it fails for good.
    pub max_attempts: i32,
    /// Where job logs go (`<data>/logs`).
    pub logs_dir: PathBuf,
    /// Where job scratch directories go (`<data>/tmp`).
    pub tmp_dir: PathBuf,
    /// A run with no output and no scratch growth for this long is stopped and retried.
    pub stall_after: Duration,
    /// How long a stopped run may take to end before the engine abandons it.
    pub stop_grace: Duration,
    /// How often idle lanes look at the queue even without a wake-up (other processes may
    /// have added work).
    pub poll_interval: Duration,
    /// Retry delays.
    pub back_off: BackOff,
}

impl EngineConfig {
    /// Defaults for a data directory: downloads 5, conversions `convert`, syncs 1, repairs 1, imports 1.
    pub fn new(logs_dir: PathBuf, tmp_dir: PathBuf, downloads: usize, convert: usize) -> Self {
        Self {
            concurrency: HashMap::from([
                (TaskType::Download, downloads.max(1)),
                (TaskType::Convert, convert.max(1)),
                (TaskType::Sync, 1),
                (TaskType::Repair, 1),
                (TaskType::Import, 1),
            ]),
            max_attempts: 3,
            logs_dir,
            tmp_dir,
            stall_after: Duration::from_secs(10 * 60),
            stop_grace: Duration::from_secs(10),
            poll_interval: Duration::from_secs(2),
            back_off: BackOff::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_per_attempt_within_its_cap() {
        let b = BackOff::default();
        assert_eq!(b.delay(FailureClass::Permanent, 1), None);
        assert_eq!(
            b.delay(FailureClass::Transient, 1),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            b.delay(FailureClass::Transient, 3),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            b.delay(FailureClass::Throttled, 2),
            Some(Duration::from_secs(30 * 60))
        );
        assert_eq!(b.delay(FailureClass::Throttled, 10), Some(b.max));
    }
}
