//! Failed authentication attempts per client address: after too many within a window, the
//! address is refused (429) until the window ends, so a key cannot be guessed at speed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Most addresses tracked at once; older windows are dropped first when it is reached.
const MAX_TRACKED: usize = 10_000;

/// Counts failures per address in fixed windows.
#[derive(Debug)]
pub struct FailedAuth {
    max_failures: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    /// Whether `seen` may hold anything: every authenticated request calls
    /// [`FailedAuth::succeeded`], and it should not take the lock when nobody ever failed.
    any: AtomicBool,
}

impl Default for FailedAuth {
    /// 30 failures a minute.
    fn default() -> Self {
        Self::new(30, Duration::from_secs(60))
    }
}

impl FailedAuth {
    /// At most `max_failures` per `window` per address.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            seen: Mutex::new(HashMap::new()),
            any: AtomicBool::new(false),
        }
    }

    /// How long `ip` must wait, when it has failed too often in the current window.
    pub fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        if !self.any.load(Ordering::Relaxed) {
            return None;
        }
        let seen = self.seen.lock().ok()?;
        let (failures, since) = seen.get(&ip)?;
        let elapsed = since.elapsed();
        (*failures >= self.max_failures && elapsed < self.window)
            .then(|| self.window.saturating_sub(elapsed))
    }

    /// Records a failure of `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.len() >= MAX_TRACKED {
            let window = self.window;
            seen.retain(|_, (_, since)| since.elapsed() < window);
        }
        self.any.store(true, Ordering::Relaxed);
        let now = Instant::now();
        let entry = seen.entry(ip).or_insert((0, now));
        if entry.1.elapsed() >= self.window {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// Forgets `ip`'s failures after it authenticated.
    pub fn succeeded(&self, ip: IpAddr) {
        if !self.any.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut seen) = self.seen.lock() {
            seen.remove(&ip);
            if seen.is_empty() {
                self.any.store(false, Ordering::Relaxed);
            }
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
        limiter.succeeded(a);
        assert_eq!(limiter.blocked(a), None);
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
