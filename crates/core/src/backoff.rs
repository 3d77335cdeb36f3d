//! Retry backoff: exponential delays with a cap, optional jitter, and a reset.
//!
//! Every retry loop (outputs, Docker and scheduler reconnects, the agent's config poll,
//! the scheduler's relaunch and reconcile timers) waits by the same rule: the first retry
//! after `initial`, each next one twice as long, never longer than `max`; a success resets
//! the delay to `initial`. Jitter (off unless asked for) spreads out clients that failed at
//! the same moment (many agents losing one scheduler) by shortening each delay by a random
//! fraction, so a delay is always within `[d * (1 - jitter), d]`.
//!
//! ```
//! use logstash_mesos_core::Backoff;
//! use std::time::Duration;
//! let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(250));
//! assert_eq!(b.next_delay(), Duration::from_millis(100));
//! assert_eq!(b.next_delay(), Duration::from_millis(200));
//! assert_eq!(b.next_delay(), Duration::from_millis(250));
//! b.reset();
//! assert_eq!(b.next_delay(), Duration::from_millis(100));
//! ```

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// Exponential backoff state of one retry loop.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    /// The un-jittered delay the next retry waits.
    current: Duration,
    /// 0.0 (none) ..= 1.0.
    jitter: f64,
}

impl Backoff {
    /// Starts at `initial`, doubling up to `max` (a `max` below `initial` is raised to it).
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            current: initial,
            jitter: 0.0,
        }
    }

    /// Shortens each delay by a random part of up to `fraction` of it (clamped to 0..=1).
    #[must_use]
    pub fn with_jitter(mut self, fraction: f64) -> Backoff {
        self.jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// The delay to wait before this retry; the following one will be twice as long
    /// (capped at `max`).
    pub fn next_delay(&mut self) -> Duration {
        let d = self.current;
        self.current = double(d, self.max);
        self.jittered(d)
    }

    /// The un-jittered delay the next call to [`next_delay`](Self::next_delay) is based on.
    pub fn current(&self) -> Duration {
        self.current
    }

    /// After a success: the next failure waits `initial` again.
    pub fn reset(&mut self) {
        self.current = self.initial;
    }

    /// The delay of retry number `n` (0 for the first) without state or jitter: for
    /// deterministic state machines that count failures themselves.
    pub fn nth(initial: Duration, max: Duration, n: u32) -> Duration {
        let max = max.max(initial);
        let mut d = initial;
        for _ in 0..n {
            // Zero never grows: stop rather than count to `n`.
            if d >= max || d.is_zero() {
                break;
            }
            d = double(d, max);
        }
        d
    }

    fn jittered(&self, d: Duration) -> Duration {
        if self.jitter == 0.0 {
            return d;
        }
        // Randomness for spreading retries only: RandomState is seeded per process and
        // varied per call, good enough without a dependency.
        let r = RandomState::new().hash_one(self.current.as_nanos()) as f64 / u64::MAX as f64;
        d.mul_f64(1.0 - self.jitter * r)
    }
}

fn double(d: Duration, max: Duration) -> Duration {
    d.checked_mul(2).unwrap_or(max).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(500 * MS, Duration::from_secs(30));
        let got: Vec<u128> = (0..9).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(
            got,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        b.reset();
        assert_eq!(b.current(), 500 * MS);
        assert_eq!(b.next_delay(), 500 * MS);
    }

    #[test]
    fn max_below_initial_is_raised_and_huge_values_do_not_overflow() {
        let mut b = Backoff::new(10 * MS, MS);
        assert_eq!(b.next_delay(), 10 * MS);
        assert_eq!(b.next_delay(), 10 * MS);
        let mut big = Backoff::new(Duration::MAX / 3, Duration::MAX);
        big.next_delay();
        big.next_delay();
        assert_eq!(big.next_delay(), Duration::MAX);
    }

    #[test]
    fn nth_matches_the_stateful_sequence() {
        let (i, m) = (5 * MS, 300 * MS);
        let mut b = Backoff::new(i, m);
        for n in 0..20 {
            assert_eq!(Backoff::nth(i, m, n), b.next_delay(), "n = {n}");
        }
        assert_eq!(Backoff::nth(i, m, u32::MAX), m);
        assert_eq!(Backoff::nth(Duration::ZERO, m, u32::MAX), Duration::ZERO);
    }

    #[test]
    fn jitter_stays_within_bounds_and_varies() {
        let mut b = Backoff::new(1000 * MS, 1000 * MS).with_jitter(0.5);
        let delays: Vec<Duration> = (0..200).map(|_| b.next_delay()).collect();
        assert!(
            delays.iter().all(|d| *d >= 500 * MS && *d <= 1000 * MS),
            "{delays:?}"
        );
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 10, "jitter should vary: {distinct:?}");
        // Out-of-range fractions are clamped: never a negative or longer delay.
        let mut wild = Backoff::new(100 * MS, 100 * MS).with_jitter(7.0);
        assert!((0..50).all(|_| wild.next_delay() <= 100 * MS));
        let mut nan = Backoff::new(100 * MS, 100 * MS).with_jitter(f64::NAN);
        assert_eq!(nan.next_delay(), 100 * MS);
    }
}
