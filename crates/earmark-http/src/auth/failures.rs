//! Failed authentication attempts per client address: after too many within a sliding
//! window, the address is refused (429) until its oldest counted failure leaves the window, so
//! a key cannot be guessed at speed. Failures only age out; nothing a client does in between
//! (a successful request, with a player token say) clears them.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Most addresses tracked at once; those whose failures left the window go first.
const MAX_TRACKED: usize = 10_000;

/// The recent failures of each address, in a sliding window.
#[derive(Debug)]
pub struct FailedAuth {
    max_failures: u32,
    window: Duration,
    /// The times of each address's last `max_failures` failures, oldest first.
    seen: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    /// Whether `seen` may hold anything: every request asks [`FailedAuth::blocked`], and it
    /// should not take the lock when nobody ever failed.
    any: AtomicBool,
}

impl Default for FailedAuth {
    /// 30 failures a minute.
    fn default() -> Self {
        Self::new(30, Duration::from_secs(60))
    }
}

impl FailedAuth {
    /// At most `max_failures` in any `window` per address.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            seen: Mutex::new(HashMap::new()),
            any: AtomicBool::new(false),
        }
    }

    /// How long `ip` must wait, when it failed `max_failures` times within the last window:
    /// until the oldest of those failures leaves it.
    pub fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        if !self.any.load(Ordering::Relaxed) {
            return None;
        }
        let seen = self.seen.lock().ok()?;
        let times = seen.get(&ip)?;
        let oldest = times.front()?;
        (times.len() >= self.max_failures as usize && oldest.elapsed() < self.window)
            .then(|| self.window.saturating_sub(oldest.elapsed()))
    }

    /// Records a failure of `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.len() >= MAX_TRACKED {
            let window = self.window;
            seen.retain(|_, times| times.back().is_some_and(|t| t.elapsed() < window));
        }
        self.any.store(true, Ordering::Relaxed);
        let times = seen.entry(ip).or_default();
        times.push_back(Instant::now());
        while times.len() > self.max_failures as usize {
            times.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_too_many_failures_and_others_are_not() {
        let limiter = FailedAuth::new(3, Duration::from_secs(60));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..2 {
            limiter.failed(a);
        }
        assert_eq!(limiter.blocked(a), None);
        limiter.failed(a);
        assert!(
            limiter
                .blocked(a)
                .is_some_and(|d| d <= Duration::from_secs(60))
        );
        assert_eq!(limiter.blocked(b), None);
    }

    #[test]
    fn failures_leave_the_window_one_by_one() {
        let limiter = FailedAuth::new(2, Duration::from_millis(200));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        limiter.failed(a);
        std::thread::sleep(Duration::from_millis(120));
        limiter.failed(a);
        assert!(
            limiter
                .blocked(a)
                .is_some_and(|d| d <= Duration::from_millis(80))
        );
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            limiter.blocked(a),
            None,
            "the first failure left the window"
        );
        limiter.failed(a);
        assert!(
            limiter.blocked(a).is_some(),
            "the second is still in it: a fixed window would have started over"
        );
    }

    #[test]
    fn the_block_ends_with_the_window() {
        let limiter = FailedAuth::new(1, Duration::from_millis(50));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        limiter.failed(a);
        assert!(limiter.blocked(a).is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(limiter.blocked(a), None);
    }
}
