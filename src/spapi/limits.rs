//! Token buckets for the SP-API's per-operation rate limits.
//!
//! Amazon meters each operation with a token bucket (a rate in requests per second
//! and a burst). We keep a copy of each bucket and wait for a token before every call,
//! so that a run never provokes a 429. The state is saved in the store, so runs from
//! cron every few minutes share one budget: a run that starts right after another
//! finds the bucket as the last one left it. `x-amzn-RateLimit-Limit` in an answer
//! replaces the rate; a 429 empties the bucket.

use std::time::Duration;

use time::OffsetDateTime;

use crate::clock::{parse_rfc3339, rfc3339};
use crate::store::state::BucketRow;

/// An SP-API operation we call, with Amazon's published default rate and burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    SearchOrders,
    GetOrder,
    ConfirmShipment,
    CreateFeedDocument,
    CreateFeed,
    GetFeed,
    GetFeedDocument,
    ListFinancialEvents,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::SearchOrders => "searchOrders",
            Operation::GetOrder => "getOrder",
            Operation::ConfirmShipment => "confirmShipment",
            Operation::CreateFeedDocument => "createFeedDocument",
            Operation::CreateFeed => "createFeed",
            Operation::GetFeed => "getFeed",
            Operation::GetFeedDocument => "getFeedDocument",
            Operation::ListFinancialEvents => "listFinancialEvents",
        }
    }

    /// (rate per second, burst) from the models' documentation.
    pub fn default_limits(self) -> (f64, u32) {
        match self {
            Operation::SearchOrders => (0.0056, 20),
            // getOrder and Finances v0 listFinancialEvents (issue #17) share a plan.
            Operation::GetOrder | Operation::ListFinancialEvents => (0.5, 30),
            Operation::ConfirmShipment => (2.0, 10),
            Operation::CreateFeedDocument => (0.5, 15),
            Operation::CreateFeed => (0.0083, 15),
            Operation::GetFeed => (2.0, 15),
            Operation::GetFeedDocument => (0.0222, 10),
        }
    }
}

/// A token bucket. Rates are request pacing, not money, so `f64` is the right type.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub rate: f64,
    pub burst: u32,
    pub tokens: f64,
    pub updated: OffsetDateTime,
}

/// A little head-room so that clock differences never make us early.
const MARGIN: f64 = 0.01;

impl Bucket {
    /// A full bucket with the operation's default limits.
    pub fn new(op: Operation, now: OffsetDateTime) -> Self {
        let (rate, burst) = op.default_limits();
        Self {
            rate,
            burst,
            tokens: f64::from(burst),
            updated: now,
        }
    }

    fn refill(&mut self, now: OffsetDateTime) {
        if now > self.updated {
            let secs = (now - self.updated).as_seconds_f64();
            self.tokens = (self.tokens + secs * self.rate).min(f64::from(self.burst));
            self.updated = now;
        }
    }

    /// How long to wait before a call may be made.
    pub fn wait(&mut self, now: OffsetDateTime) -> Duration {
        self.refill(now);
        if self.tokens >= 1.0 {
            return Duration::ZERO;
        }
        let missing = 1.0 - self.tokens;
        let secs = missing / self.rate * (1.0 + MARGIN);
        Duration::from_secs_f64(secs.clamp(0.0, 86_400.0))
    }

    /// Takes one token (after waiting as `wait` said).
    pub fn take(&mut self, now: OffsetDateTime) {
        self.refill(now);
        self.tokens = (self.tokens - 1.0).max(0.0);
    }

    /// Amazon told us the rate that applies (`x-amzn-RateLimit-Limit`).
    pub fn set_rate(&mut self, rate: f64) {
        if rate.is_finite() && rate > 0.0 {
            self.rate = rate;
        }
    }

    /// A 429: Amazon's bucket is empty, whatever ours said.
    pub fn throttled(&mut self, now: OffsetDateTime) {
        self.refill(now);
        self.tokens = 0.0;
    }

    pub fn to_row(&self) -> BucketRow {
        BucketRow {
            rate: format!("{}", self.rate),
            burst: self.burst,
            tokens: format!("{}", self.tokens),
            updated_at: rfc3339_nanos(self.updated),
        }
    }

    /// Restores a saved bucket; a damaged row gives a fresh, empty bucket (the safe side).
    pub fn from_row(op: Operation, row: &BucketRow, now: OffsetDateTime) -> Self {
        let (default_rate, burst) = op.default_limits();
        let rate = row
            .rate
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r > 0.0);
        let tokens = row.tokens.parse::<f64>().ok().filter(|t| t.is_finite());
        let updated = parse_rfc3339(&row.updated_at).ok();
        match (rate, tokens, updated) {
            (Some(rate), Some(tokens), Some(updated)) => Self {
                rate,
                burst,
                tokens: tokens.clamp(0.0, f64::from(burst)),
                // A clock that went backwards must not hand out tokens twice.
                updated: updated.min(now),
            },
            _ => Self {
                rate: default_rate,
                burst,
                tokens: 0.0,
                updated: now,
            },
        }
    }
}

fn rfc3339_nanos(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| rfc3339(t))
}

/// Parses `x-amzn-RateLimit-Limit`.
pub fn parse_limit_header(v: &str) -> Option<f64> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn burst_then_rate() {
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let mut b = Bucket::new(Operation::SearchOrders, t0);
        for _ in 0..20 {
            assert_eq!(b.wait(t0), Duration::ZERO);
            b.take(t0);
        }
        let w = b.wait(t0);
        // One token at 0.0056/s takes ~178.6 s, plus the margin.
        assert!(w.as_secs_f64() > 178.0 && w.as_secs_f64() < 181.0, "{w:?}");
        let later = t0 + time::Duration::seconds_f64(w.as_secs_f64());
        assert_eq!(b.wait(later), Duration::ZERO);
    }

    #[test]
    fn header_rate_and_throttle() {
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let mut b = Bucket::new(Operation::ConfirmShipment, t0);
        b.set_rate(4.0);
        b.throttled(t0);
        let w = b.wait(t0);
        assert!(w.as_secs_f64() > 0.25 && w.as_secs_f64() < 0.26, "{w:?}");
        b.set_rate(f64::NAN);
        assert!((b.rate - 4.0).abs() < f64::EPSILON);
    }

    #[test]
    fn row_round_trip_and_damage() {
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let mut b = Bucket::new(Operation::GetOrder, t0);
        b.take(t0);
        let back = Bucket::from_row(Operation::GetOrder, &b.to_row(), t0);
        assert_eq!(back, b);
        let bad = BucketRow {
            rate: "x".into(),
            burst: 3,
            tokens: "NaN".into(),
            updated_at: "never".into(),
        };
        let d = Bucket::from_row(Operation::GetOrder, &bad, t0);
        assert!(d.tokens.abs() < f64::EPSILON);
        // A future timestamp (clock moved back) is clamped to now.
        let mut row = b.to_row();
        row.updated_at = "2030-01-01T00:00:00Z".into();
        assert_eq!(Bucket::from_row(Operation::GetOrder, &row, t0).updated, t0);
    }
}
