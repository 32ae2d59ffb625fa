//! When to try a failed call again, and how long to wait first.
//!
//! ```text
//!   attempt n fails ──▶ retryable? (Throttled, Transient, transport) and n < max_attempts?
//!                          │ yes
//!                          ▼
//!   wait max( uniform(0 ..= min(max_delay, base_delay · 2^(n-1))),  x-acs-retry-after )
//! ```
//!
//! "Full jitter" spreads the retries of many clients throttled at the same moment, so they do
//! not come back in lockstep; the server's own `x-acs-retry-after` is a floor we never undercut.
//! The delay is a pure function of its inputs and an injected RNG.

use std::time::Duration;

use rand::Rng;

use crate::error::Error;

/// How many times to try a call, and the backoff between tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// The cap of the jitter window before the first retry; it doubles with each retry.
    pub base_delay: Duration,
    /// The largest jitter window.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Whether `error`, returned by try number `attempt` (1-based), deserves another try.
    pub fn should_retry(&self, attempt: u32, error: &Error) -> bool {
        attempt < self.max_attempts && error.is_retryable()
    }

    /// The wait before the retry that follows try number `attempt` (1-based).
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Duration {
        let window = self.window(attempt);
        let jitter = Duration::from_nanos(rng.random_range(0..=as_nanos(window)));
        jitter.max(retry_after.unwrap_or_default())
    }

    /// `min(max_delay, base_delay · 2^(attempt-1))`, without overflowing for large attempts.
    fn window(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

fn as_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;
    use crate::error::ErrorKind;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        }
    }

    fn api_error(kind: ErrorKind) -> Error {
        Error::Api {
            action: "DescribeInstances".into(),
            kind,
            status: 400,
            code: String::new(),
            message: String::new(),
            request_id: None,
            retry_after: None,
        }
    }

    #[test]
    fn the_jitter_window_doubles_up_to_the_maximum() {
        let p = policy();
        let windows: Vec<_> = (1..=6).map(|n| p.window(n)).collect();
        let ms = |v: u64| Duration::from_millis(v);
        assert_eq!(
            windows,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        assert_eq!(
            p.window(u32::MAX),
            ms(1000),
            "huge attempt numbers do not overflow"
        );
    }

    #[test]
    fn delays_stay_within_the_window() {
        let p = policy();
        let mut rng = SmallRng::seed_from_u64(7);
        for attempt in 1..=8 {
            for _ in 0..200 {
                let d = p.delay(attempt, None, &mut rng);
                assert!(d <= p.window(attempt), "attempt {attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn delays_are_spread_rather_than_fixed() {
        let p = policy();
        let mut rng = SmallRng::seed_from_u64(1);
        let delays: std::collections::BTreeSet<_> =
            (0..50).map(|_| p.delay(3, None, &mut rng)).collect();
        assert!(delays.len() > 40, "full jitter spreads retries: {delays:?}");
    }

    #[test]
    fn the_server_retry_after_is_a_floor() {
        let p = policy();
        let mut rng = SmallRng::seed_from_u64(3);
        let floor = Duration::from_secs(2);
        for attempt in 1..=5 {
            assert!(p.delay(attempt, Some(floor), &mut rng) >= floor);
        }
        let short = Duration::from_millis(1);
        let d = p.delay(4, Some(short), &mut rng);
        assert!(d >= short && d <= p.window(4));
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let p = policy();
        let run = |seed| {
            let mut rng = SmallRng::seed_from_u64(seed);
            (1..=4)
                .map(|n| p.delay(n, None, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
    }

    #[test]
    fn only_retryable_errors_are_retried_and_only_up_to_the_limit() {
        let p = policy();
        let throttled = api_error(ErrorKind::Throttled);
        assert!(p.should_retry(1, &throttled));
        assert!(p.should_retry(3, &throttled));
        assert!(!p.should_retry(4, &throttled), "4 attempts in all");
        assert!(p.should_retry(1, &api_error(ErrorKind::Transient)));
        assert!(!p.should_retry(1, &api_error(ErrorKind::InvalidParameter)));
        assert!(!p.should_retry(1, &api_error(ErrorKind::NotFound)));
        assert!(!RetryPolicy::never().should_retry(1, &throttled));
    }
}
