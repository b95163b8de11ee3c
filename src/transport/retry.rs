//! How hard to try again after a temporary failure, and how long to wait in between.
//!
//! Every client (SP-API, PostNL, the exchange-rate and EU services) uses one
//! [`RetryPolicy`] and one [`Backoff`] (the policy with its jitter state); the clients
//! wait the delays it gives through the injectable clock, so that tests can move time.

use std::cell::Cell;
use std::time::Duration;

/// How hard to try before giving up on a temporary failure.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_tries: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl RetryPolicy {
    /// Exponential back-off with jitter: between half and all of base·2^(try-1), capped.
    /// `seed` is the caller's xorshift state (jitter needs no cryptographic quality).
    pub fn delay(&self, tries: u32, seed: &Cell<u64>) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << tries.saturating_sub(1).min(16))
            .min(self.cap);
        let mut x = seed.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        seed.set(x);
        let frac = 0.5 + f64::from(u32::try_from(x % 1000).unwrap_or(0)) / 2000.0;
        exp.mul_f64(frac)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_tries: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        }
    }
}

/// A policy with its jitter state, waiting through the clock.
#[derive(Debug)]
pub struct Backoff {
    /// The policy in force.
    pub policy: RetryPolicy,
    seed: Cell<u64>,
}

impl Backoff {
    /// `seed` starts the jitter (any non-zero value; clients use their start time).
    pub fn new(policy: RetryPolicy, seed: u64) -> Self {
        Self {
            policy,
            seed: Cell::new(seed.max(1)),
        }
    }

    /// The wait before try `tries + 1`.
    pub fn delay(&self, tries: u32) -> Duration {
        self.policy.delay(tries, &self.seed)
    }
}
