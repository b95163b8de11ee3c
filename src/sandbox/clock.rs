//! The sandbox clock: sandbox time = start + real elapsed × time_scale + manual advances.
//!
//! Every time-dependent rule of the simulated services (token expiry, pagination token expiry,
//! upload URL expiry, rate-limit refill, order timelines) reads this clock, never the wall clock,
//! so a test can jump hours ahead and a benchmark can run hours of limits in seconds.

use std::sync::Mutex;
use std::time::Instant;
use time::{Duration, OffsetDateTime};

#[derive(Debug)]
pub(crate) struct Clock {
    start: OffsetDateTime,
    origin: Instant,
    scale: f64,
    advanced: Mutex<Duration>,
}

impl Clock {
    pub(crate) fn new(start: OffsetDateTime, scale: f64) -> Self {
        Self {
            start,
            origin: Instant::now(),
            scale,
            advanced: Mutex::new(Duration::ZERO),
        }
    }

    pub(crate) fn scale(&self) -> f64 {
        self.scale
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        let real = self.origin.elapsed().as_secs_f64() * self.scale;
        let scaled = if real.is_finite() {
            Duration::checked_seconds_f64(real).unwrap_or(Duration::ZERO)
        } else {
            Duration::ZERO
        };
        let advanced = *self
            .advanced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.start
            .checked_add(scaled)
            .and_then(|t| t.checked_add(advanced))
            .unwrap_or(self.start)
    }

    /// Moves sandbox time forward (negative durations are ignored; at most 100 years in all).
    pub(crate) fn advance(&self, by: Duration) {
        if by.is_negative() {
            return;
        }
        let mut a = self
            .advanced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Capped at a century so every date the services compute stays representable.
        *a = a.saturating_add(by).min(Duration::days(36_525));
    }
}

/// Formats a time the way the SP-API models show it: RFC 3339, UTC, whole seconds.
pub(crate) fn fmt(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Parses an ISO 8601 / RFC 3339 date-time (with offset or `Z`, optional fraction).
pub(crate) fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn advance_moves_now_and_scale_speeds_it_up() {
        let start = datetime!(2026-03-02 09:00 UTC);
        let c = Clock::new(start, 1.0);
        c.advance(Duration::hours(2));
        let n = c.now();
        assert!(n >= start + Duration::hours(2));
        assert!(n < start + Duration::hours(2) + Duration::minutes(1));
        c.advance(Duration::seconds(-50));
        assert!(c.now() >= n);
        let fast = Clock::new(start, 3600.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(fast.now() >= start + Duration::seconds(60));
    }

    #[test]
    fn formats_whole_seconds_utc() {
        let t = datetime!(2026-03-02 09:00:01.5 +01:00);
        assert_eq!(fmt(t), "2026-03-02T08:00:01Z");
        assert_eq!(
            parse("2026-03-02T08:00:01Z"),
            Some(datetime!(2026-03-02 08:00:01 UTC))
        );
        assert_eq!(parse("02/21/2022"), None);
    }
}
