//! Injected failures, so that clients' retries and idempotency are exercised for real.
//!
//! A 5xx is injected either before the request is handled or after it has changed state (the
//! reply is lost on the way back): only a client that reuses its `ClientToken` on retry avoids
//! creating a resource twice in the second case.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::Mutex;

/// Fault rates in `[0, 1]`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultConfig {
    /// Share of requests answered with `Throttling.User`.
    pub throttle_rate: f64,
    /// Share of requests answered with a 500.
    pub error_rate: f64,
    /// The `x-acs-retry-after` sent with throttling, in milliseconds.
    pub retry_after_ms: u64,
    /// Seed, so a failing run can be replayed.
    pub seed: u64,
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing.
    None,
    /// Answer `Throttling.User` without handling it.
    Throttle,
    /// Answer 500 without handling it.
    FailBefore,
    /// Handle it, then answer 500.
    FailAfter,
}

/// Draws faults from a seeded generator.
pub struct Faults {
    config: FaultConfig,
    rng: Mutex<SmallRng>,
}

impl Faults {
    /// A generator for `config`.
    pub fn new(config: FaultConfig) -> Self {
        Self {
            config,
            rng: Mutex::new(SmallRng::seed_from_u64(config.seed)),
        }
    }

    /// The configured rates.
    pub fn config(&self) -> FaultConfig {
        self.config
    }

    /// The fault for the next request.
    pub fn draw(&self) -> Fault {
        if self.config.throttle_rate <= 0.0 && self.config.error_rate <= 0.0 {
            return Fault::None;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let x: f64 = rng.random();
        if x < self.config.throttle_rate {
            Fault::Throttle
        } else if x < self.config.throttle_rate + self.config.error_rate {
            if rng.random::<bool>() {
                Fault::FailBefore
            } else {
                Fault::FailAfter
            }
        } else {
            Fault::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_roughly_honoured_and_reproducible() {
        let config = FaultConfig {
            throttle_rate: 0.3,
            error_rate: 0.1,
            retry_after_ms: 10,
            seed: 7,
        };
        let draws: Vec<Fault> = {
            let f = Faults::new(config);
            (0..10_000).map(|_| f.draw()).collect()
        };
        let throttled = draws.iter().filter(|f| **f == Fault::Throttle).count();
        let failed = draws
            .iter()
            .filter(|f| matches!(f, Fault::FailBefore | Fault::FailAfter))
            .count();
        assert!((2700..3300).contains(&throttled), "{throttled}");
        assert!((800..1200).contains(&failed), "{failed}");
        let again = Faults::new(config);
        assert!(draws.iter().all(|d| *d == again.draw()));
        assert_eq!(Faults::new(FaultConfig::default()).draw(), Fault::None);
    }
}
