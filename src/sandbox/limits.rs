//! Per-operation token buckets with the production rates and bursts, refilled on the sandbox clock.
//!
//! One bucket per operation (the sandbox simulates one selling partner and one application, so
//! the real per (account, application) key collapses to the operation). A bucket starts full,
//! refills at `rate` tokens per sandbox second up to `burst`, and each request takes one token.
//! The `x-amzn-RateLimit-Limit` header reports the rate per *real* second (rate × time_scale),
//! so a client that paces itself by the header behaves correctly under a scaled clock.

use std::collections::HashMap;
use time::OffsetDateTime;

/// Rate (requests per second) and burst of one operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Plan {
    pub rate: f64,
    pub burst: f64,
}

/// Production usage plans (NOTES.md §8, the models' Usage Plan tables; PostNL 1000/min).
pub(crate) fn plan(operation: &str) -> Option<Plan> {
    let (rate, burst) = match operation {
        "searchOrders" => (0.0056, 20.0),
        // getOrder and Finances v0 listFinancialEvents (issue #17) share a plan.
        "getOrder" | "listFinancialEvents" => (0.5, 30.0),
        "confirmShipment" => (2.0, 10.0),
        "createFeedDocument" => (0.5, 15.0),
        "createFeed" => (0.0083, 15.0),
        "getFeed" => (2.0, 15.0),
        "getFeedDocument" => (0.0222, 10.0),
        // LWA publishes no plan; it is generous in practice.
        "token" => (10.0, 100.0),
        // PostNL: 1000 calls per minute per key.
        op if op.starts_with("postnl.") => (1000.0 / 60.0, 1000.0),
        _ => return None,
    };
    Some(Plan { rate, burst })
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: OffsetDateTime,
}

#[derive(Debug, Default)]
pub(crate) struct Limits {
    buckets: HashMap<&'static str, Bucket>,
}

impl Limits {
    /// Takes one token for `operation` at sandbox time `now`; false when the bucket is empty.
    /// Operations without a plan are never throttled.
    pub(crate) fn take(&mut self, operation: &'static str, now: OffsetDateTime) -> bool {
        let Some(plan) = plan(operation) else {
            return true;
        };
        let b = self.buckets.entry(operation).or_insert(Bucket {
            tokens: plan.burst,
            at: now,
        });
        let elapsed = (now - b.at).as_seconds_f64().max(0.0);
        b.tokens = (b.tokens + elapsed * plan.rate).min(plan.burst);
        b.at = if now > b.at { now } else { b.at };
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Refills every bucket (used when a test re-enables limits).
    pub(crate) fn reset(&mut self) {
        self.buckets.clear();
    }
}

/// Header value: the rate per real second under the given time scale, without float noise.
pub(crate) fn header_value(plan: Plan, scale: f64) -> String {
    let v = plan.rate * scale;
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    #[test]
    fn burst_then_refill_at_rate() {
        let t0 = datetime!(2026-03-02 09:00 UTC);
        let mut l = Limits::default();
        for i in 0..20 {
            assert!(l.take("searchOrders", t0), "request {i} inside burst");
        }
        assert!(!l.take("searchOrders", t0));
        // 0.0056/s → one token after ~179 s.
        assert!(!l.take("searchOrders", t0 + Duration::seconds(170)));
        assert!(l.take("searchOrders", t0 + Duration::seconds(180)));
        assert!(!l.take("searchOrders", t0 + Duration::seconds(181)));
        assert!(l.take("unknownOperation", t0));
    }

    #[test]
    fn header_is_rate_times_scale() {
        let p = plan("getOrder").expect("plan");
        assert_eq!(header_value(p, 1.0), "0.5");
        assert_eq!(header_value(p, 60.0), "30");
        assert_eq!(
            header_value(plan("searchOrders").expect("plan"), 1.0),
            "0.0056"
        );
    }
}
