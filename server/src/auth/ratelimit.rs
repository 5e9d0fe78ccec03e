//! Sign-in rate limiting: failed password attempts are counted per (username, client
//! address); past [`FREE_FAILURES`] within [`WINDOW_MS`] the pair is locked out for a time
//! that doubles with each further failure (from [`FIRST_LOCK_MS`] up to [`MAX_LOCK_MS`]), and
//! sign-in answers 429 with `Retry-After` without checking the password (so a locked pair
//! costs no Argon2 work). A success clears the pair. Keyed by address as well as name, so a
//! stranger guessing a user's password does not lock that user out everywhere. Node-local and
//! bounded: at most [`MAX_TRACKED`] pairs, the stalest dropped first.

use std::collections::HashMap;
use std::sync::Mutex;

/// Failures allowed within the window before the first lock-out.
pub const FREE_FAILURES: u32 = 5;
/// How long failures are remembered.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
pub const FIRST_LOCK_MS: i64 = 30 * 1000;
pub const MAX_LOCK_MS: i64 = 15 * 60 * 1000;
/// Pairs tracked at most (memory stays bounded under a spray of usernames).
pub const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last_ms: i64,
    locked_until_ms: i64,
}

/// Failed sign-ins per (username, address).
#[derive(Debug, Default)]
pub struct SignInLimiter {
    pairs: Mutex<HashMap<(String, String), Failures>>,
}

impl SignInLimiter {
    /// `Some(ms)` while the pair is locked out: how long until it may try again.
    pub fn locked(&self, username: &str, addr: &str, now_ms: i64) -> Option<i64> {
        let pairs = self.pairs.lock().ok()?;
        let f = pairs.get(&(username.to_string(), addr.to_string()))?;
        (f.locked_until_ms > now_ms).then(|| f.locked_until_ms - now_ms)
    }

    /// Counts a failed attempt; returns the lock-out it starts, if any.
    pub fn failed(&self, username: &str, addr: &str, now_ms: i64) -> Option<i64> {
        let mut pairs = self.pairs.lock().ok()?;
        if pairs.len() >= MAX_TRACKED {
            pairs.retain(|_, f| now_ms - f.last_ms < WINDOW_MS && f.locked_until_ms <= now_ms);
            if pairs.len() >= MAX_TRACKED {
                // Still full of live entries: drop the stalest one.
                if let Some(k) = pairs
                    .iter()
                    .min_by_key(|(_, f)| f.last_ms)
                    .map(|(k, _)| k.clone())
                {
                    pairs.remove(&k);
                }
            }
        }
        let f = pairs
            .entry((username.to_string(), addr.to_string()))
            .or_insert(Failures {
                count: 0,
                last_ms: now_ms,
                locked_until_ms: 0,
            });
        if now_ms - f.last_ms >= WINDOW_MS {
            f.count = 0;
        }
        f.count += 1;
        f.last_ms = now_ms;
        if f.count <= FREE_FAILURES {
            return None;
        }
        let doublings = (f.count - FREE_FAILURES - 1).min(20);
        let lock = FIRST_LOCK_MS
            .saturating_mul(1 << doublings)
            .min(MAX_LOCK_MS);
        f.locked_until_ms = now_ms + lock;
        Some(lock)
    }

    /// A successful sign-in forgets the pair's failures.
    pub fn succeeded(&self, username: &str, addr: &str) {
        if let Ok(mut pairs) = self.pairs.lock() {
            pairs.remove(&(username.to_string(), addr.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_free_ones_lock_the_pair_for_doubling_times() {
        let l = SignInLimiter::default();
        for i in 0..FREE_FAILURES {
            assert_eq!(l.failed("ann", "1.2.3.4", i as i64), None);
            assert_eq!(l.locked("ann", "1.2.3.4", i as i64), None);
        }
        assert_eq!(l.failed("ann", "1.2.3.4", 10), Some(FIRST_LOCK_MS));
        assert_eq!(l.locked("ann", "1.2.3.4", 11), Some(FIRST_LOCK_MS - 1));
        // Another address, another user: not locked.
        assert_eq!(l.locked("ann", "5.6.7.8", 11), None);
        assert_eq!(l.locked("bob", "1.2.3.4", 11), None);
        let t = 10 + FIRST_LOCK_MS;
        assert_eq!(l.locked("ann", "1.2.3.4", t), None);
        assert_eq!(l.failed("ann", "1.2.3.4", t), Some(2 * FIRST_LOCK_MS));
        for _ in 0..30 {
            l.failed("ann", "1.2.3.4", t);
        }
        assert_eq!(l.locked("ann", "1.2.3.4", t), Some(MAX_LOCK_MS));
        l.succeeded("ann", "1.2.3.4");
        assert_eq!(l.locked("ann", "1.2.3.4", t), None);
        // Failures older than the window are forgotten.
        for i in 0..FREE_FAILURES {
            l.failed("cy", "a", i as i64);
        }
        assert_eq!(l.failed("cy", "a", WINDOW_MS + 10), None);
    }

    #[test]
    fn memory_stays_bounded_under_a_spray_of_names() {
        let l = SignInLimiter::default();
        for i in 0..(MAX_TRACKED + 500) {
            l.failed(&format!("u{i}"), "a", 1);
        }
        assert!(l.pairs.lock().unwrap().len() <= MAX_TRACKED);
    }
}
